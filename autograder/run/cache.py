"""Reuse what a child observed of unchanged student code, so that a regrade re-runs only the judging.

Every child run is fully described by its job (the graded cells' source, the configs, the part, the
fallback flags, the probe parameters) and by what the child runs it with (the files the sandbox
copies into its scratch folder, the data, the Python and torch it runs on, its thread count and time
budget).  The parent judges the child's :class:`Outcome` afterwards, so an outcome stored under a key
made from all of that can stand in for a new run: a changed threshold, message or point value is
still picked up (judging is redone every time), while the student's unchanged model is not
re-trained.  A hang is stored too, so that it does not spend its whole budget again on every regrade.

The entries live in the grading's output folder (``OUT/.cache/``), which student code cannot reach.
An entry that is not exactly what this version wrote for this key is ignored with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from autograder.run import sandbox
from autograder.run.sandbox import Outcome
from hw7core import limits

FORMAT = 1  # bump when an entry's layout or the meaning of an outcome changes
FOLDER_NAME = ".cache"
# What the child runs: the files `sandbox.prepare_scratch` copies (the one list, sandbox.CHILD_FILES),
# and the modules that set its environment and limits.
CHILD_FILES = sandbox.CHILD_FILES
RUNNER_FILES = tuple(Path(__file__).with_name(name) for name in ("sandbox.py", "channel.py", "processes.py")) + (
    Path(limits.__file__),)
JOB_FILES = sandbox.REFERENCE_FILES  # copied for one job only (the reference re-training): hashed as the child's
REFERENCE_FILE = Path(limits.__file__).with_name("quality_reference.npz")
ENTRY_MAX_BYTES = limits.OUTCOME_BYTES * 2 + 2**16  # an outcome's message, re-encoded, and its tail
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")

log = logging.getLogger(__name__)


@lru_cache(maxsize=64)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (remembered while the file's size and time stamp stay the same)."""
    stat = Path(path).stat()
    return _file_digest(str(path), stat.st_size, stat.st_mtime_ns)


def _torch_version() -> str:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "absent"


def _child_threads() -> dict[str, Any]:
    """The thread counts the sandbox gives the child (the child also pins torch to one thread)."""
    try:
        child_env = sandbox._clean_env(Path("/"))
    except Exception:  # its shape changed: sandbox.py's digest in the key still covers it
        return {}
    return {name: child_env.get(name) for name in THREAD_VARIABLES}


def _isolation() -> str:
    """How the child is isolated here (a stricter sandbox may observe a different outcome)."""
    from autograder.run import isolation

    return isolation.current().summary


def environment(data_file: Path) -> dict[str, Any]:
    """Everything outside the job that can change what a child observes."""
    return {
        "format": FORMAT,
        "child_files": {p.name: file_digest(p) for p in (*CHILD_FILES, *JOB_FILES)},
        "runner_files": {p.name: file_digest(p) for p in RUNNER_FILES},
        "reference": file_digest(REFERENCE_FILE),
        "data": file_digest(data_file),
        "python": sys.version,
        "torch": _torch_version(),
        "machine": platform.machine(),
        "threads": _child_threads(),
        "isolation": _isolation(),
    }


def key(job: dict[str, Any], wall_s: float, env: dict[str, Any]) -> str:
    """The entry's name: sha256 of the job (without its one-time nonce), the time budget and ``env``."""
    described = {"job": {k: v for k, v in job.items() if k != "nonce"}, "wall_s": wall_s, "env": env}
    text = json.dumps(described, sort_keys=True, separators=(",", ":"), allow_nan=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def worth_keeping(outcome: Outcome, stopped_by_grader: bool = False) -> bool:
    """Outcomes caused by the student's code alone; never the grader's own trouble, which a rerun may fix (a run
    the grader stopped: it knows, it set the cancel event; a child that never started), nor what the rest of the
    machine may have caused (a wait that ended at the wall-clock backstop)."""
    return not (outcome.not_the_students or (stopped_by_grader and not outcome.ok))


def _outcome_from(data: Any) -> Outcome | None:
    if not isinstance(data, dict):
        return None
    ok, payload, cause = data.get("ok"), data.get("payload"), data.get("cause")
    seconds, tail = data.get("seconds"), data.get("output_tail")
    if not (isinstance(ok, bool) and isinstance(payload, dict) and isinstance(cause, str)
            and isinstance(seconds, (int, float)) and isinstance(tail, str)):
        return None
    return Outcome(ok, payload, cause, float(seconds), tail)


class Store:
    """Outcomes on disk, one JSON file per key under ``folder``."""

    def __init__(self, folder: Path, data_file: Path):
        self.folder = Path(folder)
        self.env = environment(Path(data_file))

    def key(self, job: dict[str, Any], wall_s: float) -> str:
        return key(job, wall_s, self.env)

    def path(self, entry_key: str) -> Path:
        return self.folder / entry_key[:2] / f"{entry_key}.json"

    def get(self, job: dict[str, Any], wall_s: float) -> Outcome | None:
        """The stored outcome of this job, or None (missing, or not trusted: then with a warning)."""
        entry_key = self.key(job, wall_s)
        path = self.path(entry_key)
        try:
            if path.stat().st_size > ENTRY_MAX_BYTES:
                return self._ignore(path, "it is larger than any outcome the grader accepts")
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # ValueError: bad JSON or bad UTF-8
            return self._ignore(path, f"it could not be read ({type(exc).__name__})")
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return self._ignore(path, f"it is not in this grader's format (version {FORMAT})")
        if data.get("key") != entry_key:
            return self._ignore(path, "the key inside it does not match its name")
        outcome = _outcome_from(data.get("outcome"))
        if outcome is None:
            return self._ignore(path, "its outcome is malformed")
        return outcome

    def put(self, job: dict[str, Any], wall_s: float, outcome: Outcome, stopped_by_grader: bool = False) -> None:
        from autograder.run import isolation

        if not isolation.current().separate_submissions:  # another submission's child could have changed it
            return
        if not worth_keeping(outcome, stopped_by_grader):
            return
        entry_key = self.key(job, wall_s)
        path = self.path(entry_key)
        try:
            text = json.dumps({"format": FORMAT, "key": entry_key, "outcome": asdict(outcome)}, allow_nan=True)
        except (TypeError, ValueError):  # not JSON after all: simply not stored
            return
        if len(text) > ENTRY_MAX_BYTES:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Whole entries only, even if killed; a name of its own per thread (two identical
            # submissions graded side by side store the same key at the same time).
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:  # a full disk costs a re-run next time, never a grade
            log.warning("could not store a cache entry in %s: %s", self.folder, exc)

    def reuse(self, job: dict[str, Any], wall_s: float, run: Callable[[], Outcome],
              cancel: threading.Event | None = None) -> Outcome:
        """The stored outcome of ``job``, else ``run()``'s (then stored for next time, unless ``cancel``
        was set: the grader stopped the run, so its outcome says nothing about the student's code)."""
        outcome = self.get(job, wall_s)
        if outcome is None:
            outcome = run()
            self.put(job, wall_s, outcome, stopped_by_grader=cancel is not None and cancel.is_set())
        return outcome

    def _ignore(self, path: Path, why: str) -> None:
        log.warning("ignored cache entry %s: %s; the part is run again", path, why)
        return None


def open_store(out: Path | None, data_file: Path, enabled: bool = True) -> Store | None:
    """The store for the output folder ``out`` (``out/.cache``), or None when caching is off."""
    if not enabled or out is None:
        return None
    return Store(Path(out) / FOLDER_NAME, data_file)
