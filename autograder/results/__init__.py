"""One results model; results.json (Gradescope's format) is a view of it, and reads back into it.

``Results.write`` is the grader's only writer of results.json (gradescope/run_autograder writes a fixed
"Autograder failed" one when Python itself cannot run the grader); the gradebook, the pages and the batch read
one back with ``Results.read``/``Results.from_dict``, so scores, totals and "passed" have one rule.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hw7core import parts
from hw7core.intake import clean_strings, clean_text

FAILED_NAME = "Autograder failed"  # the one test of a grading that broke (Results.failed)


@dataclass
class TestResult:
    name: str
    number: str
    max_score: float
    score: float = 0.0
    output: str = ""
    visibility: str = "visible"
    tags: list[str] = field(default_factory=list)

    @property
    def part(self) -> str:
        return ".".join(self.number.split(".")[:2])

    @property
    def passed(self) -> bool:
        # A 0-point test only ever reports a problem ("Autograder failed"): it must not show as passed.
        return self.max_score > 0 and self.score >= self.max_score - 1e-9

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestResult:
        """A test of a results.json, read leniently: a missing or non-numeric score counts 0."""
        return cls(_text(data.get("name", "")), _text(data.get("number", "")), _float(data.get("max_score")),
                   _float(data.get("score")), _text(data.get("output") or ""), _text(data.get("visibility", "visible")),
                   clean_strings(list(data.get("tags") or [])) if isinstance(data.get("tags"), list) else [])

    def to_gradescope(self) -> dict[str, Any]:
        return {
            "name": _text(self.name),
            "number": _text(self.number),
            "score": _number(self.score),
            "max_score": _number(self.max_score),
            "status": "passed" if self.passed else "failed",
            "output": _text(self.output),
            "output_format": "text",
            "tags": [_text(t) for t in self.tags],
            "visibility": self.visibility,
        }


@dataclass
class Results:
    tests: list[TestResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # shown to the student at the top
    execution_time: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # machine-readable details for reports

    def add(self, test: TestResult) -> TestResult:
        test.score = max(0.0, min(float(test.score), float(test.max_score)))
        if not math.isfinite(test.score):
            test.score = 0.0
        self.tests.append(test)
        return test

    @property
    def adjustments(self) -> list[dict[str, Any]]:
        """Staff adjustments applied on top of the tests (adjustments.py), as results.json carries them."""
        found = self.extra.get("adjustments")
        return [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests) + sum(_float(a.get("applied")) for a in self.adjustments), 4)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    def part_scores(self, graded_only: bool = False) -> dict[str, float | None]:
        """Each part's score, summed over its tests; with ``graded_only``, None for a part without tests."""
        scores: dict[str, float | None] = dict.fromkeys(parts.NUMBERS, None if graded_only else 0.0)
        for t in self.tests:
            if t.part in scores:
                scores[t.part] = round((scores[t.part] or 0.0) + t.score, 4)
        for a in self.adjustments:
            if a.get("part") in scores:
                scores[a["part"]] = round((scores[a["part"]] or 0.0) + _float(a.get("applied")), 4)
        return scores

    @property
    def autograder_failed(self) -> bool:
        return any(t.name == FAILED_NAME for t in self.tests)

    @property
    def status(self) -> str:
        """The gradebook's status of a graded submission."""
        return "autograder failed" if self.autograder_failed else "graded"

    def to_gradescope(self, leaderboard: bool | None = None) -> dict[str, Any]:
        """The results.json dict; with ``leaderboard`` (default: the course's grading.yaml) it carries
        Gradescope's ``leaderboard`` list of part 2.3's figures."""
        if leaderboard is None:
            from autograder import settings

            leaderboard = settings.load().leaderboard
        out = {
            "score": _number(self.score),
            "execution_time": _number(round(self.execution_time, 2)),
            "output": _text("\n".join(self.notes)),
            "output_format": "text",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "extra_data": _json_safe(self.extra),
            "tests": [t.to_gradescope() for t in self.tests],
        }
        if leaderboard:
            from autograder.results import leaderboard as board
            from hw7core.quality_report import QualityReport

            out["leaderboard"] = board.entries(QualityReport.from_dict(_json_safe(self.extra.get("quality"))))
        return out

    def write(self, path: str | os.PathLike) -> Path:
        """Write results.json atomically (the old file, if any, stays until the new one is complete)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_gradescope(), indent=2, allow_nan=False)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".results.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
        return path

    def summary(self) -> str:
        lines = [f"Total: {self.score:g} / {self.max_score:g}"]
        scores = self.part_scores()
        for part in parts.PARTS:
            lines.append(f"  {part.number} {part.name}: {scores[part.number]:g} / {part.points:g}")
        return "\n".join(lines)

    @classmethod
    def failed(cls, reason: str) -> Results:
        """The result when grading itself breaks: one visible test that says so, never a lost grade."""
        results = cls(notes=["The autograder could not finish grading this submission."])
        results.add(TestResult(FAILED_NAME, "0", 0.0, 0.0, reason))
        return results

    @classmethod
    def from_dict(cls, data: Any) -> Results:
        """A results.json dict read back (scores as written, not clamped); ValueError when it is none."""
        if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
            raise ValueError("it is not a results.json (no list of tests)")
        extra = data.get("extra_data")
        return cls(tests=[TestResult.from_dict(t) for t in data["tests"] if isinstance(t, dict)],
                   notes=[_text(data["output"])] if data.get("output") else [],
                   execution_time=_float(data.get("execution_time")),
                   extra=clean_strings(extra) if isinstance(extra, dict) else {})

    @classmethod
    def read(cls, path: str | os.PathLike) -> Results:
        """Read a results.json; OSError or ValueError when it is missing or not one."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _text(value: Any) -> str:
    """Any text that may hold a student's words (an exception message, a name), writable as UTF-8."""
    return clean_text(str(value))


def _float(value: Any) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0


def _number(value: float) -> float | int:
    value = float(value)
    return int(value) if value.is_integer() else round(value, 4)


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {_text(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, str):
        return clean_text(obj)
    if obj is None or isinstance(obj, (bool, int)):
        return obj
    if hasattr(obj, "__dataclass_fields__"):
        return _json_safe(asdict(obj))
    return _text(obj)
