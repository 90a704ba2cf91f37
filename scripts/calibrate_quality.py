"""Freeze the reference statistics of part 2.3's sample-quality score, and render the noise ladder.

Run once from the kit's root after `make data` (about 10 s):

    python scripts/calibrate_quality.py

Writes ``hw7core/quality_reference.npz`` (deterministic bytes) and ``docs/img/noise_ladder.png``,
and prints the statistics and the score of every ladder rung for ``docs/sample_quality.md``.
The two visual anchors below were set by looking at the ladder; see the docs for why.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from build_dataset import npz_bytes  # noqa: E402 (the same deterministic writer as the dataset's)

from HW7_utils import AirfoilDataset, plot_airfoils  # noqa: E402
from hw7core import limits  # noqa: E402
from hw7core import quality_metrics as qm  # noqa: E402
from hw7core import sample_quality as sq  # noqa: E402

# Visual anchors, normalised units (read off docs/img/noise_ladder.png at the notebook's size).
SIGMA_SMOOTH = 3e-3  # noise just visible
SIGMA_TOO = 2e-2  # shape still recognisable but very fuzzy
WINDOWS = (31, 25, 21, 15, 9)  # widest first; take the widest whose real p99 <= SIGMA_SMOOTH / 4
N_REAL_SETS = 400
SEED = 20251122
LADDER = (0.0, 1.5e-3, 3e-3, 6e-3, 1.2e-2, 2.4e-2, 4.8e-2)
CORRELATION_LENGTH = 4.0  # indices, for the correlated-noise half of the ladder

REFERENCE = ROOT / "hw7core" / "quality_reference.npz"
LADDER_PNG = ROOT / "docs" / "img" / "noise_ladder.png"


def correlated_noise(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Unit-variance noise smoothed along each surface (Gaussian, CORRELATION_LENGTH indices)."""
    n = rng.normal(size=shape).reshape(-1, 2, qm.HALF)
    n = gaussian_filter1d(n, CORRELATION_LENGTH, axis=-1, mode="reflect")
    n /= n.std(axis=-1, keepdims=True)
    return n.reshape(shape)


def calibrate(y: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    print(f"{len(y)} real airfoils")
    p50, p99 = [], []
    for w in WINDOWS:
        s = qm.roughness(y, w)
        p50.append(np.median(s))
        p99.append(np.percentile(s, 99))
        print(f"  window {w:2d}: real sigma_eq median {p50[-1]:.2e}, 99th percentile {p99[-1]:.2e}")
    ok = [w for w, p in zip(WINDOWS, p99) if p <= SIGMA_SMOOTH / 4]
    if not ok:
        raise SystemExit(f"no window keeps the real 99th percentile below {SIGMA_SMOOTH / 4:.1e}")
    window = max(ok)
    print(f"window = {window} (widest with p99 <= sigma_smooth / 4 = {SIGMA_SMOOTH / 4:.2e})")

    sm = qm.smooth(y, window)
    geo = qm.geometry(sm, x)
    thick = geo["max_thickness"]
    typical = float(np.median(thick))
    margin = 0.1 * typical
    te = geo["te_gap"]
    print(f"max thickness: min {thick.min():.3f}, median {typical:.3f}, max {thick.max():.3f}")
    print(f"crossing fraction: max {geo['crossing'].max():.3f}, 99.9th pct {np.percentile(geo['crossing'], 99.9):.3f}")
    print(f"LE gap max {geo['le_gap'].max():.4f}; TE gap min {te.min():.4f}, "
          f"99th {np.percentile(te, 99):.4f}, 99.5th {np.percentile(te, 99.5):.4f}, max {te.max():.4f}")

    d = qm.pairwise_rms(sm)
    n = len(sm)
    mean_pairwise = float(d.sum() / (n * (n - 1)))
    np.fill_diagonal(d, np.inf)
    nn = d.min(axis=1)
    nn99 = float(np.percentile(nn, 99))
    print(f"mean pairwise RMS distance {mean_pairwise:.4f}; leave-one-out NN median {np.median(nn):.4f}, "
          f"99th {nn99:.4f} -> NN limit {3 * nn99:.4f}")

    bandwidth = mean_pairwise / 4
    rng = np.random.default_rng(SEED)
    sets = [rng.choice(n, limits.N_SAMPLES, replace=False) for _ in range(N_REAL_SETS)]
    vendis = np.array([qm.vendi(sm[i], bandwidth) for i in sets])
    rhos = np.array([qm.mean_pairwise(sm[i]) for i in sets]) / mean_pairwise
    print(f"random real 24-sets: Vendi median {np.median(vendis):.2f} (1st pct {np.percentile(vendis, 1):.2f}), "
          f"rho median {np.median(rhos):.2f} (1st pct {np.percentile(rhos, 1):.2f})")

    camber_min = np.percentile(geo["camber"], 0.5) - 0.015 * typical
    nose_min = 0.5 * np.percentile(geo["nose_ratio"], 0.5)
    print(f"mean camber 0.5th pct {np.percentile(geo['camber'], 0.5):.4f} -> min {camber_min:.4f}; "
          f"nose ratio 0.5th pct {np.percentile(geo['nose_ratio'], 0.5):.3f} -> min {nose_min:.3f}")

    return {
        "window": np.int64(window),
        "windows": np.array(WINDOWS, dtype=np.int64),
        "real_sigma_p50": np.array(p50),
        "real_sigma_p99": np.array(p99),
        "sigma_smooth": np.float64(SIGMA_SMOOTH),
        "sigma_too": np.float64(SIGMA_TOO),
        "x": x.astype(np.float64),
        "thickness_min": np.float64(thick.min() - margin),
        "thickness_max": np.float64(thick.max() + margin),
        "thickness_median": np.float64(typical),
        "gap_tolerance": np.float64(0.05 * typical),
        "le_gap_max": np.float64(geo["le_gap"].max()),
        # The widest real TE gaps are a few open-flap oddities: bound by the 99.5th percentile.
        "te_gap_min": np.float64(te.min()),
        "te_gap_max": np.float64(np.percentile(te, 99.5)),
        "camber_min": np.float64(camber_min),
        "nose_ratio_min": np.float64(nose_min),
        "nn_loo_p99": np.float64(nn99),
        "nn_limit": np.float64(3 * nn99),
        "real_mean_pairwise": np.float64(mean_pairwise),
        "vendi_bandwidth": np.float64(bandwidth),
        "real_vendi_median": np.float64(np.median(vendis)),
        "real_vendi_sets": vendis,
        "real_rho_sets": rhos,
        "real_y": sm.astype(np.float32),
    }


def ladder_samples(y: np.ndarray, rng: np.random.Generator, columns: int = 4):
    """Rows: the ladder's amplitudes; columns: white noise on `columns` airfoils, then correlated."""
    idx = rng.choice(len(y), columns, replace=False)
    rows, titles = [], []
    for a in LADDER:
        rows += list(y[idx] + a * rng.normal(size=(columns, y.shape[1])))
        titles += [f"white {a:g}"] * columns
        rows += list(y[idx] + a * correlated_noise((columns, y.shape[1]), rng))
        titles += [f"correlated {a:g}"] * columns
    return np.array(rows), titles


def render_ladder(y: np.ndarray, x: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, titles = ladder_samples(y, np.random.default_rng(SEED))
    fig = plot_airfoils(x, rows, ncols=8, titles=titles)  # the notebook's panel size, 3.0 x 1.3 in
    LADDER_PNG.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(LADDER_PNG, dpi=60, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    print(f"wrote {LADDER_PNG.relative_to(ROOT)} ({LADDER_PNG.stat().st_size / 1024:.0f} KB)")


def ladder_scores(y: np.ndarray) -> None:
    """The score of random real 24-sets plus each rung's noise (mean over 5 draws)."""
    sq.load_reference.cache_clear()
    rng = np.random.default_rng(SEED + 1)
    print("amplitude | white: points, band | correlated: points, band")
    for a in LADDER:
        out = []
        for kind in ("white", "correlated"):
            pts, bands = [], set()
            for _ in range(5):
                base = y[rng.choice(len(y), limits.N_SAMPLES, replace=False)]
                noise = rng.normal(size=base.shape) if kind == "white" else correlated_noise(base.shape, rng)
                rep = sq.score(base + a * noise)
                pts.append(rep.points)
                bands.add(rep.band)
            out.append(f"{np.mean(pts):5.1f} ({', '.join(sorted(bands))})")
        print(f"{a:9.4f} | {out[0]} | {out[1]}")


def main() -> int:
    ds = AirfoilDataset()
    y, x = ds.y.astype(np.float64), ds.get_x().astype(np.float64)
    arrays = calibrate(y, x)
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE.write_bytes(npz_bytes(arrays))
    print(f"wrote {REFERENCE.relative_to(ROOT)} ({REFERENCE.stat().st_size / 1024:.0f} KB)")
    sq.load_reference.cache_clear()
    reasons = sq.validity(arrays["real_y"].astype(float), qm.roughness(y, int(arrays["window"])), sq.load_reference())
    failed = [r for r in reasons if r]
    print(f"real airfoils failing the validity gate: {len(failed)} of {len(y)}")
    for r in failed:
        print(f"    {r}")
    render_ladder(y, x)
    ladder_scores(y)
    return 0


if __name__ == "__main__":
    sys.exit(main())
