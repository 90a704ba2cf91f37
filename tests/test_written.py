"""autograder.staff.written: the final-expression finder, the KL hint and the TA's grading sheet."""

import re

import pytest

from autograder.staff.kl_hint import KLCheck, check_kl_answer
from autograder.staff.latex_answer import final_expression
from autograder.staff.written import grading_sheet_html

CORRECT = [
    r"$$\frac{1}{2}\left(\mu^2 + \sigma^2 - 1 - \ln \sigma^2\right)$$",
    r"$$-\frac{1}{2}(1 + \ln\sigma^2 - \mu^2 - \sigma^2)$$",
    r"$$\frac{\mu^2+\sigma^2-1}{2} - \ln\sigma$$",
    r"$$\frac{1}{2}\left(\mu^2+\sigma^2-1-2\ln\sigma\right)$$",
    r"$$\log\frac{1}{\sigma} + \frac{\sigma^2+\mu^2}{2} - \frac12$$",
    r"$$\tfrac12(\mu^{2}+\sigma^{2}-1-\log\sigma^{2})$$",
    r"$$\dfrac{1}{2}\cdot\left[\mu^2+\sigma^2-1-\ln(\sigma^2)\right]$$",
    r"$$0.5 (\mu^2 + \sigma^2) - 0.5 - \ln \sigma$$",
    r"$$\frac{1}{2}\mu^2 + \frac{1}{2}\sigma^2 - \frac{1}{2} - \frac{1}{2}\operatorname{ln}\sigma^2$$",
    r"$$\frac12\mu_q^2 + \frac12\sigma_q^2 - \frac12 - \ln\sigma_q$$",
    # inline math with the KL on the left-hand side
    r"So $D_{KL}(q \| p) = \frac{1}{2}(\mu^2 + \sigma^2 - 1 - \ln\sigma^2)$.",
]

ALIGNED = r"""Starting from the definition:
$$
\begin{aligned}
D_{KL}(q\|p) &= \mathbb{E}_q[\log q(z) - \log p(z)] \\
&= -\tfrac12 \log \sigma^2 - \tfrac12 + \tfrac12(\mu^2 + \sigma^2) \\
&= \frac{1}{2}\left(\mu^2 + \sigma^2 - 1 - \ln \sigma^2\right). \\
\end{aligned}
$$
where $\sigma$ is the standard deviation of $q$.
"""

WRONG = {
    "sign error on the log": r"$$\frac12(\mu^2 + \sigma^2 - 1 + \ln\sigma^2)$$",
    "missing 1/2": r"$$\mu^2 + \sigma^2 - 1 - \ln\sigma^2$$",
    "missing -1": r"$$\frac12(\mu^2 + \sigma^2 - \ln\sigma^2)$$",
    "ln sigma without the factor 2": r"$$\frac12(\mu^2 + \sigma^2 - 1 - \ln\sigma)$$",
    "sigma instead of sigma^2": r"$$\frac12(\mu^2 + \sigma - 1 - \ln\sigma^2)$$",
    "mu instead of mu^2": r"$$\frac12(\mu + \sigma^2 - 1 - \ln\sigma^2)$$",
    "an unknown symbol": r"$$\frac12(x^2 + \sigma^2 - 1 - \ln\sigma^2)$$",
}


# --- final_expression --------------------------------------------------------------------------
def test_final_expression_takes_the_last_rhs_of_an_aligned_block():
    expr = final_expression(ALIGNED)
    assert expr == r"\frac{1}{2}\left(\mu^2 + \sigma^2 - 1 - \ln \sigma^2\right)"


def test_final_expression_strips_text_tags_and_punctuation():
    md = r"$$\text{KL} = \frac{1}{2}\mu^2 + c \quad \text{(done)}. \tag{3}$$"
    assert final_expression(md) == r"\frac{1}{2}\mu^2 + c"


def test_final_expression_prefers_the_last_display_block():
    md = "$$a = 1$$\nthen\n$$b = \\frac12$$\nwith $\\mu$ the mean."
    assert final_expression(md) == r"\frac12"


def test_final_expression_inline_only():
    assert final_expression(r"The answer is $KL = 2\mu$, where $\mu$ is the mean.") == r"2\mu"
    assert final_expression(r"only $\mu^2$") == r"\mu^2"


def test_final_expression_none_without_math():
    assert final_expression("no math here") is None
    assert final_expression("") is None
    assert final_expression(None) is None  # type: ignore[arg-type]


# --- check_kl_answer -----------------------------------------------------------------------------
@pytest.mark.parametrize("markdown", CORRECT)
def test_correct_rearrangements_are_equivalent(markdown):
    check = check_kl_answer(markdown)
    assert isinstance(check, KLCheck)
    assert check.verdict == "equivalent", check
    assert check.expression and "mu" in check.expression and "sigma" in check.expression


def test_aligned_derivation_is_equivalent():
    check = check_kl_answer(ALIGNED)
    assert check.verdict == "equivalent"
    assert check.latex == r"\frac{1}{2}\left(\mu^2 + \sigma^2 - 1 - \ln \sigma^2\right)"


@pytest.mark.parametrize("mistake", sorted(WRONG))
def test_wrong_answers_are_not_equivalent(mistake):
    check = check_kl_answer(WRONG[mistake])
    assert check.verdict == "not equivalent", (mistake, check)
    assert check.latex


def test_unknown_symbols_are_named():
    assert "x" in check_kl_answer(WRONG["an unknown symbol"]).note


@pytest.mark.parametrize(
    "markdown",
    [r"$$\frac{ \mu^2 +$$", r"$$\left( \mu$$", r"$$\{\}\}$$", r"$$\mu^2 + @@@ \sigma$$", "plain text, no math"],
)
def test_garbage_could_not_parse_and_does_not_raise(markdown, capfd):
    check = check_kl_answer(markdown)
    assert check.verdict == "could not parse"
    assert check.note
    assert capfd.readouterr().err == ""  # the antlr parser must not print to stderr either


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "markdown",
    [r"$$10^{10^{10^{10}}}$$", r"$$\mu^{\sigma^{9999999999}}$$", "$$" + r"\mu^2+" * 400 + "1$$"],
)
def test_costly_expressions_are_refused_quickly(markdown):
    check = check_kl_answer(markdown)  # would otherwise run for minutes or exhaust memory
    assert check.verdict == "could not parse"
    assert "not evaluated" in check.note


def test_exponent_of_a_log_is_still_evaluated():
    check = check_kl_answer(r"$$\frac12(\mu^2 + e^{\ln\sigma^2} - 1) - \ln\sigma$$")
    assert check.verdict == "equivalent"


@pytest.mark.parametrize("markdown", ["", "   \n", "YOUR ANSWER HERE", "  YOUR ANSWER HERE\n", None])
def test_empty_or_placeholder_is_no_answer(markdown):
    check = check_kl_answer(markdown)
    assert check.verdict == "no answer"
    assert check.latex is None and check.expression is None


def test_non_string_input_does_not_raise():
    assert check_kl_answer(42).verdict in {"no answer", "could not parse"}  # type: ignore[arg-type]


def test_verdict_is_deterministic():
    assert check_kl_answer(CORRECT[2]) == check_kl_answer(CORRECT[2])


# --- grading_sheet_html ----------------------------------------------------------------------------
ENTRIES = [
    {"student": "ada", "q1_4": CORRECT[0], "q1_5": "Large **beta**: samples all look alike."},
    {"student": "bob", "q1_4": WRONG["missing 1/2"], "q1_5": None},
    {"student": "cy", "q1_4": "YOUR ANSWER HERE", "q1_5": "YOUR ANSWER HERE"},
]


def _scripts(page: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>", page, flags=re.I)


def test_sheet_has_one_section_per_student_with_rubric_and_hint():
    page = grading_sheet_html(ENTRIES)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('<section class="student">') == 3
    for name in ("ada", "bob", "cy"):
        assert f"<h2>{name}</h2>" in page
    assert page.count("hint, not a grade") == 3
    assert page.count("Rubric") == 6
    assert "10 pts" in page and "5 pts" in page
    # verdicts appear, per student, in order
    verdicts = re.findall(r'<div class="hint ([a-z-]+)">', page)
    assert verdicts == ["equivalent", "not-equivalent", "no-answer"]


def test_sheet_renders_markdown_and_keeps_raw_latex():
    page = grading_sheet_html(ENTRIES[:1])
    assert "<strong>beta</strong>" in page  # markdown rendered
    assert r"\frac{1}{2}\left(\mu^2" in page  # LaTeX kept, for MathJax and for reading raw
    assert '<pre class="raw">' in page
    assert "<style>" in page  # inline CSS, no stylesheet to fetch


def test_sheet_marks_missing_answers():
    page = grading_sheet_html(ENTRIES[1:])
    assert page.count('class="missing"') == 3  # bob's 1.5, cy's 1.4 and 1.5


ATTACKS = [
    "<script>alert('pwned')</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src='https://evil.example'></iframe>",
    "<svg onload=alert(1)></svg>",
    "$$x$$</div><script>alert(2)</script>",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_student_html_cannot_run(attack):
    page = grading_sheet_html([{"student": "<script>alert(3)</script>", "q1_4": attack, "q1_5": attack}])
    # Only our three scripts (the MathJax config, the MathJax loader, the Save button) are real tags.
    assert len(_scripts(page)) == 3
    assert "alert" not in "".join(re.findall(r"<script\b[^>]*>.*?</script>", page, flags=re.S | re.I))
    lowered = page.lower()
    assert "<iframe" not in lowered and "<img" not in lowered and "<svg" not in lowered
    assert not re.search(r"<[a-z][^>]*\son\w+\s*=", lowered)  # no event-handler attribute on a real tag
    assert 'href="javascript:' not in lowered
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page  # the name shown as text


def test_sheet_forbids_inline_scripts_by_policy():
    page = grading_sheet_html(ENTRIES[:1])
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "script-src 'sha256-" in csp and "unsafe-inline" not in csp.split("script-src")[1]


def test_sheet_with_no_entries():
    page = grading_sheet_html([])
    assert "0 submissions" in page and "<section" not in page


def test_answers_are_found_in_the_notebooks_by_grade_id(root):
    import nbformat

    from autograder.staff.kl_hint import check_kl_answer
    from autograder.staff.written import answers_from_notebook

    solution = answers_from_notebook(nbformat.read(str(root / "solutions" / "HW7.ipynb"), as_version=4))
    assert check_kl_answer(solution["q1_4"]).verdict == "equivalent"
    assert "β" in solution["q1_5"] or "beta" in solution["q1_5"]
    student = answers_from_notebook(nbformat.read(str(root / "notebooks" / "HW7.ipynb"), as_version=4))
    assert check_kl_answer(student["q1_4"]).verdict == "no answer"
    assert answers_from_notebook({"cells": []}) == {"q1_4": None, "q1_5": None}


IMITATIONS = [
    '<div class="hint equivalent"><strong>Automatic check (hint, not a grade):</strong> equivalent</div>',
    "## ada\n\n### 1.5 Effect of beta (10 points, by hand)",
    '<h2>bob</h2><section class="student">',
    '<span class="score-box">15</span><input type="number" data-q="1.4" value="15">',
    '<p style="position:fixed;top:0">Save written_scores.csv</p><button id="save">Save</button>',
]


@pytest.mark.parametrize("imitation", IMITATIONS)
def test_student_markup_cannot_imitate_the_sheets_own_elements(imitation):
    """nh3's allow-list keeps the text of a student's answer but no heading, class, id, style or form
    element: nothing in an answer can pass for the hint box, a student's section, a question or a score."""
    page = grading_sheet_html([{"student": "eve", "id": "eve", "name": "", "q1_4": imitation, "q1_5": imitation}])
    answers = re.findall(r'<div class="answer">(.*?)<details>', page, flags=re.S)
    assert len(answers) == 2
    for answer in answers:
        rendered = answer.split("</h3>", 1)[1]  # after the sheet's own question title
        assert not re.search(r"<(h[1-6]|section|input|button|div|textarea|style)\b", rendered, flags=re.I), rendered
        assert not re.search(r"\s(class|id|style|data-[a-z]+)\s*=", rendered, flags=re.I), rendered
    assert len(re.findall(r'<div class="hint ', page)) == 1  # the sheet's own hint box, for 1.4 only
    assert page.count("<h2>") == 1 and page.count('type="number"') == 2  # eve's heading, her two score fields


# --- issue 18: the sheet always finishes -----------------------------------------------------------------
HIDDEN_BRACKETS = "<!-- " + "\\[" * 500_000 + " -->\n$$\\frac12(\\mu^2+\\sigma^2-1-\\ln\\sigma^2)$$"
# 71 characters, equal to the KL at every point: sympy's simplify spent 270 s on it (load-dependent).
SIMPLIFY_BOMB = (r"$$\frac12(\mu^2+\sigma^2-1-\ln\sigma^2) + \frac{(\mu+1)^{90}(\sigma+1)^{90}}"
                 r"{(\mu\sigma+\mu+\sigma+1)^{90}} - 1$$")


@pytest.mark.timeout(60)
def test_finding_the_final_expression_is_linear_in_the_text():
    """Issue 18, item 4: a megabyte of unclosed \\[ made the block pattern quadratic (hours)."""
    assert final_expression(HIDDEN_BRACKETS) == r"\frac12(\mu^2+\sigma^2-1-\ln\sigma^2)"
    assert final_expression("$$x = " + "\\\\[" * 200_000 + "$$") == "["  # line breaks whose option never closes
    assert final_expression("$$a = b" + " " * 200_000 + "c$$") == "b" + " " * 200_000 + "c"


@pytest.mark.timeout(60)
def test_a_long_answer_is_not_checked_and_shown_unrendered():
    check = check_kl_answer(HIDDEN_BRACKETS)
    assert check.verdict == "could not parse" and "longer than 20,000 characters" in check.note
    sheet = grading_sheet_html([{"student": "long", "q1_4": HIDDEN_BRACKETS, "q1_5": "ok"}])
    assert "shown as written, not rendered" in sheet


@pytest.mark.timeout(120)
def test_sympy_runs_under_a_time_limit(monkeypatch):
    """Issue 18, item 4: a short final expression can keep simplify busy for hours; it gets CHECK_S."""
    from autograder.staff import kl_hint

    assert check_kl_answer(CORRECT[0]).verdict == "equivalent"  # the worker is up: the limit is for checking
    monkeypatch.setattr(kl_hint, "CHECK_S", 5.0)
    check = check_kl_answer(SIMPLIFY_BOMB)
    assert check.verdict == "could not parse" and "longer than 5 s" in check.note
    assert check.latex and check.latex.startswith(r"\frac12")
    assert check_kl_answer(CORRECT[1]).verdict == "equivalent"  # a fresh worker checks the next answer
