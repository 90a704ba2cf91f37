"""One public test in its own process: the import cell, the graded cells' definitions, then the test.

    python -m hw7_check.public_child JOB.json RESULT.json

Runs the student's own code on the student's own machine.  Whatever happens is written to
RESULT.json as a sentence; the parent never needs this process's traceback.
"""

from __future__ import annotations

import json
import sys
import traceback

OWN_FILES = ("<cell ", "<public test")  # the code frames worth quoting: the student's and the test's


def _where(exc: BaseException) -> str:
    """' (cell 9, line 4)' for the innermost frame in a graded cell or in the test, else ''."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(OWN_FILES)]
    if not frames:
        return ""
    frame = frames[-1]
    return f" ({frame.filename.strip('<>')}, line {frame.lineno})"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, AssertionError):
        name, text = "", text or "an assertion failed"
    else:
        name = f"{type(exc).__name__}: "
    return f"{name}{text[:1500]}{_where(exc)}"


def run(job: dict) -> dict:
    result = {"passed": False, "error": None, "cell_errors": []}
    namespace: dict = {"__name__": "__hw7_public_test__"}
    try:
        exec(compile(job["prelude"], "<the notebook's import cell>", "exec"), namespace)
    except ImportError as exc:
        result["error"] = (f"the notebook's imports failed ({exc}); install the handout's requirements: "
                           "pip install -r requirements.txt")
        return result
    for cell in job["cells"]:
        try:
            exec(compile(cell["source"], f"<cell {cell['index'] + 1}>", "exec"), namespace)
        except Exception as exc:
            result["cell_errors"].append(f"cell {cell['index'] + 1}: {_describe(exc)}")
    try:
        exec(compile(job["test"], "<public test>", "exec"), namespace)
    except Exception as exc:
        result["error"] = _describe(exc)
    else:
        result["passed"] = True
    return result


def main(argv: list[str]) -> int:
    job_path, result_path = argv
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    try:
        result = run(job)
    except BaseException as exc:  # SystemExit or KeyboardInterrupt from the student's code
        result = {"passed": False, "error": f"the code stopped the test ({type(exc).__name__}: {exc})",
                  "cell_errors": []}
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
