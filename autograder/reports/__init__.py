"""The student's feedback page and the gradebook CSV, from the rows of the graded submissions (rows.py).

No grading happens here: every number comes from results.json, read back into the results model.
Pages are self-contained: inline CSS, figures as base64 PNG data URIs, nothing fetched.
"""

from __future__ import annotations

import os
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

from autograder.reports.figures import render_curves_png, render_noise_png, render_samples_png
from autograder.reports.pages import MARKS, figure, num, page
from autograder.reports.summary import summary_html
from autograder.results import TestResult
from autograder.results.csvsafe import Writer
from autograder.results.extra_data import ExtraData
from autograder.results.rows import Row
from hw7core import limits, parts

MAX_TOTAL = parts.MAX_TOTAL


# ---------------------------------------------------------------------------------------------
# The student's feedback page
# ---------------------------------------------------------------------------------------------
def _shown(test: TestResult, include_after_published: bool) -> bool:
    visibility = test.visibility
    if visibility == "hidden":
        return False
    return include_after_published or visibility != "after_published"


def _quality_html(quality: dict[str, Any]) -> str:
    def fmt(key: str, spec: str = ".2g") -> str:
        value = quality.get(key)
        if not isinstance(value, (int, float)):
            return "not measurable"
        return format(int(value) if spec == "d" else value, spec)

    n = len(quality.get("sigma_eq") or []) or limits.N_SAMPLES
    rows = [
        ("Points", f"{fmt('points', 'g')} / {fmt('max_points', 'g')}"),
        ("Band", escape(str(quality.get("band", "")))),
        ("Smooth, airfoil-shaped samples", f"{fmt('n_smooth_valid', 'd')} of {n} ({fmt('n_valid', 'd')} pass the shape checks)"),
        ("Distinct airfoils", f"worth about {fmt('effective_count', '.1f')} distinct of {n} "
                              f"({limits.N_SAMPLES} real draws: {fmt('real_effective_count', '.1f')})"),
        ("Noise amplitude (median)", f"{fmt('sigma_med', '.1e')} (smooth up to {fmt('sigma_smooth', '.1e')}, "
                                     f"too rough from {fmt('sigma_too', '.1e')})"),
        ("Diversity", f"D = {fmt('D', '.2f')}, spread ratio rho = {fmt('rho', '.2f')}"),
    ]
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    blocks = [f"<table>{table}</table>"]  # the reason and hint are in test 2.3's message already
    if quality.get("sigma_eq"):
        blocks.append(figure(lambda: render_noise_png(quality), "noise amplitude of each sample"))
    return "\n".join(blocks)


def _final_html(row: Row) -> str:
    """The grade out of 105: autograded, written (with the TA's comments), late penalty, total."""
    from autograder.results.final import MAX_FINAL
    from autograder.results.written_scores import QUESTIONS

    final = row.final
    lines = [f'<tr><td>Autograded (staff adjustments included)</td><td class="num">{num(final.autograded)} / '
             f"{num(MAX_TOTAL)}</td><td></td></tr>"]
    for question, maximum in QUESTIONS.items():
        points = final.written.get(question)
        shown = "not graded yet" if points is None else f"{num(points)} / {num(maximum)}"
        lines.append(f'<tr><td>Written {question} (graded by hand)</td><td class="num">{shown}</td>'
                     f"<td>{escape(final.comments.get(question, ''))}</td></tr>")
    if final.lateness is not None:
        lines.append(f'<tr><td>Late policy</td><td class="num">-{num(final.penalty)}</td>'
                     f"<td>{escape(final.lateness.describe())}</td></tr>")
    shown = "not final yet (a written score is missing)" if final.total is None else (
        f"<b>{num(final.total)} / {num(MAX_FINAL)}</b>")
    lines.append(f'<tr><td><b>Grade</b></td><td class="num">{shown}</td><td></td></tr>')
    return ('<h2>Grade</h2><table id="grade"><tr><th>What</th><th>Points</th><th>Comment</th></tr>'
            + "".join(lines) + "</table>")


def _adjustments_html(results: dict[str, Any]) -> str:
    found = (results.get("extra_data") or {}).get("adjustments")
    if not isinstance(found, list) or not found:
        return ""
    body = "".join(f'<tr><td>{escape(str(a.get("target")))}</td><td class="num">{num(a.get("applied") or 0)}</td>'
                   f'<td>{escape(str(a.get("reason")))}</td><td>{escape(str(a.get("who")))}</td>'
                   f'<td>{escape(str(a.get("when")))}</td></tr>' for a in found if isinstance(a, dict))
    return ('<h2>Staff adjustments</h2><table id="adjustments"><tr><th>Test or part</th><th>Points</th>'
            f"<th>Reason</th><th>Who</th><th>When</th></tr>{body}</table>")


def feedback_html(row: Row, include_after_published: bool = True) -> str:
    """One self-contained HTML page for the student: scores, every shown test, notes and figures.

    Tests of Gradescope's ``hidden`` visibility are never listed (the parts table counts them; their
    points count in the part and total, as on Gradescope).  The kit's hidden tests are
    ``after_published`` ones: they are listed when ``include_after_published`` (the default, since the
    page is made after grading for the instructor to release).
    """
    name, ident, status, results = row.name, row.id, row.status, row.data
    title = f"HW7 feedback: {name or ident}"
    out = [f"<h1>{escape(title)}</h1>",
           f'<p class="muted">Submission {escape(ident)} &middot; <span class="badge">{escape(str(status))}</span></p>',
           f"<p><b>Total: {num(row.total)} / {num(MAX_TOTAL)}</b></p>"]
    if row.final is not None:
        out.append(_final_html(row))
    if status == "error":
        message = row.message or "This submission could not be graded; ask your instructor."
        out.append(f"<pre>{escape(str(message))}</pre>")
        return page(title, "\n".join(out))
    out.append(_adjustments_html(row.data))
    tests = row.tests
    hidden = Counter(t.part for t in tests if t.visibility == "hidden")
    out.append("<h2>Autograded parts</h2><table><tr><th>Part</th><th>What</th><th>Score</th></tr>")
    for part, score in row.part_scores.items():
        note = f' <span class="muted">(includes {hidden[part]} hidden test(s))</span>' if hidden[part] else ""
        shown = "not graded" if score is None else f"{num(score)} / {num(parts.POINTS[part])}"
        out.append(f'<tr><td>{part}</td><td>{escape(parts.NAMES[part])}</td><td class="num">{shown}{note}</td></tr>')
    out.append("</table>")
    if results.get("output"):
        out.append(f"<h2>Notes</h2><pre>{escape(str(results['output']))}</pre>")
    out.append("<h2>Tests</h2><table><tr><th>Test</th><th>Name</th><th>Score</th><th>Status</th><th>Message</th></tr>")
    for t in tests:
        if not _shown(t, include_after_published):
            continue
        state = "passed" if t.passed else "failed"
        out.append(f'<tr><td>{escape(t.number)}</td><td>{escape(t.name)}</td>'
                   f'<td class="num">{num(t.score)} / {num(t.max_score)}</td>'
                   f'<td class="{state}">{MARKS[state]} {state}</td><td><pre>{escape(t.output)}</pre></td></tr>')
    out.append("</table>")
    extra = ExtraData.from_dict(results.get("extra_data"))
    if extra.samples:
        out += ["<h2>Your model's 24 generated airfoils (re-trained by the grader)</h2>",
                figure(lambda: render_samples_png(extra.samples), "generated airfoils")]
    if extra.curves is not None:
        took = f" ({extra.train_seconds:g} s)" if extra.train_seconds is not None else ""
        out += [f"<h2>Learning curves of the re-training{took}</h2>",
                figure(lambda: render_curves_png(extra.curves), "learning curves")]
    if extra.quality is not None:
        out += ["<h2>Sample quality (part 2.3)</h2>", _quality_html(extra.quality.to_dict())]
    return page(title, "\n".join(out))


# ---------------------------------------------------------------------------------------------
# The gradebook
# ---------------------------------------------------------------------------------------------
GRADEBOOK_COLUMNS = ("id", "name", "email", *parts.NUMBERS, "total", "max_total", "status")
FINAL_COLUMNS = ("written 1.4", "written 1.5", "written", "submitted", "days late", "late penalty %",
                 "late penalty", "final", "max_final")


def _final_cells(row: Row) -> list[str]:
    """The gradebook's final-grade cells of a row (blank where not known: never guessed)."""
    from autograder.results.final import MAX_FINAL

    final = row.final
    if final is None:
        return [""] * len(FINAL_COLUMNS)
    blank = lambda v: "" if v is None else num(v)  # noqa: E731
    late = final.lateness
    return [blank(final.written.get("1.4")), blank(final.written.get("1.5")), blank(final.written_total),
            row.submitted, "" if late is None else str(late.days_late),
            "" if late is None else num(late.percent), "" if late is None else num(final.penalty),
            blank(final.total), num(MAX_FINAL)]


def gradebook_csv(rows: list[Row], path: str | os.PathLike) -> Path:
    """Write one line per submission to a UTF-8 CSV with a header row; returns the path.

    Columns:
      id, name, email   the submission's identifier (folder/zip stem or Gradescope id) and the student
      1.4, 2.1, 2.2, 2.3  the part's score: the sum of its tests' scores in results.json (empty when
                        the part has no test, e.g. an error row or an "autograder failed" one)
      total             the sum of every test's score in results.json (0 for an error row)
      max_total         the assignment's autograded maximum (80)
      status            "graded", "autograder failed" (grading broke; a 0-point test says why) or
                        "error" (no usable results.json)
      written 1.4, written 1.5, written   the TA's scores from written_scores.csv (blank: not yet)
      submitted, days late, late penalty %, late penalty   the late policy (blank: none or no time)
      final, max_final  the grade out of 105 (blank while a written score is missing)
    The autograded columns include staff adjustments (adjustments.csv).  Every text cell is defused
    against spreadsheet formulas (csvsafe.py).
    Numbers are plain (72.5, 80), so Gradescope and Canvas import them as numbers.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = Writer(handle)
        writer.writerow(GRADEBOOK_COLUMNS + FINAL_COLUMNS)
        for row in rows:
            scores = row.part_scores
            writer.writerow([row.id, row.name, row.email,
                             *("" if scores[p] is None else num(scores[p]) for p in parts.NUMBERS),
                             num(row.total), num(MAX_TOTAL), row.status, *_final_cells(row)])
    return path


def write_reports(rows: list[Row], out_dir: str | os.PathLike,
                  include_after_published: bool = True, sections: list[str] | tuple[str, ...] = ()) -> Path:
    """Write ``<id>/feedback.html`` per row, ``gradebook.csv`` and ``summary.html``; returns out_dir."""
    out_dir = Path(out_dir)
    for row in rows:
        ident = row.id
        if not ident or ident in (".", "..") or "/" in ident or "\\" in ident:
            raise ValueError(f"submission id {ident!r} cannot name a folder")
        page = out_dir / ident / "feedback.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(feedback_html(row, include_after_published), encoding="utf-8")
    gradebook_csv(rows, out_dir / "gradebook.csv")
    (out_dir / "summary.html").write_text(summary_html(rows, sections), encoding="utf-8")
    return out_dir
