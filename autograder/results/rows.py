"""A *row* is one submission in the batch's tables: who it is, its status ("graded", "autograder
failed" or "error"), its results.json read once into the results model (``Row.results``; None for an
error row, whose ``message`` says what went wrong) and that file's dict as written (``Row.data``: the
pages show what Gradescope got).  Scores, totals and "passed" come from the results model, never
re-derived here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.results import Results, TestResult
from hw7core import parts
from hw7core.intake import clean_strings

if TYPE_CHECKING:
    from autograder.results.final import Final

STATUSES = ("graded", "autograder failed", "error")


@dataclass
class Row:
    id: str
    status: str  # one of STATUSES
    results: Results | None = None  # None for an error row
    data: dict[str, Any] = field(default_factory=dict)  # the results.json as written ({} for an error row)
    name: str = ""
    email: str = ""
    sid: str = ""
    results_path: str = ""
    message: str = ""  # an error row's "what went wrong"
    submitted: str = ""  # when it was submitted (ISO 8601), for the late policy
    final: Final | None = None  # the grade out of 105, attached by staff.finalise (final.py)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Row:
        """A row from its dict form (id, status, results: a results.json dict, name, email, sid, message)."""
        data = row.get("results") if isinstance(row.get("results"), dict) else {}
        status = str(row.get("status") or "graded")
        try:
            results = None if status == "error" else Results.from_dict(data)
        except ValueError:
            results = None
        return cls(str(row.get("id", "")), status, results, data, **{
            key: str(row.get(key) or "") for key in ("name", "email", "sid", "results_path", "message")})

    @property
    def tests(self) -> list[TestResult]:
        return [] if self.results is None else self.results.tests

    @property
    def total(self) -> float:
        """The sum of its tests' scores (0 for an error row)."""
        return 0.0 if self.results is None else self.results.score

    @property
    def part_scores(self) -> dict[str, float | None]:
        """Each part's score, summed over its tests; None for a part with no test (not graded)."""
        return dict.fromkeys(parts.NUMBERS) if self.results is None else self.results.part_scores(graded_only=True)


def load_row(results_path: str | os.PathLike, ident: str, **identity: Any) -> Row:
    """A row from a results.json on disk (``identity``: name, email, sid): "error" when it is missing
    or unreadable."""
    identity = {key: str(value or "") for key, value in identity.items()}
    try:
        data = clean_strings(json.loads(Path(results_path).read_text(encoding="utf-8")))  # no lone surrogates
        results = Results.from_dict(data)
    except (OSError, ValueError) as exc:
        return Row(str(ident), "error", results_path=str(results_path), message=f"No usable results.json: {exc}",
                   **identity)
    return Row(str(ident), results.status, results, data, results_path=str(results_path), **identity)
