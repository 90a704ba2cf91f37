"""Notebooks for the similarity tests: independent implementations, and a disguised copy of the solution.

The examples in examples/submissions are all made from the one reference solution, so they are copies
of each other by construction.  ``independent(name)`` is the student notebook filled in with
``fixtures/independent/student_<name>.py``: three implementations written separately, in different
styles (a ModuleList loop, a shared MLP helper, explicit index arithmetic), as different students would.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import variants

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "independent"
INDEPENDENT = ("a", "b", "c")
STEP_MARK = "# TRAIN_VAE STEP"


def starter():
    return nbformat.read(str(ROOT / "notebooks" / "HW7.ipynb"), as_version=4)


def independent(name: str):
    """The starter notebook with one independent student's graded cells and training step."""
    text = (FIXTURES / f"student_{name}.py").read_text(encoding="utf-8")
    body, step = text.split(STEP_MARK)
    step = step.split("\n", 1)[1].rstrip() + "\n"
    nb = starter()
    loop = nb.cells[variants.cell_defining(nb, "train_VAE")]
    loop.source = re.sub(r"^ *raise NotImplementedError\(\)\n", lambda _: step, loop.source, count=1, flags=re.M)
    graded = sorted(variants.cell_defining(nb, n) for n in ("D_KL", "Encoder", "Decoder", "VAE"))
    for index in reversed(graded):
        del nb.cells[index]
    nb.cells[graded[0]:graded[0]] = [nbformat.v4.new_code_cell(c.strip()) for c in body.split("\n\n\n") if c.strip()]
    return nb


RENAMES = {"sizes": "dims", "layers": "blocks", "n_in": "fan_in", "n_out": "fan_out", "hidden": "trunk",
           "out": "head", "net": "body", "logvar": "log_sigma2", "mu": "mean", "tracker": "history",
           "loader": "batches", "rec_loss": "recon_term", "prior_loss": "kl_term", "latent_size": "z_dim",
           "optimizer": "opt", "scheduler": "sched", "running_avg": "smooth"}


def disguise(nb):
    """A copy that hides its origin: identifiers renamed, docstrings and comments rewritten, code
    reformatted, and the Encoder and Decoder cells swapped."""
    nb = copy.deepcopy(nb)
    encoder, decoder = (variants.cell_defining(nb, n) for n in ("Encoder", "Decoder"))
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.source.lstrip().startswith("# AUTOGRADED"):
            continue
        source = cell.source
        for old, new in RENAMES.items():
            source = re.sub(r"\b" + re.escape(old) + r"\b", new, source)
        source = re.sub(r'"""[^"]*"""', '"""Written in my own words."""', source)
        source = re.sub(r"#(?! AUTOGRADED).*", "# my own comment", source)
        source = source.replace(", ", ",").replace(" = ", "=")  # reformatted
        cell.source = source.replace("\n", "\n\n", 3) + "\n# the end of this cell\n"
    nb.cells[encoder], nb.cells[decoder] = nb.cells[decoder], nb.cells[encoder]
    return nb
