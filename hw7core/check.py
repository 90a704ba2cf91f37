"""The student's check of a submission: what the grader will do with this zip, before it is submitted.

    python -m hw7core [HW7_submission.zip]     (the handout)   python -m autograder check ZIP   (the kit)
    check_submission(...) in the notebook

One implementation for the handout and the kit (relative imports: the handout carries this file with
the grader's intake, cells, readiness and parts).  It reads the zip with the grader's intake and the
grader's readiness rule, says which configs the grader will train (the YAML files in the zip) and
whether they differ from the notebook's config cell (then the notebook's 2.3 preview does not apply),
and runs the notebook's public tests on the graded cells in a separate Python process, adding the hint
the grader gives when a public test fails.  It asks nothing the grade does not: e.g. a train_VAE that
does not return its tracker loses no points, so it fails nothing here.  One verdict per problem.  The
hidden tests and the re-training run only after submission, so a pass is "public checks passed".
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import cells, intake, parts, readiness

PACKAGE_DIR = Path(__file__).resolve().parent
PUBLIC_TESTS_FILE = PACKAGE_DIR / "public_tests.json"  # the handout's, written when it is built
KIT_NOTEBOOK = PACKAGE_DIR.parent / "notebooks" / "HW7.ipynb"  # the kit's student notebook
# Part -> the nbgrader id of the notebook cell holding that part's public test.
PUBLIC_TEST_CELLS = {"1.4": "D_KL_public", "2.1": "VAE_public", "2.2": "train_VAE_public"}
# Part -> what the grader's tests say when the student's code gets that part's public values wrong (the
# hidden tests' message, which names the mistake; autograder/judges/ must keep saying the same: tests/test_handout.py).
GRADER_HINTS = {
    "1.4": "check that you average over the batch AND latent dimensions and use exp(logvar) for sigma^2",
}
CONFIGS = tuple(name for part in parts.PARTS if part.retrains for name in part.names)
CHILD_TIMEOUT_S = 240  # all three tests; generous for a slow laptop (the grader allows 30 s a part)
STUB = "raise NotImplementedError"
# The child gets the notebook's import cell; plots go to files nobody reads.
PRELUDE_EXTRA = ("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
                 "torch.set_num_threads(1)\ndataset = AirfoilDataset()\n")


def _names(names: tuple[str, ...]) -> str:
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


# The parts whose public tests run here (the grader's own table): part -> what it defines.
PARTS = {part.number: _names(part.names) for part in parts.PARTS if not part.retrains}


def public_tests(notebook) -> dict[str, str]:
    """Part -> the source of the notebook's public test cell for it."""
    by_id = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): c for c in notebook.get("cells", [])}
    missing = [cell_id for cell_id in PUBLIC_TEST_CELLS.values() if cell_id not in by_id]
    if missing:
        raise ValueError(f"the student notebook has no public test cell {', '.join(missing)}")
    return {part: cells._cell_text(by_id[cell_id]) for part, cell_id in PUBLIC_TEST_CELLS.items()}


def load_public_tests() -> dict[str, str]:
    """The handout's public_tests.json, or in the kit the student notebook's public test cells."""
    if PUBLIC_TESTS_FILE.is_file():
        return json.loads(PUBLIC_TESTS_FILE.read_text(encoding="utf-8"))
    return public_tests(intake.read_notebook(KIT_NOTEBOOK))


def blocked_parts(sub: intake.Submission, code: cells.GradedCode | None) -> tuple[dict[str, str], list[str]]:
    """Which parts cannot pass here and why, with the grader's notes: the grader's own rule
    (readiness.py).  A part the grader runs only in part (some names missing) fails its public test."""
    ready = readiness.assess(sub, code)
    return {**ready.partly_missing, **ready.blocked}, ready.notes


# --- which configs the grader trains ------------------------------------------------------------------
def _plain(value):
    """JSON's view of a value: a tuple in the notebook is a list in the YAML."""
    return json.loads(json.dumps(value, default=repr))


def _assigned_in_notebook(notebook, key: str) -> bool:
    """Does a graded cell assign ``key`` at all (even from other variables, which the grader cannot read)?"""
    for cell in notebook.get("cells", []):
        text = cells._cell_text(cell)
        if cell.get("cell_type") != "code" or not cells.TAG.match(text.lstrip("\n").split("\n", 1)[0]):
            continue
        try:
            tree = cells.parse(text)
        except SyntaxError:
            continue
        if any(isinstance(node, (ast.Assign, ast.AnnAssign)) and key in
               [t.id for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                if isinstance(t, ast.Name)] for node in tree.body):
            return True
    return False


def config_differences(in_zip: dict, in_notebook: dict) -> list[str]:
    """'key: X in the zip, Y in the notebook' for each setting that differs."""
    a, b = _plain(in_zip), _plain(in_notebook)

    def shown(config: dict, key: str) -> str:
        return repr(config[key]) if key in config else "not set"

    return [f"{k}: {shown(a, k)} in the zip, {shown(b, k)} in the notebook"
            for k in sorted(set(a) | set(b), key=str) if (k in a, a.get(k)) != (k in b, b.get(k))]


def training_plan(sub: intake.Submission, code: cells.GradedCode | None, blocked: dict[str, str]
                  ) -> tuple[list[str], list[str]]:
    """(what the grader will train for 2.3, warnings): the configs it uses and how they compare with the
    notebook's config cell, whose training the notebook's 2.3 preview (score_samples) scored."""
    part = parts.RETRAINED
    if part in blocked or code is None:
        return [f"{part}: nothing can be re-trained (see below)."], []
    plan, warnings = [], []
    written = cells.notebook_configs(code)
    for key in CONFIGS:
        used = getattr(sub, key)
        if key not in sub.problems:  # the YAML file of the zip
            if key in written:
                diff = config_differences(used, written[key])
                if diff:
                    plan.append(f"{part}: trains {key}.yaml from the zip, which DIFFERS from the notebook's {key}.")
                    warnings.append(
                        f"{key}.yaml in the zip is not the {key} of the notebook ({'; '.join(diff)}). The grader "
                        f"trains the YAML file, so the notebook's 2.3 preview (score_samples) does not apply to "
                        f"this zip. Run the save_yaml(...) and zip_files(...) cells again, then check again.")
                else:
                    plan.append(f"{part}: trains {key}.yaml from the zip (the same as the notebook's {key}).")
            elif _assigned_in_notebook(sub.notebook, key):
                plan.append(f"{part}: trains {key}.yaml from the zip. The notebook builds {key} from other "
                            "variables, so neither the grader nor this check reads it there: make sure the "
                            "zip's YAML is the one you trained.")
            else:
                plan.append(f"{part}: trains {key}.yaml from the zip.")
        else:  # absent from the zip, taken from the notebook by readiness.assess
            plan.append(f"{part}: {key}.yaml is not in the zip, so it trains the {key} written in the notebook.")
    return plan, warnings


# --- the notebook's public tests ------------------------------------------------------------------------
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


def _python_path() -> str:
    """The folder that holds this package and HW7_utils.py (the handout's folder, or the kit's root)."""
    return os.pathsep.join([str(PACKAGE_DIR.parent), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)


def run_public_tests(code: cells.GradedCode, tests: dict[str, str]) -> dict[str, dict]:
    """Run the notebook's public tests (part -> source) on the graded cells, in one child process."""
    job = {"prelude": cells.IMPORT_PRELUDE + PRELUDE_EXTRA, "tests": tests,
           "cells": [{"index": c.index, "source": c.source} for c in code.cells if c.source]}
    env = {**os.environ, "PYTHONPATH": _python_path(), "MPLBACKEND": "Agg"}
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


def failure_message(part: str, outcome: dict) -> str:
    """A failed public test in the grader's words: what failed, the grader's hint, the cells' errors."""
    message = outcome["error"]
    if part in GRADER_HINTS and outcome["cell_errors"] == []:
        message += f"\nThe grader's hint: {GRADER_HINTS[part]}."
    if outcome["cell_errors"]:
        message += "\nErrors while running your graded cells: " + "; ".join(outcome["cell_errors"])
    return message


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
    for note in notes:
        print(note)
    for warning in staleness_warnings(source, sub.notebook, code):
        print(f"WARNING: {warning}")
    plan, config_warnings = training_plan(sub, code, blocked)
    print("\nWhat the grader will do with this zip:")
    print(f"  {', '.join(PARTS)}: their tests (public and hidden) on the graded cells of the notebook in the zip.")
    for line in plan:
        print(f"  {line}")
    for warning in config_warnings:
        print(f"WARNING: {warning}")

    # One verdict per problem: a cause that blocks several parts (a missing config) is one problem.
    problems: dict[str, list[str]] = {}
    tests = load_public_tests()
    todo = {part: tests[part] for part in PARTS if part not in blocked}
    outcomes = run_public_tests(code, todo) if todo else {}
    print("\nThe notebook's public tests, run on the graded cells in the zip:")
    for part, what in PARTS.items():
        title = f"{part} {what}"
        if part in blocked:
            _print_block("FAIL", title, blocked[part])
            problems.setdefault(blocked[part], []).append(part)
        elif outcomes[part]["passed"]:
            _print_block("PASS", title)
        else:
            message = failure_message(part, outcomes[part])
            _print_block("FAIL", title, message)
            problems.setdefault(message, []).append(part)
    if parts.RETRAINED in blocked:
        print(f"\n{parts.RETRAINED} cannot be re-trained: {blocked[parts.RETRAINED]}")
        problems.setdefault(blocked[parts.RETRAINED], []).append(parts.RETRAINED)
    elapsed = time.monotonic() - start
    if problems:
        print(f"\n{len(problems)} problem(s) to fix before you submit (checked in {elapsed:.0f} s):")
        for message, affected in problems.items():
            print(f"  - part{'s' if len(affected) > 1 else ''} {', '.join(affected)}: {message.splitlines()[0]}")
        return 1
    caveat = (f" But {len(config_warnings)} warning(s) above: the grader will not train what the notebook "
              "trained." if config_warnings else "")
    print(f"\nPublic checks passed (in {elapsed:.0f} s).{caveat} The grader runs more tests, hidden until grades "
          "are published, and re-trains your configs for part 2.3.\nUpload HW7_submission.zip, and the PDF "
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


if __name__ == "__main__":
    sys.exit(main())
