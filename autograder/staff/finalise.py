"""The batch's merge step: staff files applied to the autograder's results, in the grades folder.

- ``adjustments.csv`` (adjustments.py) is applied to every results.json before the rows are read;
- ``written_scores.csv`` (written_scores.py) is written once, then read back into each row's final grade;
- the late policy (late.py) from grading.yaml, the submission times and ``extensions.csv``.

What does not apply is returned as notes (the CLI prints them) and as a section of the summary page.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.reports.pages import num
from autograder.results import final, late, written_scores
from autograder.staff import adjustments

if TYPE_CHECKING:
    from autograder.results.rows import Row


def apply_adjustments(out: Path, ids: list[str]) -> list[str]:
    """Apply adjustments.csv to the results.json of ``ids``; the problems, one line each."""
    adjustments.write_blank(out / adjustments.FILE_NAME)
    ledger = adjustments.read(out / adjustments.FILE_NAME)
    return adjustments.apply_all(ledger, {i: out / i / "results.json" for i in ids})


def submission_times(jobs: list[Any]) -> tuple[dict[str, str], list[str]]:
    """Each job's time: Gradescope's metadata, else submission_times.csv of its folder."""
    times, problems, folders = {}, [], {}
    for job in jobs:
        if getattr(job, "submitted", ""):
            times[job.id] = job.submitted
            continue
        folder = Path(job.path).parent
        if folder not in folders:
            folders[folder], found = late.local_times(folder)
            problems += found
        if job.id in folders[folder]:
            times[job.id] = folders[folder][job.id]
    return times, problems


def finalise(rows: list[Row], jobs: list[Any], out: Path, course,
             adjustment_problems: list[str] | tuple[str, ...] = ()) -> tuple[list[str], str]:
    """Attach each row's final grade; returns (notes for the CLI, the summary page's section), with
    ``adjustment_problems`` (from ``apply_adjustments``) among them."""
    ids = [r.id for r in rows]
    names = {r.id: r.name for r in rows}
    sheet = out / written_scores.FILE_NAME
    created = written_scores.write_blank(sheet, [(i, names[i]) for i in ids])
    written = written_scores.read(sheet, set(ids))
    times, time_problems = submission_times(jobs)
    for row in rows:
        row.submitted = row.submitted or times.get(row.id, "")
    policy = late.policy(course, out)
    final.attach(rows, written, policy)
    notes = [f"{written_scores.FILE_NAME}: written (empty) for the TA; fill it on written.html or in an editor"
             ] if created else []
    problems = [*adjustment_problems, *written.problems, *time_problems, *policy.problems]
    if policy.due is not None:
        unknown = [i for i in ids if not times.get(i)]
        if unknown:
            problems.append(f"no submission time (no late penalty applied): {', '.join(unknown)}")
    notes += problems
    return notes, section_html(rows, problems)


def section_html(rows: list[Row], problems: list[str]) -> str:
    """The summary page's section: final grades, adjustments, lateness, and what did not apply."""
    done = sum(r.final.total is not None for r in rows if r.final is not None)
    out = ["<h2>Final grades (written scores, staff adjustments, late days)</h2>",
           f"<p>{done} of {len(rows)} submission(s) have a final grade out of {num(final.MAX_FINAL)} "
           f"(the others lack a written score in {written_scores.FILE_NAME}).</p>"]
    adjusted = [(r, a) for r in rows for a in (r.data.get("extra_data") or {}).get("adjustments") or []
                if isinstance(a, dict)]
    if adjusted:
        out.append(f"<h3>Staff adjustments: {len(adjusted)}</h3><table><tr><th>Submission</th><th>Target</th>"
                   "<th>Points</th><th>Reason</th><th>Who</th><th>When</th></tr>")
        out += [f"<tr><td>{escape(r.id)}</td><td>{escape(str(a.get('target')))}</td>"
                f"<td class=\"num\">{num(a.get('applied') or 0):s}</td><td>{escape(str(a.get('reason')))}</td>"
                f"<td>{escape(str(a.get('who')))}</td><td>{escape(str(a.get('when')))}</td></tr>" for r, a in adjusted]
        out.append("</table>")
    late_rows = [r for r in rows if r.final is not None and r.final.lateness and r.final.lateness.days_late]
    if late_rows:
        out.append(f"<h3>Late submissions: {len(late_rows)}</h3><ul>" + "".join(
            f"<li>{escape(r.id)}: {escape(r.final.lateness.describe())}</li>" for r in late_rows)
            + "</ul>")
    if problems:
        out.append(f"<h3>To fix (not applied, never guessed): {len(problems)}</h3><ul>"
                   + "".join(f"<li>{escape(p)}</li>" for p in problems) + "</ul>")
    return "\n".join(out)
