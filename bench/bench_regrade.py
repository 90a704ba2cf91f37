"""A regrade of the whole class against its first grading (the outcome cache, autograder/run/cache.py).

    python bench/bench_regrade.py [--workers 2] [--submissions examples/submissions]

As an instructor would run it: `python -m autograder grade-all SUBMISSIONS --out OUT` into a fresh
folder (what `make grade` runs), then the same with `--force` (`make grade FORCE=1`), each a whole
process, Python start included.  Then once more with `--force --no-cache` for comparison.  The regrade
must give the same gradebook and the same results.json (less `execution_time`); the uncached re-run the
same gradebook and scores (its texts hold its own re-training times).  Target: the regrade
takes at most 10% of the first grading's wall time.  Results go to bench/results/regrade.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def grade_all(submissions: Path, out: Path, workers: int, *flags: str) -> float:
    cmd = [sys.executable, "-m", "autograder", "grade-all", str(submissions), "--out", str(out),
           "--workers", str(workers), *flags]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def scores(out: Path) -> dict[str, object]:
    """The gradebook and every test's score: what a grade is (a real re-run's texts hold its timings)."""
    found: dict[str, object] = {"gradebook.csv": (out / "gradebook.csv").read_text(encoding="utf-8")}
    for path in sorted(out.glob("*/results.json")):
        tests = json.loads(path.read_text(encoding="utf-8"))["tests"]
        found[str(path.relative_to(out))] = [(t["number"], t["score"]) for t in tests]
    return found


def snapshot(out: Path) -> dict[str, object]:
    """The gradebook and every results.json, without the one field that is a time."""
    found: dict[str, object] = {"gradebook.csv": (out / "gradebook.csv").read_text(encoding="utf-8")}
    for path in sorted(out.glob("*/results.json")):
        results = json.loads(path.read_text(encoding="utf-8"))
        results.pop("execution_time", None)
        found[str(path.relative_to(out))] = results
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--submissions", type=Path, default=ROOT / "examples" / "submissions")
    parser.add_argument("--no-uncached", action="store_true", help="skip the third, uncached run")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="hw7-regrade-") as tmp:
        out = Path(tmp) / "grades"
        first = grade_all(args.submissions, out, args.workers)
        graded, graded_scores = snapshot(out), scores(out)
        regrade = grade_all(args.submissions, out, args.workers, "--force")
        same = snapshot(out) == graded  # everything, texts included
        uncached, same_uncached = None, None
        if not args.no_uncached:
            uncached = grade_all(args.submissions, out, args.workers, "--force", "--no-cache")
            same_uncached = scores(out) == graded_scores
        entries = sum(1 for _ in (out / ".cache").rglob("*.json"))
    n = len(graded) - 1
    row = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}",
        "submissions": n, "workers": args.workers, "cache_entries": entries,
        "first_grading_s": round(first, 1), "regrade_s": round(regrade, 1),
        "regrade_over_first": round(regrade / first, 3),
        "regrade_no_cache_s": None if uncached is None else round(uncached, 1),
        "identical_gradebooks": same,
        "identical_scores_without_cache": same_uncached,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "targets": {"regrade_over_first": 0.10},
    }
    print(f"{n} submissions, {args.workers} workers ({entries} cache entries)")
    print(f"  first grading            {first:7.1f} s")
    print(f"  regrade (FORCE=1)        {regrade:7.1f} s   = {row['regrade_over_first']:.3f} x (target <= 0.10)")
    if uncached is not None:
        print(f"  regrade with --no-cache  {uncached:7.1f} s")
    print(f"  regrade: gradebook and every results.json (less execution_time) identical: {same}")
    if uncached is not None:
        print(f"  --no-cache re-run: gradebook and every test's score identical: {same_uncached}")
    dest = ROOT / "bench" / "results" / "regrade.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(row, indent=2) + "\n")
    print(f"wrote {dest.relative_to(ROOT)}")
    return 0 if same and same_uncached is not False else 1


if __name__ == "__main__":
    sys.exit(main())
