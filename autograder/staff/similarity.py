"""Similarity of the students' graded code across a batch: a hint for course staff, never a grade.

The fingerprinting is copydetect's (winnowing over a token stream, as MOSS does).  What goes in is the
graded code as the grader reads it (``cells.find_graded_cells``): only the definitions, re-printed by
``ast.unparse`` with docstrings dropped, so comments, docstrings and formatting never count.  copydetect
then maps every identifier to one symbol, so renaming variables, attributes or helpers changes nothing,
and fingerprints are a set, so reordered cells still match.  The student notebook's own code (the
starter code every submission begins from) is boilerplate and never counts as shared.

``score`` of a pair is the larger of the two shares: the part of one student's own (non-starter)
fingerprints that also appear in the other's, so copying a whole submission into a longer one is still
caught.  Shares come from set intersections of the fingerprints (about 20 µs a pair, so 200 submissions
are compared in well under a second); copydetect's own comparison, which also locates the matching
regions, runs only for the pairs shown side by side.
"""

from __future__ import annotations

import ast
import contextlib
import io
import itertools
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograder import KIT_ROOT
from hw7core import cells

STARTER_NOTEBOOK = KIT_ROOT / "notebooks" / "HW7.ipynb"
NOISE_K = 25  # characters of filtered code (an identifier is one character): shorter matches are noise
WINDOW = 1  # fingerprint every k-gram: exact for code this small, and still fast
# A pair is listed only when it shares at least this many fingerprints (about two lines of code): two
# students who each wrote only the one-line D_KL the obvious way would otherwise share "100%".
MIN_SHARED = 60


@dataclass
class Pair:
    a: str
    b: str
    share_a: float  # the part of a's own fingerprints (k-grams of its code) also found in b
    share_b: float
    shared: int  # fingerprints in common

    @property
    def score(self) -> float:
        return max(self.share_a, self.share_b)

    def listed(self, threshold: float) -> bool:
        """Worth a look: a large share of one student's code, and more than a line or two of it."""
        return self.score >= threshold and self.shared >= MIN_SHARED


def _normalise(tree: ast.AST) -> ast.AST:
    """Drop docstrings and type annotations: neither is code a student could be said to share."""
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            node.annotation = None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree


def graded_code(notebook: Any) -> str:
    """The functions and classes of the graded cells, without comments, docstrings or formatting."""
    if notebook is None:
        return ""
    pieces = []
    for cell in cells.find_graded_cells(notebook).cells:
        if not cell.source:
            continue
        tree = cells.parse(cell.source)
        tree.body = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        if tree.body:
            pieces.append(ast.unparse(_normalise(tree)))
    return "\n\n".join(pieces)


def starter_code(path: Path = STARTER_NOTEBOOK) -> str:
    """The student notebook's graded code: boilerplate that every submission shares."""
    import nbformat

    return graded_code(nbformat.read(str(path), as_version=4)) if path.is_file() else ""


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


@contextlib.contextmanager
def _reproducible_hashes() -> Iterator[None]:
    """copydetect hashes k-grams with Python's ``hash``, salted per process; the same batch must give
    the same report on every run, so its hash is swapped for CRC-32 while fingerprints are taken."""
    from copydetect import utils

    utils.hash = _stable_hash
    try:
        yield
    finally:
        del utils.hash


def _fingerprint(name: str, code: str, boilerplate: np.ndarray | None, window: int = WINDOW):
    from copydetect import CodeFingerprint

    return CodeFingerprint(f"{name}.py", NOISE_K, window, boilerplate, language="python", fp=io.StringIO(code))


def fingerprints(codes: dict[str, str], starter: str = "") -> dict[str, Any]:
    """copydetect's fingerprint of each submission that has graded code of its own (beyond the starter)."""
    with _reproducible_hashes():
        boilerplate = np.unique(np.fromiter(_fingerprint("starter", starter, None, 1).hashes, dtype=np.int64)) \
            if starter.strip() else None
        prints = {name: _fingerprint(name, code, boilerplate) for name, code in codes.items() if code.strip()}
    return {name: fp for name, fp in prints.items() if fp.token_coverage > 0}


def compare(prints: dict[str, Any]) -> list[Pair]:
    """Every pair of fingerprinted submissions that shares any fingerprint, highest score first."""
    # Plain-int sets: copydetect keeps numpy scalars, which hash several times slower.
    sets = {name: frozenset(np.fromiter(fp.hashes, dtype=np.int64).tolist()) for name, fp in prints.items()}
    pairs = []
    for a, b in itertools.combinations(sorted(sets), 2):
        shared = len(sets[a] & sets[b])
        if shared:
            pairs.append(Pair(a, b, shared / len(sets[a]), shared / len(sets[b]), shared))
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    return pairs


def matching_regions(pair: Pair, prints: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """copydetect's (2, n) start/end offsets of the shared regions in each submission's code."""
    from copydetect import compare_files

    _, _, (slices_a, slices_b) = compare_files(prints[pair.a], prints[pair.b])
    return np.asarray(slices_a, dtype=int), np.asarray(slices_b, dtype=int)


# ---------------------------------------------------------------------------------------------
# The report: similarity.csv (every pair that shares code) and similarity.html (the pairs to look at)
# ---------------------------------------------------------------------------------------------
CSV_COLUMNS = ("submission_a", "submission_b", "score", "share_a", "share_b", "shared_fingerprints", "listed")
NOTICE = ("A hint for course staff, never a grade: shared code has innocent causes (a study group, the same "
          "tutorial, the lecture's example). Read both submissions and talk to the students before drawing "
          "any conclusion.")
SHOWN_OPEN = 10  # pairs shown unfolded; the rest are one click away
TABLE_MAX, SIDE_BY_SIDE_MAX = 500, 50  # a batch of copies has ~n^2/2 pairs: the page stays readable


def write_csv(pairs: list[Pair], threshold: float, path: Path) -> Path:
    from autograder.results.csvsafe import Writer  # ids come from file names students chose

    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = Writer(handle)
        writer.writerow(CSV_COLUMNS)
        for p in pairs:
            writer.writerow([p.a, p.b, f"{p.score:.3f}", f"{p.share_a:.3f}", f"{p.share_b:.3f}", p.shared,
                             "yes" if p.listed(threshold) else "no"])
    return path


def _marked(code: str, slices: np.ndarray) -> str:
    from copydetect.utils import highlight_overlap

    if slices.size == 0:
        from html import escape

        return escape(code)
    text, _ = highlight_overlap(code, slices, "<mark>", "</mark>", escape_html=True)
    return text


def report_html(pairs: list[Pair], codes: dict[str, str], threshold: float, without_code: list[str],
                has_starter: bool, prints: dict[str, Any]) -> str:
    from html import escape

    from autograder.reports.pages import page

    listed = [p for p in pairs if p.listed(threshold)]
    compared = len(codes) - len(without_code)
    out = ["<h1>HW7 similarity of graded code</h1>",
           f'<p class="notice"><b>Not a grade.</b> {escape(NOTICE)}</p>',
           f"<p>{compared} submission(s) with graded code of their own compared pairwise "
           f"({compared * (compared - 1) // 2} pairs); <b>{len(listed)} pair(s)</b> share at least "
           f"{threshold:.0%} of one student's own code (<code>similarity_threshold</code> in grading.yaml), and "
           f"at least {MIN_SHARED} fingerprints (more than a line or two). "
           "Every pair that shares anything is in similarity.csv.</p>",
           '<p class="muted">Compared: the definitions in the graded cells as the grader reads them (comments, '
           "docstrings, type hints and formatting removed; identifiers do not matter; cell order does not "
           "matter). " + ("The student notebook's starter code never counts as shared."
                          if has_starter else "The starter notebook was not found, so starter code counts too.")
           + " Score: the larger of the two shares of own code (its fingerprints) found in the other "
           "submission.</p>"]
    if without_code:
        out.append("<p>No graded code of their own (not compared): " + escape(", ".join(without_code)) + "</p>")
    if compared < 2:
        out.append("<p><b>Nothing to compare:</b> fewer than two submissions have graded code of their own.</p>")
    elif not listed:
        out.append("<p><b>No pair reaches the threshold.</b></p>")
    if listed:
        out.append("<h2>Pairs at or above the threshold</h2><table><tr><th>#</th><th>Submission A</th>"
                   "<th>Submission B</th><th>Score</th><th>Share of A in B</th><th>Share of B in A</th></tr>")
        for i, p in enumerate(listed[:TABLE_MAX], 1):
            link = f'<a href="#pair-{i}">{i}</a>' if i <= SIDE_BY_SIDE_MAX else str(i)
            out.append(f'<tr><td class="num">{link}</td><td>{escape(p.a)}</td>'
                       f'<td>{escape(p.b)}</td><td class="num">{p.score:.0%}</td><td class="num">{p.share_a:.0%}'
                       f'</td><td class="num">{p.share_b:.0%}</td></tr>')
        out.append("</table>")
        if len(listed) > TABLE_MAX:
            out.append(f"<p>{len(listed) - TABLE_MAX} more pair(s) at or above the threshold: see similarity.csv.</p>")
        out.append("<h2>Matching regions, side by side</h2>"
                   '<p class="muted">Highlighted bold text is code that both submissions share (as re-printed by the grader).</p>')
    if len(listed) > SIDE_BY_SIDE_MAX:
        out.append(f'<p class="muted">The first {SIDE_BY_SIDE_MAX} pairs are shown here.</p>')
    for i, p in enumerate(listed[:SIDE_BY_SIDE_MAX], 1):
        state = " open" if i <= SHOWN_OPEN else ""
        slices_a, slices_b = matching_regions(p, prints)
        out.append(f'<details id="pair-{i}"{state}><summary>{i}. {escape(p.a)} and {escape(p.b)}: '
                   f"{p.score:.0%}</summary><div class=\"sides\">"
                   f"<div><h3>{escape(p.a)}</h3><pre>{_marked(codes[p.a], slices_a)}</pre></div>"
                   f"<div><h3>{escape(p.b)}</h3><pre>{_marked(codes[p.b], slices_b)}</pre></div></div></details>")
    css = ("<style>.sides{display:grid;grid-template-columns:1fr 1fr;gap:.8em} .sides pre{font-size:.8em;line-height:1.5}"
           " mark{background:#ffe066;font-weight:bold} .notice{border-left:4px solid #c62828;"
           "padding:.4em .8em;background:#fff4f4} details{margin:.6em 0} summary{cursor:pointer;font-weight:600}"
           "</style>")
    return page("HW7 similarity report", css + "\n".join(out))


def summary_html(pairs: list[Pair], threshold: float) -> str:
    """The summary page's section: how many pairs to look at, and a link to the report."""
    listed = sum(p.listed(threshold) for p in pairs)
    return (f'<h2>Similarity</h2><p><a href="similarity.html">similarity.html</a>: {listed} pair(s) at or above '
            f"{threshold:.0%} shared code. A hint for staff, never a grade.</p>")


def write_report(notebooks: dict[str, Any], out_dir: str | Path, threshold: float,
                 starter_path: Path = STARTER_NOTEBOOK) -> tuple[Path, Path, list[Pair]]:
    """``out_dir/similarity.html`` and ``similarity.csv`` for ``{submission id: notebook or None}``."""
    out_dir = Path(out_dir)
    starter = starter_code(starter_path)
    codes = {}
    for ident, nb in notebooks.items():
        try:
            codes[ident] = graded_code(nb)
        except Exception:  # an odd notebook is left out of the comparison; its grading reported it already
            codes[ident] = ""
    prints = fingerprints(codes, starter)
    pairs = compare(prints)
    without_code = sorted(set(codes) - set(prints))
    html_path, csv_path = out_dir / "similarity.html", out_dir / "similarity.csv"
    html_path.write_text(report_html(pairs, codes, threshold, without_code, bool(starter), prints),
                         encoding="utf-8")
    write_csv(pairs, threshold, csv_path)
    return html_path, csv_path, pairs
