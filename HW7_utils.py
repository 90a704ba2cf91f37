"""Helpers for HW7 (a VAE that generates airfoils): the dataset, a loss tracker, plots, submission.

Students import these from the notebook; the autograder imports them too.  Nothing here needs
to be edited: the dataset is found relative to this file, wherever the notebook runs from.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

__all__ = [
    "AirfoilDataset",
    "VAE_Tracker",
    "plot_airfoils",
    "save_yaml",
    "load_yaml",
    "zip_files",
    "check_submission",
    "score_samples",
    "DATA_ENV",
    "default_data_path",
]

KIT_ROOT = Path(__file__).resolve().parent
DATA_ENV = "HW7_DATA"  # environment variable that points at another airfoils.npz
N_POINTS = 200
N_SAMPLES = 24  # the airfoils generate() draws for the plot, and that the grader scores in part 2.3
UPPER_COLOR, LOWER_COLOR = "tab:blue", "tab:orange"


def default_data_path() -> Path:
    """``$HW7_DATA`` if set, else ``data/airfoils.npz`` next to this file."""
    return Path(os.environ.get(DATA_ENV) or KIT_ROOT / "data" / "airfoils.npz")


# ---------------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------------
class AirfoilDataset:
    """The UIUC airfoils as 200 normalised y-values on one shared x grid.

    ``dataset[i]`` is ``(y, name)``: ``y`` a float32 array of shape (200,), the upper surface from
    trailing to leading edge (indices 0..99) then the lower surface back to the trailing edge
    (100..199), divided by ``dataset.coefficient`` (the largest |y| in the whole set).
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_data_path()
        if not self.path.is_file():
            fix = (f"Build it by running `make data` in {KIT_ROOT} (it downloads the UIUC airfoils "
                   "from PyPI once)." if (KIT_ROOT / "Makefile").is_file() else
                   "Put the handout's data folder (data/airfoils.npz) next to HW7_utils.py, in the "
                   "folder where the notebook runs.")
            raise FileNotFoundError(f"The airfoil data file {self.path} does not exist. {fix}")
        with np.load(self.path, allow_pickle=False) as data:
            self.coefficient = float(data["coefficient"])
            self.x = data["x"].astype(np.float32)
            self.y = (data["y"] / self.coefficient).astype(np.float32)
            self.names = [str(n) for n in data["names"]]

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, idx: int) -> tuple[np.ndarray, str]:
        return self.y[idx], self.names[idx]

    def __getitems__(self, indices: list[int]) -> list[tuple[Any, str]]:
        """DataLoader's batched fetch: rows as tensor views, so that collating a batch only stacks
        them (converting 64 numpy rows one by one made the loader cost ~4% of training)."""
        if getattr(self, "_rows_of", None) is not self.y:
            import torch  # here, so that importing HW7_utils does not need torch

            self._rows, self._rows_of = torch.from_numpy(self.y).unbind(0), self.y
        rows, names = self._rows, self.names
        return [(rows[i], names[i]) for i in indices]

    def get_x(self) -> np.ndarray:
        """The shared x coordinates (200,), in chord units: trailing edge -> leading -> trailing."""
        return self.x.copy()

    def plot(self, idx: int = 0):
        """Plot airfoil ``idx`` (normalised units, the same units as the VAE's samples)."""
        y, name = self[idx]
        fig = plot_airfoils(self.x, y[None], ncols=1, titles=[f"{name} (#{idx})"], panel_size=(6, 2.2))
        return fig


# ---------------------------------------------------------------------------------------------
# Loss tracker with live learning curves
# ---------------------------------------------------------------------------------------------
def _in_notebook() -> bool:
    """True inside a Jupyter kernel whose figures are shown inline."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or "IPKernelApp" not in getattr(shell, "config", {}):
        return False
    import matplotlib  # here: a process that never plots (the grader's children) need not import it

    backend = matplotlib.get_backend().lower()
    return "inline" in backend or "ipympl" in backend


def _as_float(value: Any) -> float:
    return float(value.item()) if hasattr(value, "item") else float(value)


class VAE_Tracker:  # noqa: N801 (the assignment's name)
    """Records the reconstruction, prior (KL) and total losses of every training iteration.

    In a Jupyter notebook the learning curves are redrawn in place every ``plot_freq`` iterations,
    but at most about once a second (less often if a redraw is slow), and always at the last
    iteration, so that live curves cost only a few percent of the training.  Elsewhere (a script,
    the autograder) or with ``plot_freq=0`` it only records, which costs a few microseconds per
    iteration.  ``clock`` (seconds, ``time.monotonic`` by default) is for tests.
    """

    NAMES = ("reconstruction", "prior (KL)", "total")
    FIGSIZE = (12, 3.2)
    MIN_REDRAW_INTERVAL_S = 1.0  # the curves still look live at one frame a second
    MAX_REDRAW_SHARE = 0.02  # a slow redraw waits longer, so redraws stay under ~2% of the time
    LIVE_POINTS = 600  # points per live curve: each panel is ~260 pixels wide

    def __init__(self, n_iters: int, plot_freq: int | None = 100, live: bool | None = None,
                 clock: Callable[[], float] | None = None):
        self.n_iters = int(n_iters)
        self.plot_freq = int(plot_freq or 0)
        self.rec_losses: list[float] = []
        self.prior_losses: list[float] = []
        self.total_losses: list[float] = []
        self.live = (self.plot_freq > 0 and _in_notebook()) if live is None else bool(live)
        self.redraws = 0
        self._clock = clock or time.monotonic
        self._next_redraw = -math.inf
        self._fig = None
        self._handle = None

    @property
    def histories(self) -> tuple[list[float], list[float], list[float]]:
        return self.rec_losses, self.prior_losses, self.total_losses

    def __len__(self) -> int:
        return len(self.total_losses)

    def update(self, rec_loss, prior_loss, total_loss) -> None:
        """Record one iteration's losses (floats or 0-dim tensors)."""
        self.rec_losses.append(_as_float(rec_loss))
        self.prior_losses.append(_as_float(prior_loss))
        self.total_losses.append(_as_float(total_loss))
        if self.live and self.plot_freq > 0:
            i = len(self.total_losses)
            if i == self.n_iters or (i % self.plot_freq == 0 and self._clock() >= self._next_redraw):
                self._redraw()

    def plot(self, fig=None):
        """Draw the three learning curves on ``fig`` (a new figure if None) and return it."""
        if fig is None:
            import matplotlib.pyplot as plt  # here: pyplot costs ~0.8 s to import, and a tracker
                                             # that only records (the autograder's) never needs it

            fig, _ = plt.subplots(1, 3, figsize=self.FIGSIZE)
        self._draw_on(fig)
        return fig

    def _draw_on(self, fig, max_points: int | None = None) -> None:
        """Put the curves on ``fig``'s axes: a curve drawn before is given its new data (much cheaper
        than clearing the axes and plotting again); other axes are cleared first."""
        for ax, name, history in zip(fig.axes, self.NAMES, self.histories):
            values = np.asarray(history, dtype=float)
            steps, shown = _thin(values, max_points)
            line = ax.lines[0] if ax.lines and ax.lines[0].get_gid() == _CURVE_ID else None
            if line is None:
                ax.clear()
                (line,) = ax.plot(steps, shown, lw=1, gid=_CURVE_ID)
                ax.set_xlabel("iteration")
                ax.grid(alpha=0.3)
            else:
                line.set_data(steps, shown)
            finite = values[np.isfinite(values)]
            scale = curve_scale(finite)
            if ax.get_yscale() != scale:
                ax.set_yscale(scale)
                if max_points is not None:  # live: minor ticks are most of a log axis's drawing
                    ax.minorticks_off()
            if finite.size:
                low, high = float(finite.min()), float(finite.max())
                pad = (high / low) ** 0.05 if scale == "log" else 0.05 * (high - low)
                if scale == "log":
                    ax.set_ylim(low / pad, high * pad)
                else:
                    ax.set_ylim(low - pad, high + pad) if high > low else ax.set_ylim(low - 0.5, high + 0.5)
            ax.set_title(f"{name}: {values[-1]:.3g}" if values.size else name)
            ax.set_xlim(0, max(self.n_iters, len(values), 1))

    def _live_figure(self):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        # Not a pyplot figure: the inline backend never sees it, so it is not drawn again at the
        # end of the cell, and fixed margins spare a layout pass (an extra draw) on every frame.
        fig = Figure(figsize=self.FIGSIZE, layout="none")
        FigureCanvasAgg(fig)
        fig.subplots(1, 3)
        fig.subplots_adjust(left=0.05, right=0.99, bottom=0.17, top=0.9, wspace=0.25)
        return fig

    def _redraw(self) -> None:
        from IPython.display import Image, display

        start = self._clock()
        if self._fig is None:
            self._fig = self._live_figure()
        self._draw_on(self._fig, self.LIVE_POINTS)
        buffer = io.BytesIO()
        self._fig.savefig(buffer, format="png", dpi=72)  # one render; no tight bounding box (a second)
        image = Image(data=buffer.getvalue(), format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
        self.redraws += 1
        end = self._clock()
        self._next_redraw = end + max(self.MIN_REDRAW_INTERVAL_S, (end - start) / self.MAX_REDRAW_SHARE)


_CURVE_ID = "hw7-learning-curve"


def curve_scale(finite: np.ndarray) -> str:
    """"log" once a (finite) loss curve spans more than a decade, as the losses usually do; else "linear".
    The tracker and the grader's feedback page (autograder/reports/figures.py) draw curves by this one rule."""
    return "log" if finite.size and finite.min() > 0 and finite.max() / finite.min() > 10 else "linear"


def _thin(values: np.ndarray, max_points: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(iterations, values) for a curve, at most about ``max_points`` of them: each bucket of
    iterations keeps its lowest and highest value, so spikes and the noise band still show."""
    steps = np.arange(1, len(values) + 1)
    if max_points is None or len(values) <= max_points:
        return steps, values
    size = math.ceil(len(values) / (max_points // 2))
    n = (len(values) - 1) // size * size  # the latest value always stays a point of its own
    buckets = values[:n].reshape(-1, size)
    # Any NaN in a bucket is kept (as the bucket's low and high), as the full curve would show a gap.
    low = np.where(np.isnan(buckets).any(axis=1), np.nan, np.nanmin(np.nan_to_num(buckets, nan=np.inf), axis=1))
    high = np.where(np.isnan(buckets).any(axis=1), np.nan, np.nanmax(np.nan_to_num(buckets, nan=-np.inf), axis=1))
    centers = steps[:n].reshape(-1, size)
    xs = np.column_stack([centers[:, 0], centers[:, -1]]).ravel()
    ys = np.column_stack([low, high]).ravel()
    return np.concatenate([xs, steps[n:]]), np.concatenate([ys, values[n:]])


# ---------------------------------------------------------------------------------------------
# Plotting airfoils
# ---------------------------------------------------------------------------------------------
def _to_numpy(values: Any, what: str) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor, possibly on a GPU or requiring grad
        values = values.detach().cpu().numpy()
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be an array of numbers, got {type(values).__name__}") from exc


def plot_airfoils(
    x,
    ys,
    ncols: int = 4,
    titles: Sequence[str] | None = None,
    panel_size: tuple[float, float] = (3.0, 1.3),
):
    """Plot each row of ``ys`` (n, 200) as an airfoil outline on the shared ``x`` (200,).

    The upper surface (indices 0..99) and the lower surface (100..199) get their own colours, and
    every panel has an equal aspect ratio so that shapes are not distorted.  Returns the figure.
    """
    x = _to_numpy(x, "x")
    ys = _to_numpy(ys, "ys")
    if ys.ndim == 1:
        ys = ys[None]
    if x.shape != (N_POINTS,):
        raise ValueError(f"x must have shape ({N_POINTS},), got {x.shape}: pass dataset.get_x()")
    if ys.ndim != 2 or ys.shape[1] != N_POINTS or ys.shape[0] == 0:
        raise ValueError(
            f"ys must have shape (n_samples, {N_POINTS}), got {ys.shape}: "
            "pass e.g. model.generate(n_samples=24) or a stack of dataset samples"
        )
    if titles is not None and len(titles) != len(ys):
        raise ValueError(f"got {len(titles)} titles for {len(ys)} airfoils")
    n = len(ys)
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows), squeeze=False
    )
    half = N_POINTS // 2
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.set_visible(False)
            continue
        ax.plot(x[:half], ys[i, :half], color=UPPER_COLOR, lw=1.2)
        ax.plot(x[half:], ys[i, half:], color=LOWER_COLOR, lw=1.2)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    return fig


# ---------------------------------------------------------------------------------------------
# Configs and submission
# ---------------------------------------------------------------------------------------------
class _ConfigLoader(yaml.SafeLoader):
    """A safe loader that also reads ``1e-3`` as a float (plain YAML 1.1 reads it as a string)."""


_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _plain(obj: Any, where: str = "config") -> Any:
    """Convert to plain YAML types (dict, list, str, int, float, bool, None) or say what is wrong."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    if isinstance(obj, dict):
        return {str(k): _plain(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    raise TypeError(
        f"{where} is a {type(obj).__name__}, which a config file cannot hold: use numbers, "
        "strings, booleans, lists and dicts only (e.g. the optimizer's name, not the optimizer)"
    )


def save_yaml(obj: dict, path: str | os.PathLike) -> Path:
    """Write a config dict as YAML (safe types only) and return the path."""
    path = Path(path)
    text = yaml.safe_dump(_plain(obj), sort_keys=False, default_flow_style=False)
    path.write_text(text, encoding="utf-8")
    return path


def load_yaml(path: str | os.PathLike) -> Any:
    """Read a YAML file written by :func:`save_yaml` (or by hand) with a safe loader."""
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_ConfigLoader)  # noqa: S506 (a SafeLoader subclass)


def zip_files(zip_path: str | os.PathLike, files: Iterable[str | os.PathLike]) -> Path:
    """Zip ``files`` (by their base names) into ``zip_path`` after checking each one.

    Refuses missing or empty files and notebooks that are not valid JSON, then prints what went in.
    Save the notebook first (Ctrl+S / Cmd+S): the zip holds the notebook as it is on disk.
    """
    files = [Path(f) for f in files]
    if not files:
        raise ValueError("zip_files got no files to zip")
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise ValueError(f"two files share a name in {names}; the zip would hold only one of them")
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"{f} does not exist (working directory: {Path.cwd()})")
        if f.stat().st_size == 0:
            raise ValueError(f"{f} is empty: save it again before zipping")
        if f.suffix == ".ipynb":
            try:
                nb = json.loads(f.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValueError(f"{f} is not a valid notebook (not JSON: {exc})") from exc
            if not isinstance(nb, dict) or "cells" not in nb:
                raise ValueError(f"{f} is JSON but not a notebook (it has no 'cells')")
    zip_path = Path(zip_path)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(f, arcname=f.name)
    print(f"Wrote {zip_path} with:")
    for f in files:
        print(f"  {f.name:<24} {f.stat().st_size:>10,d} bytes")
    return zip_path


def _checker_package() -> str | None:
    """``hw7core``, the package beside this file that holds the one student check (in the handout and in
    the instructor's kit alike); None when it is not here."""
    return "hw7core" if (KIT_ROOT / "hw7core" / "check.py").is_file() else None


def check_submission(path: str | os.PathLike = "HW7_submission.zip") -> bool:
    """Check a submission zip as the grader reads it, run the notebook's public tests on it, print
    the report, and return True when the public checks pass (the hidden tests run after you submit).

    The same as ``python -m hw7core HW7_submission.zip`` in the handout's folder.
    """
    import subprocess
    import sys

    package = _checker_package()
    if package is None:
        print("The check (the hw7core folder of the handout) is not next to HW7_utils.py, so it cannot "
              "run here. Put the whole handout folder where the notebook runs.")
        return False
    proc = subprocess.run(
        [sys.executable, "-m", package, str(Path(path).resolve())],
        cwd=KIT_ROOT, capture_output=True, text=True,
    )
    print(proc.stdout + proc.stderr, end="")
    return proc.returncode == 0


def score_samples(samples: Any):
    """Print what the autograder's sample-quality score (part 2.3) gives these 24 samples, and
    return its report: the band, the points, the equivalent noise, how many distinct airfoils the
    samples are worth, and a hint.  The scorer and its frozen reference are the grader's own.

    The grader re-trains the model and draws its own samples from the decoder (5 sets of 24 on latent
    vectors of its own, the median set scored), so this is a preview: the same for a smooth model,
    within a few points for a rough one, whose single sets of 24 vary."""
    import importlib
    import sys

    if not (KIT_ROOT / "hw7core" / "sample_quality.py").is_file():
        print("The sample-quality scorer (hw7core/ in the handout) is not next to HW7_utils.py, so "
              "there is no score here; the grader scores your samples after you submit.")
        return None
    if str(KIT_ROOT) not in sys.path:
        sys.path.insert(0, str(KIT_ROOT))
    report = importlib.import_module("hw7core.sample_quality").score(samples)
    print(report.summary())
    print("(A preview: the grader scores samples it draws itself from your re-trained decoder; for rough "
          "samples expect a few points either way.)")
    return report
