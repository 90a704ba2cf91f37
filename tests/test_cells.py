"""Graded cells are found by what they define; only definitions run; imports are checked."""

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from hw7core import cells


def nb(*sources):
    return new_notebook(cells=[new_markdown_cell("# HW7")] + [new_code_cell(s) for s in sources])


def test_split_merged_and_reordered_cells():
    code = cells.find_graded_cells(nb(
        "# AUTOGRADED\nclass VAE: pass\ndef D_KL(mu, logvar):\n    return 0",
        "#AUTOGRADED (10)\nclass Decoder: pass",
        "# autograded\nclass Encoder: pass\ndef train_VAE(): pass",
    ))
    assert code.where == {"VAE": 1, "D_KL": 1, "Decoder": 2, "Encoder": 3, "train_VAE": 3}
    assert code.missing("2.1") == [] and code.missing("2.3") == ["model_config", "train_config"]
    assert "1.4: D_KL (cell 2)" in cells.describe(code)


def test_later_definition_wins_and_is_reported():
    code = cells.find_graded_cells(nb("# AUTOGRADED\ndef D_KL(): return 1", "# AUTOGRADED\ndef D_KL(): return 2"))
    assert code.where["D_KL"] == 2
    assert any("defined in cells 2 and 3" in n for n in code.notes)


def test_only_definitions_run():
    code = cells.find_graded_cells(nb(
        "# AUTOGRADED\nimport torch\nx = 5 * 1000\ncfg = dict(a=1, b=[1, 2])\nmodel = VAE()\n"
        "train_VAE(model)\nwhile True:\n    pass\ndef f():\n    return x"))
    source = code.cells[0].source
    assert "def f" in source and "x = 5 * 1000" in source and "cfg = dict" in source
    assert "VAE()" not in source and "while" not in source and "train_VAE(model)" not in source
    assert sum("not run by the grader" in n for n in code.notes) == 3


def test_forbidden_imports_are_reported_with_their_line():
    code = cells.find_graded_cells(nb("# AUTOGRADED\nimport torch\nimport os\nfrom subprocess import run\n"
                                      "def D_KL(): pass"))
    assert code.forbidden_imports == [
        "cell 2, line 3: `import os` is not allowed in graded cells (only what the notebook's import cell "
        "imports); it was ignored",
        "cell 2, line 4: `import subprocess` is not allowed in graded cells (only what the notebook's import "
        "cell imports); it was ignored",
    ]
    assert "import os" not in code.cells[0].source and "import torch" in code.cells[0].source


def test_syntax_error_and_missing_tag():
    code = cells.find_graded_cells(nb("# AUTOGRADED\ndef D_KL(:\n", "class VAE: pass"))
    assert code.cells[0].error == "cell 2 has a syntax error on line 2: invalid syntax"
    assert any("`VAE` is defined in cell 3, which does not start with `# AUTOGRADED`" in n for n in code.notes)
    assert "VAE" not in code.where


def test_configs_are_read_without_running_code():
    code = cells.find_graded_cells(nb(
        "# AUTOGRADED (15)\nmodel_config = dict(input_size=200, hidden_sizes=[64, 32], latent_size=10)\n"
        "train_config = {'beta': 4.3e-3, 'n_iters': 5 * 1000, 'optimizer_config': dict(lr=1e-3)}\n"
        "bomb = 10 ** 10 ** 10\n"))
    found = cells.notebook_configs(code)
    assert found == {"model_config": {"input_size": 200, "hidden_sizes": [64, 32], "latent_size": 10},
                     "train_config": {"beta": 4.3e-3, "n_iters": 5000, "optimizer_config": {"lr": 1e-3}}}


def test_untagged_notebook_and_non_code_cells():
    notebook = nb("print(1)")
    notebook.cells.append(nbformat.v4.new_raw_cell("# AUTOGRADED\ndef D_KL(): pass"))
    code = cells.find_graded_cells(notebook)
    assert code.cells == [] and code.where == {}


def test_readiness_blocks_what_cannot_run_and_keeps_what_can():
    """One rule for grader and handout: a broken VAE leaves 2.1 partly runnable and blocks 2.3."""
    from hw7core import parts, readiness
    from hw7core.intake import Submission

    def notebook(*sources):
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])

    nb = notebook("# AUTOGRADED\ndef D_KL(mu, logvar):\n    return mu.mean()\n",
                  "# AUTOGRADED\nclass Encoder(nn.Module):\n    pass\n",
                  "# AUTOGRADED\nclass Decoder(nn.Module):\n    pass\n",
                  "# AUTOGRADED\nclass VAE(nn.Module:\n    pass\n")
    sub = Submission(Path("s"), notebook=nb, model_config={"input_size": 200, "latent_size": 10},
                     train_config={"n_iters": 10})
    ready = readiness.assess(sub, cells.find_graded_cells(nb))
    assert set(ready.partly_missing) == {"2.1"} and "`VAE`" in ready.partly_missing["2.1"]
    assert "SyntaxError" in ready.partly_missing["2.1"] or "line" in ready.partly_missing["2.1"]
    assert "`VAE`" in ready.blocked["2.3"] and "`train_VAE`" in ready.blocked["2.2"]
    assert "1.4" not in ready.blocked
    unreadable = Submission(Path("s"), problems={"notebook": "HW7.ipynb is not valid JSON"})
    assert readiness.assess(unreadable, None).blocked == dict.fromkeys(parts.NUMBERS, "HW7.ipynb is not valid JSON")


# --- issue 18: the parent handles student code without being held by it ------------------------------
@pytest.mark.timeout(60)
@pytest.mark.parametrize("value, reason", [
    ("dict(n_iters=((((9**64)**64)**64)**64)**64)", "larger than 2**63"),
    ("dict(n_iters=2**64)", "larger than 2**63"),
    ("dict(n_iters=" + "+".join(["1"] * 300) + ")", "pieces"),
    ("dict(name='ab' * 3)", "repeats a string or a list"),
    ("dict(n_iters=1 / 0)", "could not be read"),
])
def test_notebook_configs_are_bounded_literals_or_refused_with_a_reason(value, reason):
    """Issue 18, item 3: the parent evaluates notebook configs; a gigabit integer held it (and the GIL)."""
    from hw7core import readiness
    from hw7core.intake import Submission

    notebook = nb(f"# AUTOGRADED\ntrain_config = {value}\nmodel_config = dict(input_size=200, latent_size=10)\n")
    code = cells.find_graded_cells(notebook)
    refused = {}
    found = cells.notebook_configs(code, refused)
    assert "train_config" not in found and found["model_config"] == {"input_size": 200, "latent_size": 10}
    assert reason in refused["train_config"] and "cell 2" in refused["train_config"]
    # When train_config.yaml is missing, the student reads why the notebook's one was not used.
    sub = Submission(Path("s"), notebook=notebook, model_config={"input_size": 200, "latent_size": 10},
                     problems={"train_config": "train_config.yaml is missing from the submission."})
    notes = "\n".join(readiness.assess(sub, code).notes)
    assert "the train_config written in cell 2 was not used" in notes and reason in notes


def test_small_computed_configs_still_count():
    code = cells.find_graded_cells(nb("# AUTOGRADED\ntrain_config = dict(n_iters=2**14 + 3 * 1000, beta=10**-3, "
                                      "lr=2.0**-10, big=-(2**62))\n"))
    assert cells.notebook_configs(code)["train_config"] == {"n_iters": 19384, "beta": 0.001, "lr": 2.0**-10,
                                                            "big": -(2**62)}


def test_a_cell_nested_beyond_what_python_compiles_is_a_message():
    """Issue 18, item 9: RecursionError from the parent's parse was an "autograder failed"."""
    code = cells.find_graded_cells(nb("# AUTOGRADED\nx = " + "1+" * 100_000 + "1\n", "# AUTOGRADED\ndef D_KL(): pass"))
    assert "nests expressions too deeply" in code.cells[0].error and "D_KL" in code.where


@pytest.mark.timeout(90)
def test_finding_graded_cells_is_linear_in_the_number_of_cells():
    """Issue 18, item 9: each untagged cell was compared with every graded one (minutes at the size cap).
    60,000 cells took minutes, now seconds (a hang test with a generous limit, not a speed measurement)."""
    sources = [f"# AUTOGRADED\ndef f{i}(): pass" if i % 2 else f"y{i} = {i}" for i in range(60_000)]
    notebook = {"cells": [{"cell_type": "code", "source": s} for s in sources]}  # plain: nbformat's builder is slow
    code = cells.find_graded_cells(notebook)
    assert len(code.cells) == 30_000
