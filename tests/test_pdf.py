"""The PDF export (scripts/make_pdf.py): a clear message without TeX, and Greek that survives with it.

The conversion test runs the solution with a short training (``n_iters`` rewritten to 200 by
``run_notebook.set_n_iters``), converts it with the kit's template and reads the text back with pdftotext.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata

import make_pdf
import pytest
import run_notebook
from conftest import ROOT

TOOLS = ("xelatex", "pandoc", "pdftotext")
MISSING = [tool for tool in TOOLS if shutil.which(tool) is None]


def test_missing_tools_give_install_instructions_and_no_traceback(monkeypatch, capsys):
    monkeypatch.setattr(make_pdf.shutil, "which", lambda tool: None)
    assert make_pdf.main([str(ROOT / "solutions" / "HW7.ipynb")]) == 3
    err = capsys.readouterr().err
    assert "Missing here: xelatex, pandoc" in err
    assert "apt-get install --no-install-recommends texlive-xetex texlive-fonts-recommended" in err
    assert "conda install -c conda-forge pandoc" in err
    assert "Traceback" not in err


def test_missing_notebook_is_reported(tmp_path, capsys):
    if make_pdf.missing_tools():
        pytest.skip("xelatex or pandoc is missing, so the tool check answers first")
    assert make_pdf.main([str(tmp_path / "nope.ipynb")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)} (see scripts/make_pdf.py for how to install)")
def test_executed_solution_becomes_a_pdf_with_greek_and_the_kl_result(tmp_path):
    nb = run_notebook.execute(ROOT / "solutions" / "HW7.ipynb", tmp_path / "kit", n_iters=200, folder="solutions")
    import nbformat

    executed = tmp_path / "HW7.ipynb"
    nbformat.write(nb, executed)
    pdf = make_pdf.to_pdf(executed, tmp_path / "HW7.pdf")
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")

    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=False).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert 5 <= pages <= 40, f"{pages} pages"

    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    # Greek typed as Unicode in markdown text (not math): the default template would drop these.
    assert "with μ = 0 and σ = 1" in text
    assert "β sets how hard the prior loss" in text
    # The last line of the KL derivation; math letters come out as mathematical italics, so compare
    # after NFKC normalisation and without spaces.
    flat = "".join(unicodedata.normalize("NFKC", text).split())
    assert "σ2−1−lnσ2" in flat
    # The tqdm bar is merged into one line per state, not one line per redraw.
    assert text.count("training:") < 10
    # Only the notebook's own heading numbers: LaTeX's would come first ("2.1 1.1 The encoder").
    lines = [line.strip() for line in text.splitlines()]
    assert "1.1 The encoder" in lines and "Part 1. How a VAE works (30 points)" in lines
    assert not any(re.match(r"\d+(\.\d+)* (Part \d|\d\.\d) ", line) for line in lines)


@pytest.mark.slow
@pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)} (see scripts/make_pdf.py for how to install)")
def test_the_notebooks_pdf_command_works_in_the_handout_without_the_kits_config(tmp_path):
    """The command in the notebook's instructions, run as a student would in the unpacked handout, in an
    environment without the kit's nbconvert config (JUPYTER_NO_CONFIG): the shipped template does it."""
    import os
    import sys
    from pathlib import Path

    import make_handout

    assert make_handout.main(["--out", str(tmp_path)]) == 0
    folder = tmp_path / "handout" / "HW7"
    command = re.search(r"^ +(jupyter nbconvert --to pdf .*HW7\.ipynb)$", _part3(folder / "HW7.ipynb"), re.M)[1]
    jupyter = Path(sys.executable).with_name("jupyter")
    env = {**os.environ, "JUPYTER_NO_CONFIG": "1"}
    subprocess.run([str(jupyter), *command.split()[1:]], cwd=folder, check=True, capture_output=True,
                   timeout=300, env=env)
    text = subprocess.run(["pdftotext", str(folder / "HW7.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Sampling is not differentiable in μ and σ as such" in text
    assert "1.1 The encoder" in [line.strip() for line in text.splitlines()]


def _part3(notebook) -> str:
    import nbformat

    return next(c.source for c in nbformat.read(notebook, as_version=4).cells if c.get("id") == "part3")
