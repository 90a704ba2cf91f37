"""Run one graded part in a child process that cannot hurt the grader.

Each part gets a fresh Python in its own scratch folder, with a scrubbed environment, rlimits on
CPU time, memory, file size and processes and a wall-clock timeout.  On Linux with bubblewrap it
runs in a sandbox that sees nothing of the user's files (`autograder.bwrap`); elsewhere, where the
platform allows, it gets its own network and PID namespaces only (`autograder.isolation` says which).
When the grader runs as root (Gradescope) the child runs as an unprivileged user.  The child reports
through a private pipe; the parent validates what comes back and writes results itself.
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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import KIT_ROOT, bwrap, isolation, limits

CHILD_PACKAGE = Path(__file__).with_name("child")  # the child's code, copied as a folder
# What the child runs: the one list the sandbox copies and issue 14's outcome cache hashes.
CHILD_FILES = (*sorted(CHILD_PACKAGE.glob("*.py")), KIT_ROOT / "HW7_utils.py")
KIT_FILES = ("child", "HW7_utils.py", "airfoils.npz")  # read-only inside the bubblewrap sandbox


@dataclass
class Budget:
    wall_s: float  # also the CPU-time limit: the child has one thread
    memory: int = limits.MEMORY_BYTES
    file_bytes: int = limits.FILE_BYTES


@dataclass
class Outcome:
    ok: bool
    payload: dict[str, Any] = field(default_factory=dict)
    cause: str = ""  # for the student, when not ok
    seconds: float = 0.0
    output_tail: str = ""


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


def _limit_child(budget: Budget, nproc: int) -> None:  # runs in the child between fork and exec
    cpu = int(budget.wall_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (budget.memory, budget.memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (budget.file_bytes, budget.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def _clean_env(scratch: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(scratch),
        "TMPDIR": str(scratch / "tmp"),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(scratch / "tmp"),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "HW7_DATA": str(scratch / "airfoils.npz"),
    }


def prepare_scratch(scratch: Path, data_file: Path) -> None:
    """A fresh folder holding only what the child may see: its package, HW7_utils and the data."""
    if scratch.exists():
        shutil.rmtree(scratch)
    (scratch / "tmp").mkdir(parents=True)
    for path in CHILD_FILES:
        target = scratch / ("child" if path.parent == CHILD_PACKAGE else "") / path.name
        target.parent.mkdir(exist_ok=True)
        shutil.copy(path, target)
    shutil.copy(data_file, scratch / "airfoils.npz")
    user = isolation.sandbox_user()
    if user:
        for path in [scratch, *scratch.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)


def _describe_death(code: int, timed_out: bool, budget: Budget) -> str:
    sig = -code if code < 0 else (code - 128 if code > 128 else 0)
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


def _read_channel(fd: int, sink: list[bytes]) -> None:
    total = 0
    with os.fdopen(fd, "rb") as pipe:
        while chunk := pipe.read(65536):
            total += len(chunk)
            if total <= limits.OUTCOME_BYTES:
                sink.append(chunk)


class Child:
    """A sandboxed child process, started ahead of its job.

    The child imports torch and the rest before it reads its job, so a child started early (while
    the parent is still reading the submission) is ready when the job comes.  Nothing of the
    student's runs before :meth:`run`.
    """

    def __init__(self, scratch: Path, data_file: Path, budget: Budget):
        prepare_scratch(scratch, data_file)
        self.budget, self.out_path = budget, scratch / "output.txt"
        read_fd, write_fd = os.pipe()
        user = isolation.sandbox_user()
        python = sys.executable
        if isolation.uses_bwrap():  # the user drops first: bwrap then needs no privilege of its own
            prefix = [*isolation.user_prefix(), *bwrap.command(scratch, [scratch / f for f in KIT_FILES])]
            python = bwrap.interpreter()
        else:
            prefix = [*isolation.namespace_prefix(), *isolation.user_prefix()]
        nproc = limits.EXTRA_PROCESSES + _user_task_count(user.pw_uid if user else os.getuid())
        prlimit = shutil.which("prlimit")
        if prlimit:  # limits set by a wrapper: safer than preexec_fn when several grades run in threads
            cpu = int(budget.wall_s) + 1
            prefix = [prlimit, f"--cpu={cpu}:{cpu + 1}", f"--as={budget.memory}", f"--fsize={budget.file_bytes}",
                      "--core=0", f"--nproc={nproc}", "--", *prefix]
        cmd = [*prefix, python, "-I", "child/__main__.py", str(write_fd)]
        self.sink: list[bytes] = []
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=scratch, env=_clean_env(scratch), stdin=subprocess.PIPE, stdout=out,
                stderr=subprocess.STDOUT, pass_fds=(write_fd,), start_new_session=True,
                preexec_fn=None if prlimit else functools.partial(_limit_child, budget, nproc),
            )
        os.close(write_fd)
        self.reader = threading.Thread(target=_read_channel, args=(read_fd, self.sink), daemon=True)
        self.reader.start()

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the child and anything it started
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def run(self, job: dict[str, Any], cancel: threading.Event | None = None) -> Outcome:
        """Send the job, wait within the budget, and return the validated outcome.

        Setting ``cancel`` stops the child early (the grader no longer needs its result).
        """
        nonce = secrets.token_hex(16)
        job = {**job, "nonce": nonce}
        start = time.monotonic()
        deadline = start + self.budget.wall_s
        timed_out = cancelled = False
        proc = self.proc
        try:
            try:
                proc.stdin.write(json.dumps(job).encode())
                proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    timed_out = True
                    break
                if cancel is not None and cancel.wait(0.05):
                    cancelled = True
                    break
                if cancel is None:
                    time.sleep(0.05)
        finally:
            self.kill()
        self.reader.join(timeout=5)
        seconds = time.monotonic() - start
        if cancelled:
            return Outcome(False, {}, "cancelled by the grader", seconds)
        tail = _tail(self.out_path)
        raw = b"".join(self.sink)
        message = _parse(raw, nonce, job["part"])
        if message is not None and message.get("cause"):
            return Outcome(False, message, message["cause"], seconds, tail)
        if message is not None and not timed_out:
            return Outcome(True, message, seconds=seconds, output_tail=tail)
        if not timed_out and f'"nonce": "{nonce}"'.encode() not in raw:
            # The child never reported in: the sandbox itself failed, before any student code ran.
            return Outcome(False, {}, f"the grader could not start its test process (exit code "
                           f"{proc.returncode}); this is not caused by your code: please tell the course staff",
                           seconds, tail)
        return Outcome(False, {}, _describe_death(proc.returncode, timed_out, self.budget), seconds, tail)


# The channel carries the job's messages: {"started"} once, then one report (the observations, or the cause
# the part could not run).  Keys beyond these are claims (a score, verdicts) that no child makes.
MESSAGE_KEYS = ({"nonce", "part", "started"}, {"nonce", "part", "observations", "cell_errors"},
                {"nonce", "part", "cause"})


def _parse(raw: bytes, nonce: str, part: str) -> dict[str, Any] | None:
    """This job's one report: the first well-formed message that carries this run's nonce and part and only
    a report's keys, with ``ignored`` (what else the channel carried, for the grading notes), else None.

    Student code runs in the child and can write to the channel (issue 21): whatever it sends is at most a
    report of outputs chosen by the student, judged on the parent's inputs like any other.  A message for
    another job or part, one that claims more than outputs, or a second report is ignored, and said so."""
    report, ignored = None, []
    for line in raw.decode("utf-8", "replace").splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            ignored.append("a line that is not a message")
            continue
        if not isinstance(message, dict) or message.get("nonce") != nonce or message.get("part") != part:
            ignored.append("a message for another job or part")
        elif set(message) not in MESSAGE_KEYS or not _well_formed(message):
            extra = sorted(set(message) - set().union(*MESSAGE_KEYS))
            ignored.append(f"a message claiming more than a report ({', '.join(extra[:5]) or 'mixed kinds'})")
        elif "started" in message:
            continue
        elif report is not None:
            ignored.append("a second report")
        else:
            report = message
    if report is not None and ignored:
        counted = ", ".join(f"{ignored.count(text)} x {text}" for text in dict.fromkeys(ignored))
        report = {**report, "ignored": [f"the grader's channel also carried {counted}: ignored (only the job's "
                                        "first report counts)"]}
    return report


def _well_formed(message: dict[str, Any]) -> bool:
    if "started" in message:
        return message["started"] is True
    if "cause" in message:
        return isinstance(message["cause"], str)
    return isinstance(message["observations"], dict) and isinstance(message["cell_errors"], list)


def _tail(path: Path, size: int = 2000) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - size))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
