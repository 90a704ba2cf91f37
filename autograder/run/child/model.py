"""Parts 1.4 and 2.1 in the child: call the student's D_KL and VAE on the job's inputs and record what comes
back, raw (protocol.py); the judges in the parent decide what it is worth."""

from HW7_utils import N_POINTS  # the airfoil's heights: the dataset's one name for 200

from .protocol import (
    Call,
    DecoderSeen,
    DklInputs,
    DklSeen,
    EncoderSeen,
    ForwardSeen,
    GenerateSeen,
    VaeInputs,
    VaeSeen,
    load,
)
from .runtime import JOB, attempt, call, seed_everything, tensor


# --- part 1.4: D_KL ---------------------------------------------------------------------------
def observe_dkl(ns):
    """D_KL on each case's inputs: mu, then logvar, drawn by torch.randn right after manual_seed(seed)
    (as the notebook's public test draws them; the judge draws the same in the parent)."""
    import torch

    inputs = load(DklInputs, JOB["inputs"])
    fn = ns.get("D_KL")
    if not callable(fn):
        return DklSeen(missing=["D_KL"])
    cases = []
    for case in inputs.cases:
        torch.manual_seed(case.seed)
        mu = torch.randn(*case.shape)
        logvar = torch.randn(*case.shape)
        cases.append(call(fn, mu.clone(), logvar.clone(), limit=64)[0])
    return DklSeen(cases=cases)


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


def drawn(seed, *shape):
    """torch.randn(*shape) from a generator of its own seeded with ``seed``: the judge draws the same."""
    import torch

    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _last_linear(module, out_features):
    import torch.nn as nn

    found = [m for m in module.modules() if isinstance(m, nn.Linear) and m.out_features == out_features]
    return found[-1] if found else None


def observe_encoder(model, latent, inputs):
    seed_everything(0)
    y = drawn(inputs.encoder_seed, inputs.encoder_batch, N_POINTS)
    layer = _last_linear(model.encoder, 2 * latent)
    captured = []
    handle = layer.register_forward_hook(lambda m, i, o: captured.append(o)) if layer is not None else None
    try:
        seen = EncoderSeen(call=call(model.encoder, y)[0], layer_found=layer is not None)
    finally:
        if handle:
            handle.remove()
    if captured and hasattr(captured[-1], "shape"):
        seen.layer_out = tensor(captured[-1])
    return seen


def observe_decoder(model, latent, inputs):
    import torch

    seed_everything(0)
    z = drawn(inputs.decoder_seed, inputs.decoder_batch, latent)
    seen, out = call(model.decoder, z)
    if isinstance(out, torch.Tensor) and out.requires_grad:
        _, err = attempt(lambda: out.sum().backward())
        seen = DecoderSeen(call=seen, grad_reaches_params=err is None and any(
            p.grad is not None and bool(p.grad.abs().sum() > 0) for p in model.decoder.parameters()))
    return seen if isinstance(seen, DecoderSeen) else DecoderSeen(call=seen, grad_reaches_params=False)


def observe_forward(model, latent, inputs):
    """Call forward with torch.randn_like handing out the judge's eps, and record what reaches the decoder."""
    import torch

    seed_everything(0)
    y = drawn(inputs.forward_seed, inputs.forward_batch, N_POINTS)
    calls, z_seen = [], []
    real_randn_like = torch.randn_like

    def judges_eps(t, *args, **kwargs):  # the same eps for every call: torch.randn(shape) from eps_seed
        calls.append(1)
        eps = drawn(inputs.eps_seed, *t.shape)
        return eps.to(dtype=kwargs.get("dtype") or t.dtype, device=t.device)

    handle = model.decoder.register_forward_pre_hook(lambda m, args: z_seen.append(args[0]) and None)
    torch.randn_like = judges_eps
    model.train()
    try:
        seen, out = call(model, y)
    finally:
        torch.randn_like = real_randn_like
        handle.remove()
    obs = ForwardSeen(call=seen, randn_like_calls=len(calls))
    if z_seen and isinstance(z_seen[-1], torch.Tensor):
        obs.z = tensor(z_seen[-1])
    if isinstance(out, (tuple, list)) and len(out) == 3 and all(isinstance(o, torch.Tensor) for o in out):
        y_hat, mu, logvar = out
        grads, obs.grad_error = attempt(torch.autograd.grad, y_hat.sum(), [mu, logvar], allow_unused=True)
        if obs.grad_error is None:
            obs.grad_mu, obs.grad_logvar = (tensor(g) if g is not None else None for g in grads)
    return obs


def observe_generate(model, latent, inputs):
    import torch

    n, small = inputs.n_samples, inputs.device_samples
    first_seed, other_seed = inputs.generate_seeds
    gen = getattr(model, "generate", None)
    if not callable(gen):
        return GenerateSeen(first=Call(error="VAE has no generate method"))
    z_seen, modes, enc_calls, z_seen_first = [], [], [], []

    def on_decoder(module, args):  # a pre-hook that returns None leaves the input alone
        z_seen.append(args[0])
        modes.append(module.training)

    h1 = model.decoder.register_forward_pre_hook(on_decoder)
    h2 = model.encoder.register_forward_pre_hook(lambda m, args: enc_calls.append(1) and None)
    model.train()
    try:
        obs = GenerateSeen(first=call(gen, n_samples=n, seed=first_seed)[0])
        if obs.first.error is not None:
            return obs
        obs.decoder_training = modes[0] if modes else None
        obs.encoder_calls = len(enc_calls)
        if z_seen and isinstance(z_seen[0], torch.Tensor):
            obs.z = tensor(z_seen[0])
            z_seen_first.append(z_seen[0])
        obs.again = call(gen, n_samples=n, seed=first_seed)[0]
        obs.other = call(gen, n_samples=n, seed=other_seed)[0]
        z_seen.clear()
        _, err = attempt(gen, n_samples=inputs.z_stats_samples, seed=other_seed ^ 0x5A5A)
        if err is None and z_seen and isinstance(z_seen[-1], torch.Tensor):
            z = z_seen[-1].detach().to("cpu", torch.float64)
            obs.z_stats = [float(z.mean()), float(z.std())]
        obs.device = call(gen, n_samples=small, seed=first_seed, device="cpu")[0]
    finally:
        h1.remove()
        h2.remove()
    # The student's own decoder on the prior's z for the first seed, in eval and in train mode: generate's
    # samples must be one of these (the judge draws the same z).
    # (and on the z it got, for a generate that draws z its own way).
    z = drawn(first_seed, n, latent)
    redo = [(False, z, "decoded_eval"), (True, z, "decoded_train")]
    if z_seen_first:
        redo.append((bool(obs.decoder_training), z_seen_first[0], "decoded_seen"))
    for mode, z_in, name in redo:
        seed_everything(0)
        model.decoder.train(mode)
        with torch.no_grad():
            setattr(obs, name, call(model.decoder, z_in.detach().clone())[0])
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
    inputs = load(VaeInputs, JOB["inputs"])
    missing = [n for n in ("VAE",) if not callable(ns.get(n))]
    problem = {"missing": missing} if missing else None
    if problem is None:
        built, err = attempt(build_model, ns)
        if err is not None:
            problem = {"build_error": err}
    if problem is not None:  # the Encoder and Decoder tests still run when those classes work alone
        parts = build_parts(ns)
        obs = VaeSeen(**problem, latent_size=parts["latent_size"], standalone=parts["tried"])
        model, latent = parts.get("model"), parts["latent_size"]
        for name, observe in (("encoder", observe_encoder), ("decoder", observe_decoder)):
            if model is not None and getattr(model, name) is not None and isinstance(latent, int):
                result, err = attempt(observe, model, latent, inputs)
                setattr(obs, name, result if err is None else SEEN_OF[name](**{FIRST_CALL[name]: Call(error=err)}))
        return obs
    model, _ = built
    latent = getattr(model, "latent_size", None)
    obs = VaeSeen(latent_size=latent if isinstance(latent, int) else None,
                  has={k: hasattr(model, k) for k in ("encoder", "decoder", "latent_size")})
    if not all(obs.has.values()) or not isinstance(latent, int):
        return obs
    for name, observe in (("encoder", observe_encoder), ("decoder", observe_decoder),
                          ("forward", observe_forward), ("generate", observe_generate)):
        result, err = attempt(observe, model, latent, inputs)
        setattr(obs, name, result if err is None else SEEN_OF[name](**{FIRST_CALL[name]: Call(error=err)}))
    return obs


SEEN_OF = {"encoder": EncoderSeen, "decoder": DecoderSeen, "forward": ForwardSeen, "generate": GenerateSeen}
FIRST_CALL = {"encoder": "call", "decoder": "call", "forward": "call", "generate": "first"}
