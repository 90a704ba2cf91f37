"""Reading the files staff edit by hand (written scores, adjustments, extensions, submission times).

Each file is read line by line: a bad line gives one message naming the file, the line and the fix,
and is skipped; the rest of the file still applies.  A file that cannot be read at all gives one message
and nothing from it applies.  Nothing here guesses a value.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from autograder.results.csvsafe import unescape

POINTS_POSSIBLE = "Points Possible"


@dataclass
class Line:
    number: int  # in the file, for messages
    cells: dict[str, str]  # header -> cell (stripped, the kit's formula escape taken off)


@dataclass
class Table:
    path: Path
    lines: list[Line] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def problem(self, line: int | None, text: str) -> None:
        where = f"{self.path.name}" + (f" line {line}" if line else "")
        self.problems.append(f"{where}: {text}")


def read_table(path: str | Path, required: tuple[str, ...]) -> Table:
    """The file's lines as dicts keyed by the header; a missing file is an empty table (no problem)."""
    table = Table(Path(path))
    if not table.path.is_file():
        return table
    try:
        with open(table.path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle, strict=True))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        table.problem(None, f"could not be read as a UTF-8 CSV ({exc}); nothing in it was applied: fix the file "
                            "(a spreadsheet's 'Save as CSV UTF-8' writes one)")
        return table
    if not rows:
        return table
    header = [unescape(h.strip()) for h in rows[0]]
    missing = [c for c in required if c not in header]
    if missing:
        table.problem(1, f"the header lacks the column(s) {', '.join(missing)} (it has: {', '.join(header)}); "
                         f"nothing in it was applied: the header must be {', '.join(required)}")
        return table
    for number, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            table.problem(number, f"has {len(cells)} cells but the header has {len(header)}; skipped: a comma in a "
                                  "comment must be inside double quotes")
            continue
        values = {h: unescape(cells[i].strip()) if i < len(cells) else "" for i, h in enumerate(header)}
        if cells[0].strip() == POINTS_POSSIBLE:  # the maxima's line (the kit writes it first)
            continue
        table.lines.append(Line(number, values))
    return table


def number(table: Table, line: Line, column: str, low: float | None, high: float | None,
           blank_ok: bool = True) -> tuple[bool, float | None]:
    """(ok, value) of a number cell; not ok (and a message) when it is no number or out of range."""
    text = line.cells.get(column, "").strip()
    if not text:
        if not blank_ok:
            table.problem(line.number, f"{column} is empty; skipped: write a number")
        return blank_ok, None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        table.problem(line.number, f"{column} {text!r} is not a number; skipped: write a number such as 7 or 7.5")
        return False, None
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"from {low:g} to {high:g}" if low is not None and high is not None else (
            f"at least {low:g}" if low is not None else f"at most {high:g}")
        table.problem(line.number, f"{column} {text} is out of range; skipped: it must be {span}")
        return False, None
    return True, value


def unique_ids(table: Table, column: str, known: set[str]) -> Iterator[tuple[str, Line]]:
    """(id, line) of the lines whose id is known and not repeated; the others are reported."""
    first: dict[str, int] = {}
    for line in table.lines:
        ident = line.cells.get(column, "").strip()
        if ident in first:
            table.problem(line.number, f"repeats the submission {ident!r} of line {first[ident]}; skipped: "
                                       "keep one line per submission")
            continue
        if ident not in known:
            near = ", ".join(sorted(known)[:5]) + (", ..." if len(known) > 5 else "")
            table.problem(line.number, f"no submission has the id {ident!r}; skipped: use an id of the batch "
                                       f"(the first column of gradebook.csv: {near})")
            continue
        first[ident] = line.number
        yield ident, line
