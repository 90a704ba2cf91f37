"""Grades for the LMS: a CSV in Canvas's gradebook-import format, reconciled with the class roster.

Canvas imports a CSV whose first columns identify the student (``Student, ID, SIS User ID, SIS Login ID,
Section``), followed by one column per assignment; a ``Points Possible`` row under the header gives each
assignment's maximum.  Canvas matches students by ID, SIS User ID or SIS Login ID, and leaves a blank
score unchanged.

The roster is the instructor's CSV, best Canvas's own gradebook export (any CSV with at least one of
the id columns, or an ``Email`` column, works).  Submissions are matched to roster lines by the
submission's id, its students' emails and their Gradescope student ids (``:sid``).  Nothing is dropped
silently: roster lines without a submission, submissions missing from the roster, roster lines without
an id or with a duplicate id, and gradings that failed are all listed (CLI output and summary page).
"""

from __future__ import annotations

import csv
import itertools
import os
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autograder.results.rows import Row

from autograder.results.csvsafe import Writer

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
ID_COLUMNS = ("ID", "SIS User ID", "SIS Login ID", "Email")  # the columns a submission can match on
POINTS_ROW = "    Points Possible"  # as Canvas's own export writes it


@dataclass(frozen=True)
class Column:
    """One assignment column of canvas.csv: its header, its maximum, and which grade it carries
    (final.Final.column: "total", "autograded" or "written")."""

    header: str
    points: float
    grade: str = "autograded"


def columns(course) -> list[Column]:
    """canvas.csv's grade columns by grading.yaml's ``lms_columns``."""
    from autograder.results import final, written_scores
    from hw7core import parts

    if course.lms_columns == "separate":
        return [Column(course.lms_column, parts.MAX_TOTAL, "autograded"),
                Column(course.lms_written_column, written_scores.MAX_WRITTEN, "written")]
    return [Column(course.lms_column, final.MAX_FINAL, "total")]


class RosterError(ValueError):
    """The roster file cannot be used at all (missing, not a CSV, no id column)."""


@dataclass
class RosterEntry:
    line: int  # in the file, for messages
    fields: dict[str, str]  # Canvas's columns (and Email), "" when absent

    @property
    def keys(self) -> set[str]:
        return {_key(self.fields[c]) for c in ID_COLUMNS if _key(self.fields.get(c, ""))}

    @property
    def label(self) -> str:
        who = self.fields.get("Student") or next((self.fields[c] for c in ID_COLUMNS if self.fields.get(c)), "")
        return f"{who} (roster line {self.line})"


@dataclass
class Roster:
    entries: list[RosterEntry]
    problems: list[str] = field(default_factory=list)


@dataclass
class Reconciliation:
    exported: int = 0
    not_in_roster: list[str] = field(default_factory=list)  # submissions no roster line matched
    no_submission: list[str] = field(default_factory=list)  # roster lines no submission matched
    problems: list[str] = field(default_factory=list)  # roster trouble and grades left blank

    def lines(self) -> list[str]:
        """What the instructor must read, one line each (printed by the CLI)."""
        out = [f"canvas.csv: {self.exported} score(s) for Canvas's gradebook import."]
        out += [f"  not in the roster (score not in canvas.csv; it is in gradebook.csv): {s}"
                for s in self.not_in_roster]
        out += [f"  no submission: {s}" for s in self.no_submission]
        out += [f"  {p}" for p in self.problems]
        return out


def _key(value: str) -> str:
    return str(value or "").strip().casefold()


def read_roster(path: str | os.PathLike) -> Roster:
    """Read a roster CSV; lines without any id or with a duplicate id are reported and skipped."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            table = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RosterError(f"the roster {path} could not be read ({exc}); pass a UTF-8 CSV file") from exc
    if not table:
        raise RosterError(f"the roster {path} is empty; export the gradebook from Canvas and pass that file")
    header = {_key(name): i for i, name in reversed(list(enumerate(table[0])))}
    wanted = {c: header.get(_key(c)) for c in (*CANVAS_COLUMNS, "Email")}
    if wanted["Student"] is None:
        wanted["Student"] = header.get("name")
    if all(wanted[c] is None for c in ID_COLUMNS):
        raise RosterError(f"the roster {path} has none of the columns {', '.join(ID_COLUMNS)} (its header: "
                          f"{', '.join(table[0])}); Canvas's gradebook export has them")
    roster, owner = Roster([]), {}
    for line, cells in enumerate(table[1:], start=2):
        values = {c: (cells[i].strip() if i is not None and i < len(cells) else "") for c, i in wanted.items()}
        if not any(cells) or _key(values["Student"]) == "points possible":
            continue
        entry = RosterEntry(line, values)
        if not entry.keys:
            roster.problems.append(f"{entry.label} has none of {', '.join(ID_COLUMNS)}: left out of canvas.csv; "
                                   "add an id to the roster")
            continue
        clash = sorted(k for k in entry.keys if k in owner)
        if clash:
            roster.problems.append(f"{entry.label} repeats the id {clash[0]!r} of roster line {owner[clash[0]].line}:"
                                   " left out of canvas.csv (a score must go to one student); fix the roster")
            continue
        for k in entry.keys:
            owner[k] = entry
        roster.entries.append(entry)
    return roster


def _submission_keys(row: Row) -> set[str]:
    """The keys a row may match the roster on: Gradescope's metadata (emails, sids) when it has any;
    only without metadata its id, which may come from a file name the student chose (_by_file_name)."""
    keys = set()
    for column in ("email", "sid"):
        keys |= {_key(v) for v in getattr(row, column).split(";")}
    keys.discard("")
    return keys or {k for k in (_key(row.id),) if k}


def _by_file_name(row: Row) -> bool:
    return not (row.email.strip(" ;") or row.sid.strip(" ;"))


def _score(row: Row, column: Column) -> str | None:
    """The row's grade for ``column`` as Canvas should import it, or None when grading failed or a
    written score is missing (left blank: Canvas keeps what it has)."""
    from autograder.reports.pages import num as _num

    if row.status != "graded":
        return None
    value = row.final.column(column.grade) if row.final is not None else (
        row.total if column.grade == "autograded" else None)
    return None if value is None else _num(value)


def _from_submissions(rows: list[Row]) -> list[dict[str, str]]:
    """Without a roster: one line per student named in the submissions (group members each get one)."""
    lines = []
    for row in rows:
        names = [n.strip() for n in row.name.split(";")]
        emails = [e.strip() for e in row.email.split(";")]
        sids = [s.strip() for s in row.sid.split(";")]
        for name, email, sid in itertools.zip_longest(names, emails, sids, fillvalue=""):
            lines.append({"Student": name or row.id, "ID": "", "SIS User ID": sid,
                          "SIS Login ID": email or row.id, "Section": "", "row": row})
    return lines


def canvas_csv(rows: list[Row], path: str | os.PathLike, column: str | list[Column],
               points: float | None = None, roster: Roster | None = None) -> Reconciliation:
    """Write Canvas's gradebook-import CSV; say what did not match.  ``column``: the grade columns
    (``columns(course)``), or one header for the autograded total out of ``points``."""
    from autograder.reports.pages import num as _num

    grade_columns = [Column(column, points)] if isinstance(column, str) else list(column)
    result = Reconciliation(problems=list(roster.problems) if roster else [])
    if roster is None:
        lines = _from_submissions(rows)
    else:
        by_key = {k: entry for entry in roster.entries for k in entry.keys}
        matched: dict[int, Row] = {}
        refused: set[int] = set()  # lines two file-name matches claim: nobody's score goes there
        for row in rows:
            entries = {by_key[k].line: by_key[k] for k in _submission_keys(row) if k in by_key}
            if not entries:
                result.not_in_roster.append(" / ".join(filter(None, (row.name, row.id))))
            for line, entry in entries.items():
                first = matched.get(line)
                if first is not None and first is not row:
                    if _by_file_name(first) and _by_file_name(row):
                        refused.add(line)
                        result.problems.append(f"{entry.label} matches submissions {first.id} and "
                                               f"{row.id} by their file names only: score left blank; "
                                               "enter the right one by hand")
                        continue
                    if _by_file_name(first):  # Gradescope's metadata beats a name a student chose
                        matched[line] = row
                    result.problems.append(f"{entry.label} matches submissions {first.id} and "
                                           f"{row.id}: {matched[line].id}'s score is used"
                                           + (" (matched by Gradescope's metadata, the other by a file name)"
                                              if _by_file_name(first) != _by_file_name(row) else ""))
                    continue
                matched[line] = row
        for line in refused:
            if _by_file_name(matched[line]):
                del matched[line]
        lines = []
        for entry in roster.entries:
            if entry.line not in matched:
                result.no_submission.append(entry.label)
            lines.append({**entry.fields, "row": matched.get(entry.line)})
    path = Path(path)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = Writer(handle)
        writer.writerow([*CANVAS_COLUMNS, *(c.header for c in grade_columns)])
        writer.writerow([POINTS_ROW, "", "", "", "", *(_num(c.points) for c in grade_columns)])
        for line in lines:
            row = line["row"]
            scores = [_score(row, c) if row is not None else None for c in grade_columns]
            if row is not None and row.status != "graded":
                result.problems.append(f"{row.id}: grading failed ({row.status}); its score is left "
                                       "blank in canvas.csv (Canvas keeps what it has): see its feedback.html")
            elif row is not None and None in scores:
                result.problems.append(f"{row.id}: no written score yet; "
                                       f"{', '.join(c.header for c, s in zip(grade_columns, scores) if s is None)} "
                                       "left blank in canvas.csv: fill written_scores.csv and run make grade again")
            result.exported += any(s is not None for s in scores)
            writer.writerow([line.get(c, "") for c in CANVAS_COLUMNS] + ["" if s is None else s for s in scores])
    return result


def summary_html(result: Reconciliation, roster_name: str | None) -> str:
    """The summary page's section on the LMS export."""
    source = (f"matched with the roster {escape(roster_name)}" if roster_name else
              "from the submissions themselves (no roster: pass <code>--roster</code> with Canvas's gradebook "
              "export, or <code>make grade ROSTER=...</code>, to match students exactly)")
    out = ["<h2>Grades for the LMS</h2>",
           f"<p><a href=\"canvas.csv\">canvas.csv</a> (Canvas's gradebook import): {result.exported} score(s), "
           f"{source}.</p>"]
    for title, items in (("Submissions not in the roster (their scores are in gradebook.csv only)",
                          result.not_in_roster),
                         ("Roster entries without a submission", result.no_submission),
                         ("Problems", result.problems)):
        if items:
            out.append(f"<h3>{title}: {len(items)}</h3><ul>" + "".join(f"<li>{escape(i)}</li>" for i in items)
                       + "</ul>")
    return "\n".join(out)
