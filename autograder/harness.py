"""The child side of a graded part: run the student's definitions and observe what they do.

This file is copied into the child's scratch folder and run as ``python -I harness.py FD``; the job
comes on stdin.  It holds no expected answers: it only records observations (shapes, values,
gradients, call counts) and sends them to the parent over the pipe FD, and the parent judges them.
It imports nothing from the grader, so the grader's own folder can stay closed to the child.
"""

import json
import math
import os
import sys
import time
import traceback

CHANNEL = None
JOB = {}
CELL_SECONDS = 20  # defining a cell's contents must not take longer (a loop in a class body, say)

# The reporting path holds its own references, taken before any student code runs, so that patching
# json, os, this module's globals or builtins later does not change what is sent.
_dumps, _write, _exit, _isinstance = json.dumps, os.write, os._exit, isinstance


def send(message, _state={}):  # noqa: B006 (state shared between calls on purpose)
    if "fd" not in _state:
        _state.update(fd=CHANNEL.fileno(), nonce=JOB.get("nonce"), part=JOB.get("part"))
    message = {**message, "nonce": _state["nonce"], "part": _state["part"]}
    data = (_dumps(message, default=_jsonable) + "\n").encode()
    while data:
        data = data[_write(_state["fd"], data):]


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    return repr(value)


def error_text(exc):
    """The student's view of an exception: type, message and the line in their own cell."""
    if isinstance(exc, OSError) and exc.errno == 27:  # EFBIG: the file-size limit (Python ignores SIGXFSZ)
        return (f"it wrote more than {JOB.get('file_mb', '?')} MB to its output or to a file "
                "(too many prints?) and was stopped")
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    where = f" ({frames[-1].filename[1:-1]}, line {frames[-1].lineno})" if frames else ""
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return f"{type(exc).__name__}{': ' + text if text else ''}{where}"


def attempt(fn, *args, **kwargs):
    """(result, None) or (None, error text); a student's sys.exit() is an error, not an exit."""
    try:
        return fn(*args, **kwargs), None
    except BaseException as exc:  # noqa: BLE001 (student code may raise anything)
        if isinstance(exc, MemoryError):
            raise
        return None, error_text(exc)


def values(t, limit=4096):
    import torch

    t = t.detach().to("cpu", torch.float64).flatten()[:limit]
    return [None if not math.isfinite(v) else v for v in t.tolist()]


def describe(out):
    import torch

    if isinstance(out, torch.Tensor):
        return {"kind": "tensor", "shape": list(out.shape), "dtype": str(out.dtype).replace("torch.", ""),
                "device": str(out.device), "requires_grad": bool(out.requires_grad)}
    if isinstance(out, (tuple, list)):
        return {"kind": type(out).__name__, "len": len(out)}
    return {"kind": type(out).__name__}


def seed_everything(seed=0):
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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

    seed_everything(1)
    y = torch.randn(JOB["probes"]["encoder_batch"], 200)
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

    seed_everything(3)
    y = torch.randn(JOB["probes"]["forward_batch"], 200)
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

    config = _config_for_parts(ns)
    if not isinstance(config, dict):
        return {"latent_size": None, "tried": {}}
    size, latent = config.get("input_size", 200), config.get("latent_size", 10)
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


# --- part 2.2: the training loop ---------------------------------------------------------------
def reference_dkl(mu, logvar):
    import torch

    return (0.5 * (mu.pow(2) + torch.exp(logvar) - 1 - logvar)).mean()


def make_probe_classes(ns):
    import torch
    import torch.nn as nn

    class ProbeVAE(nn.Module):
        """A tiny stand-in model: mu from a linear map, logvar from one parameter that only the
        prior term touches, and y_hat decoded from mu (so the rec term never reaches logvar)."""

        def __init__(self):
            super().__init__()
            self.latent_size = 10
            self.encoder = nn.Linear(200, 10)
            self.decoder = nn.Linear(10, 200)
            self.logvar_param = nn.Parameter(torch.tensor([-0.5]))
            self.records = []
            self.hook_grads = []
            self.logvar_param.register_hook(lambda g: self.hook_grads.append(float(g.sum())))

        def forward(self, y):
            mu = self.encoder(y)
            logvar = self.logvar_param.expand_as(mu)
            y_hat = self.decoder(mu)
            self.records.append({"training": self.training, "batch": int(y.shape[0]), "y": y.detach().clone(),
                                 "y_hat": y_hat.detach().clone(), "mu": mu.detach().clone()})
            return y_hat, mu, logvar

    class SpyOptimizer(torch.optim.SGD):
        instances = []

        def __init__(self, params, lr=0.0, **kwargs):
            super().__init__(params, lr=0.0)
            self.steps, self.zero_grads, self.grad_at_step = 0, 0, []
            SpyOptimizer.instances.append(self)

        def zero_grad(self, set_to_none=True):
            self.zero_grads += 1
            return super().zero_grad(set_to_none)

        def step(self, closure=None):
            self.steps += 1
            p = self.param_groups[0]["params"]
            lv = [q for q in p if q.shape == (1,)]
            self.grad_at_step.append(float(lv[0].grad.sum()) if lv and lv[0].grad is not None else None)
            return super().step(closure)

    class SpyStepLR(torch.optim.lr_scheduler.StepLR):
        calls = []

        def __init__(self, *args, **kwargs):
            self.ready = False  # the base class steps once while it is being built
            super().__init__(*args, **kwargs)
            self.ready = True

        def step(self, *args, **kwargs):
            if self.ready:
                SpyStepLR.calls.append(len(args) + len(kwargs))
            return super().step()

    class SpyPlateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
        calls = []

        def step(self, metrics=None, *args, **kwargs):
            SpyPlateau.calls.append(None if metrics is None else float(metrics))
            if metrics is None:
                raise TypeError("ReduceLROnPlateau.step() needs the running average of the loss")
            return super().step(metrics)

    class SpyTracker(ns["VAE_Tracker"]):
        instances = []

        def __init__(self, *args, **kwargs):
            kwargs["live"] = False
            super().__init__(*args, **kwargs)
            SpyTracker.instances.append(self)

    return ProbeVAE, SpyOptimizer, SpyStepLR, SpyPlateau, SpyTracker


class SmallDataset:
    def __init__(self, n):
        from HW7_utils import AirfoilDataset

        full = AirfoilDataset()
        self.items = [full[i] for i in range(0, len(full), max(1, len(full) // n))][:n]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def run_loop(ns, scheduler, n_iters, beta, window, batch_size):
    import torch

    ProbeVAE, SpyOptimizer, SpyStepLR, SpyPlateau, SpyTracker = make_probe_classes(ns)
    torch.optim._GraderSpyOptimizer = SpyOptimizer
    torch.optim.lr_scheduler._GraderSpyStepLR = SpyStepLR
    real_plateau = torch.optim.lr_scheduler.ReduceLROnPlateau
    torch.optim.lr_scheduler.ReduceLROnPlateau = SpyPlateau
    ns_tracker = ns["VAE_Tracker"]
    ns["VAE_Tracker"] = SpyTracker
    student_dkl = ns.get("D_KL")
    ns["D_KL"] = dkl = reference_dkl  # the loop is tested on its own: a broken D_KL is part 1.4's
    seed_everything(0)
    model = ProbeVAE()
    name = "_GraderSpyStepLR" if scheduler == "StepLR" else "ReduceLROnPlateau"
    config = {"step_size": 3} if scheduler == "StepLR" else {"patience": 100}
    try:
        _, err = attempt(ns["train_VAE"], model, SmallDataset(100), device="cpu", plot_freq=0, beta=beta,
                         optimizer_name="_GraderSpyOptimizer", optimizer_config={"lr": 0.0},
                         lr_scheduler_name=name, lr_scheduler_config=config,
                         running_avg_window=window, n_iters=n_iters, batch_size=batch_size)
    finally:
        torch.optim.lr_scheduler.ReduceLROnPlateau = real_plateau
        ns["VAE_Tracker"] = ns_tracker
        ns["D_KL"] = student_dkl
    opt = SpyOptimizer.instances[-1] if SpyOptimizer.instances else None
    tracker = SpyTracker.instances[-1] if SpyTracker.instances else None
    obs = {"error": err, "forward_calls": len(model.records),
           "training_flags": [r["training"] for r in model.records],
           "batches": [r["batch"] for r in model.records],
           "optimizer_made": opt is not None, "trackers": len(SpyTracker.instances)}
    if opt is not None:
        obs.update(steps=opt.steps, zero_grads=opt.zero_grads, grad_at_step=opt.grad_at_step,
                   hook_grads=model.hook_grads)
    if tracker is not None:
        obs["tracker"] = {"n_iters": tracker.n_iters, "rec": tracker.rec_losses,
                          "prior": tracker.prior_losses, "total": tracker.total_losses}
    # What the losses should have been, from the student's own D_KL on the recorded tensors.
    expected_rec, expected_prior, expected_grad = [], [], []
    for r in model.records:
        expected_rec.append(float(torch.nn.functional.mse_loss(r["y_hat"], r["y"])))
        lv = model.logvar_param.detach().clone().requires_grad_(True)
        prior, perr = attempt(dkl, r["mu"], lv.expand_as(r["mu"]))
        if perr is None and isinstance(prior, torch.Tensor) and prior.numel() == 1:
            expected_prior.append(float(prior))
            g, gerr = attempt(torch.autograd.grad, prior, lv, allow_unused=True)
            expected_grad.append(None if gerr or g[0] is None else beta * float(g[0].sum()))
        else:
            expected_prior.append(None)
            expected_grad.append(None)
    # The prior may be the mean over the latent dimensions (D_KL) or their sum: the judge accepts both.
    obs.update(expected_rec=expected_rec, expected_prior=expected_prior, expected_grad=expected_grad,
               latent_dims=model.latent_size)
    obs["scheduler_calls"] = SpyStepLR.calls if scheduler == "StepLR" else SpyPlateau.calls
    return obs


def observe_training(ns):
    if not callable(ns.get("train_VAE")):
        return {"missing": ["train_VAE"]}
    obs = {}
    for probe in JOB["loops"]:  # checks/probes.py: LOOP_PROBES
        result, err = attempt(run_loop, ns, probe["scheduler"], probe["n_iters"], probe["beta"], probe["window"],
                              probe["batch_size"])
        obs[probe["key"]] = result if err is None else {"error": err}
    return obs


# --- part 2.3: re-train the student's model and generate 24 samples ----------------------------
def reference_train(model, dataset, beta=1.0, optimizer_name="Adam", optimizer_config=None,
                    lr_scheduler_name=None, lr_scheduler_config=None, running_avg_window=20,
                    n_iters=1000, batch_size=64, tracker_cls=None, **_):
    """The grader's own loop, used when the student's train_VAE failed its tests."""
    import torch
    from torch.optim import lr_scheduler
    from torch.utils.data import DataLoader

    model.train()
    tracker = tracker_cls(n_iters=n_iters, plot_freq=0)
    optimizer = getattr(torch.optim, optimizer_name)(model.parameters(), **(optimizer_config or {}))
    scheduler = (getattr(lr_scheduler, lr_scheduler_name)(optimizer, **(lr_scheduler_config or {}))
                 if lr_scheduler_name else None)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
    it = 0
    while it < n_iters:
        for y, _ in loader:
            optimizer.zero_grad()
            y_hat, mu, logvar = model(y)
            rec, prior = torch.nn.functional.mse_loss(y_hat, y), reference_dkl(mu, logvar)
            loss = rec + beta * prior
            loss.backward()
            optimizer.step()
            tracker.update(rec.item(), prior.item(), loss.item())
            if scheduler is not None:
                if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
                    window = tracker.total_losses[-running_avg_window:]
                    scheduler.step(sum(window) / len(window))
                else:
                    scheduler.step()
            it += 1
            if it >= n_iters:
                break
    return tracker


def retrain(ns):
    import torch

    from HW7_utils import AirfoilDataset

    needed = [n for n in ("VAE",) if not callable(ns.get(n))]
    use_reference = bool(JOB.get("use_reference_loop")) or not callable(ns.get("train_VAE"))
    if JOB.get("use_reference_dkl") or not callable(ns.get("D_KL")):
        ns["D_KL"] = reference_dkl
    if needed:
        return {"missing": needed}
    train_config = JOB.get("train_config")
    if train_config is None:
        train_config = ns.get("train_config")
    if not isinstance(train_config, dict):
        return {"build_error": "no train_config to train with"}
    built, err = attempt(build_model, ns)
    if err is not None:
        return {"build_error": err}
    model, source = built
    trackers = []

    class RecordingTracker(ns["VAE_Tracker"]):
        def __init__(self, *args, **kwargs):
            kwargs["live"] = False
            super().__init__(*args, **kwargs)
            trackers.append(self)

    ns["VAE_Tracker"] = RecordingTracker
    dataset = AirfoilDataset()
    seed_everything(0)
    start = time.perf_counter()
    if use_reference:
        _, err = attempt(reference_train, model, dataset, tracker_cls=RecordingTracker, **train_config)
    else:
        _, err = attempt(ns["train_VAE"], model, dataset, device="cpu", plot_freq=0, **train_config)
    seconds = time.perf_counter() - start
    obs = {"config_source": source, "loop": "reference" if use_reference else "student",
           "dkl": "reference" if ns["D_KL"] is reference_dkl else "student",
           "train_error": err, "train_seconds": seconds}
    if trackers:
        t = trackers[-1]
        step = max(1, len(t.total_losses) // 400)
        obs["curves"] = {"rec": t.rec_losses[::step], "prior": t.prior_losses[::step],
                         "total": t.total_losses[::step], "every": step, "n": len(t.total_losses)}
    if err is not None:
        return obs
    samples, err = attempt(model.generate, n_samples=24, seed=0)
    obs["generate_error"] = err
    if err is None:
        obs["describe"] = describe(samples)
        if isinstance(samples, torch.Tensor) and samples.numel() <= 24 * 200 * 4:
            obs["samples"] = samples.detach().to("cpu", torch.float64).tolist()
    return obs


OBSERVERS = {"1.4": observe_dkl, "2.1": observe_vae, "2.2": observe_training, "2.3": retrain}


class LazyPyplot:
    """`plt` for graded code: pyplot is imported on first use only (graded cells rarely plot)."""

    def __getattr__(self, name):
        import matplotlib.pyplot

        return getattr(matplotlib.pyplot, name)


class CellTimeout(BaseException):
    pass


def _alarm(signum, frame):
    raise CellTimeout(f"defining this cell's contents took more than {CELL_SECONDS} s (a loop at the top "
                      "level of a class?)")


def main():
    global CHANNEL, JOB
    import signal

    CHANNEL = os.fdopen(int(sys.argv[1]), "w")
    sys.path.insert(0, os.getcwd())
    # The heavy imports come before the job: a child started early is warm when its job arrives.
    import matplotlib

    matplotlib.use("Agg")
    import torch

    import HW7_utils  # noqa: F401

    torch.set_num_threads(1)
    JOB = json.loads(sys.stdin.read())
    sys.stdin.close()
    report = send
    send({"started": True})  # fixes the reporting state before student code exists
    try:
        ns = {"__name__": "__main__", "plt": LazyPyplot()}
        exec(compile(JOB["prelude"], "<imports>", "exec"), ns)
        cell_errors = []
        for cell in JOB["cells"]:
            code, err = attempt(compile, cell["source"], f"<cell {cell['index'] + 1}>", "exec")
            if err is None:
                seed_everything(0)
                signal.signal(signal.SIGALRM, _alarm)
                signal.alarm(CELL_SECONDS)
                try:
                    _, err = attempt(exec, code, ns)
                finally:
                    signal.alarm(0)
            if err is not None:
                cell_errors.append({"cell": cell["index"] + 1, "error": err})
        seed_everything(0)
        observations = OBSERVERS[JOB["part"]](ns)
        report({"observations": observations, "cell_errors": cell_errors})
    except MemoryError:
        report({"cause": f"it ran out of memory (the limit is {JOB.get('memory_gb', '?')} GB)"})
    except BaseException as exc:  # noqa: BLE001
        report({"cause": f"the grader's harness stopped: {error_text(exc)}"})
    _exit(0)  # skip interpreter teardown: student objects' __del__ must not run after the report


if __name__ == "__main__":
    main()
