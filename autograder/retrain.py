"""Part 2.3: judge the re-trained model's 24 samples with the sample-quality score."""

from __future__ import annotations

import numpy as np

from autograder import limits
from autograder.results import PART_NAMES, PART_POINTS, Results, TestResult
from autograder.sandbox import Outcome

FALLBACK_NOTES = {
    "loop": "Your train_VAE did not pass all of its tests (part 2.2), so your model was re-trained with "
            "the grader's reference loop and your train_config: one bug is not punished twice.",
    "dkl": "Your D_KL did not pass all of its tests (part 1.4), so the re-training used the correct KL "
           "formula instead: one bug is not punished twice.",
}


def judge(outcome: Outcome, flags: dict[str, bool], results: Results) -> list[TestResult]:
    test = TestResult(PART_NAMES["2.3"], "2.3", PART_POINTS["2.3"])
    lines = []
    if not outcome.ok:
        test.output = (f"Re-training your model failed: {outcome.cause}. The grader trains with "
                       f"n_iters <= {limits.N_ITERS_MAX} within {limits.TRAIN_WALL_S / 60:g} minutes "
                       "on one CPU thread.")
        return [test]
    obs = outcome.payload.get("observations") or {}
    for key, flag in (("loop", "use_reference_loop"), ("dkl", "use_reference_dkl")):
        if obs.get(key) == "reference":
            lines.append(FALLBACK_NOTES[key] if flags.get(flag) else
                         f"No working {'train_VAE' if key == 'loop' else 'D_KL'} of yours was found; the "
                         "grader's was used.")
    if isinstance(obs.get("train_seconds"), (int, float)):
        results.extra["train_seconds"] = round(float(obs["train_seconds"]), 2)
        lines.append(f"(Re-training took {obs['train_seconds']:.1f} s.)")
    if isinstance(obs.get("curves"), dict):
        results.extra["curves"] = obs["curves"]
    for key, what in (("missing", "No graded cell defines {}."), ("build_error", "Building the model failed: {}"),
                      ("train_error", "Training failed: {}"), ("generate_error", "model.generate(n_samples=24, "
                                                                                   "seed=0) failed: {}")):
        if obs.get(key):
            value = obs[key]
            test.output = "\n".join([what.format(", ".join(value) if isinstance(value, list) else value), *lines])
            return [test]
    try:
        samples = np.asarray(obs.get("samples"), dtype=float)
    except (TypeError, ValueError):
        samples = np.full((0,), np.nan)
    if samples.shape == (24, 200) and np.isfinite(samples).all():
        results.extra["samples"] = samples.round(6).tolist()
    from autograder import sample_quality

    report = sample_quality.score(samples)
    results.extra["quality"] = report.to_dict()
    test.score = float(report.points)
    test.output = "\n".join([report.summary(), *lines])  # the verdict first: it is what people scan
    return [test]
