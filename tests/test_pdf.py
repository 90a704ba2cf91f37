"""The PDF export (scripts/make_pdf.py): a clear message without TeX, and Greek that survives with it.

The conversion of the executed solution is tested in test_notebooks.py, which runs the solution once for
both its own test and that one; here, the command the notebook gives students, run in the handout.
"""

from __future__ import annotations

import re
import subprocess

import make_pdf
import pytest
from conftest import ROOT, needs_pdf_tools


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
@needs_pdf_tools
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
