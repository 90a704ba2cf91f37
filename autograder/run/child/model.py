"""Parts 1.4 and 2.1 in the child: call the student's D_KL and VAE on the job's probes and record what comes back."""

from .runtime import JOB, attempt, describe, seed_everything, values


# --- part 1.4: D_KL ---------------------------------------------------------------------------
def observe_dkl(ns):
    import torch

    fn = ns.get("D_KL")
    if not callable(fn):
        return {"missing": ["D_KL"]}
    cases = []
    for case in JOB["cases"]:
        torch.manual_seed(case["seed"])
        mu = torch.randn(*case["shape"])
        logvar = torch.randn(*case["shape"])
        out, err = attempt(fn, mu.clone(), logvar.clone())
        entry = {"error": err}
        if err is None:
            entry["describe"] = describe(out)
            if isinstance(out, torch.Tensor):
                entry["values"] = values(out, 64)
        cases.append(entry)
    return {"cases": cases}


# --- part 2.1: the VAE ------------------------------------------------------------------------
def build_model(ns):
    config = JOB.get("model_config")
    source = "model_config.yaml"
    if config is None:
        config, source = ns.get("model_config"), "the notebook's model_config"
    if not isinstance(config, dict):
        raise RuntimeError("no model_config to build VAE(**model_config) from")
    seed_everything(0)
    return ns["VAE"](**config), source


def _last_linear(module, out_features):
    import torch.nn as nn

    found = [m for m in module.modules() if isinstance(m, nn.Linear) and m.out_features == out_features]
    return found[-1] if found else None


def observe_encoder(model, latent):
    import torch

    from HW7_utils import N_POINTS

    seed_everything(1)
    y = torch.randn(JOB["probes"]["encoder_batch"], N_POINTS)
    layer = _last_linear(model.encoder, 2 * latent)
    captured = []
    handle = layer.register_forward_hook(lambda m, i, o: captured.append(o)) if layer is not None else None
    out, err = attempt(model.encoder, y)
    if handle:
        handle.remove()
    obs = {"error": err, "has_output_layer": layer is not None}
    if err is None:
        obs["describe"] = describe(out)
        if isinstance(out, (tuple, list)) and len(out) == 2:
            obs["parts"] = [describe(o) for o in out]
            if captured and all(isinstance(o, torch.Tensor) for o in out):
                o = captured[-1]
                if o.shape == (7, 2 * latent) and out[0].shape == out[1].shape == (7, latent):
                    obs["chunk_diff"] = float(max((out[0] - o[:, :latent]).abs().max(),
                                                  (out[1] - o[:, latent:]).abs().max()))
    return obs


def observe_decoder(model, latent):
    import torch

    seed_everything(2)
    z = torch.randn(JOB["probes"]["decoder_batch"], latent)
    out, err = attempt(model.decoder, z)
    obs = {"error": err}
    if err is None:
        obs["describe"] = describe(out)
        if isinstance(out, torch.Tensor):
            obs["finite"] = bool(torch.isfinite(out).all())
            if out.requires_grad:
                _, err = attempt(lambda: out.sum().backward())
                obs["grad_reaches_params"] = err is None and any(
                    p.grad is not None and bool(p.grad.abs().sum() > 0) for p in model.decoder.parameters())
    return obs


def observe_forward(model, latent):
    """Call forward with torch.randn_like replaced by a recorder, and watch what reaches the decoder."""
    import torch

    from HW7_utils import N_POINTS

    seed_everything(3)
    y = torch.randn(JOB["probes"]["forward_batch"], N_POINTS)
    eps_given, z_seen = [], []
    real_randn_like = torch.randn_like

    def fake_randn_like(t, *args, **kwargs):
        eps = real_randn_like(t, *args, **kwargs)
        eps_given.append(eps.detach().clone())
        return eps

    handle = model.decoder.register_forward_pre_hook(lambda m, args: z_seen.append(args[0]) and None)
    torch.randn_like = fake_randn_like
    model.train()
    try:
        out, err = attempt(model, y)
    finally:
        torch.randn_like = real_randn_like
        handle.remove()
    obs = {"error": err, "randn_like_calls": len(eps_given)}
    if err is not None:
        return obs
    obs["describe"] = describe(out)
    if not (isinstance(out, (tuple, list)) and len(out) == 3 and all(isinstance(o, torch.Tensor) for o in out)):
        return obs
    y_hat, mu, logvar = out
    obs["parts"] = [describe(o) for o in out]
    if z_seen and isinstance(z_seen[-1], torch.Tensor) and mu.shape == logvar.shape == z_seen[-1].shape:
        z = z_seen[-1]
        if eps_given and eps_given[-1].shape == mu.shape:
            expected = mu + torch.exp(0.5 * logvar) * eps_given[-1]
            obs["reparam_diff"] = float((z - expected).abs().max())
        implied = ((z - mu) / torch.exp(0.5 * logvar)).detach()
        obs["implied_eps_std"] = float(implied.std()) if implied.numel() > 1 else None
        grads, err = attempt(torch.autograd.grad, y_hat.sum(), [mu, logvar], allow_unused=True)
        obs["grad_error"] = err
        if err is None:
            obs["grad_mu"] = grads[0] is not None and bool(grads[0].abs().sum() > 0)
            obs["grad_logvar"] = grads[1] is not None and bool(grads[1].abs().sum() > 0)
    return obs


def observe_generate(model, latent):
    import torch

    n, small = JOB["probes"]["n_samples"], JOB["probes"]["device_samples"]
    gen = getattr(model, "generate", None)
    if not callable(gen):
        return {"error": "VAE has no generate method"}
    z_seen, modes, enc_calls = [], [], []
    def on_decoder(module, args):  # a pre-hook that returns None leaves the input alone
        z_seen.append(args[0])
        modes.append(module.training)

    h1 = model.decoder.register_forward_pre_hook(on_decoder)
    h2 = model.encoder.register_forward_pre_hook(lambda m, args: enc_calls.append(1) and None)
    model.train()
    try:
        first, err = attempt(gen, n_samples=n, seed=0)
        obs = {"error": err}
        if err is not None:
            return obs
        obs["describe"] = describe(first)
        obs["decoder_training"] = modes[-1] if modes else None
        obs["encoder_calls"] = len(enc_calls)
        if not isinstance(first, torch.Tensor):
            return obs
        obs["finite"] = bool(torch.isfinite(first).all())
        again, err = attempt(gen, n_samples=n, seed=0)
        other, err2 = attempt(gen, n_samples=n, seed=1)
        if err is None and isinstance(again, torch.Tensor) and again.shape == first.shape:
            obs["same_seed_diff"] = float((again - first).abs().max())
        if err2 is None and isinstance(other, torch.Tensor) and other.shape == first.shape:
            obs["other_seed_diff"] = float((other - first).abs().max())
        if z_seen and isinstance(z_seen[0], torch.Tensor):
            torch.manual_seed(0)
            expected = torch.randn(n, latent)
            z = z_seen[0].detach().to("cpu", torch.float32)
            obs["z_shape"] = list(z.shape)
            if z.shape == expected.shape:
                obs["z_diff"] = float((z - expected).abs().max())
        z_seen.clear()
        big, err = attempt(gen, n_samples=JOB["probes"]["z_stats_samples"], seed=7)
        if err is None and z_seen and isinstance(z_seen[-1], torch.Tensor):
            z = z_seen[-1].detach().to("cpu", torch.float64)
            obs["z_mean"], obs["z_std"] = float(z.mean()), float(z.std())
        on_device, err = attempt(gen, n_samples=small, seed=0, device="cpu")
        obs["device_error"] = err
        if err is None:
            obs["device_describe"] = describe(on_device)
    finally:
        h1.remove()
        h2.remove()
    return obs


def _config_for_parts(ns):
    config = JOB.get("model_config")
    return config if isinstance(config, dict) else ns.get("model_config")


def build_parts(ns):
    """Encoder and Decoder built on their own, for when the VAE cannot be: their tests need only them.

    The names of the hidden-size arguments are the student's, so the calls tried are the model_config's
    keywords first (hidden sizes reversed for the decoder), then positional (input, hidden, latent) and
    (latent, reversed hidden, output)."""
    import types

    from HW7_utils import N_POINTS

    config = _config_for_parts(ns)
    if not isinstance(config, dict):
        return {"latent_size": None, "tried": {}}
    size, latent = config.get("input_size", N_POINTS), config.get("latent_size", 10)
    others = {k: v for k, v in config.items() if k not in ("input_size", "latent_size")}
    reverse = {k: list(reversed(v)) if isinstance(v, (list, tuple)) else v for k, v in others.items()}
    first = next(iter(others), None)  # the hidden sizes, whatever the student called them
    hidden, hidden_reversed = others.get(first, []), reverse.get(first, [])
    calls = {
        "Encoder": [("Encoder(**model_config)", (), dict(config)),
                    ("Encoder(input_size, hidden, latent_size)", (size, hidden, latent), {})],
        "Decoder": [("Decoder(latent_size=..., hidden reversed, output_size=...)", (),
                     {"latent_size": latent, **reverse, "output_size": size}),
                    ("Decoder(latent_size=..., hidden reversed, input_size=...)", (),
                     {"latent_size": latent, **reverse, "input_size": size}),
                    ("Decoder(latent_size, reversed hidden, input_size)", (latent, hidden_reversed, size), {})],
    }
    model, tried = types.SimpleNamespace(encoder=None, decoder=None), {}
    for name, attr in (("Encoder", "encoder"), ("Decoder", "decoder")):
        if not callable(ns.get(name)):
            tried[name] = "not tested: it is not defined in the graded cells"
            continue
        errors = []
        for how, args, kwargs in calls[name]:
            seed_everything(0)
            built, err = attempt(ns[name], *args, **kwargs)
            if err is None:
                setattr(model, attr, built)
                tried[name] = how
                break
            errors.append(f"{how}: {err}")
        else:
            tried[name] = "not tested: none of these calls built it: " + "; ".join(errors)
    return {"latent_size": latent, "tried": tried, "model": model}


def observe_vae(ns):
    missing = [n for n in ("VAE",) if not callable(ns.get(n))]
    problem = {"missing": missing} if missing else None
    if problem is None:
        built, err = attempt(build_model, ns)
        if err is not None:
            problem = {"build_error": err}
    if problem is not None:  # the Encoder and Decoder tests still run when those classes work alone
        parts = build_parts(ns)
        obs = {**problem, "latent_size": parts["latent_size"], "standalone": parts["tried"]}
        model, latent = parts.get("model"), parts["latent_size"]
        for name, observe in (("encoder", observe_encoder), ("decoder", observe_decoder)):
            if model is not None and getattr(model, name) is not None and isinstance(latent, int):
                result, err = attempt(observe, model, latent)
                obs[name] = result if err is None else {"error": err}
        return obs
    model, source = built
    latent = getattr(model, "latent_size", None)
    obs = {"config_source": source, "latent_size": latent,
           "has": {k: hasattr(model, k) for k in ("encoder", "decoder", "latent_size")}}
    if not all(obs["has"].values()) or not isinstance(latent, int):
        return obs
    for name, observe in (("encoder", observe_encoder), ("decoder", observe_decoder),
                          ("forward", observe_forward), ("generate", observe_generate)):
        result, err = attempt(observe, model, latent)
        obs[name] = result if err is None else {"error": err}
    return obs
