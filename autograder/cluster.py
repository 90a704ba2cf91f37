"""Grade a batch on a Dask cluster: real `dask scheduler` and `dask worker` processes, anywhere.

What each process needs:
- the scheduler: only Dask.  The task is shipped by value (its code travels with it, see
  :class:`ByValue`), so the scheduler, which unpickles every task, never imports the kit;
- each worker: this kit's environment and its folder on ``PYTHONPATH`` (the task imports
  ``autograder`` there).  Every worker present at the start is checked, and one that lacks the kit or
  runs another version of it (or holds another course secret, compared by its fingerprint) stops the
  batch with a message naming it.  A worker that joins later is checked by each task it is given, and
  refuses to grade if it differs (the submission is tried elsewhere, or recorded as failed and graded
  on the next run);
- the machine running ``grade-all``: the kit and the submissions; nothing is shared through files.

Results come back as data: the JSON text of a results.json, which the client checks (size, JSON, the
results model: :func:`results_from_wire`) before anything is written; a worker's answer is never an
object to unpickle into the client's code.

A worker that dies mid-batch loses no grade: the scheduler gives its submissions to another worker
(and a task that fails on a worker is retried elsewhere).  When no worker joins, or none is left,
within ``WORKER_WAIT_S`` the batch ends with a clear message instead of waiting forever; whatever is
still ungraded then gets an "Autograder failed" result, so every results.json is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

WORKER_WAIT_S = float(os.environ.get("HW7_WORKER_WAIT_S", 120))  # for a worker to join, or to come back
RETRIES = 2  # a task that raises (e.g. on a worker set up wrongly) is tried again elsewhere
POLL_S = 1.0
REFUSED = "refused to grade: "  # how a worker that fails its own check (grade_remote) starts its error
RESULTS_MAX_CHARS = 16 * 2**20  # a results.json is a few kB to a few hundred kB; anything larger is refused
GRADED_PACKAGES = ("autograder", "hw7core")


class ClusterError(ValueError):
    """The cluster cannot grade (no scheduler, no worker, a worker without the kit): says what to fix."""


class ByValue:
    """A callable that pickles as ``cloudpickle.loads(<its function, code included>)``.

    Dask pickles a task with a reference to its function's module, which the scheduler must then
    import ("Error during deserialization of the task graph"); this sends the code instead, so the
    scheduler needs only cloudpickle, which Dask itself requires.  The function must import the
    kit inside its body: only its own code travels.
    """

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __reduce__(self):
        import cloudpickle

        module = sys.modules[self.fn.__module__]
        cloudpickle.register_pickle_by_value(module)
        try:
            return cloudpickle.loads, (cloudpickle.dumps(self.fn),)
        finally:
            cloudpickle.unregister_pickle_by_value(module)


# --- what runs on a worker (only the standard library at module level: the code travels) ----------
def grade_remote(name: str, data: bytes, expected: dict[str, str]) -> str:
    """Grade one packed submission on a worker; its results.json as JSON text (data, not an object).

    The start-up check sees only the workers present then: a worker that joins later would grade
    unchecked.  So every task first checks the worker it runs on against ``expected`` (this kit's
    version, torch and course secret, as :func:`expected_identity` gives them) and refuses to grade
    on one that differs: the task is then tried elsewhere, or recorded as failed with the reason.
    """
    import json

    try:
        from distributed import get_worker

        address = get_worker().address
    except (ImportError, ValueError):  # called outside a worker (the tests)
        address = "this worker"
    problem = problem_of(address, kit_on_worker(), expected)
    if problem:
        raise RuntimeError(REFUSED + problem.removeprefix("- "))  # problem_of writes a list item
    from autograder.cluster import grade_packed

    return json.dumps(grade_packed(name, data))


def kit_on_worker() -> dict[str, str]:
    """What a worker has of the kit: its folder and version, or the reason it has none."""
    try:
        from autograder import KIT_ROOT, cluster
    except ImportError as exc:
        return {"problem": f"{type(exc).__name__}: {exc}", "python": sys.executable}
    try:
        import torch
    except ImportError as exc:
        return {"problem": f"{type(exc).__name__}: {exc}", "python": sys.executable}
    try:
        from autograder import secret

        fingerprint, where = secret.fingerprint_if_present(), str(secret.secret_file())
    except (ImportError, AttributeError):  # an older kit: its other version is what problem_of names first
        fingerprint, where = "", "?"
    return {"kit": str(KIT_ROOT), "version": cluster.kit_version(), "torch": torch.__version__,
            "python": sys.executable, "secret": fingerprint, "secret_file": where}


def grade_packed(name: str, data: bytes) -> dict[str, Any]:
    """Grade one packed submission and return its results.json dict (runs on any worker)."""
    import tempfile

    import torch

    from autograder.grader import grade

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="hw7-job-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        return grade(path, parallel=False).to_gradescope()


# --- on the machine running grade-all -------------------------------------------------------------
def pack(path: Path) -> tuple[str, bytes]:
    """A submission as (file name, bytes): what travels to a remote worker.  Never raises: a file that
    cannot be read safely (a link, a FIFO, over the caps) is left out, and the worker's intake says so."""
    import io
    import zipfile

    from hw7core import intake, limits

    if path.is_file():
        try:
            return path.name, intake.read_bounded(path, limits.ZIP_MAX_BYTES)
        except (ValueError, OSError):
            return path.name, b""  # graded as an unreadable submission
    buffer, total = io.BytesIO(), 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        try:
            files = intake.candidates(path)  # bounded in number, no links, no FIFOs
        except (intake.IntakeError, OSError):
            files = []
        for file in files:
            try:
                data = intake.read_bounded(file, limits.ZIP_MAX_BYTES - total)
            except (ValueError, OSError):
                continue
            total += len(data)
            zf.writestr(file.relative_to(path).as_posix(), data)
    return f"{path.name}.zip", buffer.getvalue()


def kit_files(root: Path | None = None) -> list[Path]:
    """Every file a grading runs or reads as code, relative to the kit's folder: both packages,
    recursively (the judges, the child's observers, the core), HW7_utils, the frozen reference and the
    course's grading.yaml."""
    root = _kit_root(root)
    files = [root / "HW7_utils.py", root / "grading.yaml"]
    for package in GRADED_PACKAGES:
        files += [path for path in (root / package).rglob("*")
                  if path.suffix in (".py", ".npz") and "__pycache__" not in path.parts]
    return sorted(path.relative_to(root) for path in files if path.is_file())


def kit_version(root: Path | None = None) -> str:
    """sha256 over kit_files (path and bytes of each): equal kits grade alike."""
    root = _kit_root(root)
    digest = hashlib.sha256()
    for path in kit_files(root):
        digest.update(path.as_posix().encode() + b"\0" + (root / path).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def results_from_wire(answer: Any) -> dict[str, Any]:
    """A worker's answer checked as a results.json: JSON text of bounded size that the results model reads.

    ValueError (saying what is wrong) for anything else.
    """
    from autograder.results import Results

    if not isinstance(answer, str):
        raise ValueError(f"the worker answered with a {type(answer).__name__}, not the text of a results.json")
    if len(answer) > RESULTS_MAX_CHARS:
        raise ValueError(f"the worker's results.json is larger than {RESULTS_MAX_CHARS // 2**20} MB")
    try:
        data = json.loads(answer)
    except ValueError as exc:
        raise ValueError(f"the worker's results.json is not JSON ({exc})") from None
    Results.from_dict(data)  # raises ValueError when it is not a results.json
    return data


def _kit_root(root: Path | None) -> Path:
    from autograder import KIT_ROOT

    return KIT_ROOT if root is None else Path(root)


def connect(address: str, mine: dict[str, str], wait_s: float | None = None):
    """A Client to ``address`` with at least one worker that has this very kit (``mine``: this machine's
    :func:`expected_identity`); else ClusterError."""
    from dask.distributed import Client

    wait_s = WORKER_WAIT_S if wait_s is None else wait_s
    try:
        client = Client(address, timeout=f"{min(wait_s, 10):g}s")
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"could not reach the Dask scheduler at {address} ({type(exc).__name__}: {exc}); "
                           "is `dask scheduler` running there, and is the address (tcp://HOST:PORT) right?") from exc
    try:
        try:
            client.wait_for_workers(1, timeout=wait_s)
        except TimeoutError as exc:
            raise ClusterError(
                f"no Dask worker joined the scheduler at {address} within {wait_s:g} s. Start workers with "
                f"`PYTHONPATH=/path/to/kit dask worker {address}` (see README, 'Grading at scale')") from exc
        check_workers(client, mine)
    except BaseException:
        client.close()
        raise
    return client


def expected_identity() -> dict[str, str]:
    """What a worker must match to grade: this kit's version, torch, and the course secret's fingerprint."""
    import torch

    from autograder import secret

    return {"version": kit_version(), "torch": torch.__version__,
            "secret": secret.fingerprint(secret.course_secret()), "secret_file": str(secret.secret_file())}


def check_workers(client, mine: dict[str, str]) -> None:
    """Every worker present must import this kit, at this version, with this torch and this course secret
    (``mine``, from :func:`expected_identity`)."""
    found = client.run(ByValue(kit_on_worker))
    problems = [problem_of(address, info, mine) for address, info in sorted(found.items())]
    problems = [p for p in problems if p]
    if problems:
        raise ClusterError("some Dask workers cannot grade:\n" + "\n".join(problems) + "\nEach worker needs this "
                           "kit's environment and its folder on PYTHONPATH (see README, 'Grading at scale').")


def problem_of(address: str, info: dict[str, str], mine: dict[str, str]) -> str:
    """One line saying what is wrong with a worker, or "" when it can grade."""
    if "problem" in info:
        return f"- worker {address} cannot import the kit ({info['problem']}; Python {info.get('python')})"
    if info.get("version") != mine["version"]:
        return (f"- worker {address} has another version of the kit ({info.get('kit')}, version "
                f"{info.get('version')}; this one is {mine['version']}): grades must come from one kit")
    if info.get("torch") != mine["torch"]:
        return f"- worker {address} has torch {info.get('torch')}, this machine {mine['torch']}"
    if info.get("secret") != mine["secret"]:
        # The hidden inputs and 2.3's latents come from the secret: another one grades with other inputs.
        what = ("has no course secret" if not info.get("secret") else
                f"has another course secret (fingerprint {info.get('secret')}, this machine's {mine['secret']})")
        return (f"- worker {address} {what} at {info.get('secret_file')}: copy this machine's "
                f"{mine['secret_file']} there (mode 0600), or set HW7_SECRET_FILE to a copy")
    return ""


def grade_on_cluster(address: str, jobs: Iterable[Any], pack: Callable[[Path], tuple[str, bytes]],
                     record: Callable[[Any, dict], None], failed: Callable[[Any, BaseException], dict],
                     wait_s: float | None = None) -> None:
    """Grade every job on the cluster at ``address``; ``record(job, results)`` each as it comes back.

    Raises ClusterError before grading anything when the cluster cannot grade.  When every worker
    is gone for ``wait_s`` mid-batch, the rest is recorded as failed (with the reason) and it returns.
    """
    from dask.distributed import wait

    wait_s = WORKER_WAIT_S if wait_s is None else wait_s
    task = ByValue(grade_remote)
    mine = expected_identity()  # one identity for the start-up check and every task's own check
    with connect(address, mine, wait_s) as client:
        futures = {client.submit(task, *pack(job.path), mine, key=f"hw7-{job.id}", pure=False, retries=RETRIES): job
                   for job in jobs}
        refusals: set[str] = set()
        pending = set(futures)
        no_worker_since: float | None = None
        while pending:
            try:
                done, pending = wait(pending, timeout=POLL_S, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished within POLL_S: see whether any worker is left
                done = set()
            for future in done:
                job = futures[future]
                try:
                    record(job, results_from_wire(future.result()))
                except Exception as exc:  # e.g. a task that failed on every worker it was given to
                    if str(exc).startswith(REFUSED) and str(exc) not in refusals:  # said once per worker
                        refusals.add(str(exc))
                        print(f"error: {exc}; fix it, then run grade-all again (what was graded is skipped)",
                              file=sys.stderr)
                    record(job, failed(job, exc))
            if done or client.nthreads():
                no_worker_since = None
                continue
            no_worker_since = no_worker_since or time.monotonic()
            if time.monotonic() - no_worker_since > wait_s:
                gone = ClusterError(f"no Dask worker was left at {address} for {wait_s:g} s; "
                                    "grade the rest again with `grade-all` (graded ones are skipped)")
                print(f"error: {gone}", file=sys.stderr)
                for future in pending:
                    future.cancel()
                    record(futures[future], failed(futures[future], gone))
                return
