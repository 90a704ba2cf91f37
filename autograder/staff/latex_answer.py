"""The final expression of a written answer in Markdown: the right-hand side after the last relation
of its last math block.  kl_hint.py compares it with the expected KL; this module only finds it.

Student text is untrusted: every pattern here runs in time linear in the text (no lazy ".+?" that
restarts at each of a megabyte of unclosed "\\[", no "[...]+$" that backtracks over a long run).
"""

from __future__ import annotations

import re

_OPENER = re.compile(r"\$\$|\\\[|\\begin\{(align|equation|gather|multline)\*?\}")
_INLINE = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$", re.S)  # linear: every opener is a closer
_ENVIRONMENT = re.compile(r"\\(begin|end)\{[a-zA-Z*]+\}(\{[^{}]*\})?")
# Commands that only decorate: dropped with their argument, or dropped alone.
_DROP_WITH_ARG = re.compile(r"\\(text|textrm|textit|textbf|mbox|tag|label|hbox)\*?\s*\{[^{}]*\}")
_DROP = re.compile(
    r"\\(displaystyle|textstyle|nonumber|notag|quad|qquad|blacksquare|square|qed|Box|boxed|,|;|:|!| )"
)
_RELATION = re.compile(r"(?<![<>!\\])=|\\approx|\\equiv|\\coloneqq|:=")
_LINE_BREAK = re.compile(r"\\\\(?:\[[^\]\\]*\])?")  # \\ or \\[2pt]; the option never holds a backslash


def _display_blocks(markdown: str) -> list[str]:
    r"""``$$..$$``, ``\[..\]`` and ``\begin{align}..\end{align}`` (and equation, gather, multline)
    blocks in order, each at least one character long, in one pass: an opener whose closer never comes
    is skipped, and its kind is not looked for again (no later one can close either)."""
    blocks, pos, dead = [], 0, set()
    while (opener := _OPENER.search(markdown, pos)) is not None:
        kind = opener.group(1) or opener.group(0)
        if kind in dead:
            pos = opener.start() + 1
            continue
        if opener.group(1):  # an environment: the whole \begin..\end, as written
            closer = re.compile(r"\\end\{" + kind + r"\*?\}").search(markdown, opener.end() + 1)
            span = None if closer is None else (opener.start(), closer.end())
        else:
            end = markdown.find("$$" if kind == "$$" else "\\]", opener.end() + 1)
            span = None if end < 0 else (opener.end(), end)
            closer_end = end + 2
        if span is None:
            dead.add(kind)
            pos = opener.start() + 1
            continue
        blocks.append(markdown[span[0]:span[1]])
        pos = closer.end() if opener.group(1) else closer_end
    return blocks


def _math_blocks(markdown: str) -> list[str]:
    """Display-math blocks in order; inline ``$...$`` blocks only where there is no display math."""
    display = _display_blocks(markdown)
    if display:
        return display
    inline = [m.group(1) for m in _INLINE.finditer(markdown)]
    # A closing remark such as "where $\sigma$ is the std" must not hide the answer.
    with_relation = [block for block in inline if _RELATION.search(block)]
    return with_relation or inline


def _strip_trailing(text: str) -> str:
    """``text`` without trailing spaces and punctuation (.,;:)."""
    while text != (stripped := text.rstrip().rstrip(".,;:")):
        text = stripped
    return text


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
    lines = [line for line in _LINE_BREAK.split(block) if line.replace("&", "").strip()]
    if not lines:
        return None
    line = _DROP.sub(" ", _DROP_WITH_ARG.sub(" ", lines[-1])).replace("&", " ")
    rhs = _RELATION.split(line)[-1]
    rhs = _strip_trailing(rhs.strip())
    return rhs or None
