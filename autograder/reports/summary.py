"""The instructor's summary page: counts, a histogram of totals, pass rates, failures by cause, students."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from html import escape
from typing import Any
from urllib.parse import quote

import numpy as np

from autograder.reports.figures import histogram_png
from autograder.reports.pages import figure, num, page
from autograder.results.rows import STATUSES, tests_of, total
from autograder.run import isolation
from hw7core import parts

_VARYING = re.compile(r"0x[0-9a-fA-F]+|[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?")


def failure_cause(output: str) -> str:
    """A failing test's first output line with the numbers that vary (values, cell numbers) as #."""
    first = next((line.strip() for line in str(output).splitlines() if line.strip()), "(no message)")
    return _VARYING.sub("#", first)


def pass_rates(rows: list[dict[str, Any]]) -> list[tuple[str, str, int, int]]:
    """(number, name, passed, total) per test, over the submissions whose results hold that test."""
    names: dict[str, str] = {}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        for t in tests_of(row):
            number = t.number
            names.setdefault(number, t.name)
            counts[number][0] += t.passed
            counts[number][1] += 1
    order = sorted(counts, key=lambda n: [int(p) if p.isdigit() else p for p in n.split(".")])
    return [(n, names[n], counts[n][0], counts[n][1]) for n in order]


def failure_causes(rows: list[dict[str, Any]]) -> list[tuple[str, int, list[str]]]:
    """(cause, count, test numbers) for every failing test, most common first."""
    counts: Counter[str] = Counter()
    numbers: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        for t in tests_of(row):
            if not t.passed:
                cause = failure_cause(t.output)
                counts[cause] += 1
                numbers[cause].add(t.number)
    return [(c, k, sorted(numbers[c])) for c, k in counts.most_common()]


def summary_html(rows: list[dict[str, Any]], sections: list[str] | tuple[str, ...] = ()) -> str:
    """The instructor's page: counts, a histogram of totals, pass rates, failures by cause, students.

    ``sections`` (HTML, e.g. the leaderboard, the similarity and LMS notes) go before the students' table.
    """
    totals = [total(r) for r in rows]
    statuses = Counter(str(r.get("status", "")) for r in rows)
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
    out += sections
    out.append("<h2>Students</h2><table><tr><th>Id</th><th>Name</th><th>Total</th><th>Status</th></tr>")
    for row, score in sorted(zip(rows, totals), key=lambda rs: str(rs[0].get("id", ""))):
        ident = str(row.get("id", ""))
        link = f'<a href="{escape(quote(ident))}/feedback.html">{escape(ident)}</a>'
        out.append(f'<tr><td>{link}</td><td>{escape(str(row.get("name", "")))}</td>'
                   f'<td class="num">{num(score)}</td><td>{escape(str(row.get("status", "")))}</td></tr>')
    out.append("</table>")
    return page("HW7 grading summary", "\n".join(out))
