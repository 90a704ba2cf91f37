"""Late days: when each submission came in, the course's late policy (grading.yaml) and the penalty.

Times come from Gradescope's export (``:created_at`` in submission_metadata.yml) or, for a local folder,
from ``submission_times.csv`` beside the submissions (``submission, submitted``).  A submission is late
by the started days past its due time (the course's ``due`` plus its extension, from ``extensions.csv``:
``submission, days``) once the grace period is over; it loses ``late_penalty_per_day`` percent of its
grade per day, at most ``late_penalty_cap`` percent.  A submission without a known time is never
penalised, and is listed.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

from autograder.results import staff_csv
from autograder.settings import parse_time  # noqa: F401 (late times and grading.yaml's due date: one reading)

TIMES_FILE = "submission_times.csv"


@dataclass(frozen=True)
class Lateness:
    submitted: str  # as given
    days_late: int  # started days past the due time (0: on time)
    percent: float  # of the grade lost

    def describe(self) -> str:
        if self.days_late == 0:
            return f"on time (submitted {self.submitted})"
        return f"{self.days_late} day(s) late (submitted {self.submitted}): -{self.percent:g}%"


@dataclass
class Policy:
    due: dt.datetime | None
    grace: dt.timedelta = dt.timedelta(0)
    per_day: float = 0.0
    cap: float = 100.0
    extensions: dict[str, float] = field(default_factory=dict)  # id -> days
    problems: list[str] = field(default_factory=list)

    def lateness(self, ident: str, submitted: str) -> Lateness | None:
        """None when there is no policy or no usable time (then no penalty)."""
        when = parse_time(submitted)
        if self.due is None or when is None:
            return None
        due = self.due + dt.timedelta(days=self.extensions.get(ident, 0.0)) + self.grace
        late = (when - due).total_seconds()
        days = max(0, math.ceil(late / 86400))
        return Lateness(submitted, days, min(self.cap, self.per_day * days))


def policy(settings, out: Path) -> Policy:
    """The course's policy, with the extensions file in the grades folder."""
    if not settings.due:
        return Policy(None)
    result = Policy(parse_time(settings.due), dt.timedelta(minutes=settings.grace_minutes),
                    settings.late_penalty_per_day, settings.late_penalty_cap)
    table = staff_csv.read_table(out / settings.extensions, ("submission", "days"))
    seen: dict[str, int] = {}
    for line in table.lines:
        ident = line.cells["submission"]
        if ident in seen:
            table.problem(line.number, f"repeats {ident!r} of line {seen[ident]}; skipped: one line per submission")
            continue
        ok, days = staff_csv.number(table, line, "days", 0, 365, blank_ok=False)
        if ok:
            seen[ident] = line.number
            result.extensions[ident] = days
    result.problems += table.problems
    return result


def local_times(folder: Path) -> tuple[dict[str, str], list[str]]:
    """``submission_times.csv`` of a local folder: id -> time as written; unreadable times are listed."""
    table = staff_csv.read_table(folder / TIMES_FILE, ("submission", "submitted"))
    times: dict[str, str] = {}
    for line in table.lines:
        ident, text = line.cells["submission"], line.cells["submitted"]
        if ident in times:
            table.problem(line.number, f"repeats {ident!r}; skipped: one line per submission")
        elif parse_time(text) is None:
            table.problem(line.number, f"{text!r} is not a time with its zone; skipped: write e.g. "
                                       "2026-11-20 23:59 -08:00")
        else:
            times[ident] = text
    return times, table.problems
