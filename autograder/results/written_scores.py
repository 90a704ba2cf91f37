"""The scores sheet of the hand-graded written questions (1.4: 15 points, 1.5: 10): ``written_scores.csv``.

``make grade`` writes it once (one line per submission, a ``Points Possible`` line with each question's
maximum) and never overwrites it: the TA fills it in, on written.html (which saves the same file) or
in any editor.  Every later ``make grade`` reads it back; a missing or out-of-range score is listed, never
guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from autograder.results import staff_csv
from autograder.results.csvsafe import Writer

FILE_NAME = "written_scores.csv"
QUESTIONS = {"1.4": 15.0, "1.5": 10.0}  # the rubric's maxima (written.RUBRIC), 25 in all
MAX_WRITTEN = sum(QUESTIONS.values())
COLUMNS = ("id", "name", *(c for q in QUESTIONS for c in (q, f"{q} comment")))


@dataclass
class Written:
    points: dict[str, dict[str, float | None]] = field(default_factory=dict)  # id -> question -> points
    comments: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def total(self, ident: str) -> float | None:
        """The written points of a submission; None while any question has no score."""
        scores = self.points.get(ident) or {}
        values = [scores.get(q) for q in QUESTIONS]
        return None if any(v is None for v in values) else sum(values)


def write_blank(path: str | Path, submissions: list[tuple[str, str]]) -> bool:
    """Write the empty sheet for ``(id, name)`` pairs unless the file exists; True when written."""
    path = Path(path)
    if path.exists():
        return False
    with open(path, "x", encoding="utf-8", newline="") as handle:
        writer = Writer(handle)
        writer.writerow(COLUMNS)
        writer.writerow([staff_csv.POINTS_POSSIBLE, "", *(c for q, m in QUESTIONS.items() for c in (f"{m:g}", ""))])
        writer.writerows([ident, name, "", "", "", ""] for ident, name in submissions)
    return True


def read(path: str | Path, known: set[str]) -> Written:
    """The sheet read back against the batch's ids; every bad line or missing score is in ``problems``."""
    table = staff_csv.read_table(path, ("id", *QUESTIONS))
    written = Written()
    for ident, line in staff_csv.unique_ids(table, "id", known):
        scores: dict[str, float | None] = {}
        for question, maximum in QUESTIONS.items():
            ok, value = staff_csv.number(table, line, question, 0.0, maximum)
            scores[question] = value if ok else None
        written.points[ident] = scores
        written.comments[ident] = {q: line.cells.get(f"{q} comment", "") for q in QUESTIONS}
    written.problems += table.problems
    if Path(path).is_file() and not any("nothing in it was applied" in p for p in table.problems):
        for ident in sorted(known):
            missing = [q for q in QUESTIONS if (written.points.get(ident) or {}).get(q) is None]
            if missing:
                written.problems.append(f"{Path(path).name}: {ident} has no valid score for {', '.join(missing)} "
                                        "(its written total is left blank)")
    return written
