"""Run every benchmark in bench/ (the files named bench_*.py), one after another.

Each runs in its own process with its default arguments and writes its own bench/results/*.json.
They run in turn, never together: on a 2-core machine two benchmarks would time each other.

    python bench/run_all.py            # all of them
    python bench/run_all.py training   # only those whose name contains "training"
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def scripts(filters: list[str]) -> list[Path]:
    found = sorted(BENCH.glob("bench_*.py"))
    return [p for p in found if not filters or any(f in p.stem for f in filters)]


def main(argv: list[str]) -> int:
    todo = scripts(argv)
    if not todo:
        print(f"no bench_*.py in {BENCH} matches {argv}")
        return 1
    failed = []
    for script in todo:
        print(f"=== {script.name}", flush=True)
        start = time.perf_counter()
        rc = subprocess.run([sys.executable, str(script)], cwd=BENCH.parent).returncode
        print(f"=== {script.name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} "
              f"in {time.perf_counter() - start:.0f} s\n", flush=True)
        if rc != 0:
            failed.append(script.name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
