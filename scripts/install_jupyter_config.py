"""Make `jupyter nbconvert --to pdf` in this environment use the kit's LaTeX template.

nbconvert's default LaTeX template silently drops Greek letters typed in markdown (μ, σ, β). Jupyter
reads configuration from ``<sys.prefix>/etc/jupyter``, so writing the template choice there makes the
plain command from the notebook's instructions produce a faithful PDF whenever the kit's environment
(the .venv that `make setup` creates, or the conda environment) is the one running Jupyter.
"""

from __future__ import annotations

import sys
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CONFIG = """\
# Written by the HW7 kit (scripts/install_jupyter_config.py): PDFs keep Greek letters typed in markdown.
c.TemplateExporter.extra_template_basedirs = [{templates!r}]
c.PDFExporter.template_name = "latex_unicode"
c.LatexExporter.template_name = "latex_unicode"
"""


def main() -> int:
    target = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_nbconvert_config.py"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(CONFIG.format(templates=str(TEMPLATES)), encoding="utf-8")
    print(f"Wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
