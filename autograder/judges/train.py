"""Part 2.2, train_VAE: each loop probe (the grading's secret probes.loop_inputs) is checked, then each test
scores the share of the probes it passed.

The losses are judged here against the parent's own computation: it rebuilds the grader's probe model and
the probe's data from the job's seeds (child/loops.py's functions, run in the parent), takes the rows of
each batch the child saw, and computes what rec, the KL and logvar's gradient should have been.  The
counts, the spy's readings and the scheduler's calls are the child's report (judges/table.py marks them).
"""

from __future__ import annotations

from autograder.judges.common import Trial, Verdict, close, scaled
from autograder.run.child.loops import probe_data, probe_model
from autograder.run.child.protocol import LoopInputs, LoopProbe, LoopRun
from hw7core.limits import TOL_SAME, TOL_TRAINING

PART = "2.2"
# The two conventions for the prior loss: the KL of N(mu, exp(logvar)) from N(0, I), averaged over the
# batch, and averaged (the notebook's D_KL) or summed over the latent dimensions.  The notebook calls
# them equivalent (the sum only rescales beta by d), so either earns 2.2.3; the name goes in the message.
CONVENTIONS = {"mean": "averaged over the latent dimensions, as D_KL", "sum": "summed over the latent dimensions"}
TESTS_BY_CHECK = {"2.2.1": "runs", "2.2.2": "zero", "2.2.3": "loss", "2.2.5": "tracker"}


def expected_steps(run: LoopRun, inputs: LoopInputs, beta: float) -> dict[str, list]:
    """What each iteration's rec, prior (the KL's mean) and beta * d prior / d logvar should have been, for
    the batches the loop fed the probe model (None where a batch holds rows that are not the probe's)."""
    import torch

    model, data = probe_model(inputs.model_seed), probe_data(inputs.data_seed, inputs.dataset_size)
    out: dict[str, list] = {"expected_rec": [], "expected_prior": [], "expected_grad": []}
    for rows in run.rows:
        if not rows or any(not 0 <= r < len(data) for r in rows):
            for values in out.values():
                values.append(None)
            continue
        y = data[rows]
        with torch.no_grad():
            y_hat, mu, _ = model(y)
        logvar = model.logvar_param.detach().clone().requires_grad_(True)
        lv = logvar.expand_as(mu)
        prior = (0.5 * (mu.pow(2) + torch.exp(lv) - 1 - lv)).mean()
        (grad,) = torch.autograd.grad(prior, logvar)
        out["expected_rec"].append(float(torch.nn.functional.mse_loss(y_hat, y)))
        out["expected_prior"].append(float(prior.detach()))
        out["expected_grad"].append(beta * float(grad.sum()))
    return out


def as_run(run: LoopRun, inputs: LoopInputs, beta: float) -> dict:
    """The run as prior_convention reads it: the tracked values, the hook's gradients and the expectations."""
    tracker = run.tracker
    return {"tracker": {"rec": tracker.rec, "prior": tracker.prior, "total": tracker.total} if tracker else {},
            "hook_grads": run.hook_grads, "latent_dims": 10, **expected_steps(run, inputs, beta)}


def prior_convention(run: dict, n_iters: int, beta: float) -> str | None:
    """"mean" or "sum" when every iteration's loss is rec + beta * KL in that convention (values tracked
    and gradients backpropagated), else None.  The expected values are the parent's (expected_steps)."""
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
            close(r, er, TOL_TRAINING) and ep is not None and close(p, scale * ep, TOL_TRAINING) and close(t, r + beta * p, TOL_TRAINING)
            for r, p, t, er, ep in zip(rec, prior, total, exp_rec, exp_prior))
        grads_ok = all(g is not None and close(h, scale * g, TOL_TRAINING) for h, g in zip(hook, exp_grad))
        if loss_ok and grads_ok:
            return name
    return None


def loop_checks(run: LoopRun, probe: LoopProbe, inputs: LoopInputs) -> dict[str, str | None]:
    """Each check of one probe run -> None when right, else what went wrong ("convention": the KL's)."""
    n_iters, batch = probe.n_iters, probe.batch_size
    if run.error:
        return dict.fromkeys(("runs", "zero", "loss", "tracker"), f"train_VAE raised {run.error}")
    verdict: dict[str, str | None] = {}
    steps, batches = run.steps, [len(rows) for rows in run.rows]
    verdict["runs"] = None if steps == n_iters and len(batches) == n_iters else (
        f"with n_iters={n_iters}, expected {n_iters} forward passes and optimizer steps, got "
        f"{len(batches)} and {steps} (loop over the DataLoader again until n_iters)")
    if verdict["runs"] is None and any(b != batch for b in batches[:3]):
        verdict["runs"] = f"batches should have batch_size={batch} rows (got {batches[:3]})"
    at_step, hook = run.grad_at_step, run.hook_grads
    zeroed = len(at_step) == len(hook) == n_iters and all(  # one per iteration of this grading's n_iters
        a is not None and close(a, h, TOL_SAME) for a, h in zip(at_step, hook))
    verdict["zero"] = None if zeroed else "gradients accumulate across iterations: call optimizer.zero_grad() every step"
    tracker = run.tracker
    total = tracker.total if tracker else []
    convention = prior_convention(as_run(run, inputs, probe.beta), n_iters, probe.beta)
    verdict["loss"] = None if convention else (
        "the loss must be rec_loss_fn(y_hat, y) + beta * D_KL(mu, logvar) (or the KL summed over the latent "
        "dimensions), averaged over the batch, backpropagated, and tracker.update(rec, prior, total) must "
        "get those three values")
    verdict["convention"] = convention
    verdict["tracker"] = None if (run.trackers == 1 and tracker is not None and tracker.n_iters == n_iters
                                  and len(total) == n_iters) else (
        "make one VAE_Tracker(n_iters=..., plot_freq=...) and call tracker.update once per iteration")
    flags = run.training_flags
    if flags and not all(flags):
        verdict["tracker"] = "the model must be in train mode (model.train()) while training"
    return verdict


def scheduler_problem(run: LoopRun, probe: LoopProbe) -> str | None:
    """A StepLR-like scheduler is stepped once per iteration without arguments; ReduceLROnPlateau with the
    mean of the last ``window`` total losses."""
    got = run.scheduler_calls
    if probe.scheduler == "StepLR":
        return None if got == [0] * probe.n_iters else (
            "a scheduler such as StepLR must get scheduler.step() once per iteration")
    totals = run.tracker.total if run.tracker else []
    recent = [totals[max(0, i - probe.window + 1): i + 1] for i in range(len(totals))]
    want = [sum(last) / len(last) for last in recent]
    if len(got) == len(want) == probe.n_iters and all(
            isinstance(x, (int, float)) and y is not None and close(x, y, TOL_TRAINING) for x, y in zip(got, want)):
        return None
    return ("ReduceLROnPlateau must get scheduler.step(running_avg), the mean of the "
            "last running_avg_window total losses, once per iteration")


def share(problems: list[str | None], points: float) -> Verdict:
    """The points of the probes without a problem, the problems (each once) as the message."""
    found = [p for p in problems if p]
    return scaled((len(problems) - len(found)) / max(1, len(problems)), points), (
        "\n".join(dict.fromkeys(found)) or "Right.")


def judge_scheduler(runs: list[LoopRun], probes: list[LoopProbe], points: float) -> Verdict:
    """2.2.4: no points when a probe raised; else a share per probe whose scheduler was stepped right."""
    if any(run.error for run in runs):
        return 0.0, "train_VAE raised an error (see above)"
    return share([scheduler_problem(run, probe) for run, probe in zip(runs, probes)], points)


def judge(trial: Trial, points: dict[str, float]) -> dict[str, Verdict]:
    seen, inputs = trial.seen, trial.inputs
    if seen.missing:
        return dict.fromkeys(points, (0.0, f"No `{', '.join(seen.missing)}` found in the graded cells."))
    runs = [seen.runs[i] if i < len(seen.runs) else LoopRun(error="no result") for i in range(len(inputs.probes))]
    checked = [loop_checks(run, probe, inputs) for run, probe in zip(runs, inputs.probes)]
    verdicts = {number: share([c[key] for c in checked], points[number]) for number, key in TESTS_BY_CHECK.items()}
    found = sorted({c.get("convention") for c in checked} - {None})
    if found:
        score, output = verdicts["2.2.3"]
        verdicts["2.2.3"] = score, output + "\nThe prior loss found: the KL " + " and ".join(
            CONVENTIONS[c] for c in found) + "."
    verdicts["2.2.4"] = judge_scheduler(runs, inputs.probes, points["2.2.4"])
    return verdicts
