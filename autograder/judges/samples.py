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
from autograder.results.extra_data import Choice  # noqa: F401 (the record it writes; defined with the results)
from autograder.run import decoder_draw
from autograder.run.sandbox import REFERENCE_FILES, Outcome  # noqa: F401 (REFERENCE_FILES: for the grader)
from hw7core import limits, parts

OWN = "your own train_VAE and D_KL"
REFERENCE = "the grader's reference loop and KL formula"
# The second training's options (the job of that child run, as issue 14's cache keys it).
REFERENCE_RUN = {"use_reference_loop": True, "use_reference_dkl": True}
# The grader's reference loop and KL: copied into that job's sandbox only (issue 21, item 4).
# Graded code beyond this size is flagged for the course staff (the examples' graded cells hold under 5 KB).
LITERAL_SOURCE_BYTES = 64 * 2**10


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
    # Where the samples came from: {"verified": drawn by the grader from the exported decoder, "why": why
    # not (then they are the child's own), "layers": the graph's weight shapes} (the TA's summary shows it)
    sample_source: dict[str, Any] | None = None

    def extra_data(self) -> dict[str, Any]:
        """What results.json's extra_data gets from this training: the feedback page draws it."""
        fields = (("train_seconds", self.train_seconds), ("curves", self.curves), ("samples", self.samples),
                  ("quality", self.quality), ("sample_source", self.sample_source))
        return {key: value for key, value in fields if value is not None}


def total_budget_s() -> float:
    """The worst-case re-training time of one submission: its own run, then the reference run."""
    return limits.TRAIN_WALL_S * (1 + limits.FALLBACK_SHARE)


def _what(numbers: list[str]) -> str:
    """The code of these parts, in words: "D_KL (part 1.4) and train_VAE (part 2.2)"."""
    return " and ".join(f"{parts.BY_NUMBER[n].names[0]} (part {n})" for n in numbers)


@dataclass
class Evaluation:
    """What the grader brings to judging a re-training: its own latent vectors and, when the graded
    code looks like it carries a model's weights as a literal, a note for the course staff."""

    z: np.ndarray
    review: str | None = None
    store: Any = None  # the grading's outcome cache (cache.Store): a regrade reuses the draw too


def evaluation(job: dict[str, Any]) -> Evaluation:
    """The latent vectors the grader decodes (the course's, from its secret: decoder_draw.COURSE_KEY), and
    the graded source's size when it is far beyond what code needs (weights pasted in as a literal?)."""
    z = decoder_draw.latents(decoder_draw.COURSE_KEY, decoder_draw.latent_size(job.get("model_config")))
    size = sum(len(str(c.get("source", "")).encode()) for c in job.get("cells") or [] if isinstance(c, dict))
    review = None
    if size > LITERAL_SOURCE_BYTES:
        review = (f"the graded cells hold {size / 2**10:.0f} KB of source, far more than code needs "
                  f"(at most {LITERAL_SOURCE_BYTES // 2**10} KB): a model's weights pasted in as a literal?")
    return Evaluation(z, review)


def drawn_samples(obs: dict[str, Any], ev: Evaluation | None) -> tuple[Any, dict[str, Any], str]:
    """(samples, sample_source, feedback line): the evaluator's draw from the exported decoder, else the
    child's own samples, "unverified", with why."""
    source, samples, line = _drawn(obs, ev)
    if ev is not None and ev.review:
        source["review"] = ev.review
    return samples, source, line


def _drawn(obs: dict[str, Any], ev: Evaluation | None) -> tuple[dict[str, Any], Any, str]:
    z = None if ev is None else ev.z
    if z is None:
        why = "no latent vectors were given to the evaluator"
    elif isinstance(obs.get("export_error"), str):
        why = f"your decoder could not be exported as an ONNX graph ({obs['export_error'][:300]})"
    else:
        draw = decoder_draw.draw(obs.get("decoder_onnx"), z, ev.store)
        if draw.verified:
            return {"verified": True, "layers": draw.layers}, draw.samples, (
                "The 24 samples were drawn by the grader from your re-trained decoder, on latent vectors of its own.")
        why = draw.why
    return {"verified": False, "why": why}, obs.get("samples"), (
        f"Unverified: scored on the samples your generate returned in the sandbox, because {why}.")


def median_draw(samples: np.ndarray, verified: bool) -> tuple[np.ndarray, Any, list[float]]:
    """(samples, report, every draw's points): of the grader's draws of 24, the one whose points are the
    median (one draw's points vary by up to 4 for a rough model; the median of 5 much less), else the
    child's own 24 as they are."""
    from hw7core import sample_quality

    n = limits.N_SAMPLES
    several = verified and samples.ndim == 2 and len(samples) > n and len(samples) % n == 0
    draws = [samples[i:i + n] for i in range(0, len(samples), n)] if several else [samples]
    reports = [sample_quality.score(d) for d in draws]
    median = sorted(range(len(draws)), key=lambda i: reports[i].points)[len(draws) // 2]
    return draws[median], reports[median], [r.points for r in reports]


def judge(outcome: Outcome, reference_run: bool = False, ev: Evaluation | None = None) -> Training:
    """Judge one re-training; ``ev``: the grader's latent vectors for drawing from the exported decoder."""
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
            # A missing train_VAE leaves the model to the reference loop; a missing or broken VAE does not.
            missing_loop_only = key == "missing" and isinstance(value, list) and "VAE" not in value
            training.no_model = test.output.split("\n")[0]
            training.model_broken = key != "train_error" and not missing_loop_only
            return training
    raw, training.sample_source, source_line = drawn_samples(obs, ev)
    lines.append(source_line)
    try:
        samples = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        samples = np.full((0,), np.nan)
    samples, report, points = median_draw(samples, training.sample_source.get("verified") is True)
    if len(points) > 1:
        lines.append(f"The grader drew {len(points)} sets of {limits.N_SAMPLES} and scored the median one "
                     f"(points {', '.join(f'{p:g}' for p in sorted(points))}).")
    finite = samples.shape == (limits.N_SAMPLES, limits.N_POINTS) and bool(np.isfinite(samples).all())
    if finite:
        training.samples = samples.round(6).tolist()
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
