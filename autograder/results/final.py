"""The final grade of a row (out of 105): the autograded total (staff adjustments included, in results.json),
the written points (written_scores.csv) and the late penalty, as every output shows it.

``attach`` puts a ``Final`` in ``row.final``; the gradebook, canvas.csv, the feedback page and the
summary read it.  While a written score is missing the total is None (left blank), never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from autograder.results.late import Lateness, Policy
from autograder.results.written_scores import MAX_WRITTEN, QUESTIONS, Written
from hw7core import parts

if TYPE_CHECKING:
    from autograder.results.rows import Row

MAX_FINAL = parts.MAX_TOTAL + MAX_WRITTEN


@dataclass
class Final:
    autograded: float  # adjustments included
    written: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(QUESTIONS))
    comments: dict[str, str] = field(default_factory=dict)
    lateness: Lateness | None = None

    @property
    def factor(self) -> float:
        return 1.0 - (self.lateness.percent / 100 if self.lateness else 0.0)

    @property
    def written_total(self) -> float | None:
        values = list(self.written.values())
        return None if any(v is None for v in values) else sum(values)

    @property
    def penalty(self) -> float:
        """Points lost to lateness (of the whole grade; of the autograded part while written is missing)."""
        base = self.autograded + (self.written_total or 0.0)
        return round(base * (1 - self.factor), 4)

    @property
    def total(self) -> float | None:
        if self.written_total is None:
            return None
        return round((self.autograded + self.written_total) * self.factor, 4)

    def column(self, which: str) -> float | None:
        """canvas.csv's value: "total", "autograded" or "written", each with the late penalty applied."""
        if which == "total":
            return self.total
        value = {"autograded": self.autograded, "written": self.written_total}[which]
        return None if value is None else round(value * self.factor, 4)


def attach(rows: list[Row], written: Written, late: Policy) -> None:
    """Give each row its ``final`` (an error row's autograded total is 0, as in the gradebook)."""
    for row in rows:
        ident = row.id
        row.final = Final(row.total, dict(written.points.get(ident) or dict.fromkeys(QUESTIONS)),
                             dict(written.comments.get(ident) or {}), late.lateness(ident, row.submitted))
