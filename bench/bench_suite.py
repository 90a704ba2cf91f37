"""Where `make test`'s time goes: the CPU that every test costs the machine, and the sandboxed children it starts.

    python bench/bench_suite.py [--top 30] [--out bench/results/suite.json] [-- PYTEST_ARGS ...]

The suite runs in one pytest process (no xdist), and this file is also loaded into it as a pytest plugin
(`-p bench_suite`).  Around each test (its setup, call and teardown) the plugin reads the machine's busy
CPU time from /proc/stat.  That figure holds everything the test caused: the sandboxed children, the
notebook kernels, the Dask processes and the command-line runs it started.  A process's own rusage cannot
see those, because a child killed with its sandbox is reaped by a process that never reports it (this is
why `time make test` undercounts).  The machine must therefore be otherwise idle.  Linux only.

The plugin also counts the sandboxed children that each test starts in the pytest process
(`autograder.run.sandbox.Child`).  Children started in subprocesses (a Dask worker, `run_autograder`, the
command line) are in the CPU figure but not in this count.  Module fixtures are charged to the first test
that uses them.

With two xdist workers (what `make test` runs) the wall time is about the sum of these CPU figures over 2,
plus the xdist overhead: the suite is bound by CPU (bench/README.md).  Results go to bench/results/suite.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOG_VARIABLE = "HW7_BENCH_SUITE_LOG"  # where the plugin, inside pytest, writes one JSON line per test


# --- the plugin (runs inside pytest) -------------------------------------------------------------------------

_children = 0


def busy_cpu_seconds(stat: str = "/proc/stat") -> float:
    """The CPU seconds all cores have spent busy since boot (every field of the cpu line but idle and iowait)."""
    with open(stat) as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _count_children() -> None:
    from autograder.run import sandbox

    start = sandbox.Child.__init__
    if getattr(start, "_bench_counted", False):
        return

    def counted(self, *args, **kwargs):
        global _children
        _children += 1
        start(self, *args, **kwargs)

    counted._bench_counted = True
    sandbox.Child.__init__ = counted


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    log = os.environ.get(LOG_VARIABLE)
    if not log:
        yield
        return
    _count_children()
    children, cpu, wall = _children, busy_cpu_seconds(), time.monotonic()
    yield
    record = {"test": item.nodeid, "cpu_s": round(busy_cpu_seconds() - cpu, 2),
              "wall_s": round(time.monotonic() - wall, 2), "children": _children - children}
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


# --- the benchmark (runs pytest, then sums up) -------------------------------------------------------------------

def import_torch_cpu_s(repeats: int = 3) -> float:
    """The CPU time of `python -c "import torch"` here (best of ``repeats``): the machine's speed, to read first,
    since every sandboxed child pays it."""
    best = float("inf")
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return best


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    for line in Path(cpuinfo).read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def summarise(records: list[dict], top: int) -> dict:
    """Totals, per file (largest first) and the ``top`` costliest tests."""
    files: dict[str, dict] = {}
    for r in records:
        entry = files.setdefault(r["test"].split("::")[0], {"cpu_s": 0.0, "wall_s": 0.0, "children": 0, "tests": 0})
        entry["cpu_s"] += r["cpu_s"]
        entry["wall_s"] += r["wall_s"]
        entry["children"] += r["children"]
        entry["tests"] += 1
    for entry in files.values():
        entry["cpu_s"], entry["wall_s"] = round(entry["cpu_s"], 1), round(entry["wall_s"], 1)
    by_cpu = sorted(records, key=lambda r: -r["cpu_s"])
    return {
        "tests": len(records),
        "cpu_s": round(sum(r["cpu_s"] for r in records), 1),
        "wall_s": round(sum(r["wall_s"] for r in records), 1),
        "children": sum(r["children"] for r in records),
        "files": dict(sorted(files.items(), key=lambda kv: -kv[1]["cpu_s"])),
        "top": by_cpu[:top],
    }


def table(summary: dict) -> str:
    lines = ["| file | tests | CPU s | wall s | children |", "|---|---:|---:|---:|---:|"]
    for name, f in summary["files"].items():
        lines.append(f"| {name} | {f['tests']} | {f['cpu_s']:.0f} | {f['wall_s']:.0f} | {f['children']} |")
    lines.append(f"| all | {summary['tests']} | {summary['cpu_s']:.0f} | {summary['wall_s']:.0f} | "
                 f"{summary['children']} |")
    lines += ["", "| test | CPU s | wall s | children |", "|---|---:|---:|---:|"]
    lines += [f"| {r['test']} | {r['cpu_s']:.1f} | {r['wall_s']:.1f} | {r['children']} |" for r in summary["top"]]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=30, help="how many of the costliest tests to list")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "suite.json")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --), e.g. tests/test_grader.py")
    args = parser.parse_args(argv)
    if not Path("/proc/stat").is_file():
        print("bench_suite.py reads /proc/stat: it runs on Linux only")
        return 2
    torch_s = import_torch_cpu_s()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "tests.jsonl"
        env = {**os.environ, LOG_VARIABLE: str(log),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "bench"), os.environ.get("PYTHONPATH")]))}
        cmd = [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "bench_suite", "-p", "no:cacheprovider",
               "-q", *args.pytest_args]
        cpu, start = busy_cpu_seconds(), time.monotonic()
        rc = subprocess.run(cmd, cwd=ROOT, env=env).returncode
        cpu, wall = busy_cpu_seconds() - cpu, time.monotonic() - start
        records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    summary = {"machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                           "import_torch_cpu_s": round(torch_s, 2)},
               "pytest_exit_code": rc, "run_cpu_s": round(cpu, 1), "run_wall_s": round(wall, 1),
               **summarise(records, args.top)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"\nimport torch: {torch_s:.2f} CPU s; the run: {cpu:.0f} CPU s in {wall:.0f} s "
          f"(pytest exit code {rc})\n")
    print(table(summary))
    print(f"\nwritten to {args.out}")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
