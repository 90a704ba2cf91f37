"""The measurements behind part 2.3's score: roughness (an equivalent white-noise amplitude), the
shape facts of an airfoil, and the diversity of a set of them.

Both the grader (sample_quality.py) and the calibration that wrote the frozen reference
(scripts/calibrate_quality.py) measure with these functions, so calibration and grading agree.
It is part of hw7core, which the student handout ships whole.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import savgol_filter

from .limits import N_POINTS

HALF = N_POINTS // 2  # y-values per surface
NOSE_STATION = 0.02  # chord fraction where the nose ratio is measured


@lru_cache(maxsize=8)
def savgol_matrix(window: int) -> tuple[np.ndarray, float]:
    """The cubic Savitzky-Golay smoother of one surface as a 100x100 matrix H (mode "interp"),
    and the white-noise gain k = ||I - H||_F^2 / 100 that makes sigma_eq of pure white noise of
    standard deviation s equal s, edges included (in the interior k = 1 - c0)."""
    H = savgol_filter(np.eye(HALF), window, 3, mode="interp", axis=0)
    gain = float(np.sum((np.eye(HALF) - H) ** 2) / HALF)
    H.setflags(write=False)
    return H, gain


def smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Each surface of each row of ``y`` (n, 200) smoothed in index space."""
    H, _ = savgol_matrix(window)
    surfaces = y.reshape(-1, 2, HALF)
    return (surfaces @ H.T).reshape(y.shape)


def roughness(y: np.ndarray, window: int) -> np.ndarray:
    """Equivalent white-noise amplitude sigma_eq of each row of ``y`` (n, 200)."""
    _, gain = savgol_matrix(window)
    r = y - smooth(y, window)
    return np.sqrt(np.mean(r**2, axis=1) / gain)


def surfaces_le_to_te(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower surfaces (n, 100), both from leading to trailing edge on x[100:]."""
    return y[:, :HALF][:, ::-1], y[:, HALF:]


def chord_weights(x: np.ndarray) -> np.ndarray:
    """The fraction of the chord each of the 100 stations x[100:] stands for (sums to 1)."""
    xs = np.asarray(x[HALF:], dtype=float)
    edges = np.concatenate([[xs[0]], (xs[1:] + xs[:-1]) / 2, [xs[-1]]])
    return np.diff(edges) / (xs[-1] - xs[0])


def geometry(y: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row shape facts: crossing fraction, max thickness, leading- and trailing-edge gaps,
    mean camber (negative when upside down) and the nose ratio, thickness at 2% chord over max
    thickness (round nose: about 0.37; a sharp wedge, e.g. an airfoil mirrored in x: about 0.03)."""
    upper, lower = surfaces_le_to_te(y)
    thickness = upper - lower
    weights = chord_weights(x)
    max_thickness = thickness.max(axis=1)
    nose = np.searchsorted(np.asarray(x[HALF:]), NOSE_STATION)
    with np.errstate(all="ignore"):
        nose_ratio = np.where(max_thickness > 0, thickness[:, nose] / max_thickness, 0.0)
    return {
        "crossing": (thickness < 0) @ weights,
        "max_thickness": max_thickness,
        "le_gap": np.abs(thickness[:, 0]),
        "te_gap": thickness[:, -1],
        "camber": (upper + lower) / 2 @ weights,
        "nose_ratio": nose_ratio,
    }


def pairwise_rms(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Root-mean-square difference per coordinate between every row of ``a`` and of ``b``."""
    b = a if b is None else b
    sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(sq, 0) / a.shape[1])


def vendi(y: np.ndarray, bandwidth: float) -> float:
    """Vendi score: exp(entropy of the eigenvalues of K/n), K an RBF kernel on RMS distances."""
    d = pairwise_rms(y)
    K = np.exp(-(d**2) / (2 * bandwidth**2))
    lam = np.clip(np.linalg.eigvalsh(K / len(y)), 0, None)
    lam = lam[lam > 0]
    return float(np.exp(-np.sum(lam * np.log(lam))))


def mean_pairwise(y: np.ndarray) -> float:
    d = pairwise_rms(y)
    n = len(y)
    return float(d.sum() / (n * (n - 1))) if n > 1 else 0.0

