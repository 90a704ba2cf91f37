"""Train a few real models with the solution's code and score their 24 samples (docs/sample_quality.md).

Checks the sample-quality bands on real VAE output, not only on synthetic noise.  One CPU thread,
short runs (about a minute and a half in all):

    .venv/bin/python scripts/band_check.py [OUT_DIR]

Writes each model's samples to OUT_DIR/NAME.npy (default build/band), and six more draws of 24 to
OUT_DIR/NAME_draws.npy, and prints one line per model: the configuration, the median and 22nd-smallest
sigma_eq, how many samples are too rough or not airfoil-shaped, and the points; then how far the
samples are from the nearest training airfoil, against copies of the data (the copy rule's calibration).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import variants  # noqa: E402

from hw7core import cells, sample_quality  # noqa: E402

# name -> (hidden sizes, n_iters, beta): widths, iterations and beta around the usual mistakes.
CONFIGS = {
    "solution": ([512, 256, 128], 5000, 1e-2),
    "narrow_short": ([64, 32], 1500, 1e-3),
    "wide_undertrained": ([512, 256, 128], 600, 1e-4),
    "small_500_iters": ([128], 500, 1e-2),
    "small_400_iters": ([128], 400, 1e-2),
    "mid_beta_5e-5": ([256, 128], 1200, 5e-5),
    "collapsed_beta_1": ([256, 128], 1000, 1.0),
}
DRAW_SEEDS = range(1, 7)  # further draws of 24 per model, as the grader's own latents would be (issue 21)


def solution_namespace() -> dict:
    code = cells.find_graded_cells(variants.load_solution())
    ns: dict = {"__name__": "band_check"}
    exec(cells.IMPORT_PRELUDE, ns)
    for cell in code.cells:
        exec(cell.source, ns)
    return ns


def train(ns: dict, hidden: list[int], n_iters: int, beta: float):
    import torch

    from HW7_utils import AirfoilDataset

    torch.manual_seed(0)
    np.random.seed(0)
    model = ns["VAE"](input_size=200, hidden_sizes=hidden, latent_size=10)
    _, train_config = variants.configs(variants.load_solution())
    ns["tqdm"] = lambda *a, **k: _Silent()
    ns["train_VAE"](model, AirfoilDataset(), device="cpu", plot_freq=0,
                    **{**train_config, "n_iters": n_iters, "beta": beta})
    return model


class _Silent:
    def update(self, *a):
        pass

    def set_postfix(self, *a, **k):
        pass

    def close(self):
        pass


def points_without_rough_pull(samples: np.ndarray) -> float:
    """The points under the rule before issue 11 (no pull from the far-too-rough samples)."""
    saved = sample_quality.ROUGH_TO_ZERO
    sample_quality.ROUGH_TO_ZERO = float("inf")
    try:
        return sample_quality.score(samples).points
    finally:
        sample_quality.ROUGH_TO_ZERO = saved


def describe(name: str, samples: np.ndarray) -> str:
    report = sample_quality.score(samples)
    sigma = np.array([np.inf if s is None else s for s in report.to_dict()["sigma_eq"]])
    too = int(np.sum(sigma > report.sigma_too))
    return (f"{name:<18} median {report.sigma_med:.1e}  22nd {report.sigma_22:.1e}  "
            f"too rough {too:2d} (invalid {24 - report.n_valid:2d})  D {report.D:.2f}  "
            f"-> {report.points:g} ({report.band}; {points_without_rough_pull(samples):g} before)")


def main(argv: list[str] | None = None) -> int:
    import torch

    torch.set_num_threads(1)
    out = Path((argv or ["build/band"])[0])
    out.mkdir(parents=True, exist_ok=True)
    ns, nearest = None, []
    for name, (hidden, n_iters, beta) in CONFIGS.items():
        path, draws = out / f"{name}.npy", out / f"{name}_draws.npy"
        if not (path.exists() and draws.exists()):
            ns = ns or solution_namespace()
            model = train(ns, hidden, n_iters, beta)
            np.save(path, model.generate(n_samples=24, seed=0).numpy())
            np.save(draws, np.stack([model.generate(n_samples=24, seed=s).numpy() for s in DRAW_SEEDS]))
        print(f"{describe(name, np.load(path))}   hidden {hidden}, n_iters {n_iters}, beta {beta:g}")
        nearest.append((name, nearest_real(np.concatenate([np.load(path)[None], np.load(draws)]))))
    print("\nRMS distance of each (smoothed) sample to its nearest (smoothed) training airfoil, seed 0 and "
          f"seeds {DRAW_SEEDS.start}-{DRAW_SEEDS.stop - 1}; copies are those under COPY_RMS = {sample_quality.COPY_RMS:g}:")
    for name, dist in nearest:
        print(f"  {name:<18} min {dist.min():.2e}  1st percentile {np.percentile(dist, 1):.2e}  median {np.median(dist):.2e}")
    print(f"  {'honest, all':<18} min {np.concatenate([d for _, d in nearest]).min():.2e}")
    for label, samples in copies().items():
        print(f"  {label:<18} max {nearest_real(samples[None]).max():.2e}")
    return 0


def nearest_real(draws: np.ndarray) -> np.ndarray:
    """Each sample's distance to the nearest training airfoil, as sample_quality measures it."""
    from hw7core.quality_metrics import smooth

    ref = sample_quality.load_reference()
    y = draws.reshape(-1, draws.shape[-1]).astype(float)
    return sample_quality.nearest_real(smooth(y, ref["window"]), ref)[0]


def copies() -> dict[str, np.ndarray]:
    """What a submission copying the data would send: the training airfoils, as is and with white noise."""
    from HW7_utils import AirfoilDataset

    real = AirfoilDataset().y.astype(float)
    rng = np.random.default_rng(0)
    return {"copies": real, "copies + 1e-3 noise": real + rng.normal(0, 1e-3, real.shape)}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
