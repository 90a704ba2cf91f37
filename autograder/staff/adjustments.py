"""Staff adjustments (an accepted regrade request, a point given back): ``adjustments.csv`` in the
grades folder, one line per adjustment: ``submission, target, points, reason, who, when``.

``target`` is a test number (``2.1.3``) or a part number (``2.3``); ``points`` is added to it (negative
takes points off), kept within the test's or the part's maximum.  The batch applies the file on top of
every results.json at the end of each ``make grade`` (``FORCE=1`` included: the autograder writes a fresh
results.json, the file is applied again), under ``extra_data.adjustments``; the results model adds the
applied points to the part and the total.  A line that matches no submission or no test is reported on
the summary page and by the CLI, and stays in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.results import Results, staff_csv
from hw7core import parts

FILE_NAME = "adjustments.csv"
COLUMNS = ("submission", "target", "points", "reason", "who", "when")


@dataclass
class Adjustment:
    submission: str
    target: str
    points: float
    reason: str
    who: str
    when: str
    line: int

    def record(self, applied: float, maximum: float) -> dict[str, Any]:
        """What results.json carries (``applied``: the points that count, after the maximum)."""
        return {"target": self.target, "part": ".".join(self.target.split(".")[:2]), "points": self.points,
                "applied": round(applied, 4), "max": maximum, "reason": self.reason, "who": self.who,
                "when": self.when, "line": self.line}


@dataclass
class Ledger:
    by_submission: dict[str, list[Adjustment]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # bad lines and adjustments that match nothing


def write_blank(path: str | Path) -> bool:
    """The file with its header only, unless it exists (so staff know the columns)."""
    path = Path(path)
    if path.exists():
        return False
    path.write_text(",".join(COLUMNS) + "\n", encoding="utf-8")
    return True


def read(path: str | Path) -> Ledger:
    """Every well-formed line; ids and targets are checked against the results in ``apply``."""
    table = staff_csv.read_table(path, ("submission", "target", "points", "reason"))
    ledger, seen = Ledger(), {}
    for line in table.lines:
        c = line.cells
        if not c.get("submission") or not c.get("target"):
            table.problem(line.number, "needs a submission and a target (a test such as 2.1.3 or a part such "
                                       "as 2.3); skipped")
            continue
        if not c.get("reason"):
            table.problem(line.number, "has no reason; skipped: say why (the student sees it)")
            continue
        ok, points = staff_csv.number(table, line, "points", None, None, blank_ok=False)
        if not ok:
            continue
        key = (c["submission"], c["target"], points, c["reason"])
        if key in seen:
            table.problem(line.number, f"repeats line {seen[key]} exactly; skipped (remove one of the two)")
            continue
        seen[key] = line.number
        adjustment = Adjustment(c["submission"], c["target"], points, c["reason"], c.get("who", ""),
                                c.get("when", ""), line.number)
        ledger.by_submission.setdefault(adjustment.submission, []).append(adjustment)
    ledger.problems += table.problems
    return ledger


def applied(results: Results, adjustments: list[Adjustment], file_name: str = FILE_NAME) -> tuple[list[dict], list[str]]:
    """The records of ``adjustments`` on the autograder's ``results`` (each within its test's or part's
    maximum), and the problems of those that match no test or part."""
    tests = {t.number: t for t in results.tests}
    running = {n: t.score for n, t in tests.items()}
    part_running = {p: s or 0.0 for p, s in results.part_scores().items()}
    records, problems = [], []
    for a in adjustments:
        if a.target in tests:
            maximum, now = tests[a.target].max_score, running[a.target]
        elif a.target in parts.POINTS:
            maximum, now = parts.POINTS[a.target], part_running[a.target]
        else:
            known = ", ".join(sorted(tests)) or "none: the grading failed"
            problems.append(f"{file_name} line {a.line}: {a.submission} has no test or part {a.target!r} (renamed "
                            f"or never graded); not applied, kept in the file: use one of {known}")
            continue
        gain = min(max(a.points, -now), maximum - now)
        if gain != a.points:
            problems.append(f"{file_name} line {a.line}: {a.submission} {a.target} {a.points:+g} would leave 0 to "
                            f"{maximum:g}; {gain:+g} applied")
        if a.target in tests:
            running[a.target] += gain
        part = ".".join(a.target.split(".")[:2])
        part_running[part] = part_running.get(part, 0.0) + gain
        records.append(a.record(gain, maximum))
    return records, problems


def apply_all(ledger: Ledger, results_paths: dict[str, Path], file_name: str = FILE_NAME) -> list[str]:
    """Rewrite each submission's results.json with its current adjustments (none: the key removed);
    returns the problems (bad lines, adjustments of a submission that is gone or that match nothing)."""
    problems = list(ledger.problems)
    for ident in sorted(set(ledger.by_submission) - set(results_paths)):
        for a in ledger.by_submission[ident]:
            problems.append(f"{file_name} line {a.line}: no submission {ident!r} in this batch; not applied, kept in "
                            "the file: fix the id (the first column of gradebook.csv)")
    for ident, path in results_paths.items():
        try:
            results = Results.read(path)
        except (OSError, ValueError):  # an error row: its page says why
            problems += [f"{file_name} line {a.line}: {ident} has no usable results.json; not applied, kept in "
                         "the file: regrade it (FORCE=1)" for a in ledger.by_submission.get(ident, [])]
            continue
        previous = results.extra.pop("adjustments", None)
        records, found = applied(results, ledger.by_submission.get(ident, []), file_name)
        problems += found
        if records:
            results.extra["adjustments"] = records
        if records or previous:
            results.write(path)
    return problems
