"""The student's check of a submission: the grader's intake, then the notebook's public tests.

    python -m hw7core [HW7_submission.zip]        (or check_submission(...) in the notebook)

The zip is read by the grader's own intake (intake.py, cells.py, limits.py: this package is the core
the autograder imports), so a missing file, an unreadable notebook, a config out of bounds, a forbidden
import or a missing `# AUTOGRADED` cell gets the grader's message.  Then each public test of the
notebook runs on the graded cells from the zip, in a separate Python process.  The grader's hidden
tests and the re-training of part 2.3 run only after submission, so a pass here is "public checks
passed", never a grade.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import cells, intake, parts, readiness

PACKAGE_DIR = Path(__file__).resolve().parent
HANDOUT_ROOT = PACKAGE_DIR.parent  # holds HW7_utils.py and data/
PUBLIC_TESTS_FILE = PACKAGE_DIR / "public_tests.json"


def _names(names: tuple[str, ...]) -> str:
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


# The parts whose public tests run here (the grader's own table): part -> what it defines.
PARTS = {part.number: _names(part.names) for part in parts.PARTS if not part.retrains}
CHILD_TIMEOUT_S = 240  # all three tests; generous for a slow laptop (the grader allows 30 s a part)
STUB = "raise NotImplementedError"
# The child gets the notebook's import cell; plots go to files nobody reads.
PRELUDE_EXTRA = ("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
                 "torch.set_num_threads(1)\ndataset = AirfoilDataset()\n")


def load_public_tests() -> dict[str, str]:
    """Part -> the source of the notebook's public test cell (written when the handout is built)."""
    return json.loads(PUBLIC_TESTS_FILE.read_text(encoding="utf-8"))


def blocked_parts(sub: intake.Submission, code: cells.GradedCode | None) -> tuple[dict[str, str], list[str]]:
    """Which parts cannot pass here and why, with the grader's notes: the grader's own rule
    (readiness.py).  A part the grader runs only in part (some names missing) fails its public test."""
    ready = readiness.assess(sub, code)
    return {**ready.partly_missing, **ready.blocked}, ready.notes


def staleness_warnings(source: Path, notebook, code: cells.GradedCode | None) -> list[str]:
    """Signs that the zip holds an older notebook than the one the student worked on."""
    if notebook is None or code is None:
        return []
    warnings = []
    if not code.cells:
        warnings.append("The notebook has no `# AUTOGRADED` cell at all: is it HW7.ipynb, from this "
                        "assignment's handout? Zip the HW7.ipynb you worked in.")
    stubs = [c.index + 1 for c in code.cells if STUB in c.source]
    if stubs:
        warnings.append(f"Graded cell(s) {', '.join(map(str, stubs))} still hold the template's "
                        f"`{STUB}()`. If you did write that code, the zip was made before the notebook was "
                        "saved: save it (Ctrl+S / Cmd+S), then run the zip_files(...) cell again.")
    beside = source.parent / intake.NOTEBOOK
    if source.suffix.lower() == ".zip" and beside.is_file() and _code_of(beside) not in (None, _code_of(notebook)):
        warnings.append(f"{beside} differs from the notebook inside {source.name}: the zip was made before "
                        "the notebook was saved. Save the notebook (Ctrl+S / Cmd+S), run the zip_files(...) "
                        "cell again, then check again. This check reads the zip, as the grader will.")
    if not any(c.get("outputs") for c in notebook.get("cells", []) if c.get("cell_type") == "code"):
        warnings.append("The notebook in the zip has no outputs: it was saved before it was run. Run it from "
                        "top to bottom, save it, and zip it again (the PDF needs the outputs too).")
    return warnings


def _code_of(notebook_or_path) -> list[str] | None:
    """The sources of the code cells (outputs change on every save; code is what is graded)."""
    try:
        nb = intake.read_notebook(notebook_or_path) if isinstance(notebook_or_path, Path) else notebook_or_path
        return [str(c.get("source", "")) for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    except (ValueError, OSError):
        return None


def run_public_tests(code: cells.GradedCode, tests: dict[str, str]) -> dict[str, dict]:
    """Run the notebook's public tests (part -> source) on the graded cells, in one child process."""
    job = {"prelude": cells.IMPORT_PRELUDE + PRELUDE_EXTRA, "tests": tests,
           "cells": [{"index": c.index, "source": c.source} for c in code.cells if c.source]}
    env = {**os.environ, "PYTHONPATH": str(HANDOUT_ROOT), "MPLBACKEND": "Agg"}
    with tempfile.TemporaryDirectory(prefix="hw7-check-") as tmp:
        job_path, results_path = Path(tmp) / "job.json", Path(tmp) / "results.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        command = [sys.executable, "-m", f"{__package__}.public_child", str(job_path), str(results_path)]
        why = None
        try:
            proc = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True,
                                  timeout=CHILD_TIMEOUT_S, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            why = f"the tests did not finish within {CHILD_TIMEOUT_S} s (an endless loop?)"
        else:
            last = proc.stderr.strip().splitlines()[-1:]  # a crash says why on stderr; prints go to stdout
            why = (f"the tests' process ended early (exit code {proc.returncode}"
                   f"{': ' + last[0][:300] if last else ''}): does the code call exit() or os._exit()?")
        results = json.loads(results_path.read_text(encoding="utf-8")) if results_path.is_file() else {}
    # A test with no result never finished: the first such one is where it stopped.
    stopped = next((part for part in tests if part not in results), None)
    for part in tests:
        if part not in results:
            error = why if part == stopped else f"not run: the process stopped in the test of part {stopped}"
            results[part] = {"passed": False, "error": error, "cell_errors": []}
    return results


def _print_block(mark: str, title: str, message: str | None = None) -> None:
    print(f"  [{mark}] {title}")
    if message:
        print("         " + message.replace("\n", "\n         "))


def check(source: str | Path) -> int:
    """Print the report; 0 when the public checks pass, 1 when something needs fixing."""
    start = time.monotonic()
    source = Path(source)
    print(f"Checking {source}")
    try:
        with tempfile.TemporaryDirectory(prefix="hw7-intake-") as tmp:
            sub = intake.load_submission(source, tmp)
    except intake.IntakeError as exc:
        fix = (" Run the notebook's zip_files(...) cell first, or give the path of your zip, e.g. "
               "python -m hw7core HW7_submission.zip" if not source.exists() else "")
        print(f"Problem: {exc}{fix}\nThe grader would give 0 points for every part.")
        return 1
    code = cells.find_graded_cells(sub.notebook) if sub.notebook is not None else None
    blocked, notes = blocked_parts(sub, code)
    problems = [f"{piece}: {message}" for piece, message in sub.problems.items()]
    for note in notes:
        print(note)
    warnings = staleness_warnings(source, sub.notebook, code)
    for warning in warnings:
        print(f"WARNING: {warning}")

    tests = load_public_tests()
    todo = {part: tests[part] for part in PARTS if part not in blocked}
    outcomes = run_public_tests(code, todo) if todo else {}
    print("\nThe notebook's public tests, run on the graded cells in the zip:")
    for part, what in PARTS.items():
        title = f"{part} {what}"
        if part in blocked:
            _print_block("FAIL", title, blocked[part])
            problems.append(part)
            continue
        outcome = outcomes[part]
        if outcome["passed"]:
            _print_block("PASS", title)
            continue
        message = outcome["error"]
        if outcome["cell_errors"]:
            message += "\nErrors while running your graded cells: " + "; ".join(outcome["cell_errors"])
        _print_block("FAIL", title, message)
        problems.append(part)
    if parts.RETRAINED in blocked:
        print(f"\n{parts.RETRAINED} cannot be re-trained: {blocked[parts.RETRAINED]}")
        problems.append(parts.RETRAINED)
    elapsed = time.monotonic() - start
    if problems:
        print(f"\n{len(problems)} problem(s) to fix before you submit (checked in {elapsed:.0f} s).")
        return 1
    print(f"\nPublic checks passed (in {elapsed:.0f} s). The grader runs more tests, hidden until grades are "
          "published, and re-trains your configs for part 2.3.\nUpload HW7_submission.zip, and the PDF "
          "separately.")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: python -m hw7core [HW7_submission.zip]\n(checks the zip that the notebook's last "
              "cells make; with no argument, HW7_submission.zip in this folder)")
        return 2
    try:
        return check(args[0] if args else "HW7_submission.zip")
    except KeyboardInterrupt:
        print("\nCheck interrupted.")
        return 1
    except ImportError as exc:
        print(f"\nA package the check needs is missing ({exc}). Install the handout's requirements in the "
              "environment that runs the check: pip install -r requirements.txt")
        return 1
    except Exception as exc:  # the check itself broke: say so in one line, never a traceback
        print(f"\nThe check itself failed ({type(exc).__name__}: {exc}). Your files were not changed; "
              "send this line to the course staff.")
        return 1
