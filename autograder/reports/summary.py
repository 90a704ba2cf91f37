"""The instructor's summary page: counts, a histogram of totals, pass rates, failures by cause, students."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from html import escape
from urllib.parse import quote

import numpy as np

from autograder.reports.figures import histogram_png
from autograder.reports.pages import figure, num, page
from autograder.results.rows import STATUSES, Row
from autograder.run import isolation
from hw7core import parts

_VARYING = re.compile(r"0x[0-9a-fA-F]+|[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?")


def failure_cause(output: str) -> str:
    """A failing test's first output line with the numbers that vary (values, cell numbers) as #."""
    first = next((line.strip() for line in str(output).splitlines() if line.strip()), "(no message)")
    return _VARYING.sub("#", first)


def pass_rates(rows: list[Row]) -> list[tuple[str, str, int, int]]:
    """(number, name, passed, total) per test, over the submissions whose results hold that test."""
    names: dict[str, str] = {}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        for t in row.tests:
            number = t.number
            names.setdefault(number, t.name)
            counts[number][0] += t.passed
            counts[number][1] += 1
    order = sorted(counts, key=lambda n: [int(p) if p.isdigit() else p for p in n.split(".")])
    return [(n, names[n], counts[n][0], counts[n][1]) for n in order]


def failure_causes(rows: list[Row]) -> list[tuple[str, int, list[str]]]:
    """(cause, count, test numbers) for every failing test, most common first."""
    counts: Counter[str] = Counter()
    numbers: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        for t in row.tests:
            if not t.passed:
                cause = failure_cause(t.output)
                counts[cause] += 1
                numbers[cause].add(t.number)
    return [(c, k, sorted(numbers[c])) for c, k in counts.most_common()]


def unverified_samples(rows: list[Row]) -> list[tuple[str, str]]:
    """(id, why) of each submission whose 2.3 was scored on the child's own samples, not on samples the
    grader drew from the exported decoder, or whose graded code is flagged for review (results.json's
    extra_data["sample_source"], issue 21)."""
    found = []
    for row in rows:
        extra = row.data.get("extra_data")
        source = extra.get("sample_source") if isinstance(extra, dict) else None
        if isinstance(source, dict) and (source.get("verified") is False or source.get("review")):
            why = [str(source[k]) for k in ("why", "review") if source.get(k)]
            found.append((row.id, "; ".join(why)))
    return found


def summary_html(rows: list[Row], sections: list[str] | tuple[str, ...] = ()) -> str:
    """The instructor's page: counts, a histogram of totals, pass rates, failures by cause, students.

    ``sections`` (HTML, e.g. the leaderboard, the similarity and LMS notes) go before the students' table.
    """
    totals = [r.total for r in rows]
    statuses = Counter(r.status for r in rows)
    out = ["<h1>HW7 grading summary</h1>",
           f"<p><b>{len(rows)} submission(s)</b>: "
           + ", ".join(f"{statuses[s]} {escape(s)}" for s in STATUSES if statuses[s]) + "</p>"]
    if isolation_note := isolation.summary_note(rows):  # student code could reach the grader's account
        out.append(f'<p class="failed" id="isolation-warning"><b>{escape(isolation_note)}</b></p>')
    if totals:
        out.append(f"<p>Mean {float(np.mean(totals)):.1f}, median {float(np.median(totals)):.1f} "
                   f"of {num(parts.MAX_TOTAL)} (error rows count as 0).</p>")
        out.append(figure(lambda: histogram_png(totals, parts.MAX_TOTAL), "histogram of total scores"))
    out.append("<h2>Pass rate per test</h2><table><tr><th>Test</th><th>Name</th><th>Passed</th><th>%</th></tr>")
    for number, name, passed, n in pass_rates(rows):
        out.append(f'<tr><td>{escape(number)}</td><td>{escape(name)}</td><td class="num">{passed}/{n}</td>'
                   f'<td class="num">{100 * passed / n:.0f}%</td></tr>')
    out.append("</table>")
    out.append("<h2>Failures by cause</h2><table><tr><th>Count</th><th>Tests</th><th>First line (numbers as #)</th></tr>")
    for cause, count, numbers in failure_causes(rows):
        out.append(f'<tr><td class="num">{count}</td><td>{escape(", ".join(numbers))}</td>'
                   f"<td><pre>{escape(cause)}</pre></td></tr>")
    out.append("</table>")
    if unverified := unverified_samples(rows):
        out.append('<h2 id="unverified-samples">Part 2.3 to review</h2><p>For these submissions the grader '
                   "could not draw the samples from the re-trained decoder (their own generate's samples were "
                   "scored), or the graded code is suspiciously large: look at them before trusting the "
                   "points.</p>"
                   "<table><tr><th>Id</th><th>Why</th></tr>")
        out += [f"<tr><td>{escape(ident)}</td><td>{escape(why)}</td></tr>" for ident, why in unverified]
        out.append("</table>")
    out += sections
    out.append("<h2>Students</h2><table><tr><th>Id</th><th>Name</th><th>Total</th><th>Status</th></tr>")
    for row, score in sorted(zip(rows, totals), key=lambda rs: rs[0].id):
        ident = row.id
        link = f'<a href="{escape(quote(ident))}/feedback.html">{escape(ident)}</a>'
        out.append(f'<tr><td>{link}</td><td>{escape(row.name)}</td>'
                   f'<td class="num">{num(score)}</td><td>{escape(row.status)}</td></tr>')
    out.append("</table>")
    return page("HW7 grading summary", "\n".join(out))
