"""The inputs of the tests: the one place they are made.  They travel to the child in its job
(``job_for``) as protocol dataclasses; the judges read the same values (made again here, from the
parent's own job, never from the child's report); the expected answers never travel.

Public tests keep the notebook's public values (D_KL's three seeds).  Every other input (seeds, batch
sizes, sample counts, the training probes' settings) is derived from the course secret and the
submission's content (autograder/secret.py): a regrade of the same submission gets the same inputs (the
outcome cache keeps working); observations recorded from another submission, or precomputed from the
kit's source, were made on other inputs and fail.  The ranges below are wide enough for that and narrow
enough that any correct code passes on every draw (tests/test_judges.py draws many).
"""

from __future__ import annotations

import random
from dataclasses import asdict
from typing import Any

from autograder.run.child.protocol import DklCase, DklInputs, LoopInputs, LoopProbe, VaeInputs
from hw7core.limits import N_POINTS, N_SAMPLES  # noqa: F401 (N_POINTS: the judges' output size)

# Part 1.4: the notebook's public D_KL values, then the hidden cases: (label, shape); each label names
# the case in the derivation of its seed (the label is not the seed).
PUBLIC_DKL = {0: 0.9318599700927734, 1: 1.0280910730361938, 2: 0.853870153427124}
PUBLIC_DKL_SHAPE = (10, 5)
HIDDEN_DKL_CASES = [(11, (64, 10)), (12, (1, 3)), (13, (128, 10))]

# Part 2.1: the range of each probe size (inclusive).  Batches from 3: a BatchNorm needs more than one row.
# Wide ranges: a report recorded under other inputs matches these by chance only rarely.
VAE_RANGES = {"encoder_batch": (3, 40), "decoder_batch": (3, 40), "forward_batch": (3, 40),
              "n_samples": (N_SAMPLES - 6, N_SAMPLES + 16), "device_samples": (2, 9)}
Z_STATS_SAMPLES = 4000  # enough draws of z to estimate its mean and spread
# Part 2.2: two runs, so that a loop hard-wired to one setting fails the other.  (scheduler, n_iters range,
# beta choices, window range, batch_size range); the probe dataset is a secret choice of airfoils.
# Batch sizes up to a third of the dataset: the judge checks the first three batches are full.
LOOP_DATASET_SIZE = 100
LOOP_RANGES = (("StepLR", (6, 14), (0.5, 0.6, 0.7, 0.8, 0.9), (3, 5), (12, 20)),
               ("Plateau", (5, 12), (1.5, 2.0, 2.5, 3.0), (2, 4), (21, LOOP_DATASET_SIZE // 3)))


def _rng(purpose: str, key: bytes, secret: bytes | None) -> random.Random:
    from autograder.secret import derive

    return random.Random(derive(purpose, key, secret))


def _seed(rng: random.Random) -> int:
    return rng.getrandbits(62)  # torch.manual_seed takes any 64-bit value; 62 bits stay far from its edges


# A KL with the sign of logvar flipped is off by mean(logvar) exactly; a random draw can make that smaller than
# the tolerance (it did: 1.4e-5 on a (128, 10) case, so a wrong D_KL passed it).  Hidden cases use seeds
# whose logvar tells that mistake apart by far more than the tolerance.
DKL_DISTINGUISH = 1e-3


def _dkl_seed(rng: random.Random, shape: tuple[int, ...]) -> int:
    """A seed for a hidden D_KL case whose inputs (mu, then logvar, drawn as the child draws them) tell the
    known mistakes from the right formula."""
    import torch

    while True:
        seed = _seed(rng)
        generator = torch.Generator().manual_seed(seed)
        torch.randn(*shape, generator=generator)  # mu
        if abs(float(torch.randn(*shape, generator=generator).mean())) > DKL_DISTINGUISH:
            return seed


def dkl_inputs(key: bytes, secret: bytes | None = None) -> DklInputs:
    """The public cases and the hidden ones, in a secret order (a report of the public values recorded
    elsewhere then lands on the wrong cases)."""
    rng = _rng("1.4 cases", key, secret)
    cases = [DklCase(seed, list(PUBLIC_DKL_SHAPE)) for seed in PUBLIC_DKL]
    cases += [DklCase(_dkl_seed(rng, shape), list(shape)) for _, shape in HIDDEN_DKL_CASES]
    rng.shuffle(cases)
    return DklInputs(cases)


def is_public(case: DklCase) -> bool:
    return case.seed in PUBLIC_DKL and tuple(case.shape) == PUBLIC_DKL_SHAPE


def vae_inputs(key: bytes, secret: bytes | None = None) -> VaeInputs:
    rng = _rng("2.1 probes", key, secret)
    sizes = {name: rng.randint(*bounds) for name, bounds in VAE_RANGES.items()}
    seeds = {name: _seed(rng) for name in ("encoder_seed", "decoder_seed", "forward_seed", "eps_seed")}
    first, second = _seed(rng), _seed(rng)
    return VaeInputs(**sizes, z_stats_samples=Z_STATS_SAMPLES, **seeds,
                     generate_seeds=[first, second if second != first else first + 1])


def loop_inputs(key: bytes, secret: bytes | None = None) -> LoopInputs:
    rng = _rng("2.2 probes", key, secret)
    probes = [LoopProbe(scheduler, rng.randint(*iters), rng.choice(betas), rng.randint(*window), rng.randint(*batch))
              for scheduler, iters, betas, window, batch in LOOP_RANGES]
    return LoopInputs(probes, model_seed=_seed(rng), data_seed=_seed(rng), dataset_size=LOOP_DATASET_SIZE)


# Part -> its inputs (keyed by parts.QUICK: tests/test_judges.py).
INPUTS = {"1.4": dkl_inputs, "2.1": vae_inputs, "2.2": loop_inputs}
BENCH_KEY = b"the benchmark's fixed submission"


def inputs_for(part: str, key: bytes, secret: bytes | None = None):
    """The inputs of ``part``'s child run for the submission of this key (None for the re-trained part)."""
    make = INPUTS.get(part)
    return make(key, secret) if make else None


def job_for(part: str, key: bytes = BENCH_KEY) -> dict[str, Any]:
    """The probe inputs of ``part``'s child run (merged into its job)."""
    inputs = inputs_for(part, key)
    return {"inputs": asdict(inputs)} if inputs is not None else {}
