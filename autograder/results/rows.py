"""A *row* is one submission in the batch's tables: ``{"id", "name", "email", "status", "results",
"results_path"}`` where ``status`` is "graded", "autograder failed" or "error" and ``results`` is the
results.json dict (``None`` or ``{}`` for an error row, whose optional ``"message"`` says what went
wrong).  Scores, totals and "passed" come from the results model (``Results.from_dict``), never
re-derived here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from autograder.results import Results, TestResult
from hw7core import parts

STATUSES = ("graded", "autograder failed", "error")


def results_of(row: dict[str, Any]) -> Results | None:
    """The row's results read back; None for an error row or one without a usable results.json."""
    if row.get("status") == "error":
        return None
    try:
        return Results.from_dict(row.get("results"))
    except ValueError:
        return None


def tests_of(row: dict[str, Any]) -> list[TestResult]:
    results = results_of(row)
    return [] if results is None else results.tests


def total(row: dict[str, Any]) -> float:
    """The row's total: the sum of its tests' scores (0 for an error row)."""
    results = results_of(row)
    return 0.0 if results is None else results.score


def part_scores(row: dict[str, Any]) -> dict[str, float | None]:
    """Each part's score, summed over its tests; None for a part with no test (not graded)."""
    results = results_of(row)
    return dict.fromkeys(parts.NUMBERS) if results is None else results.part_scores(graded_only=True)


def load_row(results_path: str | os.PathLike, ident: str, **identity: Any) -> dict[str, Any]:
    """A row from a results.json on disk (``identity``: name, email, ...): "error" when it is missing
    or unreadable."""
    row = {"id": str(ident), "name": "", "email": "", **identity, "results_path": str(results_path)}
    try:
        data = json.loads(Path(results_path).read_text(encoding="utf-8"))
        status = Results.from_dict(data).status
    except (OSError, ValueError) as exc:
        return {**row, "status": "error", "results": {}, "message": f"No usable results.json: {exc}"}
    return {**row, "status": status, "results": data}  # as written: the pages show what Gradescope got
