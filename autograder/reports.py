"""Views of graded results: a feedback page per student, a gradebook CSV, a summary page.

No grading happens here: every number comes from results.json (``Results.to_gradescope()``).
A *row* is one submission: ``{"id", "name", "email", "status", "results", "results_path"}`` where
``status`` is "graded", "autograder failed" or "error" and ``results`` is the results.json dict
(``None`` or ``{}`` for an error row, whose optional ``"message"`` says what went wrong).
Pages are self-contained: inline CSS, figures as base64 PNG data URIs, nothing fetched.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
from collections import Counter, defaultdict
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402 (after choosing a non-interactive backend)
import numpy as np  # noqa: E402

from autograder import (
    isolation,  # noqa: E402
    parts,  # noqa: E402
)

STATUSES = ("graded", "autograder failed", "error")
MAX_TOTAL = parts.MAX_TOTAL
DPI = 90
CURVE_NAMES = (("rec", "reconstruction"), ("prior", "prior (KL)"), ("total", "total"))
MARKS = {"passed": "&#10003;", "failed": "&#10007;"}  # a shape as well as a colour: readable without colour

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0} th,td{border:1px solid #ddd;padding:.3em .6em;
text-align:left;vertical-align:top} th{background:#f4f4f4} td.num{text-align:right;white-space:nowrap}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:.5em;margin:.2em 0;font-size:.9em}
.passed{color:#1a7f37} .failed{color:#c62828} td.passed,td.failed{white-space:nowrap} .muted{color:#666;font-size:.9em}
.badge{display:inline-block;padding:.1em .5em;border-radius:.6em;background:#eee;font-size:.85em}
img{max-width:100%}
"""


# ---------------------------------------------------------------------------------------------
# Small pieces
# ---------------------------------------------------------------------------------------------
def _num(value: float) -> str:
    """A score as people write it: 80, 72.5, 10.6."""
    value = round(float(value), 4)
    return str(int(value)) if value.is_integer() else repr(value)


def _part(number: str) -> str:
    return ".".join(str(number).split(".")[:2])


def _tests(row: dict[str, Any]) -> list[dict[str, Any]]:
    results = row.get("results") or {}
    tests = results.get("tests") if isinstance(results, dict) else None
    return [t for t in tests or [] if isinstance(t, dict)]


def _score(test: dict[str, Any], key: str = "score") -> float:
    try:
        return float(test.get(key) or 0.0)
    except (TypeError, ValueError):
        return 0.0


def _passed(test: dict[str, Any]) -> bool:
    return test.get("status") == "passed"


def total(row: dict[str, Any]) -> float:
    """The row's total: the sum of its tests' scores (0 for an error row)."""
    if row.get("status") == "error":
        return 0.0
    return round(sum(_score(t) for t in _tests(row)), 4)


def part_scores(row: dict[str, Any]) -> dict[str, float | None]:
    """Each part's score, summed over its tests; None for a part with no test (not graded)."""
    scores: dict[str, float | None] = dict.fromkeys(parts.NUMBERS)
    if row.get("status") == "error":
        return scores
    for t in _tests(row):
        part = _part(t.get("number", ""))
        if part in scores:
            scores[part] = round((scores[part] or 0.0) + _score(t), 4)
    return scores


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _figure(draw, alt: str) -> str:
    """An embedded figure, or a note saying why it could not be drawn (a page never fails on one)."""
    try:
        return f"<p>{_img(draw(), alt)}</p>"
    except Exception as exc:  # a malformed extra_data must not cost the student their page
        plt.close("all")
        return f'<p class="muted">The figure could not be drawn ({escape(type(exc).__name__)}: {escape(str(exc))}).</p>'


def _png(fig, path: str | os.PathLike | None = None) -> bytes:
    try:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    data = buffer.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _airfoil_x(data_path: str) -> np.ndarray:
    with np.load(data_path, allow_pickle=False) as data:
        return data["x"].astype(float)


def render_samples_png(samples: Any, path: str | os.PathLike | None = None) -> bytes:
    """The generated airfoils (n, 200) on the dataset's x, 4 columns, as PNG bytes (also saved to path)."""
    from HW7_utils import default_data_path, plot_airfoils

    fig = plot_airfoils(_airfoil_x(str(default_data_path())), np.asarray(samples, dtype=float), ncols=4)
    return _png(fig, path)


def render_curves_png(curves: dict[str, Any]) -> bytes:
    """The re-training's learning curves (rec, prior, total), x = index * every; log y past one decade."""
    every = max(1, int(curves.get("every") or 1))
    n = curves.get("n")
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, (key, name) in zip(axes, CURVE_NAMES):
        values = np.asarray([np.nan if v is None else v for v in curves.get(key) or []], dtype=float)
        ax.plot(np.arange(len(values)) * every, values, lw=1)
        finite = values[np.isfinite(values)]
        if finite.size and finite.min() > 0 and finite.max() / finite.min() > 10:
            ax.set_yscale("log")
        ax.set_title(f"{name}: {finite[-1]:.3g}" if finite.size else name)
        ax.set_xlabel("iteration")
        if isinstance(n, (int, float)) and n > 0:
            ax.set_xlim(0, n)
        ax.grid(alpha=0.3)
    return _png(fig)


def render_noise_png(quality: dict[str, Any]) -> bytes:
    """Each sample's equivalent noise amplitude (log scale) against the smooth and too-rough limits."""
    sigma = np.asarray([np.nan if v is None else v for v in quality.get("sigma_eq") or []], dtype=float)
    fig, ax = plt.subplots(figsize=(8, 2.6))
    ok = np.isfinite(sigma) & (sigma > 0)
    ax.plot(np.arange(len(sigma))[ok], sigma[ok], "o", color="tab:blue", ms=5)
    for key, label, color in (("sigma_smooth", "smooth", "tab:green"), ("sigma_too", "too rough", "tab:red")):
        if isinstance(quality.get(key), (int, float)) and quality[key] > 0:
            ax.axhline(quality[key], color=color, ls="--", lw=1, label=f"{label} ({quality[key]:.1e})")
    ax.set_yscale("log")
    ax.set_xlabel("sample (invalid shapes have no point)")
    ax.set_ylabel("noise amplitude")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper right")
    return _png(fig)


# ---------------------------------------------------------------------------------------------
# The student's feedback page
# ---------------------------------------------------------------------------------------------
def _shown(test: dict[str, Any], include_after_published: bool) -> bool:
    visibility = test.get("visibility", "visible")
    if visibility == "hidden":
        return False
    return include_after_published or visibility != "after_published"


def _quality_html(quality: dict[str, Any]) -> str:
    def fmt(key: str, spec: str = ".2g") -> str:
        value = quality.get(key)
        if not isinstance(value, (int, float)):
            return "not measurable"
        return format(int(value) if spec == "d" else value, spec)

    n = len(quality.get("sigma_eq") or []) or 24
    rows = [
        ("Points", f"{fmt('points', 'g')} / {fmt('max_points', 'g')}"),
        ("Band", escape(str(quality.get("band", "")))),
        ("Smooth, airfoil-shaped samples", f"{fmt('n_smooth_valid', 'd')} of {n} ({fmt('n_valid', 'd')} pass the shape checks)"),
        ("Distinct airfoils", f"worth about {fmt('effective_count', '.1f')} distinct of {n} "
                              f"(24 real draws: {fmt('real_effective_count', '.1f')})"),
        ("Noise amplitude (median)", f"{fmt('sigma_med', '.1e')} (smooth up to {fmt('sigma_smooth', '.1e')}, "
                                     f"too rough from {fmt('sigma_too', '.1e')})"),
        ("Diversity", f"D = {fmt('D', '.2f')}, spread ratio rho = {fmt('rho', '.2f')}"),
    ]
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    blocks = [f"<table>{table}</table>"]  # the reason and hint are in test 2.3's message already
    if quality.get("sigma_eq"):
        blocks.append(_figure(lambda: render_noise_png(quality), "noise amplitude of each sample"))
    return "\n".join(blocks)


def feedback_html(row: dict[str, Any], include_after_published: bool = True) -> str:
    """One self-contained HTML page for the student: scores, every shown test, notes and figures.

    Hidden tests never appear (their points still count in the part and total, as on Gradescope);
    ``after_published`` tests appear only when ``include_after_published`` (the default, since the
    page is made after grading for the instructor to release).
    """
    name, ident = str(row.get("name") or ""), str(row.get("id") or "")
    status = row.get("status", "graded")
    results = row.get("results") or {}
    title = f"HW7 feedback: {name or ident}"
    out = [f"<h1>{escape(title)}</h1>",
           f'<p class="muted">Submission {escape(ident)} &middot; <span class="badge">{escape(str(status))}</span></p>',
           f"<p><b>Total: {_num(total(row))} / {_num(MAX_TOTAL)}</b></p>"]
    if status == "error":
        message = row.get("message") or "This submission could not be graded; ask your instructor."
        out.append(f"<pre>{escape(str(message))}</pre>")
        return page(title, "\n".join(out))
    tests = _tests(row)
    hidden = Counter(_part(t.get("number", "")) for t in tests if t.get("visibility") == "hidden")
    out.append("<h2>Parts</h2><table><tr><th>Part</th><th>What</th><th>Score</th></tr>")
    for part, score in part_scores(row).items():
        note = f' <span class="muted">(includes {hidden[part]} hidden test(s))</span>' if hidden[part] else ""
        shown = "not graded" if score is None else f"{_num(score)} / {_num(parts.POINTS[part])}"
        out.append(f'<tr><td>{part}</td><td>{escape(parts.NAMES[part])}</td><td class="num">{shown}{note}</td></tr>')
    out.append("</table>")
    if results.get("output"):
        out.append(f"<h2>Notes</h2><pre>{escape(str(results['output']))}</pre>")
    out.append("<h2>Tests</h2><table><tr><th>Test</th><th>Name</th><th>Score</th><th>Status</th><th>Message</th></tr>")
    for t in tests:
        if not _shown(t, include_after_published):
            continue
        state = "passed" if _passed(t) else "failed"
        out.append(f'<tr><td>{escape(str(t.get("number", "")))}</td><td>{escape(str(t.get("name", "")))}</td>'
                   f'<td class="num">{_num(_score(t))} / {_num(_score(t, "max_score"))}</td>'
                   f'<td class="{state}">{MARKS[state]} {state}</td><td><pre>{escape(str(t.get("output", "")))}</pre></td></tr>')
    out.append("</table>")
    extra = results.get("extra_data") or {}
    if extra.get("samples"):
        out += ["<h2>Your model's 24 generated airfoils (re-trained by the grader)</h2>",
                _figure(lambda: render_samples_png(extra["samples"]), "generated airfoils")]
    if isinstance(extra.get("curves"), dict):
        seconds = extra.get("train_seconds")
        took = f" ({seconds:g} s)" if isinstance(seconds, (int, float)) else ""
        out += [f"<h2>Learning curves of the re-training{took}</h2>",
                _figure(lambda: render_curves_png(extra["curves"]), "learning curves")]
    if isinstance(extra.get("quality"), dict):
        out += ["<h2>Sample quality (part 2.3)</h2>", _quality_html(extra["quality"])]
    return page(title, "\n".join(out))


# ---------------------------------------------------------------------------------------------
# The gradebook
# ---------------------------------------------------------------------------------------------
GRADEBOOK_COLUMNS = ("id", "name", "email", *parts.NUMBERS, "total", "max_total", "status")


def gradebook_csv(rows: list[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write one line per submission to a UTF-8 CSV with a header row; returns the path.

    Columns:
      id, name, email   the submission's identifier (folder/zip stem or Gradescope id) and the student
      1.4, 2.1, 2.2, 2.3  the part's score: the sum of its tests' scores in results.json (empty when
                        the part has no test, e.g. an error row or an "autograder failed" one)
      total             the sum of every test's score in results.json (0 for an error row)
      max_total         the assignment's autograded maximum (80)
      status            "graded", "autograder failed" (grading broke; a 0-point test says why) or
                        "error" (no usable results.json)
    Numbers are plain (72.5, 80), so Gradescope and Canvas import them as numbers.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(GRADEBOOK_COLUMNS)
        for row in rows:
            scores = part_scores(row)
            writer.writerow([row.get("id", ""), row.get("name", ""), row.get("email", ""),
                             *("" if scores[p] is None else _num(scores[p]) for p in parts.NUMBERS),
                             _num(total(row)), _num(MAX_TOTAL), row.get("status", "")])
    return path


# ---------------------------------------------------------------------------------------------
# The instructor's summary
# ---------------------------------------------------------------------------------------------
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
        for t in _tests(row):
            number = str(t.get("number", ""))
            names.setdefault(number, str(t.get("name", "")))
            counts[number][0] += _passed(t)
            counts[number][1] += 1
    order = sorted(counts, key=lambda n: [int(p) if p.isdigit() else p for p in n.split(".")])
    return [(n, names[n], counts[n][0], counts[n][1]) for n in order]


def failure_causes(rows: list[dict[str, Any]]) -> list[tuple[str, int, list[str]]]:
    """(cause, count, test numbers) for every failing test, most common first."""
    counts: Counter[str] = Counter()
    numbers: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        for t in _tests(row):
            if not _passed(t):
                cause = failure_cause(t.get("output", ""))
                counts[cause] += 1
                numbers[cause].add(str(t.get("number", "")))
    return [(c, k, sorted(numbers[c])) for c, k in counts.most_common()]


def _histogram_png(totals: list[float]) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 2.8))
    ax.hist(totals, bins=np.arange(0, MAX_TOTAL + 5, 5), color="tab:blue", edgecolor="white")
    ax.set_xlabel(f"total score (of {_num(MAX_TOTAL)})")
    ax.set_ylabel("submissions")
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # counts, never 0.5
    ax.set_xlim(0, MAX_TOTAL + 5)
    return _png(fig)


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
                   f"of {_num(MAX_TOTAL)} (error rows count as 0).</p>")
        out.append(_figure(lambda: _histogram_png(totals), "histogram of total scores"))
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
                   f'<td class="num">{_num(score)}</td><td>{escape(str(row.get("status", "")))}</td></tr>')
    out.append("</table>")
    return page("HW7 grading summary", "\n".join(out))


# ---------------------------------------------------------------------------------------------
# Rows from files, and writing everything
# ---------------------------------------------------------------------------------------------
def load_row(results_path: str | os.PathLike, ident: str, name: str = "", email: str = "") -> dict[str, Any]:
    """A row from a results.json on disk: "error" when it is missing or unreadable."""
    row = {"id": str(ident), "name": name, "email": email, "results_path": str(results_path)}
    try:
        results = json.loads(Path(results_path).read_text(encoding="utf-8"))
        if not isinstance(results, dict) or not isinstance(results.get("tests"), list):
            raise ValueError("it is not a results.json (no list of tests)")
    except (OSError, ValueError) as exc:
        return {**row, "status": "error", "results": {}, "message": f"No usable results.json: {exc}"}
    failed = any(t.get("name") == "Autograder failed" for t in results["tests"] if isinstance(t, dict))
    return {**row, "status": "autograder failed" if failed else "graded", "results": results}


def write_reports(rows: list[dict[str, Any]], out_dir: str | os.PathLike,
                  include_after_published: bool = True, sections: list[str] | tuple[str, ...] = ()) -> Path:
    """Write ``<id>/feedback.html`` per row, ``gradebook.csv`` and ``summary.html``; returns out_dir."""
    out_dir = Path(out_dir)
    for row in rows:
        ident = str(row.get("id", ""))
        if not ident or ident in (".", "..") or "/" in ident or "\\" in ident:
            raise ValueError(f"submission id {ident!r} cannot name a folder")
        page = out_dir / ident / "feedback.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(feedback_html(row, include_after_published), encoding="utf-8")
    gradebook_csv(rows, out_dir / "gradebook.csv")
    (out_dir / "summary.html").write_text(summary_html(rows, sections), encoding="utf-8")
    return out_dir
