"""Make submission variants from the solution notebook: for tests, the example submissions and the
adversarial corpus.  Every variant is the solution with some graded cells' sources replaced, so
nothing is hand-edited and a change to the solution flows into all of them.
"""

from __future__ import annotations

import copy
import os
import zipfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = Path(os.environ.get("HW7_SOLUTION") or ROOT / "solutions" / "HW7.ipynb")


def load_solution(path: Path = SOLUTION):
    return nbformat.read(str(path), as_version=4)


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
    from autograder import cells

    found = cells.notebook_configs(cells.find_graded_cells(nb))
    return dict(found["model_config"]), dict(found["train_config"])


def write(folder: Path, nb, model_config: dict | None = None, train_config: dict | None = None,
          omit: tuple[str, ...] = (), as_zip: bool = False, extra: dict[str, bytes] | None = None) -> Path:
    """Write HW7.ipynb and the two YAML files into ``folder`` (or a zip of them); returns the path."""
    import sys

    sys.path.insert(0, str(ROOT))
    from HW7_utils import save_yaml

    (folder.parent if as_zip else folder).mkdir(parents=True, exist_ok=True)
    base_model, base_train = configs(load_solution()) if model_config is None or train_config is None else ({}, {})
    files = {"HW7.ipynb": nbformat.writes(nb).encode()}
    tmp = folder.parent / f".{folder.name}.yaml.tmp"
    for name, cfg in (("model_config.yaml", model_config or base_model), ("train_config.yaml", train_config or base_train)):
        save_yaml(cfg, tmp)
        files[name] = tmp.read_bytes()
    tmp.unlink()
    files.update(extra or {})
    for name in omit:
        files.pop(name, None)
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
