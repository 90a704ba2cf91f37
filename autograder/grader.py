"""Grade one submission: a plain function from a submission path to a Results object.

intake -> graded cells -> one isolated child per part -> judges -> sample quality -> results.json
"""

from __future__ import annotations

import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autograder import KIT_ROOT, secret
from autograder import judges as checks
from autograder.judges.table import zero as _zero_tests
from autograder.results import Results, TestResult
from autograder.run import cache, isolation
from autograder.run.sandbox import Budget, Child, Outcome
from autograder.run.workdirs import grading_folder, private_root
from hw7core import cells, intake, limits, readiness
from hw7core.parts import NUMBERS, QUICK, RETRAINED, RUN_BY_RETRAINING

DATA_FILE = KIT_ROOT / "data" / "airfoils.npz"


class _Grading:
    cache = None  # a cache.Store when the grading may reuse earlier outcomes

    def __init__(self, source: Path, workdir: Path, data_file: Path, parallel: bool,
                 parts: tuple[str, ...] = NUMBERS):
        self.results = Results()
        self.parts = parts
        private_root(workdir)
        self.workdir, self.data_file, self.parallel = workdir, data_file, parallel
        unpacked = workdir / "private"  # the submission's files: no child, of this submission or another, may read them
        unpacked.mkdir(mode=0o700, exist_ok=True)
        self.sub = intake.load_submission(source, unpacked)
        self.code = cells.find_graded_cells(self.sub.notebook) if self.sub.notebook is not None else None
        ready = readiness.assess(self.sub, self.code)  # may take a missing config from the notebook
        self.blocked, self.partly_missing = ready.blocked, ready.partly_missing
        self.results.notes += ready.notes
        # What the hidden inputs are derived from (with the course secret): the graded code and the configs.
        self.key = secret.submission_key({
            "cells": [c.source for c in self.code.cells] if self.code is not None else None,
            "model_config": self.sub.model_config, "train_config": self.sub.train_config})

    def inputs(self, part: str):
        """The protocol inputs of ``part`` for this submission (the same on every regrade)."""
        return checks.inputs_for(part, self.key)

    def job(self, part: str, **extra) -> dict:
        """Everything that decides a child run's outcome (its budget included)."""
        wall = limits.TEST_WALL_S if part != RETRAINED else limits.TRAIN_WALL_S * (
            limits.FALLBACK_SHARE if extra.get("use_reference_loop") else 1)
        return {
            "part": part, "prelude": cells.IMPORT_PRELUDE, "wall_s": wall,
            "cells": [{"index": c.index, "source": c.source} for c in self.code.cells if c.source],
            "model_config": self.sub.model_config, "train_config": self.sub.train_config,
            "memory_gb": limits.MEMORY_BYTES // 2**30, "file_mb": limits.FILE_BYTES // 2**20, "cell_s": limits.CELL_S,
            **checks.job_for(part, self.key), **extra,
        }

    def run(self, part: str, cancel: threading.Event | None = None, **extra) -> Outcome:
        job = self.job(part, **extra)
        if self.cache is not None:  # a regrade reuses the child's outcome for unchanged code (cache.py)
            return self.cache.reuse(job, job["wall_s"], lambda: self._run_child(part, job, cancel, extra), cancel)
        return self._run_child(part, job, cancel, extra)

    def _run_child(self, part: str, job: dict, cancel: threading.Event | None, extra: dict) -> Outcome:
        # A child is started only for a job that runs (not one the cache answers, nor a blocked part): its
        # interpreter's start, importing torch, is most of a quick part's CPU.
        scratch = self.workdir / f"part-{part}{'-again' if extra else ''}"
        from autograder.judges.samples import REFERENCE_FILES  # the reference loop: for its own job only

        child = Child(scratch, self.data_file, Budget(wall_s=job["wall_s"]),
                      REFERENCE_FILES if extra.get("use_reference_loop") else ())
        return child.run(job, cancel)

    def grade(self) -> Results:
        quick = [p for p in QUICK if p in self.parts and p not in self.blocked]
        retrain = RETRAINED in self.parts and RETRAINED not in self.blocked
        cancel = threading.Event()
        with ThreadPoolExecutor(max_workers=2 if self.parallel else 1) as pool:
            # Re-training is the slow part: it starts first, with the student's own code, and the
            # quick tests run beside it.  If D_KL or train_VAE hangs there, on a tiny input, the
            # re-training (which runs them) would hang for its whole budget: it is stopped.
            slow = pool.submit(self.run, RETRAINED, cancel) if retrain and self.parallel else None
            outcomes = dict(zip(quick, pool.map(self.run, quick)))
            by_part = {p: self._judge(p, outcomes.get(p)) for p in QUICK if p in self.parts}
            hung = [p for p in RUN_BY_RETRAINING if p in outcomes and _ran_out_of_time(outcomes[p])]
            if slow is not None and hung:
                cancel.set()
                slow.result()
            if retrain:
                from hw7core import sample_quality

                sample_quality.load_reference()  # load the frozen statistics while the model trains
                own = None if hung else slow.result() if slow is not None else self.run(RETRAINED)
                lost = [p for p in RUN_BY_RETRAINING if _failed(by_part, p)]
                by_part[RETRAINED] = self._judge_samples(own, lost, hung)
        if RETRAINED in self.parts and not retrain:
            by_part[RETRAINED] = _zero_tests(RETRAINED, self.blocked[RETRAINED])
        for part in self.parts:
            for test in by_part[part]:
                self.results.add(test)
        return self.results

    def _cell_errors(self, outcome: Outcome) -> list[str]:
        return [f"cell {e.get('cell')}: {e.get('error')}" for e in outcome.payload.get("cell_errors", [])
                if isinstance(e, dict)]

    def _judge(self, part: str, outcome: Outcome | None) -> list[TestResult]:
        if part in self.blocked:
            return _zero_tests(part, self.blocked[part])
        if not outcome.ok:
            return _zero_tests(part, f"Part {part} got no points because {outcome.cause}.")
        errors = self._cell_errors(outcome)
        note = "Errors while running the graded cells:\n" + "\n".join(errors)
        if errors and note not in self.results.notes:  # said once, in the notes, by whichever part ran
            self.results.notes.append(note)
        self.results.notes += [f"Part {part}: {note}" for note in outcome.payload.get("ignored", [])]
        try:
            tests = checks.judge(part, outcome.payload["observations"], self.inputs(part))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            return _zero_tests(part, f"The results of part {part} could not be read ({type(exc).__name__}); "
                                     "did your code print to or close the grader's channel?")
        if errors:
            for t in tests:
                if not t.passed:
                    t.output += "\nErrors while running your graded cells: " + "; ".join(errors)
        if part in self.partly_missing:
            for t in tests:
                if not t.passed:
                    t.output += "\n" + self.partly_missing[part]
        return tests

    def _judge_samples(self, own_outcome: Outcome | None, lost: list[str], hung: list[str]) -> list[TestResult]:
        """The student's own training scores 2.3, unless samples.second_training_reason says to also try
        the grader's reference loop and KL; then the better score is kept."""
        from autograder.judges import samples

        ev = samples.evaluation(self.job(RETRAINED))  # the grader's latents, chosen after the model is fixed
        ev.store = self.cache
        own = samples.judge(own_outcome, ev=ev) if own_outcome is not None else samples.hung_in_tests(hung)
        why = samples.second_training_reason(own, lost)
        reference = samples.judge(self.run(RETRAINED, **samples.REFERENCE_RUN), reference_run=True, ev=ev) if why else None
        return samples.keep_better(own, reference, why, self.results)


def _ran_out_of_time(outcome: Outcome) -> bool:
    return not outcome.ok and outcome.seconds >= limits.TEST_WALL_S


def _failed(by_part: dict[str, list[TestResult]], part: str) -> bool:
    """Did this part fail a test? (Only when it ran: a missing part has nothing to replace.)"""
    return any(not t.passed for t in by_part.get(part, []))


def grade(source: str | Path, out_dir: str | Path | None = None, *, data_file: str | Path = DATA_FILE,
          parallel: bool = True, parts: tuple[str, ...] = NUMBERS, cache_dir: str | Path | None = None) -> Results:
    """Grade one submission; write ``out_dir/results.json`` if given. Never raises for a bad submission.

    ``parts`` selects a subset of the parts (tests use it to skip the re-training).  ``cache_dir``:
    reuse and store the children's outcomes there (see autograder/run/cache.py).
    """
    start = time.monotonic()
    try:
        with grading_folder() as tmp:
            workdir = Path(tmp)
            private_root(workdir)
            grading = _Grading(Path(source), workdir, Path(data_file), parallel, parts)
            grading.cache = cache.Store(Path(cache_dir), Path(data_file)) if cache_dir else None
            results = grading.grade()
    except intake.IntakeError as exc:
        results = Results(notes=[str(exc)])
        for part in parts:
            for test in _zero_tests(part, f"Not graded: {exc}"):
                results.add(test)
    except Exception as exc:  # grading itself broke: say so, never lose the result
        results = Results.failed(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
    results.extra["isolation"] = isolation.current().to_dict()  # what protected this grading (reports show it)
    results.execution_time = time.monotonic() - start
    if out_dir is not None:
        results.write(Path(out_dir) / "results.json")
    return results


def check(source: str | Path) -> int:
    """The student's local check (`python -m autograder check`): the one check the handout runs too
    (hw7core/check.py), so the kit and the handout tell a student the same things. 0 when all is well.

    Like the notebook, it runs the code in the zip without the grading sandbox: it is for one's own code
    (a student's, a TA trying a fix); grade submissions with `grade`, which sandboxes them."""
    from hw7core import check as student_check

    return student_check.main([str(source)])
