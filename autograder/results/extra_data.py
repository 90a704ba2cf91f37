"""results.json's ``extra_data``, typed: what the grading wrote there, read back as the dataclasses that
wrote it (Isolation and Choice, defined here; quality_report.QualityReport, quality_report.QualityReport, and retrain.Training's
figures), so the pages and staff tools read attributes, never guess at dicts.

Reading is lenient, as ``Results.from_dict`` is: a results.json from an older version, or one whose
extra_data was damaged, gives None for what is missing or malformed, never an exception.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from hw7core.quality_report import QualityReport

CURVES = ("rec", "prior", "total")  # the loss histories the re-training records


# The records that the run (isolation.py) and the 2.3 judge (judges/samples.py) write into extra_data are
# defined here, in the results layer, so that reading them back imports nothing above it.
@dataclass(frozen=True)
class Isolation:
    level: str
    full: bool
    summary: str
    reason: str = ""  # why the full sandbox is not in force ("" when it is)
    network: bool = False  # the child has no network (its own empty network namespace)
    pids: bool = False  # the child sees and can signal only its own processes
    separate_submissions: bool = False  # one child can neither read nor change another's files or processes

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Isolation | None:
        """An isolation read back from results.json's extra_data; None when it is not one."""
        if not (isinstance(data, dict) and isinstance(data.get("level"), str) and isinstance(data.get("full"), bool)):
            return None
        return cls(data["level"], data["full"], str(data.get("summary") or ""), str(data.get("reason") or ""),
                   *(data.get(k) is True for k in ("network", "pids", "separate_submissions")))


@dataclass
class Choice:
    """Which training scored 2.3, and why the reference one ran (results.json's extra_data["retraining"])."""

    kept: str  # "own" or "reference"
    own_points: float
    reference_points: float | None
    why_reference: str | None

    @classmethod
    def from_dict(cls, data: Any) -> Choice | None:
        """The choice read back from results.json's extra_data["retraining"]; None when it is not one."""
        def number(value: Any) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool)

        if not (isinstance(data, dict) and data.get("kept") in ("own", "reference") and number(data.get("own_points"))):
            return None
        reference, why = data.get("reference_points"), data.get("why_reference")
        return cls(data["kept"], float(data["own_points"]), float(reference) if number(reference) else None,
                   why if isinstance(why, str) else None)




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
