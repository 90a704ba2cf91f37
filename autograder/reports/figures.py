"""The figures of the pages: generated airfoils, learning curves, noise per sample, the score histogram.

Each returns PNG bytes (drawn off-screen); ``pages.figure`` embeds one, or says why it failed.
"""

from __future__ import annotations

import io
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402 (after choosing a non-interactive backend)
import numpy as np  # noqa: E402

from autograder.reports.pages import num  # noqa: E402

DPI = 90
CURVE_NAMES = (("rec", "reconstruction"), ("prior", "prior (KL)"), ("total", "total"))


def _png(fig, path: str | os.PathLike | None = None) -> bytes:
    try:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    data = buffer.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


@lru_cache(maxsize=4)
def _airfoil_x(data_path: str) -> np.ndarray:
    with np.load(data_path, allow_pickle=False) as data:
        return data["x"].astype(float)


def render_samples_png(samples: Any, path: str | os.PathLike | None = None) -> bytes:
    """The generated airfoils (n, 200) on the dataset's x, 4 columns, as PNG bytes (also saved to path)."""
    from HW7_utils import default_data_path, plot_airfoils

    fig = plot_airfoils(_airfoil_x(str(default_data_path())), np.asarray(samples, dtype=float), ncols=4)
    return _png(fig, path)


def render_curves_png(curves: dict[str, Any]) -> bytes:
    """The re-training's learning curves (rec, prior, total), x = index * every; log y past one decade."""
    from HW7_utils import curve_scale

    every = max(1, int(curves.get("every") or 1))
    n = curves.get("n")
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, (key, name) in zip(axes, CURVE_NAMES):
        values = np.asarray([np.nan if v is None else v for v in curves.get(key) or []], dtype=float)
        ax.plot(np.arange(len(values)) * every, values, lw=1)
        finite = values[np.isfinite(values)]
        ax.set_yscale(curve_scale(finite))
        ax.set_title(f"{name}: {finite[-1]:.3g}" if finite.size else name)
        ax.set_xlabel("iteration")
        if isinstance(n, (int, float)) and n > 0:
            ax.set_xlim(0, n)
        ax.grid(alpha=0.3)
    return _png(fig)


def render_noise_png(quality: dict[str, Any]) -> bytes:
    """Each sample's equivalent noise amplitude (log scale) against the smooth and too-rough limits."""
    sigma = np.asarray([np.nan if v is None else v for v in quality.get("sigma_eq") or []], dtype=float)
    fig, ax = plt.subplots(figsize=(8, 2.6))
    ok = np.isfinite(sigma) & (sigma > 0)
    ax.plot(np.arange(len(sigma))[ok], sigma[ok], "o", color="tab:blue", ms=5)
    for key, label, color in (("sigma_smooth", "smooth", "tab:green"), ("sigma_too", "too rough", "tab:red")):
        if isinstance(quality.get(key), (int, float)) and quality[key] > 0:
            ax.axhline(quality[key], color=color, ls="--", lw=1, label=f"{label} ({quality[key]:.1e})")
    ax.set_yscale("log")
    ax.set_xlabel("sample (invalid shapes have no point)")
    ax.set_ylabel("noise amplitude")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper right")
    return _png(fig)


def histogram_png(totals: list[float], max_total: float) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 2.8))
    ax.hist(totals, bins=np.arange(0, max_total + 5, 5), color="tab:blue", edgecolor="white")
    ax.set_xlabel(f"total score (of {num(max_total)})")
    ax.set_ylabel("submissions")
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # counts, never 0.5
    ax.set_xlim(0, max_total + 5)
    return _png(fig)
