"""The written answers (questions 1.4 and 1.5): a KL-derivation hint and the TA's grading sheet.

Both questions are graded by hand.  ``check_kl_answer`` reads the last expression of a student's
1.4 derivation and says whether it is symbolically equal to 1/2 (mu^2 + sigma^2 - 1 - ln sigma^2).
That verdict is a HINT for the TA, never a grade: the derivation carries 10 of the 15 points, a
right answer can sit on a wrong derivation, and a LaTeX slip can hide a right one.
``grading_sheet_html`` lays every student's answers out beside the rubric for the TA to grade.
"""

from __future__ import annotations

import base64
import hashlib
import html
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["KLCheck", "final_expression", "check_kl_answer", "grading_sheet_html", "RUBRIC"]

PLACEHOLDER = "YOUR ANSWER HERE"  # nbgrader's stub for a markdown answer cell
EXPECTED_LATEX = r"\frac{1}{2}\left(\mu^2 + \sigma^2 - 1 - \ln \sigma^2\right)"
VERDICTS = ("equivalent", "not equivalent", "could not parse", "no answer")


@dataclass(frozen=True)
class KLCheck:
    """What the KL hint found: ``verdict`` (one of VERDICTS), the final expression, and why."""

    verdict: str
    latex: str | None  # the final expression as the student wrote it (after clean-up)
    expression: str | None  # the same as parsed by sympy, or None
    note: str


# --- finding the final expression -------------------------------------------------------------
_DISPLAY = re.compile(
    r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|(\\begin\{(align|equation|gather|multline)\*?\}.+?\\end\{\4\*?\})",
    re.S,
)
_INLINE = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$", re.S)
_ENVIRONMENT = re.compile(r"\\(begin|end)\{[a-zA-Z*]+\}(\{[^{}]*\})?")
# Commands that only decorate: dropped with their argument, or dropped alone.
_DROP_WITH_ARG = re.compile(r"\\(text|textrm|textit|textbf|mbox|tag|label|hbox)\*?\s*\{[^{}]*\}")
_DROP = re.compile(
    r"\\(displaystyle|textstyle|nonumber|notag|quad|qquad|blacksquare|square|qed|Box|boxed|,|;|:|!| )"
)
_RELATION = re.compile(r"(?<![<>!\\])=|\\approx|\\equiv|\\coloneqq|:=")
_TRAILING = re.compile(r"[\s.,;:]+$")


def _math_blocks(markdown: str) -> list[str]:
    """Display-math blocks in order; inline ``$...$`` blocks only where there is no display math."""
    display = [next(g for g in m.groups() if g) for m in _DISPLAY.finditer(markdown)]
    if display:
        return display
    inline = [m.group(1) for m in _INLINE.finditer(_DISPLAY.sub(" ", markdown))]
    # A closing remark such as "where $\sigma$ is the std" must not hide the answer.
    with_relation = [block for block in inline if _RELATION.search(block)]
    return with_relation or inline


def final_expression(markdown: str) -> str | None:
    """The last expression of the answer: the right-hand side after the last ``=`` of the last
    math block (of its last line, for an aligned block), without ``&``, ``\\\\``, ``\\text{..}``
    and trailing punctuation.  None when the markdown holds no math."""
    if not isinstance(markdown, str):
        return None
    blocks = [b for b in _math_blocks(markdown) if b.strip()]
    if not blocks:
        return None
    block = _ENVIRONMENT.sub(" ", blocks[-1])
    lines = [line for line in re.split(r"\\\\(?:\[[^\]]*\])?", block) if line.replace("&", "").strip()]
    if not lines:
        return None
    line = _DROP.sub(" ", _DROP_WITH_ARG.sub(" ", lines[-1])).replace("&", " ")
    rhs = _RELATION.split(line)[-1]
    rhs = _TRAILING.sub("", rhs.strip())
    return rhs or None


# --- parsing and comparing --------------------------------------------------------------------
_REWRITES = (
    (re.compile(r"\\(operatorname|mathrm|text)\s*\{\s*(ln|log|exp)\s*\}"), r"\\\2"),
    (re.compile(r"\\[td]frac"), r"\\frac"),
    (re.compile(r"\\(bigg?|Bigg?)[lr]?(?![a-zA-Z])"), ""),
    (re.compile(r"\\(times|ast)(?![a-zA-Z])"), r"\\cdot "),
    (re.compile(r"\\varsigma(?![a-zA-Z])"), r"\\sigma"),
)


def _to_sympy(latex: str):
    """Parse with sympy's LaTeX parser and put the student's symbols onto mu, sigma (positive)."""
    import sympy
    from sympy.parsing.latex import parse_latex

    for pattern, repl in _REWRITES:
        latex = pattern.sub(repl, latex)
    expr = parse_latex(latex)
    if isinstance(expr, sympy.core.relational.Relational):  # e.g. "... \geq 0" after the last "="
        expr = expr.lhs
    costly = _too_costly(expr)  # before anything rebuilds (and so evaluates) the expression
    if costly:
        raise _TooCostly(f"not evaluated: the expression holds {costly}")
    mu, sigma = sympy.symbols("mu sigma", positive=True)
    mapping = {}
    for s in expr.free_symbols:
        base = re.sub(r"[_{}\\ ]|\^.*", " ", s.name).split()
        head = base[0] if base else s.name
        if head in ("mu", "sigma"):  # also \mu_q, \sigma_{1} ...
            mapping[s] = mu if head == "mu" else sigma
        elif s.name == "e":
            mapping[s] = sympy.E
    return expr.xreplace(mapping), mu, sigma


class _TooCostly(Exception):
    """The parsed expression could take minutes to evaluate."""


MAX_LATEX_CHARS = 1000  # a final KL expression is well under 200 characters
MAX_NUMBER = 10**6


def _too_costly(expr) -> str | None:
    """Why evaluating ``expr`` could run for minutes (towers of powers, huge numbers), or None.

    Student text is untrusted: 10^{10^{10^{10}}} parses fine and then hangs evalf."""
    import sympy

    def exponent_depth(e) -> int:
        if isinstance(e, sympy.Pow):
            return 1 + exponent_depth(e.exp)
        if isinstance(e, sympy.Function):  # e^{\ln \sigma^2}: a power inside a log is harmless
            return 0
        return max((exponent_depth(a) for a in e.args), default=0)

    if any(abs(n) > MAX_NUMBER for n in expr.atoms(sympy.Number) if n.is_finite):
        return f"a number larger than {MAX_NUMBER:,}"
    if exponent_depth(expr) > 2:
        return "a power inside an exponent inside an exponent"
    return None


def _numerically_equal(diff, mu, sigma, scale, points: int = 6) -> bool:
    rng = random.Random(1234)  # the same points on every run: a hint must not flicker
    for _ in range(points):
        at = {mu: rng.uniform(-2.5, 2.5), sigma: rng.uniform(0.15, 3.0)}
        value = complex(diff.evalf(30, subs=at))
        reference = abs(complex(scale.evalf(30, subs=at)))
        if not abs(value) <= 1e-9 * (1 + reference):
            return False
    return True


def _symbolically_zero(diff) -> bool | None:
    import sympy

    if sympy.count_ops(diff) > 300:  # simplify can take minutes on a large expression
        return None
    try:
        candidate = sympy.expand_log(sympy.nsimplify(diff, rational=True), force=True)
        return sympy.simplify(candidate) == 0
    except Exception:  # (any sympy failure just means "not confirmed")
        return None


def check_kl_answer(markdown: str | None) -> KLCheck:
    """A HINT for the TA, never a grade: is the last expression of a 1.4 answer equal to
    1/2 (mu^2 + sigma^2 - 1 - ln sigma^2)?

    Verdicts: "equivalent", "not equivalent", "could not parse", "no answer".  Equality is decided
    numerically at fixed random points (mu, sigma > 0) and confirmed with sympy's simplify when it
    can.  Never raises: anything unexpected is "could not parse", with the reason in ``note``.
    """
    try:
        return _check(markdown)
    except Exception as exc:  # (a hint must never break the grading sheet)
        return KLCheck("could not parse", None, None, f"unexpected {type(exc).__name__}: {exc}")


def _check(markdown: str | None) -> KLCheck:
    import sympy

    text = markdown if isinstance(markdown, str) else ""
    if not text.replace(PLACEHOLDER, "").strip():
        return KLCheck("no answer", None, None, "the answer cell is empty or still the placeholder")
    latex = final_expression(text)
    if latex is None:
        return KLCheck("could not parse", None, None, "no LaTeX math ($...$ or $$...$$) in the answer")
    if len(latex) > MAX_LATEX_CHARS:
        return KLCheck("could not parse", latex[:200] + " ...", None,
                       f"the final expression is longer than {MAX_LATEX_CHARS} characters; not evaluated")
    try:
        expr, mu, sigma = _to_sympy(latex)
    except _TooCostly as exc:
        return KLCheck("could not parse", latex, None, str(exc))
    except Exception as exc:  # (antlr and sympy raise many kinds)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return KLCheck("could not parse", latex, None, f"sympy's LaTeX parser failed: {reason}")
    others = sorted(str(s) for s in expr.free_symbols - {mu, sigma})
    if others:
        return KLCheck("not equivalent", latex, str(expr),
                       f"the final expression uses symbols other than mu and sigma: {', '.join(others)}")
    expected = (mu**2 + sigma**2 - 1 - sympy.log(sigma**2)) / 2
    diff = expr - expected
    if not _numerically_equal(diff, mu, sigma, expected):
        return KLCheck("not equivalent", latex, str(expr),
                       "differs from 1/2 (mu^2 + sigma^2 - 1 - ln sigma^2) at sample points")
    confirmed = _symbolically_zero(diff)
    how = "simplify confirms it" if confirmed else "equal at sample points; simplify could not confirm"
    return KLCheck("equivalent", latex, str(expr), how)


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

_ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "b", "i", "u", "s", "del", "sub", "sup", "code", "pre", "kbd",
    "blockquote", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody",
    "tr", "th", "td", "span", "div", "a",
}
_ALLOWED_ATTRS = {"a": ["href", "title"], "span": ["class"], "div": ["class"], "code": ["class"],
                  "th": ["align"], "td": ["align"]}

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
"""


def _render_markdown(markdown: str) -> str:
    """Markdown -> HTML as Jupyter renders it (nbconvert's mistune), then an allow-list cleaner:
    student HTML such as <script> or onerror= comes out as visible text or not at all."""
    import bleach
    from nbconvert.filters import markdown2html

    try:
        rendered = markdown2html(markdown)
    except Exception:  # (an unrenderable answer is still shown raw below)
        rendered = "<pre>" + html.escape(markdown) + "</pre>"
    return bleach.clean(rendered, tags=_ALLOWED_TAGS, attributes=_ALLOWED_ATTRS,
                        protocols={"http", "https", "mailto"}, strip=False)


def _question_html(key: str, markdown: str | None) -> str:
    title, items = RUBRIC[key]
    out = [f'<div class="question"><div class="answer"><h3>{html.escape(title)}</h3>']
    if markdown is None or not markdown.replace(PLACEHOLDER, "").strip():
        out.append('<p class="missing">No answer (missing, empty or the placeholder).</p>')
    else:
        out.append(_render_markdown(markdown))
        out.append("<details><summary>raw text as written</summary>"
                   f'<pre class="raw">{html.escape(markdown)}</pre></details>')
    out.append('</div><div class="rubric"><strong>Rubric</strong><ul>')
    for points, text in items:
        out.append(f"<li><strong>{points} pts</strong> {html.escape(text)} "
                   f'Score: <span class="score-box">&nbsp;</span> / {points}</li>')
    out.append("</ul>")
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
    KL check labelled as a hint.  ``entries``: dicts with ``student``, ``q1_4`` and ``q1_5``."""
    entries = list(entries)
    config_hash = base64.b64encode(hashlib.sha256(_MATHJAX_CONFIG.encode()).digest()).decode()
    # Defence in depth behind the cleaner: only our config script and the MathJax CDN may run.
    csp = (f"default-src 'none'; style-src 'unsafe-inline' https://cdn.jsdelivr.net; "
           f"font-src https://cdn.jsdelivr.net data:; img-src data:; "
           f"script-src 'sha256-{config_hash}' https://cdn.jsdelivr.net")
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
    ]
    for entry in entries:
        student = str(entry.get("student", "?"))
        parts.append(f'<section class="student"><h2>{html.escape(student)}</h2>')
        parts.append(_question_html("q1_4", entry.get("q1_4")))
        parts.append(_question_html("q1_5", entry.get("q1_5")))
        parts.append("</section>")
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
