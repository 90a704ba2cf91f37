"""Make submission variants from the solution notebook: for tests, the example submissions and the
adversarial corpus.  Every variant is the solution with some graded cells' sources replaced, so
nothing is hand-edited and a change to the solution flows into all of them.
"""

from __future__ import annotations

import copy
import os
import tempfile
import zipfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = Path(os.environ.get("HW7_SOLUTION") or ROOT / "solutions" / "HW7.ipynb")


def load_solution(path: Path = SOLUTION):
    """The solution as a student would hand it in: nbgrader's solution markers taken out (a student's
    notebook never has them, and in the written answers they would show on the TA's sheet)."""
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        lines = cell.source.split("\n")
        kept = [line for line in lines if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
        if len(kept) != len(lines):
            cell.source = "\n".join(kept)
    return nb


def _defines(source: str) -> set[str]:
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def cell_defining(nb, name: str) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and name in _defines(cell.source):
            return i
    raise KeyError(f"no cell of the solution defines {name}")


def replace(nb, name: str, source: str, keep_tag: bool = True):
    """A copy of nb whose cell defining ``name`` holds ``source`` (after the AUTOGRADED line)."""
    nb = copy.deepcopy(nb)
    cell = nb.cells[cell_defining(nb, name)]
    first = cell.source.split("\n", 1)[0]
    cell.source = (first + "\n" + source) if keep_tag else source
    return nb


def configs(nb) -> tuple[dict, dict]:
    """The solution's model_config and train_config, read without running code."""
    import sys

    sys.path.insert(0, str(ROOT))
    from hw7core import cells

    found = cells.notebook_configs(cells.find_graded_cells(nb))
    return dict(found["model_config"]), dict(found["train_config"])


def submission_files(nb, model_config: dict | None = None, train_config: dict | None = None,
                     omit: tuple[str, ...] = (), extra: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """The bytes of HW7.ipynb and the two YAML files (the solution's configs where none are given)."""
    import sys

    sys.path.insert(0, str(ROOT))
    from HW7_utils import save_yaml

    base_model, base_train = configs(load_solution()) if model_config is None or train_config is None else ({}, {})
    files = {"HW7.ipynb": nbformat.writes(nb).encode()}
    with tempfile.TemporaryDirectory() as scratch:  # a folder of its own: variants are made from several threads
        tmp = Path(scratch) / "config.yaml"
        for name, cfg in (("model_config.yaml", model_config or base_model),
                          ("train_config.yaml", train_config or base_train)):
            save_yaml(cfg, tmp)  # the handout's own writer: the bytes a student's notebook would save
            files[name] = tmp.read_bytes()
    files.update(extra or {})
    for name in omit:
        files.pop(name, None)
    return files


def write(folder: Path, nb, model_config: dict | None = None, train_config: dict | None = None,
          omit: tuple[str, ...] = (), as_zip: bool = False, extra: dict[str, bytes] | None = None) -> Path:
    """Write HW7.ipynb and the two YAML files into ``folder`` (or a zip of them); returns the path."""
    files = submission_files(nb, model_config, train_config, omit, extra)
    (folder.parent if as_zip else folder).mkdir(parents=True, exist_ok=True)
    if as_zip:
        path = folder.with_suffix(".zip")
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in files.items():  # fixed dates: the same variant gives the same bytes
                zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
        return path
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def edit(nb, name: str, old: str, new: str):
    """A copy of nb where ``old`` is replaced by ``new`` in the cell defining ``name`` (``old`` must be there)."""
    nb = copy.deepcopy(nb)
    cell = nb.cells[cell_defining(nb, name)]
    if old not in cell.source:
        raise ValueError(f"the cell defining {name} has no {old!r}: the solution changed; update the variant")
    cell.source = cell.source.replace(old, new)
    return nb


# The KL of N(mu, exp(logvar)) from N(0, I) summed over the latent dimensions, averaged over the batch:
# the original template's convention: d = 10 times D_KL's mean, so beta / d gives the same loss.
SUMMED_KL = "0.5 * torch.sum(mu**2 + torch.exp(logvar) - 1 - logvar, dim=1).mean()"
LATENT_DIMS = 10


def inline_summed_kl(nb):
    """The solution whose train_VAE computes its prior loss inline as the summed KL (not with D_KL)."""
    return edit(nb, "train_VAE", "prior_loss = D_KL(mu, logvar)", f"prior_loss = {SUMMED_KL}")


def scheduler_never_stepped(nb):
    """The solution whose train_VAE builds its scheduler but never steps it."""
    nb = edit(nb, "train_VAE", "scheduler.step(running_avg)", "pass")
    return edit(nb, "train_VAE", "scheduler.step()", "pass")


def wrong_sign_dkl(nb):
    """The solution with a sign error in D_KL, which its train_VAE uses."""
    return edit(nb, "D_KL", "- 1 - logvar", "- 1 + logvar")


# A submission written for the original template of the course: `hidden_dims` argument names, the
# prior loss inline as the summed KL with its own beta tuned for that sum, optimizers looked up with
# getattr on torch.optim, and progress printed from the loop.  Correct throughout: a TA gives it 80.
ORIGINAL_TEMPLATE_MODEL = {"input_size": 200, "hidden_dims": [512, 256, 128], "latent_size": 10}
ORIGINAL_TEMPLATE_BETA = 4.3e-4  # for the summed KL: about D_KL's 4.3e-3

_ORIGINAL_CELLS = {
    "Encoder": '''class Encoder(nn.Module):
    def __init__(self, input_size, hidden_dims, latent_size):
        super().__init__()
        layers, last = [], input_size
        for h in hidden_dims:
            layers += [nn.Linear(last, h), nn.ReLU()]
            last = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(last, 2 * latent_size)

    def forward(self, y):
        mu, logvar = torch.chunk(self.head(self.body(y)), 2, dim=-1)
        return mu, logvar
''',
    "Decoder": '''class Decoder(nn.Module):
    def __init__(self, latent_size, hidden_dims, output_size):
        super().__init__()
        layers, last = [], latent_size
        for h in hidden_dims:
            layers += [nn.Linear(last, h), nn.ReLU()]
            last = h
        layers.append(nn.Linear(last, output_size))
        self.body = nn.Sequential(*layers)

    def forward(self, z):
        return self.body(z)
''',
    "VAE": '''class VAE(nn.Module):
    def __init__(self, input_size, hidden_dims, latent_size):
        super().__init__()
        self.latent_size = latent_size
        self.encoder = Encoder(input_size, hidden_dims, latent_size)
        self.decoder = Decoder(latent_size, hidden_dims[::-1], input_size)

    def forward(self, y):
        mu, logvar = self.encoder(y)
        std = torch.exp(0.5 * logvar)
        z = mu + std * torch.randn_like(std)
        return self.decoder(z), mu, logvar

    @torch.inference_mode()
    def generate(self, n_samples, seed=0, device=Device):
        torch.manual_seed(seed)
        self.decoder.eval()
        self.decoder.to(device)
        z = torch.randn(n_samples, self.latent_size, device=device)
        return self.decoder(z)
''',
    "train_VAE": '''def train_VAE(model, train_dataset, device=Device, plot_freq=100, beta=1.0, rec_loss_fn=nn.MSELoss(),
              optimizer_name='Adam', optimizer_config={}, lr_scheduler_name=None, lr_scheduler_config={},
              running_avg_window=20, n_iters=1000, batch_size=64):
    model.to(device)
    model.train()
    tracker = VAE_Tracker(n_iters=n_iters, plot_freq=plot_freq)
    loader = DataLoader(train_dataset, batch_size=batch_size, shuffle=True)
    optimizer = getattr(torch.optim, optimizer_name)(model.parameters(), **optimizer_config)
    scheduler = None
    if lr_scheduler_name:
        scheduler = getattr(torch.optim.lr_scheduler, lr_scheduler_name)(optimizer, **lr_scheduler_config)
    print(f'training for {n_iters} iterations with {optimizer_name}, beta = {beta}')
    it = 0
    while it < n_iters:
        for y, _ in loader:
            y = y.to(device)
            optimizer.zero_grad()
            y_hat, mu, logvar = model(y)
            rec_loss = rec_loss_fn(y_hat, y)
            # KL summed over the latent dimensions, averaged over the batch
            prior_loss = 0.5 * torch.sum(mu**2 + torch.exp(logvar) - 1 - logvar, dim=1).mean()
            loss = rec_loss + beta * prior_loss
            loss.backward()
            optimizer.step()
            tracker.update(rec_loss.item(), prior_loss.item(), loss.item())
            if scheduler is not None:
                if lr_scheduler_name == 'ReduceLROnPlateau':
                    scheduler.step(np.mean(tracker.total_losses[-running_avg_window:]))
                else:
                    scheduler.step()
            it += 1
            if it % 1000 == 0:
                print(f'iteration {it}: rec {rec_loss.item():.2e}, prior {prior_loss.item():.3f}')
            if it >= n_iters:
                break
    print('done')
    return tracker
''',
}


def original_template(nb):
    """The solution's notebook with its Encoder, Decoder, VAE and train_VAE as written for the original
    template (use with ORIGINAL_TEMPLATE_MODEL and beta = ORIGINAL_TEMPLATE_BETA)."""
    for name, source in _ORIGINAL_CELLS.items():
        nb = replace(nb, name, source)
    return nb
