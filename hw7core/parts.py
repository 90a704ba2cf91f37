"""The parts of HW7: the one table the grader, the readiness rule, the reports and the handout derive from.

Each row says what a part is worth, what the graded cells must define for it, and how it is graded:
by quick probes of the student's code (a few seconds in a child) or by re-training the model.  The
tests of each part (their numbers, names, points and visibility) are rows of the grader's table of
tests (autograder/judges/table.py), which must add up to the points here (tests/test_judges.py).

This file is part of hw7core, which the student handout ships whole: nothing secret goes here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    number: str
    name: str
    points: float
    names: tuple[str, ...]  # what the graded cells (or configs) must define
    retrains: bool = False  # graded by re-training the model from the configs, not by quick probes
    also_needs: tuple[str, ...] = ()  # names of other parts without which nothing can run
    credit_by_names: bool = False  # each test needs only some names: a missing one fails only its tests
    run_by_retraining: bool = False  # the re-training runs this part's code (when it hangs, so would that)


PARTS = (
    Part("1.4", "D_KL (KL divergence)", 5.0, ("D_KL",), run_by_retraining=True),
    Part("2.1", "VAE (Encoder, Decoder, reparameterisation, generate)", 50.0, ("Encoder", "Decoder", "VAE"),
         credit_by_names=True),
    Part("2.2", "train_VAE (training loop)", 10.0, ("train_VAE",), run_by_retraining=True),
    # The re-training builds VAE(**model_config); the loop and D_KL have the grader's fallbacks.
    Part("2.3", "Generated airfoils (smoothness and diversity)", 15.0, ("model_config", "train_config"),
         retrains=True, also_needs=("VAE",)),
)
BY_NUMBER = {part.number: part for part in PARTS}
NUMBERS = tuple(part.number for part in PARTS)
QUICK = tuple(part.number for part in PARTS if not part.retrains)  # probed side by side, in seconds
RETRAINED = next(part.number for part in PARTS if part.retrains)
RUN_BY_RETRAINING = tuple(part.number for part in PARTS if part.run_by_retraining)
POINTS = {part.number: part.points for part in PARTS}
NAMES = {part.number: part.name for part in PARTS}
MAX_TOTAL = sum(POINTS.values())
