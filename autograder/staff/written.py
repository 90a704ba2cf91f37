"""The TA's grading sheet for the written questions 1.4 and 1.5 (graded by hand): every student's
answers as written, the rubric beside them, and the KL hint of 1.4 (kl_hint.py), never a grade.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Mapping

from autograder.staff.kl_hint import EXPECTED_LATEX, MAX_ANSWER_CHARS, PLACEHOLDER, check_kl_answer

# --- the grading sheet --------------------------------------------------------------------------
RUBRIC: dict[str, tuple[str, list[tuple[int, str]]]] = {
    "q1_4": (
        "1.4 KL divergence of N(mu, sigma^2) from N(0, 1) (15 points, by hand)",
        [
            (10, "Derivation: writes the KL as an expectation under q of log q - log p, expands both "
                 "Gaussian log-densities, and evaluates each term with E[z] = mu, "
                 "E[z^2] = mu^2 + sigma^2 and linearity only. Take points off for each skipped or "
                 "wrong step, not for notation."),
            (5, "Final answer equal to 1/2 (mu^2 + sigma^2 - 1 - ln sigma^2), in any equivalent "
                "form (e.g. with -ln sigma instead of -1/2 ln sigma^2)."),
        ],
    ),
    "q1_5": (
        "1.5 Effect of beta on the generated samples (10 points, by hand)",
        [
            (5, "beta too large: the KL term wins, the posterior collapses towards the prior and the "
                "decoder learns to ignore z, so samples look alike and blurry, like an average "
                "airfoil: little diversity (reconstructions get worse too)."),
            (5, "beta too small: nearly a plain autoencoder; reconstructions are good but the codes "
                "do not fill N(0, I), so z drawn from the prior lands in gaps the decoder never saw "
                "and the samples come out noisy, wiggly or not airfoil-like."),
        ],
    ),
}

# What a student's rendered markdown may keep (nh3, the Ammonia sanitiser).  Nothing may imitate the
# sheet's own elements: no headings (the sheet's h1-h3 name students and questions; a student's heading
# keeps its text), no class or id (the hint box, the score fields), no style, no forms.
_ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "b", "i", "u", "s", "del", "sub", "sup", "code", "pre", "kbd",
    "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "span", "a",
}
_ALLOWED_ATTRS = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}

_MATHJAX_CONFIG = (
    "window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']]}, "
    "loader: {load: ['ui/safe']}};"
)
_MATHJAX_URL = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; padding: 0 1em; max-width: 72em; color: #222; }
section.student { border-top: 3px solid #444; padding-top: .5em; margin-top: 2em; }
.question { display: grid; grid-template-columns: 3fr 2fr; gap: 1.5em; margin: 1em 0; }
.answer { border: 1px solid #ccc; border-radius: 4px; padding: .5em 1em; background: #fcfcfc; }
.rubric { font-size: .92em; background: #f4f6fa; padding: .5em 1em; border-radius: 4px; }
.rubric li { margin-bottom: .4em; }
pre.raw { white-space: pre-wrap; word-break: break-word; background: #f6f6f6; padding: .5em;
          font-size: .85em; }
.hint { margin-top: .8em; padding: .4em .6em; border-left: 4px solid #999; background: #fff; }
.hint.equivalent { border-color: #2a7; } .hint.not-equivalent { border-color: #c33; }
.hint.could-not-parse, .hint.no-answer { border-color: #d90; }
.missing { color: #a00; font-style: italic; }
.score-box { display: inline-block; min-width: 4em; border-bottom: 1px solid #444; }
.grade { margin-top: .8em; padding: .5em; background: #eef5ee; border-radius: 4px; }
.grade input { width: 5em; } .grade input:invalid { outline: 2px solid #c33; }
.grade textarea { width: 100%; min-height: 3em; }
#save-bar { position: sticky; top: 0; background: #fff; padding: .4em 0; border-bottom: 1px solid #ccc; }
"""

# The sheet's Save button: written_scores.csv as written_scores.py reads it, downloaded from a Blob (no
# request, works offline).  Cells are defused against spreadsheet formulas as csvsafe.py does.
_SAVE_SCRIPT = r"""
(() => {
  const QUESTIONS = [["1.4", 15], ["1.5", 10]];
  const START = /^[=+\-@\t\r\n]/, NUMBER = /^-?\d+(\.\d+)?$/;
  const cell = (value) => {
    let text = String(value == null ? "" : value);
    if (START.test(text) && !NUMBER.test(text)) text = "'" + text;
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  };
  const csv = () => {
    const rows = [["id", "name"].concat(...QUESTIONS.map(([q]) => [q, q + " comment"])),
                  ["Points Possible", ""].concat(...QUESTIONS.map(([, m]) => [String(m), ""]))];
    for (const section of document.querySelectorAll("section.student[data-id]")) {
      const row = [section.dataset.id, section.dataset.name];
      for (const [q] of QUESTIONS) {
        row.push(section.querySelector(`input[data-q="${q}"]`).value.trim(),
                 section.querySelector(`textarea[data-q="${q}"]`).value);
      }
      rows.push(row);
    }
    return rows.map((row) => row.map(cell).join(",")).join("\r\n") + "\r\n";
  };
  document.getElementById("save").addEventListener("click", () => {
    const invalid = document.querySelectorAll(".grade input:invalid").length;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([csv()], {type: "text/csv;charset=utf-8"}));
    link.download = "written_scores.csv";
    document.body.appendChild(link);
    link.click();
    link.remove();
    document.getElementById("save-status").textContent = "Saved written_scores.csv" +
      (invalid ? ` (${invalid} score(s) out of range: make grade will list them)` : "") +
      ": put it in the grades folder, then run make grade again.";
  });
})();
"""


def _render_markdown(markdown: str) -> str:
    """Markdown -> HTML as Jupyter renders it (nbconvert's mistune), then an allow-list cleaner (nh3):
    student HTML such as <script>, onerror=, a class or a heading does not come out."""
    import nh3
    from nbconvert.filters import markdown2html

    try:
        rendered = markdown2html(markdown)
    except Exception:  # (an unrenderable answer is still shown raw below)
        rendered = "<pre>" + html.escape(markdown) + "</pre>"
    return nh3.clean(rendered, tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRS,
                     url_schemes={"http", "https", "mailto"})


def _score_fields_html(key: str, points: float | None, comment: str) -> str:
    """The TA's score and comment for one question (read by the Save button)."""
    question = key[1:].replace("_", ".")
    maximum = sum(p for p, _ in RUBRIC[key][1])
    value = "" if points is None else f"{points:g}"
    return (f'<div class="grade"><label>Points for {question} <input type="number" data-q="{question}" min="0" '
            f'max="{maximum}" step="0.5" value="{value}"> / {maximum}</label><br>'
            f'<label>Comment for the student <textarea data-q="{question}">{html.escape(comment)}</textarea>'
            "</label></div>")


def _question_html(key: str, markdown: str | None, given: float | None = None, comment: str = "") -> str:
    title, items = RUBRIC[key]
    out = [f'<div class="question"><div class="answer"><h3>{html.escape(title)}</h3>']
    if markdown is None or not markdown.replace(PLACEHOLDER, "").strip():
        out.append('<p class="missing">No answer (missing, empty or the placeholder).</p>')
    elif len(markdown) > MAX_ANSWER_CHARS:  # not rendered: the markdown renderer is not linear in the text
        out.append(f'<p class="missing">The answer is {len(markdown):,} characters long; its first '
                   f"{MAX_ANSWER_CHARS:,} are shown as written, not rendered.</p>"
                   f'<pre class="raw">{html.escape(markdown[:MAX_ANSWER_CHARS])}</pre>')
    else:
        out.append(_render_markdown(markdown))
        out.append("<details><summary>raw text as written</summary>"
                   f'<pre class="raw">{html.escape(markdown)}</pre></details>')
    out.append('</div><div class="rubric"><strong>Rubric</strong><ul>')
    for points, text in items:
        out.append(f"<li><strong>{points} pts</strong> {html.escape(text)} "
                   f'Score: <span class="score-box">&nbsp;</span> / {points}</li>')
    out.append("</ul>")
    out.append(_score_fields_html(key, given, comment))
    if key == "q1_4":
        check = check_kl_answer(markdown)
        found = "" if check.latex is None else (
            f'<br>final expression checked: <code>{html.escape(check.latex)}</code>'
            + ("" if check.expression is None else f" (read as <code>{html.escape(check.expression)}</code>)"))
        out.append(
            f'<div class="hint {check.verdict.replace(" ", "-")}"><strong>Automatic check '
            f"(hint, not a grade):</strong> {html.escape(check.verdict)}: {html.escape(check.note)}"
            f"{found}<br>expected: <code>{html.escape(EXPECTED_LATEX)}</code></div>"
        )
    out.append("</div></div>")
    return "".join(out)


def grading_sheet_html(entries: Iterable[Mapping[str, str | None]]) -> str:
    """One self-contained HTML page for the TA: per student, each written answer as rendered
    markdown (plus its raw text, readable without MathJax), the rubric beside it, and for 1.4 the
    KL check labelled as a hint, and the TA's score fields with a Save button that downloads
    written_scores.csv.  ``entries``: dicts with ``student`` (the label), ``id``, ``name``, ``q1_4`` and
    ``q1_5`` (the answers), and optionally ``points`` and ``comments`` (question -> value) to show."""
    entries = list(entries)
    config_hash = base64.b64encode(hashlib.sha256(_MATHJAX_CONFIG.encode()).digest()).decode()
    save_hash = base64.b64encode(hashlib.sha256(_SAVE_SCRIPT.encode()).digest()).decode()
    # Defence in depth behind the cleaner: only our config script and the MathJax CDN may run.
    csp = (f"default-src 'none'; style-src 'unsafe-inline' https://cdn.jsdelivr.net; "
           f"font-src https://cdn.jsdelivr.net data:; img-src data:; "
           f"script-src 'sha256-{config_hash}' 'sha256-{save_hash}' https://cdn.jsdelivr.net")
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        "<title>HW7 written answers: grading sheet</title>",
        f"<style>{_CSS}</style>",
        f"<script>{_MATHJAX_CONFIG}</script>",
        f'<script async src="{_MATHJAX_URL}"></script>',
        "</head><body><h1>HW7 written answers (1.4 and 1.5)</h1>",
        f"<p>{len(entries)} submissions. Math is typeset by MathJax when online; the raw LaTeX is "
        "under each answer. The automatic KL check only reads the last expression: it is a hint "
        "for the grader, never a grade.</p>",
        '<div id="save-bar"><button id="save" type="button">Save written_scores.csv</button> '
        '<span id="save-status">Type the points and comments, then save; put the file in the grades folder '
        "and run make grade again.</span></div>",
    ]
    for entry in entries:
        student = str(entry.get("student", "?"))
        ident = entry.get("id")
        data = "" if ident is None else (f' data-id="{html.escape(str(ident))}" '
                                         f'data-name="{html.escape(str(entry.get("name") or ""))}"')
        points, comments = entry.get("points") or {}, entry.get("comments") or {}
        parts.append(f'<section class="student"{data}><h2>{html.escape(student)}</h2>')
        for key in ("q1_4", "q1_5"):
            question = key[1:].replace("_", ".")
            parts.append(_question_html(key, entry.get(key), points.get(question), comments.get(question, "")))
        parts.append("</section>")
    parts.append(f"<script>{_SAVE_SCRIPT}</script>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


ANSWER_IDS = {"q1_4": "q1_4_answer", "q1_5": "q1_5_answer"}


def answers_from_notebook(notebook) -> dict[str, str | None]:
    """The student's answers to 1.4 and 1.5: the markdown cells with those nbgrader grade_ids."""
    found: dict[str, str | None] = dict.fromkeys(ANSWER_IDS)
    for cell in (notebook or {}).get("cells", []):
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        for key, grade_id in ANSWER_IDS.items():
            if isinstance(meta, dict) and meta.get("grade_id") == grade_id:
                source = cell.get("source", "")
                found[key] = "".join(source) if isinstance(source, list) else str(source)
    return found
