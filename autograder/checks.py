"""The reference tests: build each part's job, then judge the child's observations with partial credit.

Expected values live here, in the parent, and never travel to the child.  Each test has its number,
its points, its visibility and a message in the student's terms: what was expected, what came back.
Public tests (the ones in the notebook) are visible; the others are hidden until grades are published,
and their messages never quote hidden inputs or expected numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from autograder.results import TestResult

PUBLIC_DKL = {0: 0.9318599700927734, 1: 1.0280910730361938, 2: 0.853870153427124}
HIDDEN_DKL_CASES = [(11, (64, 10)), (12, (1, 3)), (13, (128, 10))]
HIDDEN = "after_published"
TOL = 1e-5


def _close(a: float | None, b: float, tol: float = TOL) -> bool:
    return a is not None and math.isfinite(a) and abs(a - b) <= tol + tol * abs(b)


def _shape(desc: dict | None) -> str:
    if not desc:
        return "nothing"
    if desc.get("kind") == "tensor":
        return f"a tensor of shape {tuple(desc['shape'])}"
    if "len" in desc:
        return f"a {desc['kind']} of length {desc['len']}"
    return f"a {desc['kind']}"


# --- jobs -------------------------------------------------------------------------------------
def job_for(part: str) -> dict[str, Any]:
    if part == "1.4":
        cases = [{"seed": s, "shape": [10, 5]} for s in PUBLIC_DKL]
        cases += [{"seed": s, "shape": list(shape)} for s, shape in HIDDEN_DKL_CASES]
        return {"cases": cases}
    return {}


# --- 1.4 D_KL ---------------------------------------------------------------------------------
def _dkl_expected(seed: int, shape: tuple[int, ...]) -> float:
    import torch

    torch.manual_seed(seed)
    mu = torch.randn(*shape)
    logvar = torch.randn(*shape)
    return float((0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean())


def judge_dkl(obs: dict) -> list[TestResult]:
    public = TestResult("D_KL: the notebook's public test values", "1.4.1", 2.0)
    hidden = TestResult("D_KL: other shapes and inputs", "1.4.2", 3.0, visibility=HIDDEN)
    cases = obs.get("cases") or []
    seeds = list(PUBLIC_DKL) + [s for s, _ in HIDDEN_DKL_CASES]
    shapes = [(10, 5)] * 3 + [shape for _, shape in HIDDEN_DKL_CASES]
    problems_pub, problems_hid, ok_hid = [], [], 0
    for i, (seed, shape) in enumerate(zip(seeds, shapes)):
        case = cases[i] if i < len(cases) and isinstance(cases[i], dict) else {"error": "no result"}
        is_public = seed in PUBLIC_DKL
        desc = case.get("describe") or {}
        vals = case.get("values") or []
        if case.get("error"):
            msg = f"D_KL raised {case['error']}"
        elif desc.get("kind") != "tensor" or desc.get("shape") != []:
            msg = f"D_KL must return a 0-dim tensor (shape ()), got {_shape(desc)}"
        elif not _close(vals[0] if vals else None,
                        expected := PUBLIC_DKL[seed] if is_public else _dkl_expected(seed, shape)):
            got = vals[0] if vals else None
            msg = (f"seed {seed}: expected {expected:.7f}, got {got}" if is_public else
                   f"inputs of shape {shape}: the value is wrong (check that you average over the batch "
                   "AND latent dimensions and use exp(logvar) for sigma^2)")
        else:
            msg = None
            if not is_public:
                ok_hid += 1
        if msg:
            (problems_pub if is_public else problems_hid).append(msg)
    public.score = 0.0 if problems_pub else public.max_score
    public.output = "\n".join(problems_pub) or "All three public values match."
    hidden.score = hidden.max_score * ok_hid / len(HIDDEN_DKL_CASES)
    hidden.output = "\n".join(dict.fromkeys(problems_hid)) or "Correct on every input tried."
    return [public, hidden]


# --- 2.1 VAE ----------------------------------------------------------------------------------
def judge_vae(obs: dict) -> list[TestResult]:
    enc_shape = TestResult("Encoder: returns (mu, logvar), each (batch, latent_size)", "2.1.1", 8.0)
    chunk = TestResult("Encoder: one output layer of 2*latent_size, split with torch.chunk", "2.1.2", 7.0,
                       visibility=HIDDEN)
    dec = TestResult("Decoder: (batch, latent_size) -> (batch, output_size), differentiable", "2.1.3", 10.0)
    reparam = TestResult("VAE.forward: reparameterisation z = mu + exp(0.5 logvar) * eps", "2.1.4", 10.0,
                         visibility=HIDDEN)
    forward = TestResult("VAE.forward: returns (y_hat, mu, logvar) with the right shapes", "2.1.5", 5.0)
    gen = TestResult("VAE.generate: samples the prior, decodes in eval mode, seeded", "2.1.6", 10.0,
                     visibility=HIDDEN)
    tests = [enc_shape, chunk, dec, reparam, forward, gen]

    def fail_all(message: str) -> list[TestResult]:
        for t in tests:
            t.output = message
        return tests

    vae_problem = (f"No `{', '.join(obs['missing'])}` found in the graded cells." if obs.get("missing") else
                   f"VAE(**model_config) failed: {obs['build_error']}" if obs.get("build_error") else None)
    standalone = obs.get("standalone")
    if vae_problem and not isinstance(standalone, dict):
        return fail_all(vae_problem)
    if vae_problem:  # the VAE's tests fail; the Encoder's and the Decoder's run on the classes alone
        for t in (reparam, forward, gen):
            t.output = vae_problem
    else:
        has = obs.get("has") or {}
        lacking = [k for k, v in has.items() if not v]
        if lacking:
            return fail_all(f"The VAE must have the attributes {', '.join(lacking)} (self.encoder, "
                            "self.decoder, self.latent_size).")
    latent = obs.get("latent_size")
    _judge_encoder(obs.get("encoder") or {}, latent, enc_shape, chunk)
    _judge_decoder(obs.get("decoder") or {}, latent, dec)
    if vae_problem:
        for test, name in ((enc_shape, "Encoder"), (chunk, "Encoder"), (dec, "Decoder")):
            how = str(standalone.get(name, "not tested: no model_config to build it from"))
            test.output = (f"{vae_problem}\n`{name}` on its own: {how}." if how.startswith("not tested") else
                           f"{test.output}\n(The VAE could not be built, so `{name}` was built on its own "
                           f"with {how}.)")
        return tests
    _judge_forward(obs.get("forward") or {}, latent, forward, reparam)
    _judge_generate(obs.get("generate") or {}, gen)
    return tests


def _judge_encoder(e: dict, latent, enc_shape: TestResult, chunk: TestResult) -> None:
    parts = e.get("parts") or []
    want = [7, latent]
    if e.get("error"):
        enc_shape.output = f"encoder(y) raised {e['error']}"
    elif len(parts) != 2:
        enc_shape.output = f"encoder(y) must return a tuple (mu, logvar), got {_shape(e.get('describe'))}"
    elif not all(p.get("kind") == "tensor" and p.get("shape") == want for p in parts):
        enc_shape.output = (f"for y of shape (7, 200), expected mu and logvar of shape {tuple(want)}, got "
                            f"{_shape(parts[0])} and {_shape(parts[1])}")
    else:
        enc_shape.score, enc_shape.output = enc_shape.max_score, "Shapes are right."
    if not e.get("has_output_layer"):
        chunk.output = "no nn.Linear layer with 2*latent_size outputs found in the encoder"
    elif e.get("chunk_diff") is None:
        chunk.output = "could not compare mu and logvar with the output layer (see the encoder test)"
    elif e["chunk_diff"] > 1e-6:
        chunk.output = ("mu and logvar are not the two halves of the encoder's last layer "
                        "(torch.chunk(out, 2, dim=-1): mu first, then logvar)")
    else:
        chunk.score, chunk.output = chunk.max_score, "mu and logvar are the two halves of the output layer."


def _judge_decoder(d: dict, latent, dec: TestResult) -> None:
    desc = d.get("describe") or {}
    if d.get("error"):
        dec.output = f"decoder(z) raised {d['error']}"
    elif desc.get("kind") != "tensor" or desc.get("shape") != [5, 200]:
        dec.output = f"for z of shape (5, {latent}) expected y_hat of shape (5, 200), got {_shape(desc)}"
    elif not d.get("finite"):
        dec.output = "decoder(z) returned NaN or inf"
    elif not d.get("grad_reaches_params"):
        dec.score, dec.output = 5.0, "Shape is right, but gradients do not reach the decoder's parameters."
    else:
        dec.score, dec.output = dec.max_score, "Shape and gradients are right."


def _judge_forward(f: dict, latent, forward: TestResult, reparam: TestResult) -> None:
    fparts = f.get("parts") or []
    if f.get("error"):
        forward.output = reparam.output = f"model(y) raised {f['error']}"
    elif len(fparts) != 3:
        forward.output = reparam.output = (f"model(y) must return (y_hat, mu, logvar), got "
                                           f"{_shape(f.get('describe'))}")
    else:
        shapes = [p.get("shape") for p in fparts]
        if shapes == [[6, 200], [6, latent], [6, latent]]:
            forward.score, forward.output = forward.max_score, "Shapes are right."
        else:
            forward.output = (f"for y of shape (6, 200) expected shapes (6, 200), (6, {latent}), "
                              f"(6, {latent}); got {', '.join(str(tuple(s or ())) for s in shapes)}")
        points, notes = 0.0, []
        if f.get("randn_like_calls", 0) == 0:
            notes.append("eps should come from torch.randn_like(...)")
            if f.get("implied_eps_std") is not None and 0.5 < f["implied_eps_std"] < 1.5:
                points += 3.0
        elif f.get("reparam_diff") is not None and f["reparam_diff"] < 1e-5:
            points += 6.0
        else:
            notes.append("the decoder's input is not mu + exp(0.5 * logvar) * eps")
        if f.get("grad_mu") and f.get("grad_logvar"):
            points += 4.0
        else:
            notes.append("gradients of y_hat must reach both mu and logvar (do not detach them)")
        reparam.score = points
        reparam.output = "; ".join(notes) or "z = mu + exp(0.5 logvar) * eps, and gradients flow."


def _judge_generate(g: dict, gen: TestResult) -> None:
    gdesc = g.get("describe") or {}
    if g.get("error"):
        gen.output = f"model.generate(n_samples=24, seed=0) raised {g['error']}"
    elif gdesc.get("kind") != "tensor" or gdesc.get("shape") != [24, 200]:
        gen.output = f"generate(n_samples=24) must return a (24, 200) tensor, got {_shape(gdesc)}"
    else:
        points, notes = 2.0, []
        if g.get("same_seed_diff") == 0.0 and (g.get("other_seed_diff") or 0) > 0:
            points += 2.0
        else:
            notes.append("the same seed must give the same samples, another seed other samples "
                         "(call torch.manual_seed(seed) first)")
        if g.get("z_diff") is not None and g["z_diff"] < 1e-6:
            points += 2.0
        elif (g.get("z_mean") is not None and abs(g["z_mean"]) < 0.1 and g.get("z_std")
              and abs(g["z_std"] - 1) < 0.1):
            points += 1.0
            notes.append("z looks standard normal, but is not torch.randn(n_samples, latent_size) right "
                         "after torch.manual_seed(seed)")
        else:
            notes.append("z must be drawn from the prior N(0, I), shape (n_samples, latent_size)")
        if g.get("decoder_training") is False:
            points += 1.0
        else:
            notes.append("put the decoder in eval mode before decoding")
        if not gdesc.get("requires_grad") and g.get("encoder_calls") == 0:
            points += 1.0
        else:
            notes.append("generate should run under torch.inference_mode() and use only the decoder")
        ddesc = g.get("device_describe") or {}
        if g.get("device_error") is None and ddesc.get("device") == "cpu" and ddesc.get("shape") == [3, 200]:
            points += 2.0
        else:
            notes.append("generate(n_samples=3, seed=0, device='cpu') must return a (3, 200) tensor on "
                         "that device")
        gen.score = points
        gen.output = "; ".join(notes) or "generate behaves as specified."


# --- 2.2 train_VAE ----------------------------------------------------------------------------
# The two conventions for the prior loss: the KL of N(mu, exp(logvar)) from N(0, I), averaged over the
# batch, and averaged (the notebook's D_KL) or summed over the latent dimensions.  The notebook calls
# them equivalent (the sum only rescales beta by d), so either earns 2.2.3; the name goes in the message.
CONVENTIONS = {"mean": "averaged over the latent dimensions, as D_KL", "sum": "summed over the latent dimensions"}


def prior_convention(run: dict, n_iters: int, beta: float) -> str | None:
    """"mean" or "sum" when every iteration's loss is rec + beta * KL in that convention (values tracked
    and gradients backpropagated), else None.  The expected values come from the reference D_KL."""
    tracker = run.get("tracker") or {}
    rec, prior, total = tracker.get("rec") or [], tracker.get("prior") or [], tracker.get("total") or []
    exp_rec, exp_prior, exp_grad = (run.get(k) or [] for k in ("expected_rec", "expected_prior", "expected_grad"))
    hook = run.get("hook_grads") or []
    if not (len(total) == len(exp_rec) == n_iters and len(hook) == len(exp_grad) > 0):
        return None
    dims = run.get("latent_dims")
    for name, scale in (("mean", 1.0), ("sum", float(dims) if isinstance(dims, int) and dims > 1 else None)):
        if scale is None:
            continue
        loss_ok = all(
            _close(r, er, 1e-4) and ep is not None and _close(p, scale * ep, 1e-4) and _close(t, r + beta * p, 1e-4)
            for r, p, t, er, ep in zip(rec, prior, total, exp_rec, exp_prior))
        grads_ok = all(g is not None and _close(h, scale * g, 1e-4) for h, g in zip(hook, exp_grad))
        if loss_ok and grads_ok:
            return name
    return None


def _loop_checks(run: dict, n_iters: int, beta: float, batch: int) -> dict[str, str | None]:
    """Each check -> None when right, else what went wrong."""
    verdict: dict[str, str | None] = {}
    if run.get("error"):
        msg = f"train_VAE raised {run['error']}"
        return dict.fromkeys(("runs", "zero", "loss", "scheduler", "tracker"), msg)
    steps = run.get("steps")
    verdict["runs"] = None if steps == n_iters and run.get("forward_calls") == n_iters else (
        f"with n_iters={n_iters}, expected {n_iters} forward passes and optimizer steps, got "
        f"{run.get('forward_calls')} and {steps} (loop over the DataLoader again until n_iters)")
    if verdict["runs"] is None and any(b != batch for b in run.get("batches", [])[:3]):
        verdict["runs"] = f"batches should have batch_size={batch} rows (got {run.get('batches', [])[:3]})"
    at_step, hook = run.get("grad_at_step") or [], run.get("hook_grads") or []
    zeroed = len(at_step) == len(hook) > 0 and all(
        a is not None and _close(a, h, 1e-6) for a, h in zip(at_step, hook))
    verdict["zero"] = None if zeroed else "gradients accumulate across iterations: call optimizer.zero_grad() every step"
    tracker = run.get("tracker") or {}
    total = tracker.get("total") or []
    convention = prior_convention(run, n_iters, beta)
    verdict["loss"] = None if convention else (
        "the loss must be rec_loss_fn(y_hat, y) + beta * D_KL(mu, logvar) (or the KL summed over the latent "
        "dimensions), averaged over the batch, backpropagated, and tracker.update(rec, prior, total) must "
        "get those three values")
    verdict["convention"] = convention
    verdict["tracker"] = None if (run.get("trackers") == 1 and tracker.get("n_iters") == n_iters
                                  and len(total) == n_iters) else (
        "make one VAE_Tracker(n_iters=..., plot_freq=...) and call tracker.update once per iteration")
    flags = run.get("training_flags") or []
    if flags and not all(flags):
        verdict["tracker"] = "the model must be in train mode (model.train()) while training"
    return verdict


def judge_train(obs: dict) -> list[TestResult]:
    runs = TestResult("train_VAE: exactly n_iters iterations over the DataLoader", "2.2.1", 3.0)
    zero = TestResult("train_VAE: gradients zeroed every step", "2.2.2", 2.0, visibility=HIDDEN)
    loss = TestResult("train_VAE: loss = rec + beta * prior, tracked and backpropagated", "2.2.3", 3.0,
                      visibility=HIDDEN)
    sched = TestResult("train_VAE: learning-rate scheduler stepped as specified", "2.2.4", 1.0,
                       visibility=HIDDEN)
    track = TestResult("train_VAE: model in train mode, one tracker updated each iteration", "2.2.5", 1.0,
                       visibility=HIDDEN)
    tests = [runs, zero, loss, sched, track]
    if obs.get("missing"):
        for t in tests:
            t.output = f"No `{', '.join(obs['missing'])}` found in the graded cells."
        return tests
    a, b = obs.get("steplr") or {}, obs.get("plateau") or {}
    va, vb = _loop_checks(a, 9, 0.7, 16), _loop_checks(b, 6, 2.0, 32)
    for test, key in ((runs, "runs"), (zero, "zero"), (loss, "loss"), (track, "tracker")):
        problems = [v for v in (va[key], vb[key]) if v]
        test.score = test.max_score * (2 - len(problems)) / 2
        test.output = "\n".join(dict.fromkeys(problems)) or "Right."
    found = sorted({v for v in (va.get("convention"), vb.get("convention")) if v})
    if found:
        loss.output += "\nThe prior loss found: the KL " + " and ".join(CONVENTIONS[c] for c in found) + "."
    sched_problems = []
    if a.get("error") or b.get("error"):
        sched_problems.append("train_VAE raised an error (see above)")
    else:
        if a.get("scheduler_calls") != [0] * 9:
            sched_problems.append("a scheduler such as StepLR must get scheduler.step() once per iteration")
        totals = (b.get("tracker") or {}).get("total") or []
        want = [sum(totals[max(0, i - 2): i + 1]) / len(totals[max(0, i - 2): i + 1]) for i in range(len(totals))]
        got = b.get("scheduler_calls") or []
        if not (len(got) == len(want) == 6 and all(_close(x, y, 1e-4) for x, y in zip(got, want))):
            sched_problems.append("ReduceLROnPlateau must get scheduler.step(running_avg), the mean of the "
                                  "last running_avg_window total losses, once per iteration")
    sched.score = sched.max_score * (2 - len(sched_problems)) / 2 if not (a.get("error") or b.get("error")) else 0
    sched.output = "\n".join(sched_problems) or "Right."
    return tests


JUDGES: dict[str, Callable[[dict], list[TestResult]]] = {
    "1.4": judge_dkl, "2.1": judge_vae, "2.2": judge_train,
}
TEST_NAMES = {part: [(t.number, t.name, t.max_score, t.visibility) for t in judge({"missing": ["?"]})]
              for part, judge in JUDGES.items()}
