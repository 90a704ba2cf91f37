"""Make a PDF of an executed HW7 notebook, keeping the Greek letters typed in its text.

    python scripts/make_pdf.py [NOTEBOOK] [--out PDF]

NOTEBOOK defaults to the solution, first executed into build/HW7.ipynb (about a minute of
training).  The PDF goes next to the notebook unless --out says otherwise.  The conversion is
nbconvert's (xelatex, with pandoc for the markdown) through the template in
templates/latex_unicode, which sets text fonts with Greek coverage; the default template drops
letters such as μ and σ typed in markdown.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
TEMPLATE = "latex_unicode"
BUILD = ROOT / "build"

INSTALL_HELP = """\
To make PDFs, nbconvert needs xelatex (a TeX distribution) and pandoc. Missing here: {missing}.
Install them, then run this again:
  Debian / Ubuntu: sudo apt-get install --no-install-recommends texlive-xetex texlive-fonts-recommended texlive-plain-generic pandoc
                   (fonts-dejavu-core as well, if it is not there yet: it has the Greek letters)
  macOS (Homebrew): brew install pandoc && brew install --cask mactex-no-gui
  Windows:          install MiKTeX (https://miktex.org) and pandoc (https://pandoc.org/installing.html)
  conda:            conda install -c conda-forge pandoc   (conda's TeX packages are incomplete for
                    xelatex: install TeX Live, MacTeX or MiKTeX as above for the TeX part)"""


def missing_tools() -> list[str]:
    """The command-line tools nbconvert's PDF export needs that are not on PATH."""
    return [tool for tool in ("xelatex", "pandoc") if shutil.which(tool) is None]


def to_pdf(notebook: Path, pdf: Path) -> Path:
    """Convert an (executed) notebook to ``pdf`` with the unicode template; returns ``pdf``."""
    import nbformat
    from nbconvert import PDFExporter
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    nb = nbformat.read(notebook, as_version=4)
    # A notebook run headless keeps each redraw of the tqdm bar as its own output (Jupyter merges them
    # when it saves): merge them and keep the last state of each line, or the bar fills pages.
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})
    exporter = PDFExporter(template_name=TEMPLATE, extra_template_basedirs=[str(TEMPLATES)])
    # Figures and other resources are looked up relative to the notebook's folder.
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(notebook.parent)}})
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.write_bytes(body)
    return pdf


def execute_solution() -> Path:
    """Run the solution notebook headless into build/HW7.ipynb and return that path."""
    import nbformat
    import run_notebook

    out = BUILD / "HW7.ipynb"
    print("executing solutions/HW7.ipynb (about a minute) ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="hw7-pdf-") as tmp:
        nb = run_notebook.execute(ROOT / "solutions" / "HW7.ipynb", Path(tmp), folder="solutions")
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", type=Path, help="an executed notebook (default: the solution, run now)")
    parser.add_argument("--out", type=Path, help="the PDF to write (default: next to the notebook)")
    args = parser.parse_args(argv)

    missing = missing_tools()
    if missing:
        print(INSTALL_HELP.format(missing=", ".join(missing)), file=sys.stderr)
        return 3
    if args.notebook is not None and not args.notebook.is_file():
        print(f"error: {args.notebook} does not exist", file=sys.stderr)
        return 2

    from nbconvert.exporters.pdf import LatexFailed

    notebook = args.notebook if args.notebook is not None else execute_solution()
    pdf = args.out or notebook.with_suffix(".pdf")
    try:
        to_pdf(notebook, pdf)
    except LatexFailed as exc:
        log = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else str(exc.output)
        print(f"error: xelatex could not typeset {notebook}. The end of its log:\n{log[-3000:]}", file=sys.stderr)
        return 1
    print(f"wrote {pdf}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # for run_notebook
    sys.exit(main())
