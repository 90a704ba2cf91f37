"""``make audit``: how far does the 2.3 score (sample quality, 15 points) agree with the course's TAs?

1. ``draw``: a seeded sample of the graded submissions, stratified over their 2.3 scores (bands of
   three points, taken in turn so that rare bands are seen too); the same seed draws the same sample.
2. ``audit/audit.html`` shows each sampled submission's 24 generated airfoils (results.json's
   ``extra_data.samples``, the re-training's own draws, as the feedback page shows them) without the
   autograder's score; ``audit/audit_scores.csv`` is the TA's sheet (written once, never overwritten).
3. Once the sheet is filled, ``agreement``: exact and within-one-point rates, the mean absolute
   difference, Cohen's kappa with quadratic weights on whole points 0-15 (scikit-learn) with a
   bootstrap confidence interval (scipy), and the disagreements side by side on
   ``audit/audit_report.html``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autograder.reports.pages import figure, num, page
from autograder.results import staff_csv
from autograder.results.csvsafe import Writer
from hw7core import parts

if TYPE_CHECKING:
    from autograder.results.rows import Row

PART = parts.RETRAINED
MAX_POINTS = parts.POINTS[PART]
BAND_WIDTH = 3.0  # strata: [0, 3), [3, 6), ... [12, 15]
FOLDER, SHEET, PAGE, REPORT = "audit", "audit_scores.csv", "audit.html", "audit_report.html"
LABELS = list(range(int(MAX_POINTS) + 1))  # kappa's categories: whole points


@dataclass(frozen=True)
class Case:
    id: str
    auto: float  # the autograder's 2.3 score
    samples: Any  # (24, 200) generated airfoils


def cases(rows: list[Row]) -> list[Case]:
    """The graded rows with a 2.3 score and their 24 airfoils in results.json."""
    found = []
    for row in rows:
        samples = (row.data.get("extra_data") or {}).get("samples")
        score = row.part_scores.get(PART)
        if row.status == "graded" and score is not None and samples:
            found.append(Case(row.id, float(score), samples))
    return sorted(found, key=lambda c: c.id)


def stratum(score: float) -> int:
    return min(int(score // BAND_WIDTH), int(MAX_POINTS // BAND_WIDTH) - 1)


def draw(pool: list[Case], size: int, seed: int) -> list[Case]:
    """``size`` cases, one band after another in turn (each band shuffled by ``seed``)."""
    rng = np.random.default_rng(seed)
    bands: dict[int, list[Case]] = {}
    for case in sorted(pool, key=lambda c: c.id):
        bands.setdefault(stratum(case.auto), []).append(case)
    queues = [[band[i] for i in rng.permutation(len(band))] for _, band in sorted(bands.items())]
    chosen: list[Case] = []
    while len(chosen) < min(size, len(pool)):
        for queue in queues:
            if queue and len(chosen) < size:
                chosen.append(queue.pop(0))
    return chosen


def whole(points: float) -> int:
    """A score as a kappa category: whole points, halves rounded up."""
    return int(math.floor(points + 0.5))


def kappa(auto: Any, ta: Any) -> float:
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score([whole(a) for a in auto], [whole(t) for t in ta], labels=LABELS,
                                   weights="quadratic"))


@dataclass
class Agreement:
    n: int
    exact: float  # share of equal scores (whole points)
    within_one: float  # share within one point
    mean_abs_diff: float
    kappa: float
    kappa_ci: tuple[float, float]  # 95 %, bootstrap percentile

    def lines(self) -> list[str]:
        low, high = self.kappa_ci
        interval = "not defined: too few or too alike scores" if math.isnan(low) or math.isnan(high) else (
            f"{low:.3f} to {high:.3f}")
        return [f"audit: {self.n} submission(s) scored by a TA",
                f"  exact agreement {self.exact:.0%}, within one point {self.within_one:.0%}, "
                f"mean absolute difference {self.mean_abs_diff:.2f} points",
                f"  quadratic-weighted kappa {self.kappa:.3f} (95% bootstrap interval {interval})"]


def agreement(auto: list[float], ta: list[float], seed: int = 0, resamples: int = 2000) -> Agreement:
    """The agreement statistics of paired scores (at least two pairs)."""
    from scipy.stats import bootstrap

    a, t = np.asarray(auto, float), np.asarray(ta, float)
    diff = np.abs(np.array([whole(x) for x in a]) - np.array([whole(x) for x in t]))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # a resample that holds one score only has no kappa (nan): the interval then says "not defined"
        warnings.simplefilter("ignore")
        ci = bootstrap((a, t), kappa, paired=True, vectorized=False, n_resamples=resamples, method="percentile",
                       random_state=np.random.default_rng(seed)).confidence_interval
    return Agreement(len(a), float(np.mean(diff == 0)), float(np.mean(diff <= 1)), float(np.mean(np.abs(a - t))),
                     kappa(a, t), (float(ci.low), float(ci.high)))


def _airfoils(case: Case, label: str) -> str:
    from autograder.reports.figures import render_samples_png

    return figure(lambda: render_samples_png(case.samples), f"the 24 generated airfoils of {label}")


def write_sheet(path: Path, chosen: list[Case]) -> bool:
    if path.exists():
        return False
    with open(path, "x", encoding="utf-8", newline="") as handle:
        writer = Writer(handle)
        writer.writerow(["sample", "id", "ta_points", "comment"])
        writer.writerow([staff_csv.POINTS_POSSIBLE, "", num(MAX_POINTS), ""])
        writer.writerows([i, case.id, "", ""] for i, case in enumerate(chosen, start=1))
    return True


def audit_page(chosen: list[Case], seed: int) -> str:
    body = [f"<h1>HW7 audit of part {PART}: score the samples yourself</h1>",
            f"<p>{len(chosen)} submission(s), drawn with seed {seed}, stratified over the autograder's {PART} "
            f"scores (not shown). Score each set of 24 airfoils from 0 to {num(MAX_POINTS)} by the rubric "
            f"(QUALITY.md) on its sample's line of <code>{SHEET}</code>, then run <code>make audit</code> again.</p>"]
    for i, case in enumerate(chosen, start=1):
        # blind: the sample's number only (its id, in the sheet, may say what the submission is)
        body.append(f"<h2>Sample {i}</h2>{_airfoils(case, f'sample {i}')}")
    return page(f"HW7 audit of part {PART}", "\n".join(body))


def read_sheet(path: Path, chosen: list[Case]) -> tuple[dict[str, float], list[str]]:
    """The TA's points by id; bad lines (unknown id, repeats, out of range) are listed and skipped."""
    table = staff_csv.read_table(path, ("id", "ta_points"))
    points = {}
    for ident, line in staff_csv.unique_ids(table, "id", {c.id for c in chosen}):
        ok, value = staff_csv.number(table, line, "ta_points", 0.0, MAX_POINTS)
        if ok and value is not None:
            points[ident] = value
    return points, table.problems


def report_page(result: Agreement, pairs: list[tuple[Case, float]]) -> str:
    body = ["<h1>HW7 audit of part 2.3: the autograder against a TA</h1>",
            "<pre>" + escape("\n".join(result.lines())) + "</pre>",
            "<h2>Disagreements (whole points differ), largest first</h2>"]
    differ = sorted((p for p in pairs if whole(p[0].auto) != whole(p[1])), key=lambda p: -abs(p[0].auto - p[1]))
    if not differ:
        body.append("<p>None.</p>")
    body.append("<table><tr><th>Submission</th><th>Autograder</th><th>TA</th><th>Airfoils</th></tr>")
    body += [f'<tr><td>{escape(c.id)}</td><td class="num">{num(c.auto)}</td><td class="num">{num(ta)}</td>'
             f"<td>{_airfoils(c, c.id)}</td></tr>" for c, ta in differ]
    body.append("</table>")
    return page("HW7 audit of part 2.3", "\n".join(body))


def run(out: Path, size: int = 12, seed: int = 0) -> list[str]:
    """``make audit``: draw, write the page and the sheet; once filled, the agreement. Returns the notes."""
    from autograder.results.rows import load_row

    rows = [load_row(p, p.parent.name) for p in sorted(Path(out).glob("*/results.json"))]
    pool = cases(rows)
    chosen = draw(pool, size, seed)
    folder = Path(out) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PAGE).write_text(audit_page(chosen, seed), encoding="utf-8")
    notes = [f"audit: {len(chosen)} of {len(pool)} submission(s) with 24 airfoils drawn (seed {seed}): "
             f"{folder / PAGE}"]
    if write_sheet(folder / SHEET, chosen):
        return notes + [f"audit: fill {folder / SHEET} (ta_points, 0 to {num(MAX_POINTS)}), then run make audit again"]
    points, problems = read_sheet(folder / SHEET, chosen)
    notes += problems
    pairs = [(c, points[c.id]) for c in chosen if c.id in points]
    if len(pairs) < 2:
        return notes + [f"audit: {len(pairs)} scored line(s) in {folder / SHEET}; at least two are needed"]
    result = agreement([c.auto for c, _ in pairs], [t for _, t in pairs], seed)
    (folder / REPORT).write_text(report_page(result, pairs), encoding="utf-8")
    return notes + result.lines() + [f"audit: disagreements side by side in {folder / REPORT}"]
