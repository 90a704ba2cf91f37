"""results.json's ``extra_data``, typed: what the grading wrote there, read back as the dataclasses that
wrote it (isolation.Isolation, retrain.Choice, quality_report.QualityReport, and retrain.Training's
figures), so the pages and staff tools read attributes, never guess at dicts.

Reading is lenient, as ``Results.from_dict`` is: a results.json from an older version, or one whose
extra_data was damaged, gives None for what is missing or malformed, never an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from autograder.isolation import Isolation
from autograder.quality_report import QualityReport
from autograder.retrain import Choice

CURVES = ("rec", "prior", "total")  # the loss histories the re-training records


@dataclass
class ExtraData:
    isolation: Isolation | None = None  # what protected the grading
    retraining: Choice | None = None  # which training scored 2.3, and why
    train_seconds: float | None = None  # how long the kept training took
    curves: dict[str, Any] | None = None  # its learning curves: CURVES -> list of losses, and "n"
    samples: list[list[float]] | None = None  # its 24 generated airfoils
    quality: QualityReport | None = None  # their sample-quality report

    @classmethod
    def from_dict(cls, data: Any) -> ExtraData:
        data = data if isinstance(data, dict) else {}
        seconds, curves, samples = data.get("train_seconds"), data.get("curves"), data.get("samples")
        return cls(
            isolation=Isolation.from_dict(data.get("isolation")),
            retraining=Choice.from_dict(data.get("retraining")),
            train_seconds=float(seconds) if _finite(seconds) else None,
            curves=curves if isinstance(curves, dict) else None,
            samples=samples if isinstance(samples, list) and samples and all(
                isinstance(s, list) for s in samples) else None,
            quality=QualityReport.from_dict(data.get("quality")),
        )


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
