"""The inputs of the tests: the one place they are written.  They travel to the child in its job
(``job_for``), and the judges read the same values back.  The expected answers of 1.4 and 2.1 never
travel; 2.2's are recomputed in the child from what it records (see judges/__init__.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from hw7core.limits import N_SAMPLES

# Part 1.4: the notebook's public D_KL values, then hidden (seed, shape) cases.
PUBLIC_DKL = {0: 0.9318599700927734, 1: 1.0280910730361938, 2: 0.853870153427124}
PUBLIC_DKL_SHAPE = (10, 5)
HIDDEN_DKL_CASES = [(11, (64, 10)), (12, (1, 3)), (13, (128, 10))]

# Part 2.1: the batch sizes of the model's probes, and generate's sample counts.
VAE_PROBES = {"encoder_batch": 7, "decoder_batch": 5, "forward_batch": 6, "n_samples": N_SAMPLES, "device_samples": 3,
              "z_stats_samples": 4000}  # enough draws of z to estimate its mean and spread


@dataclass(frozen=True)
class LoopProbe:
    """One run of the student's train_VAE on a small dataset, with a spy scheduler of this kind."""

    key: str  # where its observations go
    scheduler: str  # "StepLR" (stepped without arguments) or "Plateau" (stepped with the running mean)
    n_iters: int
    beta: float
    window: int  # running_avg_window
    batch_size: int


# Part 2.2: two runs, so that a loop hard-wired to one setting fails the other.
LOOP_PROBES = (
    LoopProbe("steplr", "StepLR", n_iters=9, beta=0.7, window=4, batch_size=16),
    LoopProbe("plateau", "Plateau", n_iters=6, beta=2.0, window=3, batch_size=32),
)


def dkl_cases() -> list[tuple[int, tuple[int, ...]]]:
    """(seed, shape) of every D_KL case: the public ones first."""
    return [(seed, PUBLIC_DKL_SHAPE) for seed in PUBLIC_DKL] + list(HIDDEN_DKL_CASES)


def job_for(part: str) -> dict[str, Any]:
    """The probe parameters of ``part``'s child run (merged into its job)."""
    if part == "1.4":
        return {"cases": [{"seed": seed, "shape": list(shape)} for seed, shape in dkl_cases()]}
    if part == "2.1":
        return {"probes": dict(VAE_PROBES)}
    if part == "2.2":
        return {"loops": [asdict(probe) for probe in LOOP_PROBES]}
    return {"n_samples": N_SAMPLES}  # 2.3: the samples the re-trained model generates
