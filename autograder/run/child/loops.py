"""Part 2.2 in the child: run the student's train_VAE with spies (model, optimizer, schedulers, tracker)
on a small dataset, once per loop probe of the job, and record every step."""

from .runtime import JOB, attempt, seed_everything


# --- part 2.2: the training loop ---------------------------------------------------------------
def reference_dkl(mu, logvar):
    import torch

    return (0.5 * (mu.pow(2) + torch.exp(logvar) - 1 - logvar)).mean()


def make_probe_classes(ns):
    import torch
    import torch.nn as nn

    from HW7_utils import N_POINTS

    class ProbeVAE(nn.Module):
        """A tiny stand-in model: mu from a linear map, logvar from one parameter that only the
        prior term touches, and y_hat decoded from mu (so the rec term never reaches logvar)."""

        def __init__(self):
            super().__init__()
            self.latent_size = 10
            self.encoder = nn.Linear(N_POINTS, 10)
            self.decoder = nn.Linear(10, N_POINTS)
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
    # What the losses should have been: the reference D_KL (the student's is part 1.4's) on the recorded tensors.
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
    for probe in JOB["loops"]:  # judges/probes.py: LOOP_PROBES
        result, err = attempt(run_loop, ns, probe["scheduler"], probe["n_iters"], probe["beta"], probe["window"],
                              probe["batch_size"])
        obs[probe["key"]] = result if err is None else {"error": err}
    return obs
