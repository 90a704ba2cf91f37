"""Run one graded part in a child process that cannot hurt the grader.

Each part gets a fresh Python in its own scratch folder, with a scrubbed environment, rlimits on
CPU time, memory, file size and processes and a wall-clock timeout.  On Linux with bubblewrap it
runs in a sandbox that sees nothing of the user's files (`autograder.run.bwrap`); elsewhere, where the
platform allows, it gets its own network and PID namespaces only (`autograder.run.isolation` says which).
When the grader runs as root (Gradescope) each child runs as a user id of its own, which owns only its
scratch folder: another child cannot enter it, and one signal as that user ends every process the child
started, in whatever session.  The child reports through a private pipe; its output goes to an unnamed
file the parent opened before the child existed, so the parent never opens a path in a folder that
student code can write (no link or race there can redirect the parent).  A timeout is charged for the
CPU time of the child's own processes, with a wall-clock backstop: a child slowed by others keeps its time.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import KIT_ROOT
from autograder.run import bwrap, channel, isolation
from autograder.run.processes import kill_uid, tree_cpu_seconds
from hw7core import limits

CHILD_PACKAGE = Path(__file__).with_name("child")  # the child's code, copied as a folder
# What the child runs: the one list the sandbox copies and issue 14's outcome cache hashes.
# The grader's reference loop and KL: copied only into the sandbox of the job that trains with them (the
# second training of 2.3), never into a child that runs the student's own loop (issue 21).
REFERENCE_FILES = (Path(__file__).with_name("reference_training.py"),)
CHILD_FILES = (*sorted(CHILD_PACKAGE.glob("*.py")), KIT_ROOT / "HW7_utils.py")
KIT_FILES = ("child", "HW7_utils.py", "airfoils.npz")  # read-only inside the bubblewrap sandbox
# The wall clock a child may take: its CPU budget plus up to BACKSTOP_EXTRA_S (at most twice the budget).  A
# child slowed by the rest of the machine is not charged for it, one that sleeps or blocks still ends, and a
# submission's worst case stays within Gradescope's timeout (10 + 1 and 5 + 1 minutes of re-training).  Such
# an end is not the student's CPU: WAITED marks it (the outcome cache does not keep it).
BACKSTOP_EXTRA_S = 60.0
WAITED = "stopped by the wall-clock backstop"
POLL_S = 0.1
CPU_SAMPLE_S = 0.5


@dataclass
class Budget:
    wall_s: float  # the CPU time of the child's processes, together (the wall clock allows a little more)
    memory: int = limits.MEMORY_BYTES
    file_bytes: int = limits.FILE_BYTES


@dataclass
class Outcome:
    ok: bool
    payload: dict[str, Any] = field(default_factory=dict)
    cause: str = ""  # for the student, when not ok
    seconds: float = 0.0
    output_tail: str = ""
    # Says nothing of the student's code: the sandbox failed before any student code ran, or the wall-clock
    # backstop ended a child that the rest of the machine starved.  The outcome cache never keeps these.
    not_the_students: bool = False


def backstop_s(budget: Budget) -> float:
    """The wall-clock seconds a child may take, however little CPU it used."""
    return budget.wall_s + min(2 * budget.wall_s, BACKSTOP_EXTRA_S)


HASH_SEED = "0"  # the child's str/bytes hashes, hence set iteration order, are the same in every grading


def _user_task_count(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.stat(entry.path).st_uid == uid:
                    count += len(os.listdir(os.path.join(entry.path, "task")))
            except OSError:
                continue
    return count


def cpu_rlimit(budget: Budget) -> int:
    """The kernel's CPU-time limit for a child: its budget, and its start-up, which the parent does not charge."""
    return int(budget.wall_s) + limits.START_CPU_S + 1


def _limit_child(budget: Budget, nproc: int) -> None:  # runs in the child between fork and exec
    cpu = cpu_rlimit(budget)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (budget.memory, budget.memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (budget.file_bytes, budget.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


@functools.cache
def same_kernels_everywhere() -> dict[str, str]:
    """Environment that makes torch compute alike on every x86 CPU with AVX2, so that a grading on
    Gradescope and a TA's regrade agree.  torch picks its kernels (ATen's vectorised code, MKL's GEMM) by
    the CPU's instruction set, and a training's last bits follow them: the `undertrained` example scored
    8.0 / 15 on 2.3 with ATen's baseline kernels and 8.2 with AVX2's on one machine.  AVX-512 machines are
    held to AVX2's kernels; a CPU without AVX2 keeps its own (forcing AVX2 there would crash torch)."""
    import torch

    if torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"):
        return {}
    return {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"}


def _clean_env(scratch: Path) -> dict[str, str]:
    return {
        **same_kernels_everywhere(),
        "PATH": "/usr/bin:/bin",
        "HOME": str(scratch),
        "TMPDIR": str(scratch / "tmp"),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": HASH_SEED,  # read because the child runs without -E/-I (its environment is this one)
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(scratch / "tmp"),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "HW7_DATA": str(scratch / "airfoils.npz"),
    }


def prepare_scratch(scratch: Path, data_file: Path, job_files: tuple[Path, ...] = (), uid: int | None = None) -> None:
    """A fresh folder holding only what the child may see: its package, HW7_utils and the data.
    ``job_files`` join the package for this child only (e.g. the grader's reference loop for its job).

    Private (0700) to the child's user ``uid`` (when the grader is root), given to it only once complete:
    no process of that user exists yet, so nothing can race these writes.
    """
    if scratch.exists():
        shutil.rmtree(scratch)  # fd-based on Linux: links inside are removed, never followed
    (scratch / "tmp").mkdir(parents=True)
    scratch.chmod(0o700)
    for path in (*CHILD_FILES, *job_files):
        target = scratch / ("child" if path.parent == CHILD_PACKAGE or path in job_files else "") / path.name
        target.parent.mkdir(exist_ok=True)
        shutil.copy(path, target)
    shutil.copy(data_file, scratch / "airfoils.npz")
    if uid is not None:
        for path in [scratch, *scratch.rglob("*")]:
            os.chown(path, uid, uid, follow_symlinks=False)


def _describe_death(code: int, timed_out: bool, budget: Budget, waited: float | None = None) -> str:
    """Why the child ended without a result; ``waited``: the CPU seconds it had used when the backstop ended it."""
    sig = -code if code < 0 else (code - 128 if code > 128 else 0)
    if waited is not None:
        return (f"it did not finish within {backstop_s(budget):g} s on the clock after starting, having used {waited:.1f} s of its "
                f"time budget of {budget.wall_s:g} s of CPU ({WAITED}: an endless loop on a busy machine, or it "
                "slept or waited for something that never came?)")
    if timed_out:
        return (f"it ran longer than its time budget of {budget.wall_s:g} s and was stopped "
                "(an endless loop, or far too much work?)")
    if sig == signal.SIGXCPU:
        return f"it used more than its CPU-time budget of {budget.wall_s:g} s and was stopped"
    if sig == signal.SIGXFSZ:
        return (f"it wrote more than {budget.file_bytes // 2**20} MB to one file or to its output "
                "(too many prints?) and was stopped")
    if sig in (signal.SIGKILL, signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS):
        return (f"the process was killed ({signal.Signals(sig).name}), most likely by running out of "
                f"memory (limit {budget.memory // 2**30} GB), or by your code killing it")
    if sig:
        return f"the process was ended by signal {signal.Signals(sig).name if sig < 65 else sig}"
    return (f"the process ended (exit code {code}) before the tests finished: does your code call "
            "exit(), sys.exit() or os._exit()?")


class Child:
    """A sandboxed child process for one job.

    The child imports torch and the rest before it reads its job (that start is not charged to the
    part: see :meth:`run`).  Nothing of the student's runs before :meth:`run`.
    """

    def __init__(self, scratch: Path, data_file: Path, budget: Budget, job_files: tuple[Path, ...] = ()):
        self.uid = isolation.allocate_uid()  # None unless the grader is root
        self.budget, self.proc = budget, None
        # The child's stdout and stderr: a file with no name, opened before the child exists.
        self.output = tempfile.TemporaryFile(prefix="hw7-output-")
        try:
            self._start(scratch, data_file, budget, job_files)
        except BaseException:
            self.kill()
            raise

    def _start(self, scratch: Path, data_file: Path, budget: Budget, job_files: tuple[Path, ...]) -> None:
        prepare_scratch(scratch, data_file, job_files, self.uid)
        read_fd, write_fd = os.pipe()
        python = sys.executable
        if isolation.uses_bwrap():  # the user drops first: bwrap then needs no privilege of its own
            prefix = [*isolation.user_prefix(self.uid), *bwrap.command(scratch, [scratch / f for f in KIT_FILES])]
            python = bwrap.interpreter()
        else:
            prefix = [*isolation.dies_with_grader(), *isolation.namespace_prefix(), *isolation.user_prefix(self.uid)]
        nproc = limits.EXTRA_PROCESSES + (0 if self.uid is not None else _user_task_count(os.getuid()))
        prlimit = shutil.which("prlimit")
        if prlimit:  # limits set by a wrapper: safer than preexec_fn when several grades run in threads
            cpu = cpu_rlimit(budget)
            prefix = [prlimit, f"--cpu={cpu}:{cpu + 1}", f"--as={budget.memory}", f"--fsize={budget.file_bytes}",
                      "--core=0", f"--nproc={nproc}", "--", *prefix]
        # -s -P rather than -I: -I would also ignore PYTHONHASHSEED; the environment is the scrubbed one anyway.
        flags = ["-s", "-P"] if sys.version_info >= (3, 11) else ["-s"]
        cmd = [*prefix, python, *flags, "child/__main__.py", str(write_fd)]
        self.sink: list[bytes] = []
        self.started = threading.Event()  # the child has read its job: its CPU from here on is the part's
        try:
            self.proc = subprocess.Popen(
                cmd, cwd=scratch, env=_clean_env(scratch), stdin=subprocess.PIPE, stdout=self.output,
                stderr=subprocess.STDOUT, pass_fds=(write_fd,), start_new_session=True,
                preexec_fn=None if prlimit else functools.partial(_limit_child, budget, nproc),
            )
        finally:
            os.close(write_fd)
        self.reader = threading.Thread(target=channel.collect, args=(read_fd, self.sink, self.started), daemon=True)
        self.reader.start()

    def cpu_seconds(self) -> float | None:
        return tree_cpu_seconds(self.uid, self.proc.pid) if self.proc is not None else None

    def kill(self) -> None:
        """End the child and everything it started (its own user's processes, whatever their session)."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.uid is not None:
            kill_uid(self.uid)
        if self.proc is not None:
            self.proc.wait()
        if self.uid is not None:
            isolation.release_uid(self.uid)
            self.uid = None

    def run(self, job: dict[str, Any], cancel: threading.Event | None = None) -> Outcome:
        """Send the job, wait within the budget, and return the validated outcome.

        Setting ``cancel`` stops the child early (the grader no longer needs its result).
        """
        nonce = secrets.token_hex(16)
        job = {**job, "nonce": nonce}
        start = time.monotonic()
        # The child's start (its imports) is not charged: its CPU and its clock count from when it says it has
        # read the job.  Until then it may also use START_CPU_S.
        began: float | None = None
        cpu_before = 0.0
        timed_out = cancelled = waited = False
        used = 0.0
        proc = self.proc
        try:
            try:
                proc.stdin.write(json.dumps(job).encode())
                proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            sampled = start
            while proc.poll() is None:
                now = time.monotonic()
                if began is None and self.started.is_set():
                    began, cpu_before, used = now, self.cpu_seconds() or 0.0, 0.0
                if now - sampled >= CPU_SAMPLE_S:  # reading /proc costs a little: not at every poll
                    sampled, cpu = now, self.cpu_seconds()
                    used = cpu - cpu_before if cpu is not None else now - (began or start)
                start_up = 0.0 if began is not None else limits.START_CPU_S
                if used > self.budget.wall_s + start_up:
                    timed_out = True
                    break
                if now > (began or start) + backstop_s(self.budget) + start_up:
                    timed_out = waited = True
                    break
                if cancel is not None and cancel.wait(POLL_S):
                    cancelled = True
                    break
                if cancel is None:
                    time.sleep(POLL_S)
        finally:
            self.kill()
        self.reader.join(timeout=5)
        seconds = time.monotonic() - start
        if timed_out and not waited:
            seconds = max(seconds, used)  # the time charged: the CPU of several processes may exceed the wall clock
        if cancelled:
            return Outcome(False, {}, "cancelled by the grader", seconds)
        tail = _tail(self.output)
        raw = b"".join(self.sink)
        message = channel.parse(raw, nonce, job["part"])
        if message is not None and message.get("cause"):
            return Outcome(False, message, message["cause"], seconds, tail)
        if message is not None and not timed_out:
            return Outcome(True, message, seconds=seconds, output_tail=tail)
        if not timed_out and f'"nonce": "{nonce}"'.encode() not in raw:
            # The child never reported in: the sandbox itself failed, before any student code ran.
            return Outcome(False, {}, f"the grader could not start its test process (exit code "
                           f"{proc.returncode}); this is not caused by your code: please tell the course staff",
                           seconds, tail, not_the_students=True)
        return Outcome(False, {}, _describe_death(proc.returncode, timed_out, self.budget, used if waited else None),
                       seconds, tail, not_the_students=bool(waited))


def _tail(output, size: int = 2000) -> str:
    """The end of the child's output, read through the parent's own handle (the file has no name), then closed."""
    try:
        end = os.fstat(output.fileno()).st_size
        return os.pread(output.fileno(), size, max(0, end - size)).decode("utf-8", "replace")
    except (OSError, ValueError):
        return ""
    finally:
        output.close()
