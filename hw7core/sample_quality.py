"""Part 2.3 (15 points): how smooth and how diverse are the student's 24 generated airfoils?

``score(samples)`` turns the TA's visual rubric (smooth and diverse: 15; a bit noisy: 8-12; all
alike: 5; too rough: 0) into numbers a student can act on.  Every threshold comes from
``quality_reference.npz``, written once by ``scripts/calibrate_quality.py`` from the shipped
dataset; nothing is recomputed while grading.  The method and the calibration are in
``docs/sample_quality.md``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .limits import N_POINTS, N_SAMPLES
from .quality_metrics import geometry, mean_pairwise, roughness, smooth, vendi
from .quality_report import MAX_POINTS, QualityReport, invalid

# Calibrated from the shipped dataset (scripts/calibrate_quality.py): the thresholds in sigma, the real
# airfoils' shape ranges and diversity; frozen, so grading never recomputes them.
REFERENCE_PATH = Path(__file__).resolve().parent / "quality_reference.npz"
MAX_CROSSING = 0.05  # surfaces may cross over at most this fraction of the chord

# The rubric's numbers (docs/sample_quality.md): diversity ramps and points.
RHO_RAMP = (0.12, 0.28)  # D_rho = clip((rho - 0.12) / 0.28, 0, 1)
VENDI_RAMP = (0.10, 0.30)  # D_v = clip((v - 0.10) / 0.30, 0, 1)
NOISY_TOP, NOISY_BOTTOM, COLLAPSED = 12.0, 8.0, 5.0
# In the "a bit noisy" band, samples far too rough pull the points down towards 0 (issue 11): a sample
# counts from 0 at sigma_too to 1 at FAR_RATIO * sigma_too, and a visibly noisy non-airfoil counts 1 (a
# smooth odd shape, as near-copies of an unusual real airfoil can be, is not rough: it counts by its
# roughness); the two worst are allowed, as for full marks ("almost all"); ROUGH_TO_ZERO more such
# samples take the points to 0.
FAR_RATIO = 1.5
ALLOWED_ROUGH = 2
ROUGH_TO_ZERO = 6.0
# A sample whose smoothed outline is closer than this (RMS over the 200 values) to a (smoothed) training
# airfoil is a copy, not a generated sample (issue 21): it counts as a far-too-rough non-airfoil, and when
# most samples are copies the points are 0.  Calibrated on real trained models (docs/sample_quality.md,
# scripts/band_check.py): 1176 samples of 7 models stay 2.7e-3 or more from every training airfoil;
# copies are within 3e-8, copies with white noise of 1e-3 within 7.2e-4.
COPY_RMS = 1e-3

HINT_NOISE = (
    "Rough outlines usually mean the decoder is undertrained or the latent space is not regular "
    "enough: train for more iterations, or increase beta (the weight of the KL term) a little."
)
HINT_COLLAPSE = (
    "Smooth but alike samples are the sign of posterior collapse: beta is too large, so the KL term "
    "pushes every code to the prior and the decoder outputs one average shape. Lower beta (and check "
    "that you sample z ~ N(0, I) rather than decoding the zero vector)."
)
HINT_COPIES = (
    "Samples must be generated: decode z ~ N(0, I) with your trained decoder. Copies of training airfoils "
    "(from the dataset, or a decoder that stores them) are not generated samples and score nothing."
)
HINT_SHAPE = (
    "Most samples do not look like airfoils (surfaces crossing, wrong thickness or edges, or far "
    "from every real airfoil): check that you decode samples of the prior, that you do not "
    f"flip or reorder the {N_POINTS} outputs, and that the model reconstructs training airfoils well."
)


# ---------------------------------------------------------------------------------------------
# The frozen reference
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def load_reference(path: str | None = None) -> dict[str, Any]:
    """The frozen calibration (scalars as floats, arrays as read-only float64 arrays)."""
    with np.load(path or REFERENCE_PATH, allow_pickle=False) as data:
        ref = {}
        for key in data.files:
            value = data[key]
            if value.ndim == 0:
                ref[key] = value.item()
            else:
                value = value.astype(float)
                value.setflags(write=False)
                ref[key] = value
    ref["window"] = int(ref["window"])
    ref["real_sq"] = (ref["real_y"] ** 2).sum(1)
    return ref




def _round_points(points: float) -> float:
    return math.floor(points * 10 + 0.5) / 10


def _as_array(samples: Any) -> tuple[np.ndarray | None, str]:
    """The samples as a float64 (24, 200) array, or None and why not."""
    try:
        if hasattr(samples, "detach"):  # a torch tensor: maybe on a GPU, maybe requiring grad
            samples = samples.detach().cpu()
            if hasattr(samples, "float") and getattr(samples, "is_complex", lambda: False)() is False:
                samples = samples.float().numpy()
            else:
                samples = samples.numpy()
        raw = np.asarray(samples)
    except Exception as exc:  # ragged lists, exotic objects
        return None, f"the samples could not be read as an array of numbers ({type(exc).__name__}: {exc})"
    if raw.dtype.kind not in "biuf":
        return None, f"the samples must be numbers, got an array of dtype {raw.dtype}"
    if raw.shape != (N_SAMPLES, N_POINTS):
        return None, (
            f"expected {N_SAMPLES} samples of {N_POINTS} y-values, an array of shape "
            f"({N_SAMPLES}, {N_POINTS}), but got shape {raw.shape}"
        )
    y = raw.astype(np.float64)
    bad = ~np.isfinite(y)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        return None, (
            f"{int(bad.sum())} values are NaN or infinite (in samples {rows[:8].tolist()}"
            f"{' ...' if len(rows) > 8 else ''}): the model diverged or was never trained"
        )
    return y, ""


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------
def validity(y: np.ndarray, sigma: np.ndarray, ref: dict[str, Any]) -> list[str]:
    """Why each (lightly smoothed) sample is not a plausible airfoil; "" where it is."""
    geo = geometry(y, ref["x"])
    tol = ref["gap_tolerance"] + 3 * sigma
    nn, _ = nearest_real(y, ref)
    reasons = []
    for i in range(len(y)):
        why = []
        if geo["crossing"][i] > MAX_CROSSING:
            why.append(f"upper and lower surfaces cross over {geo['crossing'][i]:.0%} of the chord")
        t = geo["max_thickness"][i]
        if not ref["thickness_min"] <= t <= ref["thickness_max"]:
            why.append(
                f"max thickness {t:.3f} outside the real range "
                f"[{ref['thickness_min']:.3f}, {ref['thickness_max']:.3f}]"
            )
        if geo["le_gap"][i] > ref["le_gap_max"] + tol[i]:
            why.append(f"the leading edge is open by {geo['le_gap'][i]:.3f}")
        te = geo["te_gap"][i]
        if not ref["te_gap_min"] - tol[i] <= te <= ref["te_gap_max"] + tol[i]:
            why.append(f"trailing-edge gap {te:.3f} is implausible")
        if geo["camber"][i] < ref["camber_min"]:
            why.append(f"mean camber {geo['camber'][i]:.3f} is negative: upside down?")
        if geo["nose_ratio"][i] < ref["nose_ratio_min"]:
            why.append("no round leading edge at x = 0: mirrored or sharp-nosed?")
        if nn[i] > ref["nn_limit"]:
            why.append(
                f"{nn[i]:.3f} (RMS) from the nearest real airfoil, beyond {ref['nn_limit']:.3f}"
            )
        reasons.append("; ".join(why))
    return reasons


def nearest_real(y: np.ndarray, ref: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(RMS distance, index) of each (smoothed) sample's nearest (smoothed) training airfoil."""
    d2 = ref["real_sq"][None, :] + (y**2).sum(1)[:, None] - 2 * y @ ref["real_y"].T
    index = d2.argmin(axis=1)
    return np.sqrt(np.maximum(d2[np.arange(len(y)), index], 0) / y.shape[1]), index


def copy_reasons(y: np.ndarray, ref: dict[str, Any]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(is a copy, why, distance) per smoothed sample: within COPY_RMS of a training airfoil."""
    dist, index = nearest_real(y, ref)
    copy = dist < COPY_RMS
    reasons = [f"a copy of training airfoil #{j} (RMS distance {d:.1e} < {COPY_RMS:.0e}): not generated" if c else ""
               for c, d, j in zip(copy, dist, index)]
    return copy, reasons, dist


def diversity(y: np.ndarray, ref: dict[str, Any]) -> tuple[float, float, float]:
    """(rho, Vendi score, D) of the smoothed valid samples, all relative to the real data."""
    if len(y) < 2:
        return 0.0, float(len(y)), 0.0
    rho = mean_pairwise(y) / ref["real_mean_pairwise"]
    v_score = vendi(y, ref["vendi_bandwidth"])
    v = v_score / ref["real_vendi_median"]
    d_rho = np.clip((rho - RHO_RAMP[0]) / RHO_RAMP[1], 0, 1)
    d_v = np.clip((v - VENDI_RAMP[0]) / VENDI_RAMP[1], 0, 1)
    return float(rho), float(v_score), float(min(d_rho, d_v))


def excess_rough(sigma: np.ndarray, sigma_too: float) -> float:
    """How many samples, beyond the ALLOWED_ROUGH worst, are far too rough: each counts smoothly from 0
    at sigma_too to 1 at FAR_RATIO * sigma_too (inf counts 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.clip(np.log(np.asarray(sigma, dtype=float) / sigma_too) / math.log(FAR_RATIO), 0, 1)
    weight = np.where(np.isnan(weight), 1.0, weight)
    return float(np.sort(weight)[: max(0, len(weight) - ALLOWED_ROUGH)].sum())


def score(samples: Any) -> QualityReport:
    """Score 24 generated airfoils (24, 200), in the decoder's normalised units, out of 15.

    Accepts numpy arrays, nested lists and torch tensors; never raises: unusable input scores 0
    with band "invalid" and the reason.
    """
    y, why = _as_array(samples)
    if y is None:
        return invalid(f"Invalid samples: {why}.")
    try:
        with np.errstate(all="ignore"):
            return _score(y, load_reference())
    except Exception as exc:  # a last line of defence: grading must go on
        return invalid(f"Invalid samples: they could not be scored ({type(exc).__name__}: {exc}).")


def _score(y: np.ndarray, ref: dict[str, Any]) -> QualityReport:
    w = ref["window"]
    s_smooth, s_too = ref["sigma_smooth"], ref["sigma_too"]
    sigma = roughness(y, w)
    smoothed = smooth(y, w)
    copy, copy_why, dist = copy_reasons(smoothed, ref)
    invalid_reasons = [c or r for c, r in zip(copy_why, validity(smoothed, sigma, ref))]
    valid = np.array([r == "" for r in invalid_reasons])
    sigma_eff = np.where(valid & np.isfinite(sigma), sigma, np.inf)  # invalid: infinitely rough
    ordered = np.sort(sigma_eff)
    sigma_22, sigma_med = float(ordered[21]), float(np.median(ordered))
    rho, v_score, D = diversity(smoothed[valid], ref)
    m = float(ref["real_vendi_median"])
    report = QualityReport(
        points=0.0,
        band="",
        reason="",
        n_smooth_valid=int(np.sum(sigma_eff <= s_smooth)),
        n_valid=int(valid.sum()),
        sigma_eq=[float(s) for s in sigma_eff],
        invalid_reasons=invalid_reasons,
        sigma_22=sigma_22,
        sigma_med=sigma_med,
        sigma_smooth=s_smooth,
        sigma_too=s_too,
        rho=rho,
        vendi=v_score,
        effective_count=v_score,
        real_effective_count=m,
        D=D,
        copies=[int(i) for i in np.flatnonzero(copy)],
        nearest_real=[float(d) for d in dist],
    )
    if copy.sum() > N_SAMPLES // 2:
        report.band, report.hint = "copies of training airfoils", HINT_COPIES
        report.reason = (f"{int(copy.sum())} of 24 samples are copies of training airfoils (within "
                         f"{COPY_RMS:.0e} RMS of one), not generated samples.")
        return report
    diverse_points = COLLAPSED + (MAX_POINTS - COLLAPSED) * D
    diversity_note = (
        f"Diversity D = {D:.2f}: {'as diverse as real draws' if D >= 1 else 'less diverse than real draws'}."
    )
    if sigma_22 <= s_smooth:
        report.points = _round_points(diverse_points)
        if D >= 1:
            report.band, report.hint = "smooth and diverse", "Nothing to fix: smooth and diverse."
        elif D <= 0:
            report.band, report.hint = "collapsed", HINT_COLLAPSE
        else:
            report.band, report.hint = "partly collapsed", HINT_COLLAPSE
        report.reason = f"At least 22 of {N_SAMPLES} samples are smooth and airfoil-shaped. {diversity_note}"
    elif sigma_med <= s_too:
        t = float(np.clip(math.log(max(sigma_med, s_smooth) / s_smooth) / math.log(s_too / s_smooth), 0, 1))
        noisy_points = NOISY_TOP - (NOISY_TOP - NOISY_BOTTOM) * t
        excess = excess_rough(np.where(~copy & (valid | (sigma <= s_smooth)), sigma, np.inf), s_too)
        kept = 1.0 - min(1.0, excess / ROUGH_TO_ZERO)
        report.points = _round_points(min(noisy_points * kept, diverse_points))
        report.band = "a bit noisy" if report.points > 0 else "too rough"
        n_bad = N_SAMPLES - report.n_smooth_valid
        n_far = int(np.sum((sigma > s_too) | (~valid & (sigma > s_smooth)) | copy))
        report.reason = (
            f"{n_bad} of {N_SAMPLES} samples are visibly noisy or not airfoil-shaped (more than 2 allowed for "
            f"full marks); the noise scores {noisy_points:.1f} of 12. {diversity_note}"
        )
        if excess > 0:
            report.reason += (
                f" {n_far} samples are rougher than {s_too:.1e}, noisy non-airfoils or copies; beyond the 2 worst "
                f"they count as {excess:.1f} far-too-rough samples ({ROUGH_TO_ZERO:g} would take the points "
                f"to 0), which keeps {kept:.0%} of the points."
            )
        report.hint = HINT_NOISE + (f" {HINT_COLLAPSE}" if diverse_points < noisy_points else "")
    else:
        report.points = 0.0
        if report.n_valid < N_SAMPLES // 2 + 1 and not np.isfinite(sigma_med):
            report.band, report.hint = "not airfoil-shaped", HINT_SHAPE
            examples = sorted({r for r in invalid_reasons if r})[:2]
            report.reason = (
                f"Only {report.n_valid} of {N_SAMPLES} samples are plausible airfoils, e.g.: " + " | ".join(examples)
            )
        else:
            report.band, report.hint = "too rough", HINT_NOISE
            report.reason = (
                f"The median sample carries noise of {sigma_med:.1e}, beyond {s_too:.1e} where the "
                "outlines stop looking like airfoils."
            )
    return report


