"""Grading speed: the grader's overhead, grading against bare training, and batch throughput.

    python bench/bench_grader.py                 # all three, about 12 minutes on 2 cores
    python bench/bench_grader.py --only single   # overhead and ratio (issues 4 and 5)
    python bench/bench_grader.py --only batch    # 1 vs 2 workers (issue 6)

single: the reference submission (the solution with its real configs) is graded once, and in the
        same run the same model is trained bare: the solution's own cells and train_VAE, in this
        process, on one torch thread.  overhead = grading wall time - the child's training time
        (intake, child start-ups, the tests, scoring); ratio = grading wall time / bare training.
batch:  the example submissions (examples/submissions) graded by grade-all with 1 and then 2
        workers; throughput, speed-up, and the time 100 such submissions would take on 2 workers.
Results go to bench/results/grader.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]


def bare_training(solution) -> float:
    """Train the solution's model with the solution's own code and configs, in this process."""
    import torch
    import variants

    from HW7_utils import AirfoilDataset
    from hw7core import cells

    torch.set_num_threads(1)
    code = cells.find_graded_cells(solution)
    ns: dict = {}
    exec(cells.IMPORT_PRELUDE, ns)  # noqa: S102 (the kit's own reference code)
    for cell in code.cells:
        exec(cell.source, ns)  # noqa: S102
    model_config, train_config = variants.configs(solution)
    torch.manual_seed(0)
    model = ns["VAE"](**model_config)
    dataset = AirfoilDataset()
    start = time.perf_counter()
    ns["train_VAE"](model, dataset, device="cpu", plot_freq=0, **train_config)
    return time.perf_counter() - start


def single() -> dict:
    import variants

    from autograder.grader import grade

    solution = variants.load_solution()
    with tempfile.TemporaryDirectory() as tmp:
        sub = variants.write(Path(tmp) / "reference", solution)
        bare = bare_training(solution)
        start = time.perf_counter()
        results = grade(sub)
        wall = time.perf_counter() - start
    train = float(results.extra.get("train_seconds", float("nan")))
    row = {
        "n_iters": variants.configs(solution)[1]["n_iters"],
        "score": results.score,
        "bare_training_s": round(bare, 2),
        "grading_wall_s": round(wall, 2),
        "training_in_grader_s": round(train, 2),
        "overhead_s": round(wall - train, 2),
        "grading_over_bare": round(wall / bare, 3),
        "targets": {"overhead_s": 3.0, "grading_over_bare": 1.10},
    }
    print(f"reference submission ({row['n_iters']} iterations), score {row['score']:g}/80")
    print(f"  bare training (same model, same run)   {bare:7.1f} s")
    print(f"  grading, wall clock                    {wall:7.1f} s   = {row['grading_over_bare']:.3f} x bare "
          "(target <= 1.10)")
    print(f"  of which training in the child        {train:7.1f} s")
    print(f"  overhead (everything but training)     {row['overhead_s']:7.1f} s   (target <= 3 s)")
    return row


def batch_throughput() -> dict:
    from autograder.batch import discover, grade_all

    subs = ROOT / "examples" / "submissions"
    n = len(discover(subs))
    times = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            grade_all(subs, Path(tmp) / "grades", workers=workers, progress=False)
            times[workers] = time.perf_counter() - start
    row = {
        "submissions": n,
        "wall_s": {str(k): round(v, 1) for k, v in times.items()},
        "speedup_2_over_1": round(times[1] / times[2], 3),
        "per_submission_2_workers_s": round(times[2] / n, 1),
        "projected_100_submissions_min": round(times[2] / n * 100 / 60, 1),
        "targets": {"speedup_2_over_1": 1.8, "projected_100_submissions_min": 30},
    }
    print(f"\n{n} example submissions (examples/submissions)")
    print(f"  1 worker   {times[1]:7.1f} s")
    print(f"  2 workers  {times[2]:7.1f} s   speed-up {row['speedup_2_over_1']:.2f} x (target >= 1.8)")
    print(f"  100 such submissions on 2 workers: about {row['projected_100_submissions_min']:.0f} minutes "
          "(target <= 30)")
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["single", "batch"])
    args = parser.parse_args(argv)
    import torch

    report = {"machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores, "
                         f"Python {platform.python_version()}, torch {torch.__version__}"}
    if args.only in (None, "single"):
        report["single"] = single()
    if args.only in (None, "batch"):
        report["batch"] = batch_throughput()
    out = ROOT / "bench" / "results" / "grader.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.is_file() else {}
    out.write_text(json.dumps({**previous, **report}, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
