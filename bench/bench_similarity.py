"""How long the similarity report takes for a large batch (target: a few seconds for 200 submissions).

The batch is synthetic: 200 notebooks made from the example submissions (all written from the one
reference solution) plus the three independent implementations of tests/fixtures/independent, each
with its identifiers renamed at random.  Most pairs then share code: the worst case, since every such
pair goes through copydetect's full comparison and onto the page.

    python bench/bench_similarity.py [--n 200] [--repeats 3]

Timed stages (best of the repeats; wall and CPU seconds, CPU being the steadier on a shared machine): extracting the graded code of every notebook,
fingerprinting, comparing every pair, and the whole ``similarity.write_report`` (all of it, plus the
HTML and CSV).  Reading the zips through the intake is timed once, separately: grading does it anyway.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts"), str(ROOT / "tests")]

from autograder import batch  # noqa: E402
from autograder.staff import similarity  # noqa: E402

NAMES = ("sizes", "layers", "n_in", "n_out", "hidden", "mu", "logvar", "tracker", "loader", "rec_loss",
         "prior_loss", "optimizer", "scheduler", "h", "prev", "out", "stats", "dims", "blocks")


def renamed(nb, rng: random.Random):
    """The notebook with a random half of the common identifiers renamed in its graded cells."""
    import copy

    nb = copy.deepcopy(nb)
    chosen = {old: f"{old}_{rng.randrange(10**6)}" for old in NAMES if rng.random() < 0.5}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.lstrip().startswith("# AUTOGRADED"):
            for old, new in chosen.items():
                cell.source = re.sub(rf"\b{old}\b", new, cell.source)
    return nb


def _extract(notebooks: dict) -> dict[str, str]:
    return {name: similarity.graded_code(nb) for name, nb in notebooks.items()}


def _timed(times: dict[str, float], stage: str, work, *args):
    """Run work(*args) and record its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = work(*args)
    times[f"{stage}_wall"] = time.perf_counter() - wall
    times[f"{stage}_cpu"] = time.process_time() - cpu
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "similarity.json")
    args = parser.parse_args(argv)
    import code_variants

    start = time.perf_counter()
    jobs = batch.discover(ROOT / "examples" / "submissions")
    examples = [nb for nb in batch.load_notebooks(jobs).values() if nb is not None]
    intake_s = time.perf_counter() - start
    bases = examples + [code_variants.independent(n) for n in code_variants.INDEPENDENT]
    rng = random.Random(0)
    notebooks = {f"s{i:03d}": renamed(bases[i % len(bases)], rng) for i in range(args.n)}
    starter = similarity.starter_code()

    best: dict[str, float] = {}
    for _ in range(args.repeats):
        times: dict[str, float] = {}
        codes = _timed(times, "extract", _extract, notebooks)
        prints = _timed(times, "fingerprint", similarity.fingerprints, codes, starter)
        pairs = _timed(times, "compare", similarity.compare, prints)
        with tempfile.TemporaryDirectory() as tmp:
            _, _, written = _timed(times, "write_report", similarity.write_report, notebooks, tmp, 0.5)
            page_kb = os.path.getsize(Path(tmp) / "similarity.html") // 1024
        best = {k: min(v, best.get(k, v)) for k, v in times.items()}
    listed = sum(p.listed(0.5) for p in written)
    figures = {"n": args.n, "pairs": args.n * (args.n - 1) // 2, "pairs_sharing_code": len(pairs),
               "pairs_listed": listed, "page_kb": page_kb, "intake_s": round(intake_s, 2),
               "intake_notebooks": len(examples), **{f"{k}_s": round(v, 3) for k, v in best.items()},
               "load_average": os.getloadavg()[0], "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
