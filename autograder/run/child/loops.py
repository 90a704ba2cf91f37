"""Part 2.2 in the child: run the student's train_VAE on the grader's probe model and a small secret dataset,
with spies (optimizer, schedulers, tracker), once per loop probe of the job, and record every step raw
(protocol.LoopRun).  The judge (judges/train.py) rebuilds the same model and data in the parent and
computes what each step's losses and gradients should have been; nothing here computes a verdict.
"""

from HW7_utils import N_POINTS  # the airfoil's heights: the dataset's one name for 200

from .protocol import LoopInputs, LoopRun, LoopSeen, TrackerSeen, load
from .runtime import JOB, attempt, seed_everything

LATENT = 10


def reference_dkl(mu, logvar):
    """The KL the assignment states (mean over batch and latent dimensions): handed to the student's loop as
    D_KL, so that the loop is judged on its own (a broken D_KL is part 1.4's).  It works only in a training
    child: a part 1.4 child (which never imports this module) that imports it anyway gets an error."""
    import torch

    if JOB.get("part") not in ("2.2", "2.3"):
        raise RuntimeError("the grader's KL is not available to D_KL")
    return (0.5 * (mu.pow(2) + torch.exp(logvar) - 1 - logvar)).mean()


def drawn(seed, *shape):
    import torch

    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def probe_data(seed, size):
    """The probe's dataset: ``size`` rows of 200 heights, drawn from the job's data seed (the judge draws
    the same)."""
    return 0.1 * drawn(seed, size, N_POINTS)


def probe_model(seed):
    """The grader's probe model, its weights drawn from ``seed`` (no global generator: the parent's judge
    builds the same model in a thread of a batch).  mu is a linear map of y, logvar one parameter that only
    the prior term touches, y_hat is decoded from mu (so the reconstruction never reaches logvar)."""
    import torch
    import torch.nn as nn

    from HW7_utils import N_POINTS

    class ProbeVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.latent_size = LATENT
            # skip_init: no draw from torch's global generator (shared by a batch's threads in the parent)
            self.encoder = nn.utils.skip_init(nn.Linear, N_POINTS, LATENT)
            self.decoder = nn.utils.skip_init(nn.Linear, LATENT, N_POINTS)
            self.logvar_param = nn.Parameter(torch.tensor([-0.5]))
            weights = drawn(seed, 2 * (N_POINTS * LATENT + N_POINTS + LATENT))
            with torch.no_grad():
                at = 0
                for p in (self.encoder.weight, self.encoder.bias, self.decoder.weight, self.decoder.bias):
                    p.copy_(0.1 * weights[at: at + p.numel()].view_as(p))
                    at += p.numel()

        def forward(self, y):
            mu = self.encoder(y)
            return self.decoder(mu), mu, self.logvar_param.expand_as(mu)

    return ProbeVAE()


def make_probe_classes(ns):
    import torch

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

    return SpyOptimizer, SpyStepLR, SpyPlateau, SpyTracker


class SmallDataset:
    def __init__(self, seed, size):
        self.rows = probe_data(seed, size)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i], f"probe-{i}"


def run_loop(ns, probe, inputs):
    import torch

    SpyOptimizer, SpyStepLR, SpyPlateau, SpyTracker = make_probe_classes(ns)
    torch.optim._GraderSpyOptimizer = SpyOptimizer
    torch.optim.lr_scheduler._GraderSpyStepLR = SpyStepLR
    real_plateau = torch.optim.lr_scheduler.ReduceLROnPlateau
    torch.optim.lr_scheduler.ReduceLROnPlateau = SpyPlateau
    ns_tracker = ns["VAE_Tracker"]
    ns["VAE_Tracker"] = SpyTracker
    student_dkl = ns.get("D_KL")
    ns["D_KL"] = reference_dkl  # the loop is tested on its own: a broken D_KL is part 1.4's
    seed_everything(0)
    model = probe_model(inputs.model_seed)
    dataset = SmallDataset(inputs.data_seed, inputs.dataset_size)
    ys, flags, hook_grads = [], [], []
    model.register_forward_pre_hook(lambda m, args: (ys.append(args[0]), flags.append(m.training)) and None)
    model.logvar_param.register_hook(lambda g: hook_grads.append(float(g.sum())))
    name = "_GraderSpyStepLR" if probe.scheduler == "StepLR" else "ReduceLROnPlateau"
    config = {"step_size": 3} if probe.scheduler == "StepLR" else {"patience": 100}
    try:
        _, err = attempt(ns["train_VAE"], model, dataset, device="cpu", plot_freq=0, beta=probe.beta,
                         optimizer_name="_GraderSpyOptimizer", optimizer_config={"lr": 0.0},
                         lr_scheduler_name=name, lr_scheduler_config=config,
                         running_avg_window=probe.window, n_iters=probe.n_iters, batch_size=probe.batch_size)
    finally:
        torch.optim.lr_scheduler.ReduceLROnPlateau = real_plateau
        ns["VAE_Tracker"] = ns_tracker
        ns["D_KL"] = student_dkl
    opt = SpyOptimizer.instances[-1] if SpyOptimizer.instances else None
    tracker = SpyTracker.instances[-1] if SpyTracker.instances else None
    run = LoopRun(error=err, rows=[rows_of(y, dataset.rows) for y in ys], trackers=len(SpyTracker.instances),
                  training_flags=flags, hook_grads=hook_grads,
                  scheduler_calls=SpyStepLR.calls if probe.scheduler == "StepLR" else SpyPlateau.calls)
    if opt is not None:
        run.steps, run.grad_at_step = opt.steps, opt.grad_at_step
    if tracker is not None:
        run.tracker = TrackerSeen(n_iters=tracker.n_iters if isinstance(tracker.n_iters, int) else None,
                                  rec=_floats(tracker.rec_losses), prior=_floats(tracker.prior_losses),
                                  total=_floats(tracker.total_losses))
    return run


def rows_of(y, rows):
    """Which rows of the probe's dataset make up the batch ``y`` (-1 for a row that is none of them)."""
    import torch

    if not isinstance(y, torch.Tensor) or y.dim() != 2 or y.shape[1] != rows.shape[1]:
        return []
    same = (y.detach().to("cpu", rows.dtype)[:, None, :] == rows[None, :, :]).all(-1)
    found = same.any(-1)
    return [int(i) if ok else -1 for i, ok in zip(same.float().argmax(-1).tolist(), found.tolist())]


def _floats(items):
    out = []
    for v in list(items)[:10000]:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            out.append(None)
    return [v if v is None or v == v and abs(v) != float("inf") else None for v in out]


def observe_training(ns):
    inputs = load(LoopInputs, JOB["inputs"])
    if not callable(ns.get("train_VAE")):
        return LoopSeen(missing=["train_VAE"])
    runs = []
    for probe in inputs.probes:
        result, err = attempt(run_loop, ns, probe, inputs)
        runs.append(result if err is None else LoopRun(error=err))
    return LoopSeen(runs=runs)
