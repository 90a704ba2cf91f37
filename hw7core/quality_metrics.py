"""The measurements behind part 2.3's score: roughness (an equivalent white-noise amplitude), the
shape facts of an airfoil, and the diversity of a set of them.

Both the grader (sample_quality.py) and the calibration that wrote the frozen reference
(scripts/calibrate_quality.py) measure with these functions, so calibration and grading agree.
It is part of hw7core, which the student handout ships whole.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .limits import N_POINTS

HALF = N_POINTS // 2  # y-values per surface
NOSE_STATION = 0.02  # chord fraction where the nose ratio is measured
POLY_ORDER = 3  # the smoother fits cubics


@lru_cache(maxsize=8)
def savgol_matrix(window: int) -> tuple[np.ndarray, float]:
    """The cubic Savitzky-Golay smoother of one surface as a 100x100 matrix H (mode "interp"),
    and the white-noise gain k = ||I - H||_F^2 / 100 that makes sigma_eq of pure white noise of
    standard deviation s equal s, edges included (in the interior k = 1 - c0).

    It is scipy.signal.savgol_filter(np.eye(100), window, 3, mode="interp", axis=0), built here from its
    definition (tests/test_sample_quality.py checks the two agree): importing scipy.signal costs about
    a second of CPU in every process that scores samples (each grading, the student's check and the
    notebook's preview), more than the scoring itself.  Each window of 2h+1 points is fitted by a cubic
    in the least-squares sense; P projects a window onto its fit.  An interior point takes the fit's
    value at the window's centre (P's middle row); the first and last h points take the fit of the
    first and last window at their own positions (the "interp" edges).
    """
    if window % 2 == 0 or not POLY_ORDER < window <= HALF:
        raise ValueError(f"the smoothing window must be odd, from {POLY_ORDER + 2} to {HALF - 1}; got {window}")
    h = window // 2
    fit = np.vander(np.arange(-h, h + 1, dtype=float), POLY_ORDER + 1, increasing=True)
    P = fit @ np.linalg.pinv(fit)
    H = np.zeros((HALF, HALF))
    for i in range(h, HALF - h):
        H[i, i - h:i + h + 1] = P[h]
    H[:h, :window] = P[:h]
    H[HALF - h:, HALF - window:] = P[h + 1:]
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

