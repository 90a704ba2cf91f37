"""The grader's reference training loop and KL formula, for part 2.3's second training only.

This file lives outside ``child/`` on purpose: the sandbox copies it into a child's package only for
the job that re-trains with the grader's loop (``retrain.REFERENCE_RUN``), so the child that runs the
student's own ``train_VAE`` (and the quick tests of 1.4 and 2.2) cannot find, import or call it: a
submission gains nothing by looking for it (issue 21, item 4).  It imports only torch.
"""


def reference_dkl(mu, logvar):
    """The KL term the assignment states: mean over the batch and the latent dimensions."""
    import torch

    return (0.5 * (mu.pow(2) + torch.exp(logvar) - 1 - logvar)).mean()


def reference_train(model, dataset, beta=1.0, optimizer_name="Adam", optimizer_config=None,
                    lr_scheduler_name=None, lr_scheduler_config=None, running_avg_window=20,
                    n_iters=1000, batch_size=64, tracker_cls=None, **_):
    """The grader's own loop, used when the student's training gave no model or lost points."""
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
