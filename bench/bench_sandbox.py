"""What the bubblewrap sandbox costs: per child start, and in the grading of one submission.

    python bench/bench_sandbox.py                   # both, about 3 minutes on 2 cores
    python bench/bench_sandbox.py --only starts     # per child start (about 1 minute)
    python bench/bench_sandbox.py --only overhead   # one submission, with and without the sandbox

starts:   in turns, with and without the sandbox: a bare `python -I -c pass` (the sandbox's own cost),
          and a real child (the child importing torch, then part 1.4's job on the solution's D_KL).
          extra = median with - median without.  Target: <= 0.3 s per child start.
overhead: bench_grader.py's measure of one submission (grading wall time minus the training time
          inside the child: intake, child start-ups, the tests, scoring), for the reference submission
          with --iters iterations, graded in turns with and without the sandbox (--overhead-rounds each).
          Target: overhead <= 3 s with the sandbox.
The grader runs as an ordinary user, as a TA would: when started as root it re-runs itself as
`nobody` (tests/unprivileged.py lets that user reach the Python environment and the data).
Results go to bench/results/sandbox.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts"), str(ROOT / "tests"), str(ROOT / "bench")]


def _median_ms(values: list[float]) -> float:
    return round(1000 * statistics.median(values), 1)


def starts(rounds: int) -> dict:
    import variants

    from autograder import judges as checks
    from autograder.grader import DATA_FILE
    from autograder.run import bwrap, isolation
    from autograder.run.sandbox import Budget, Child
    from hw7core import cells, limits

    if not isolation.uses_bwrap():
        raise SystemExit(f"the sandbox cannot be built here: {isolation.current().reason}")
    code = cells.find_graded_cells(variants.load_solution())
    job = {"part": "1.4", "prelude": cells.IMPORT_PRELUDE,
           "cells": [{"index": c.index, "source": c.source} for c in code.cells if c.source],
           "model_config": None, "train_config": None, "memory_gb": limits.MEMORY_BYTES // 2**30,
           "file_mb": limits.FILE_BYTES // 2**20, "cell_s": limits.CELL_S, **checks.job_for("1.4")}
    times: dict[str, list[float]] = {k: [] for k in ("python on", "python off", "child on", "child off")}
    real_uses_bwrap = isolation.uses_bwrap
    with tempfile.TemporaryDirectory(prefix="hw7-bench-") as tmp:
        scratch = Path(tmp) / "scratch"
        (scratch / "tmp").mkdir(parents=True)  # the sandbox's /tmp
        for _ in range(rounds):
            for on in (True, False):  # in turns: load that comes and goes hits both alike
                prefix = bwrap.command(scratch, []) if on else []
                start = time.perf_counter()
                subprocess.run([*prefix, bwrap.interpreter(), "-I", "-c", "pass"], cwd=scratch, check=True)
                times[f"python {'on' if on else 'off'}"].append(time.perf_counter() - start)
                isolation.uses_bwrap = (lambda: True) if on else (lambda: False)
                try:
                    start = time.perf_counter()
                    outcome = Child(Path(tmp) / "part", DATA_FILE, Budget(wall_s=limits.TEST_WALL_S)).run(job)
                    times[f"child {'on' if on else 'off'}"].append(time.perf_counter() - start)
                finally:
                    isolation.uses_bwrap = real_uses_bwrap
                assert outcome.ok, outcome.cause
    row = {key: _median_ms(values) for key, values in times.items()}
    row = {"rounds": rounds, "median_ms": row,
           "extra_python_start_ms": round(row["python on"] - row["python off"], 1),
           "extra_child_ms": round(row["child on"] - row["child off"], 1), "target_ms": 300}
    print(f"per child start, median of {rounds} (ms): python alone {row['median_ms']['python off']} -> "
          f"{row['median_ms']['python on']} in the sandbox (+{row['extra_python_start_ms']}); a part-1.4 child "
          f"{row['median_ms']['child off']} -> {row['median_ms']['child on']} (+{row['extra_child_ms']}); "
          "target <= +300")
    return row


def overhead(rounds: int, n_iters: int) -> dict:
    """The reference submission graded in turns with and without the sandbox; overhead = wall - training."""
    import variants

    from autograder.grader import grade
    from autograder.run import isolation

    solution = variants.load_solution()
    model_config, train_config = variants.configs(solution)
    walls: dict[str, list[float]] = {"on": [], "off": []}
    overheads: dict[str, list[float]] = {"on": [], "off": []}
    real_uses_bwrap = isolation.uses_bwrap
    with tempfile.TemporaryDirectory(prefix="hw7-bench-") as tmp:
        sub = variants.write(Path(tmp) / "reference", solution, model_config, {**train_config, "n_iters": n_iters})
        for _ in range(rounds):
            for on in (True, False):
                isolation.uses_bwrap = (lambda: True) if on else (lambda: False)
                try:
                    start = time.perf_counter()
                    results = grade(sub)
                    wall = time.perf_counter() - start
                finally:
                    isolation.uses_bwrap = real_uses_bwrap
                key = "on" if on else "off"
                walls[key].append(wall)
                overheads[key].append(wall - float(results.extra["train_seconds"]))
    row = {"rounds": rounds, "n_iters": n_iters, "score": results.score,
           "median_grading_s": {k: round(statistics.median(v), 2) for k, v in walls.items()},
           "median_overhead_s": {k: round(statistics.median(v), 2) for k, v in overheads.items()},
           "target_overhead_s": 3.0}
    row["extra_s"] = round(row["median_overhead_s"]["on"] - row["median_overhead_s"]["off"], 2)
    print(f"one submission ({n_iters} iterations), median of {rounds}: overhead {row['median_overhead_s']['on']} s "
          f"with the sandbox, {row['median_overhead_s']['off']} s without ({row['extra_s']:+} s); target <= 3 s")
    return row


def measure(only: str | None, rounds: int, overhead_rounds: int, n_iters: int) -> dict:
    from autograder.run import isolation

    report = {"isolation": isolation.current().to_dict()}
    if only in (None, "starts"):
        report["starts"] = starts(rounds)
    if only in (None, "overhead"):
        report["overhead"] = overhead(overhead_rounds, n_iters)
    return report


def _as_ordinary_user(argv: list[str]) -> dict:
    """Re-run this script as the tests' unprivileged user; its report comes back on stdout."""
    import unprivileged

    from autograder import secret
    from autograder.grader import DATA_FILE
    from autograder.run import bwrap

    with tempfile.TemporaryDirectory(prefix="hw7-bench-user-") as tmp:
        home, data = Path(tmp) / "home", Path(tmp) / "airfoils.npz"
        home.mkdir()
        shutil.copy(DATA_FILE, data)
        Path(tmp).chmod(0o755)
        unprivileged.give_to_test_user(Path(tmp))
        cmd = unprivileged.environment_view([bwrap.interpreter(), str(Path(__file__)), "--inner", *argv],
                                            drop_to_user=True, readable={DATA_FILE: data})
        # A secret of the run's own: the kit's is private to its owner, and a fresh checkout has none yet
        # (the user could not create it in the kit's folder).  The probes it keys cost the same either way.
        env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
               secret.ENV_FILE: str(home / "course_secret")}
        proc = subprocess.run(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.returncode)
    *lines, report = proc.stdout.strip().splitlines()
    print("\n".join(lines))
    return json.loads(report)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["starts", "overhead"])
    parser.add_argument("--rounds", type=int, default=10, help="child starts per setting")
    parser.add_argument("--overhead-rounds", type=int, default=3, help="gradings per setting")
    parser.add_argument("--iters", type=int, default=1000, help="n_iters of the graded reference submission")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        report = measure(args.only, args.rounds, args.overhead_rounds, args.iters)
        print(json.dumps(report))
        return 0
    report = _as_ordinary_user([a for a in argv if a != "--inner"]) if os.geteuid() == 0 else \
        measure(args.only, args.rounds, args.overhead_rounds, args.iters)
    import torch

    report["machine"] = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
                         f"{platform.python_version()}, torch {torch.__version__}, load {os.getloadavg()[0]:.1f}")
    out = ROOT / "bench" / "results" / "sandbox.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.is_file() else {}
    out.write_text(json.dumps({**previous, **report}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
