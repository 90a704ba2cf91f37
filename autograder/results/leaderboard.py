"""The sample-quality leaderboard: part 2.3's figures in Gradescope's format, and the local board.

Gradescope reads a top-level ``leaderboard`` list from results.json, one ``{"name", "value", "order"}``
per column (``order`` "desc", the default, ranks high values first; "asc" ranks low values first).
The same three figures make the board on the local summary page, so both show one ranking.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from autograder.results.extra_data import ExtraData
from autograder.results.rows import Row
from hw7core import limits, parts
from hw7core.quality_report import QualityReport

POINTS, DISTINCT, NOISE = "2.3 points", f"Distinct airfoils (of {limits.N_SAMPLES})", "Noise amplitude"


def _finite(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def entries(quality: QualityReport | None) -> list[dict[str, Any]]:
    """Gradescope's leaderboard entries from part 2.3's quality report (a model that was not scored: 0).

    The noise amplitude is left out when it could not be measured (no valid sample): Gradescope then
    leaves that cell empty rather than ranking a made-up number.
    """
    board = [
        {"name": POINTS, "value": round(_finite(quality and quality.points) or 0.0, 2), "order": "desc"},
        {"name": DISTINCT, "value": round(_finite(quality and quality.effective_count) or 0.0, 1), "order": "desc"},
    ]
    noise = _finite(quality and quality.sigma_med)
    if noise is not None:
        board.append({"name": NOISE, "value": float(f"{noise:.3g}"), "order": "asc"})
    return board


def _figures(results: dict[str, Any]) -> dict[str, float | None]:
    """The board's figures of one results.json: its own leaderboard, else its sample-quality data."""
    board = results.get("leaderboard")
    if not isinstance(board, list):
        board = entries(ExtraData.from_dict(results.get("extra_data")).quality)
    figures: dict[str, float | None] = {POINTS: None, DISTINCT: None, NOISE: None}
    for entry in board:
        if isinstance(entry, dict) and entry.get("name") in figures:
            figures[entry["name"]] = _finite(entry.get("value"))
    return figures


def ranking(rows: list[Row], show_names: bool) -> list[dict[str, Any]]:
    """Graded rows ranked as Gradescope does: points, then distinct airfoils, then least noise.

    Each item: ``{"rank", "who", "points", "distinct", "noise"}``; ``who`` is the submission id unless
    the instructor allows names (``leaderboard_names: true``).  Ties share a rank.
    """
    items = []
    for row in rows:
        if row.status != "graded":
            continue
        figures = _figures(row.data)
        who = (row.name or row.id) if show_names else row.id
        items.append({"who": who, "points": figures[POINTS] or 0.0, "distinct": figures[DISTINCT] or 0.0,
                      "noise": figures[NOISE]})

    def key(item: dict[str, Any]) -> tuple[float, float, float]:
        return -item["points"], -item["distinct"], math.inf if item["noise"] is None else item["noise"]

    items.sort(key=lambda item: (*key(item), item["who"]))
    previous, rank = None, 0
    for position, item in enumerate(items, start=1):
        if key(item) != previous:
            rank, previous = position, key(item)
        item["rank"] = rank
    return items


def board_html(rows: list[Row], show_names: bool) -> str:
    """The summary page's section: the same figures and order as Gradescope's leaderboard."""
    items = ranking(rows, show_names)
    who = "Student" if show_names else "Submission"
    out = ["<h2>Sample-quality leaderboard (part 2.3)</h2>",
           '<p class="muted">Ranked by points, then distinct airfoils, then the lowest noise amplitude. '
           + ("Names are shown (leaderboard_names: true in grading.yaml)." if show_names else
              "Submission ids only; set leaderboard_names: true in grading.yaml to show names.") + "</p>"]
    if not items:
        return "\n".join(out + ["<p>No graded submission yet.</p>"])
    out.append(f"<table><tr><th>Rank</th><th>{who}</th><th>{escape(POINTS)}</th><th>{escape(DISTINCT)}</th>"
               f"<th>{escape(NOISE)} (lower is smoother)</th></tr>")
    for item in items:
        noise = "not measurable" if item["noise"] is None else f"{item['noise']:.1e}"
        out.append(f'<tr><td class="num">{item["rank"]}</td><td>{escape(item["who"])}</td>'
                   f'<td class="num">{item["points"]:g} / {parts.POINTS[parts.RETRAINED]:g}</td><td class="num">{item["distinct"]:.1f}</td>'
                   f'<td class="num">{noise}</td></tr>')
    out.append("</table>")
    return "\n".join(out)
