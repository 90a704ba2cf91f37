"""Part 2.3: judge the re-trained model's 24 samples with the sample-quality score.

The model is re-trained first with the student's own ``train_VAE`` and ``D_KL``: the code that made the
samples they saw.  A second training, with the grader's reference loop and KL, runs only when the first
gave no model to score, or when ``D_KL`` (1.4) or ``train_VAE`` (2.2) lost points and the samples are
below full marks: then the better of the two scores is kept, so one bug is not punished twice and a
correct loop is never replaced by one that is not the student's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from autograder.judges.table import BY_NUMBER as TESTS
from autograder.results import Results, TestResult
from autograder.run.sandbox import Outcome
from hw7core import limits, parts

OWN = "your own train_VAE and D_KL"
REFERENCE = "the grader's reference loop and KL formula"
# The second training's options (the job of that child run, as issue 14's cache keys it).
REFERENCE_RUN = {"use_reference_loop": True, "use_reference_dkl": True}


@dataclass
class Training:
    """One re-training, judged: its 2.3 test, what it adds to results.json, and whether a model came out."""

    test: TestResult
    no_model: str | None = None  # why there was nothing to score ("raised ...", "timed out ...")
    model_broken: bool = False  # the model itself could not be built or sampled: another loop won't help
    train_seconds: float | None = None  # how long the training took in the child
    curves: dict[str, Any] | None = None  # the learning curves the child recorded (rec, prior, total)
    samples: list[list[float]] | None = None  # the 24 generated airfoils, when all finite
    quality: dict[str, Any] | None = None  # the sample-quality report (QualityReport.to_dict())

    def extra_data(self) -> dict[str, Any]:
        """What results.json's extra_data gets from this training: the feedback page draws it."""
        fields = (("train_seconds", self.train_seconds), ("curves", self.curves), ("samples", self.samples),
                  ("quality", self.quality))
        return {key: value for key, value in fields if value is not None}


@dataclass
class Choice:
    """Which training scored 2.3, and why the reference one ran (results.json's extra_data["retraining"])."""

    kept: str  # "own" or "reference"
    own_points: float
    reference_points: float | None
    why_reference: str | None


def total_budget_s() -> float:
    """The worst-case re-training time of one submission: its own run, then the reference run."""
    return limits.TRAIN_WALL_S * (1 + limits.FALLBACK_SHARE)


def _what(numbers: list[str]) -> str:
    """The code of these parts, in words: "D_KL (part 1.4) and train_VAE (part 2.2)"."""
    return " and ".join(f"{parts.BY_NUMBER[n].names[0]} (part {n})" for n in numbers)


def judge(outcome: Outcome, reference_run: bool = False) -> Training:
    test = TESTS[parts.RETRAINED].result()
    if not outcome.ok:
        test.output = (f"Re-training your model failed: {outcome.cause}. The grader trains with "
                       f"n_iters <= {limits.N_ITERS_MAX} within {limits.TRAIN_WALL_S / 60:g} minutes "
                       "on one CPU thread.")
        return Training(test, no_model=str(outcome.cause))
    obs = outcome.payload.get("observations") or {}
    if not isinstance(obs, dict):
        obs = {}
    lines, training = [], Training(test)
    for key, what in (("loop", "train_VAE"), ("dkl", "D_KL")):
        if obs.get(key) == "reference" and not reference_run:
            lines.append(f"No working {what} of yours was found; the grader's was used.")
    if isinstance(obs.get("train_seconds"), (int, float)):
        training.train_seconds = round(float(obs["train_seconds"]), 2)
        lines.append(f"(Re-training took {obs['train_seconds']:.1f} s.)")
    if isinstance(obs.get("curves"), dict):
        training.curves = obs["curves"]
    for key, what in (("missing", "No graded cell defines {}."), ("build_error", "Building the model failed: {}"),
                      ("train_error", "Training failed: {}"), ("generate_error", f"model.generate(n_samples={limits.N_SAMPLES}, "
                                                                                   "seed=0) failed: {{}}")):
        if obs.get(key):
            value = obs[key]
            test.output = "\n".join([what.format(", ".join(value) if isinstance(value, list) else value), *lines])
            training.no_model, training.model_broken = test.output.split("\n")[0], key != "train_error"
            return training
    try:
        samples = np.asarray(obs.get("samples"), dtype=float)
    except (TypeError, ValueError):
        samples = np.full((0,), np.nan)
    finite = samples.shape == (limits.N_SAMPLES, limits.N_POINTS) and bool(np.isfinite(samples).all())
    if finite:
        training.samples = samples.round(6).tolist()
    from hw7core import sample_quality

    report = sample_quality.score(samples)
    training.quality = report.to_dict()
    test.score = float(report.points)
    test.output = "\n".join([report.summary(), *lines])  # the verdict first: it is what people scan
    training.no_model = None if finite and _finite_losses(obs.get("curves")) else (
        "the losses or the samples are not finite")
    return training


def hung_in_tests(hung: list[str]) -> Training:
    """The student's own training, skipped: the code it runs already hung in the quick tests of ``hung``
    (on a tiny input), so it would only hang again for the whole re-training budget."""
    names = _what(hung)
    test = TESTS[parts.RETRAINED].result()
    test.output = f"Your {names} ran past its time budget on a small input, so it could not train your model."
    return Training(test, no_model=f"your {names} ran past its time budget in its tests")


def _finite_losses(curves: Any) -> bool:
    if not isinstance(curves, dict):
        return True  # no record of the losses: judge by the samples alone
    try:
        values = np.asarray([v for key in ("rec", "prior", "total") for v in curves.get(key) or []], dtype=float)
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(values).all())


def second_training_reason(own: Training, lost: list[str]) -> str | None:
    """Why the reference loop should also train the model, or None when the student's run stands."""
    if own.model_broken:
        return None
    if own.no_model:
        return f"your own training gave no model to score ({own.no_model})"
    if lost and own.test.score < own.test.max_score:
        return f"your {_what(lost)} lost points and your own training scored below full marks"
    return None


def keep_better(own: Training, reference: Training | None, why: str | None, results: Results) -> list[TestResult]:
    """The 2.3 test of the training kept (the student's own on a tie), its feedback saying which and why."""
    kept, name = (reference, REFERENCE) if reference is not None and reference.test.score > own.test.score else (
        own, OWN)
    test = kept.test
    results.extra.update(kept.extra_data())
    results.extra["retraining"] = asdict(Choice("reference" if kept is reference else "own", own.test.score,
                                                None if reference is None else reference.test.score, why))
    if reference is None:
        test.output += f"\nScored from your model trained with {OWN}."
        return [test]
    if own.no_model:
        story = (f"Your own training gave no model to score ({own.no_model}), so your model was re-trained "
                 "with the grader's reference loop, which used the correct KL formula instead of your D_KL "
                 f"({reference.test.score:g} / {test.max_score:g}" + (f": {reference.no_model})" if reference.no_model else ")"))
    else:
        story = (f"Your model was trained twice: with {OWN} ({own.test.score:g} / {test.max_score:g}), and, because {why}, "
                 "re-trained with the grader's reference loop, which used the correct KL formula instead of "
                 f"your D_KL ({reference.test.score:g} / {test.max_score:g}); the better score is kept")
    test.output += f"\nScored from the training with {name}. {story}: one bug is not punished twice."
    return [test]
