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
from typing import Any

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
ID_COLUMNS = ("ID", "SIS User ID", "SIS Login ID", "Email")  # the columns a submission can match on
POINTS_ROW = "    Points Possible"  # as Canvas's own export writes it


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


def _submission_keys(row: dict[str, Any]) -> set[str]:
    keys = {_key(row.get("id", ""))}
    for column in ("email", "sid"):
        keys |= {_key(v) for v in str(row.get(column) or "").split(";")}
    return {k for k in keys if k}


def _score(row: dict[str, Any]) -> str | None:
    """The autograded total as Canvas should import it, or None when grading failed (left blank)."""
    from autograder.reports.pages import num as _num
    from autograder.results.rows import total

    return _num(total(row)) if row.get("status") == "graded" else None


def _from_submissions(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Without a roster: one line per student named in the submissions (group members each get one)."""
    lines = []
    for row in rows:
        names = [n.strip() for n in str(row.get("name") or "").split(";")]
        emails = [e.strip() for e in str(row.get("email") or "").split(";")]
        sids = [s.strip() for s in str(row.get("sid") or "").split(";")]
        for name, email, sid in itertools.zip_longest(names, emails, sids, fillvalue=""):
            lines.append({"Student": name or str(row.get("id", "")), "ID": "", "SIS User ID": sid,
                          "SIS Login ID": email or str(row.get("id", "")), "Section": "", "row": row})
    return lines


def canvas_csv(rows: list[dict[str, Any]], path: str | os.PathLike, column: str, points: float,
               roster: Roster | None = None) -> Reconciliation:
    """Write Canvas's gradebook-import CSV of the autograded totals; say what did not match."""
    from autograder.reports.pages import num as _num

    result = Reconciliation(problems=list(roster.problems) if roster else [])
    if roster is None:
        lines = _from_submissions(rows)
    else:
        by_key = {k: entry for entry in roster.entries for k in entry.keys}
        matched: dict[int, dict[str, Any]] = {}
        for row in rows:
            entries = {by_key[k].line: by_key[k] for k in _submission_keys(row) if k in by_key}
            if not entries:
                result.not_in_roster.append(" / ".join(filter(None, (str(row.get("name") or ""), str(row.get("id"))))))
            for line, entry in entries.items():
                if line in matched and matched[line] is not row:
                    result.problems.append(f"{entry.label} matches submissions {matched[line].get('id')} and "
                                           f"{row.get('id')}: the first one's score is used")
                    continue
                matched[line] = row
        lines = []
        for entry in roster.entries:
            if entry.line not in matched:
                result.no_submission.append(entry.label)
            lines.append({**entry.fields, "row": matched.get(entry.line)})
    path = Path(path)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*CANVAS_COLUMNS, column])
        writer.writerow([POINTS_ROW, "", "", "", "", _num(points)])
        for line in lines:
            row = line["row"]
            score = _score(row) if row is not None else None
            if row is not None and score is None:
                result.problems.append(f"{row.get('id')}: grading failed ({row.get('status')}); its score is left "
                                       "blank in canvas.csv (Canvas keeps what it has): see its feedback.html")
            result.exported += score is not None
            writer.writerow([line.get(c, "") for c in CANVAS_COLUMNS] + ["" if score is None else score])
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
