"""A hint for the TA on written question 1.4: is the student's final KL expression right?

``check_kl_answer`` reads the last expression of a student's 1.4 derivation and says whether it is
symbolically equal to 1/2 (mu^2 + sigma^2 - 1 - ln sigma^2).  That verdict is a HINT for the TA, never
a grade: the derivation carries 10 of the 15 points, a right answer can sit on a wrong derivation,
and a LaTeX slip can hide a right one.  The TA's sheet (written.py) shows it beside each answer.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import re
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass

from autograder.staff.latex_answer import final_expression

__all__ = ["KLCheck", "check_kl_answer"]

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


MAX_ANSWER_CHARS = 20_000  # a written derivation is a few thousand characters; longer is not checked


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
    can.  Sympy runs in a worker process, CHECK_S seconds per answer at most: a short expression can
    keep simplify busy for hours.  Never raises: anything unexpected is "could not parse", with the
    reason in ``note``.
    """
    try:
        text = markdown if isinstance(markdown, str) else ""
        if not text.replace(PLACEHOLDER, "").strip():
            return KLCheck("no answer", None, None, "the answer cell is empty or still the placeholder")
        if len(text) > MAX_ANSWER_CHARS:
            return KLCheck("could not parse", None, None,
                           f"the answer is longer than {MAX_ANSWER_CHARS:,} characters; not checked")
        return _CHECKER.check(text)
    except Exception as exc:  # (a hint must never break the grading sheet)
        return KLCheck("could not parse", None, None, f"unexpected {type(exc).__name__}: {exc}")


# --- the worker: sympy under a time limit -------------------------------------------------------
CHECK_S = 20.0  # one answer's check; a right answer takes well under a second
START_S = 180.0  # the worker's start (importing sympy and the LaTeX parser: seconds, more under load)
WORKER_MEMORY_BYTES = 4 * 2**30


class _Checker:
    """One worker process running ``_check`` answer by answer (JSON lines on its stdin and stdout).
    An answer that takes longer than CHECK_S gets "could not parse" and the worker is replaced."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.lock = threading.Lock()

    def check(self, text: str) -> KLCheck:
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                self._start()
            try:
                self.process.stdin.write(json.dumps(text).encode("ascii") + b"\n")
                self.process.stdin.flush()
                line = self._read_line(CHECK_S)
            except OSError:
                line = None
            if line is None:
                self.stop()
                return KLCheck("could not parse", final_expression(text), None,
                               f"not evaluated: checking it took longer than {CHECK_S:g} s (or failed)")
            return KLCheck(**json.loads(line))

    def _start(self) -> None:
        from autograder import KIT_ROOT

        self.process = subprocess.Popen([sys.executable, "-m", "autograder.staff.kl_hint"], cwd=KIT_ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        atexit.register(self.stop)
        if self._read_line(START_S) != b'"ready"':
            self.stop()
            raise RuntimeError("the KL check's worker did not start")

    def _read_line(self, timeout: float) -> bytes | None:
        """One line from the worker, or None after ``timeout`` seconds or at its end."""
        deadline, data, fd = time.monotonic() + timeout, b"", self.process.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while not data.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    return None
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return None
                data += chunk
        return data.strip()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, 9)
            except OSError:
                process.kill()
        if process is not None:
            process.wait()
            for stream in (process.stdin, process.stdout):
                stream.close()


_CHECKER = _Checker()


def _serve() -> None:
    """The worker's loop (``python -m autograder.staff.kl_hint``): one JSON string in, one KLCheck out."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything sympy or antlr prints goes to stderr, never into the answers
    import sympy  # noqa: F401  (imported before "ready": the answers' time limit is for checking only)
    from sympy.parsing.latex import parse_latex

    parse_latex("x")
    channel.write(b'"ready"\n')
    channel.flush()
    for line in sys.stdin.buffer:
        try:
            result = _check(json.loads(line))
        except Exception as exc:  # MemoryError included: the answer gets the reason, the worker goes on
            result = KLCheck("could not parse", None, None, f"unexpected {type(exc).__name__}: {exc}")
        channel.write(json.dumps(asdict(result)).encode("ascii") + b"\n")
        channel.flush()


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


if __name__ == "__main__":
    _serve()
