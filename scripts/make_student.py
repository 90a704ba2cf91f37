"""Build the student notebook (notebooks/HW7.ipynb) from the solution (solutions/HW7.ipynb).

The steps are nbgrader's own preprocessors, in the order ``nbgrader generate_assignment`` runs them,
minus the ones that need a course database (SaveCells) or files we do not use (headers, autotests):
solutions become ``raise NotImplementedError()`` stubs or "YOUR ANSWER HERE", outputs and execution
counts go, graded and locked cells are made undeletable, and checksums are recorded so that
``nbgrader validate`` can tell when a locked cell was edited.  The output is deterministic: the same
solution always gives the same bytes.

    python scripts/make_student.py [--solution PATH] [--out PATH] [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbconvert.exporters.exporter import ResourcesDict
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    LockCells,
)

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "HW7.ipynb"
STUDENT = ROOT / "notebooks" / "HW7.ipynb"

# ClearHiddenTests must run after the first ComputeChecksums, and checksums are computed again after
# it (the order nbgrader's GenerateAssignment uses).
PIPELINE = [
    LockCells,
    ClearSolutions,
    ClearOutput,
    CheckCellMetadata,
    ComputeChecksums,
    ClearHiddenTests,
    ClearMarkScheme,
    ComputeChecksums,
    CheckCellMetadata,
]

# Notebook-level metadata worth keeping; whatever Jupyter adds on save (widgets, toc, ...) is dropped.
KEPT_METADATA = ("kernelspec", "language_info")


def make_student(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return the student version of a solution notebook (the input is not modified)."""
    nb = nbformat.from_dict(solution)  # a deep copy
    resources = ResourcesDict()
    for step in PIPELINE:
        nb, resources = step().preprocess(nb, resources)
    nb.metadata = nbformat.from_dict(
        {key: nb.metadata[key] for key in KEPT_METADATA if key in nb.metadata}
    )
    for cell in nb.cells:
        # ClearOutput keeps some view state; drop it so that the bytes depend on the sources only.
        for key in ("collapsed", "scrolled", "execution", "ExecuteTime"):
            cell.metadata.pop(key, None)
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    """The notebook as the exact text we write (nbformat's layout, one trailing newline)."""
    nbformat.validate(nb)
    return nbformat.writes(nb, version=4).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solution", type=Path, default=SOLUTION)
    parser.add_argument("--out", type=Path, default=STUDENT)
    parser.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if the student notebook is out of date"
    )
    args = parser.parse_args(argv)

    if not args.solution.is_file():
        print(f"error: the solution notebook {args.solution} does not exist", file=sys.stderr)
        return 2
    try:
        solution = nbformat.read(args.solution, as_version=4)
    except Exception as exc:  # nbformat raises several kinds for unreadable files
        print(f"error: {args.solution} is not a readable notebook: {exc}", file=sys.stderr)
        return 2
    text = render(make_student(solution))

    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else None
        if current != text:
            print(f"{args.out} is out of date: run `make student`", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
