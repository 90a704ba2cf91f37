"""`python -m autograder ...`: a thin command line over the grader's functions (no logic here)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _refused(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2


def _grade(args) -> int:
    from autograder import secret
    from autograder.grader import grade
    from autograder.run import isolation, preflight
    from autograder.run.cache import FOLDER_NAME

    try:
        preflight.require_torch()
        isolation.announce(args.strict)
        secret.course_secret()  # a damaged secret stops here, not in the grading
    except (preflight.TorchMissing, isolation.IsolationError, secret.SecretError) as exc:
        return _refused(exc)
    results = grade(args.submission, args.out, parallel=not args.sequential,
                    cache_dir=None if args.no_cache else Path(args.out) / FOLDER_NAME)
    print(results.summary())
    print(f"Wrote {Path(args.out) / 'results.json'} ({results.execution_time:.1f} s)")
    return 0


NO_CACHE_HELP = "run every part again instead of reusing the outcomes stored in OUT/.cache for unchanged code"


def _grade_all(args) -> int:
    from autograder.batch import grade_all
    from autograder.run.isolation import IsolationError

    notes: list[str] = []
    try:
        rows = grade_all(args.submissions, args.out, workers=args.workers, force=args.force,
                         scheduler=args.scheduler, roster=args.roster, notes=notes,
                         strict=args.strict, cache=not args.no_cache)
    except (ValueError, IsolationError) as exc:
        return _refused(exc)
    graded = sum(r.status == "graded" for r in rows)
    print(f"Graded {graded} of {len(rows)} submissions into {args.out}/ "
          f"(gradebook.csv, canvas.csv, summary.html, similarity.html, written.html, <id>/results.json and "
          "<id>/feedback.html; staff files: written_scores.csv, adjustments.csv).")
    print("\n".join(notes))
    return 0


def _audit(args) -> int:
    from autograder.staff import audit

    if not Path(args.out).is_dir():
        return _refused(ValueError(f"{args.out} is not a grades folder: run make grade first"))
    print("\n".join(audit.run(args.out, args.size, args.seed)))
    return 0


def _check(args) -> int:
    from autograder.grader import check

    return check(args.submission)


def _score_samples(args) -> int:
    """Print the 2.3 report of a saved array (or one JSON object); 2 when the file is no .npy array."""
    import json

    import numpy as np

    from hw7core.sample_quality import score

    try:
        samples = np.load(args.samples, allow_pickle=False)
    except Exception as exc:
        print(f"score-samples: cannot read {args.samples} as a .npy array ({type(exc).__name__}: {exc})",
              file=sys.stderr)
        return 2
    if not isinstance(samples, np.ndarray):  # an .npz archive
        samples.close()
        print(f"score-samples: {args.samples} is an .npz archive; save one array with np.save", file=sys.stderr)
        return 2
    report = score(samples)
    print(json.dumps(report.to_dict(), allow_nan=False) if args.json else report.summary())
    return 0


def main(argv: list[str] | None = None) -> int:
    from hw7core import limits

    parser = argparse.ArgumentParser(prog="python -m autograder", description="The HW7 autograder.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("grade", help="grade one submission (zip, folder or .ipynb) into DIR/results.json")
    p.add_argument("submission", type=Path)
    p.add_argument("--out", type=Path, required=True, help="folder for results.json")
    p.add_argument("--sequential", action="store_true", help="run the parts one after another")
    p.add_argument("--strict", action="store_true", help="refuse to grade without the full sandbox (bubblewrap)")
    p.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)
    p.set_defaults(func=_grade)
    p = sub.add_parser("grade-all", help="grade every submission in a folder; gradebook and pages")
    p.add_argument("submissions", type=Path, help="a folder of zips/notebooks/folders or a Gradescope export")
    p.add_argument("--out", type=Path, default=Path("grades"))
    p.add_argument("--workers", type=int, default=None, help="parallel gradings (default: CPU cores)")
    p.add_argument("--force", action="store_true", help="re-grade submissions that already have results")
    p.add_argument("--scheduler", help="a Dask scheduler address (tcp://HOST:PORT) to grade on a cluster")
    p.add_argument("--roster", type=Path, help="the class roster CSV (best: Canvas's gradebook export) to match "
                                               "canvas.csv against")
    p.add_argument("--strict", action="store_true", help="refuse to grade without the full sandbox (bubblewrap)")
    p.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)
    p.set_defaults(func=_grade_all)
    p = sub.add_parser("audit", help="a TA's check of the 2.3 scores: a seeded sample, a page, a sheet, the agreement")
    p.add_argument("--out", type=Path, default=Path("grades"), help="the grades folder of make grade")
    p.add_argument("--size", type=int, default=12, help="submissions in the sample")
    p.add_argument("--seed", type=int, default=0, help="the sample's seed (the same seed, the same sample)")
    p.set_defaults(func=_audit)
    p = sub.add_parser("check", help="a student's local check of their own zip (runs its code unsandboxed, as "
                                         "the notebook does): what the grader will train, the public tests")
    p.add_argument("submission", type=Path)
    p.set_defaults(func=_check)
    p = sub.add_parser("score-samples", help=f"score a saved ({limits.N_SAMPLES}, {limits.N_POINTS}) array of samples "
                       "(decoder units)")
    p.add_argument("samples", type=Path)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_score_samples)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
