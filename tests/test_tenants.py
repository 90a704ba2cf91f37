"""Submissions graded side by side at the fallback level (root without the bubblewrap sandbox, as on
Gradescope when user namespaces are off): the parent follows no link a child planted, no child reaches
another's files or processes, a part is charged for its own CPU only, and the isolation record is true.

These run the grader in this (root) process with the sandbox switched off; quick parts only.
"""

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
import variants

from autograder.grader import grade
from autograder.run import bwrap, cache, isolation, sandbox, workdirs
from autograder.run.sandbox import Outcome
from hw7core import limits

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the separate-user level exists only when grading as root")
GOOD_DKL = "(0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean()"


def _reset() -> None:
    for cached in (isolation.uses_bwrap, isolation._bwrap_problem, isolation.current):
        cached.cache_clear()


@pytest.fixture
def fallback(monkeypatch):
    """The separate-user level: bubblewrap off, the grader root."""
    monkeypatch.setenv(bwrap.DISABLE_ENV, "1")
    _reset()
    yield
    monkeypatch.undo()
    _reset()


@pytest.fixture
def no_namespaces(fallback, monkeypatch):
    """The separate-user level without CAP_SYS_ADMIN: `unshare` fails, so no network or PID namespace."""
    monkeypatch.setattr(isolation, "namespace_prefix", lambda: ())
    _reset()
    yield
    _reset()


@pytest.fixture
def shared_temp(monkeypatch):
    """A temporary folder like /tmp (everyone may pass and create), for this test's graders alone: other
    test runs on this machine, with their own graders, stay out of the picture."""
    folder = Path(tempfile.mkdtemp(prefix="hw7-test-", dir="/tmp"))
    folder.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def solution():
    return variants.load_solution()


def submission(solution, folder: Path, body: str, as_zip: bool = False) -> Path:
    source = "def D_KL(mu, logvar):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    return variants.write(folder, variants.replace(solution, "D_KL", source), as_zip=as_zip)


def score(results, part: str = "1.4") -> float:
    return results.part_scores()[part]


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(os.path.join(entry.path, "cmdline"), "rb") as handle:
                    if marker.encode() in handle.read():
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


def _cwd_in(proc: str, folder: Path) -> bool:
    try:
        return Path(os.readlink(os.path.join(proc, "cwd"))).is_relative_to(folder)
    except OSError:
        return False


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --- item 1: the parent never follows a link a child planted -------------------------------------
def test_a_link_planted_in_a_scratch_folder_is_never_followed(solution, tmp_path, fallback, monkeypatch):
    """The race of issue 18: a child of the same submission plants ``output.txt -> <kit file>`` in a fresh
    scratch folder before the parent opens it as root.  Here the link is planted just after the folder is
    prepared (the moment the race is won); the parent must neither write nor truncate the target."""
    victim = tmp_path / "settings.py"
    victim.write_text("COURSE = 'unchanged'\n")
    prepare = sandbox.prepare_scratch

    def prepare_then_plant(scratch, *args, **kwargs):
        prepare(scratch, *args, **kwargs)
        for name in ("output.txt", "output", "stdout.txt"):
            os.symlink(victim, scratch / name)

    monkeypatch.setattr(sandbox, "prepare_scratch", prepare_then_plant)
    results = grade(submission(solution, tmp_path / "s", f"print('COURSE = 1/0')\nreturn {GOOD_DKL}"),
                    tmp_path / "out", parts=("1.4",))
    assert victim.read_text() == "COURSE = 'unchanged'\n"
    assert score(results) == 5


# --- item 2: one submission cannot reach another's files, nor poison the cache ---------------------
ATTACK = """
import builtins, glob, os, pathlib, threading, time
if not getattr(builtins, "_hw7_attacked", False):
    builtins._hw7_attacked = True
    own = os.getcwd()
    found = {{"read": 0, "written": 0}}

    def attack():
        end = time.monotonic() + 25
        while time.monotonic() < end and not os.path.exists({stop!r}):
            for path in glob.glob({temp!r} + "/hw7-grade-*/**/*", recursive=True):
                if path.startswith(own):
                    continue
                try:
                    if path.endswith(".ipynb"):
                        found["read"] += len(pathlib.Path(path).read_bytes()) > 0
                    elif path.endswith("HW7_utils.py"):
                        with open(path, "a") as handle:
                            handle.write("\\nraise SystemExit(0)\\n")
                        found["written"] += 1
                except OSError:
                    pass
            time.sleep(0.02)

    pathlib.Path({started!r}).touch()
    worker = threading.Thread(target=attack)
    worker.start()
    worker.join()
    pathlib.Path({report!r}).write_text(repr(found))
return {good}
"""


def test_a_submission_cannot_touch_another_in_the_batch_nor_its_cached_regrade(solution, tmp_path, fallback,
                                                                              shared_temp):
    shared = shared_temp
    started, stop, report = (shared / f"attack.{n}" for n in ("started", "stop", "report"))
    attacker = submission(solution, tmp_path / "attacker", ATTACK.format(
        stop=str(stop), temp=str(shared), started=str(started), report=str(report), good=GOOD_DKL))
    victim = submission(solution, tmp_path / "victim", f"return {GOOD_DKL}", as_zip=True)
    parts = ("1.4", "2.1")
    alone = grade(victim, tmp_path / "alone", parts=parts)
    assert alone.part_scores() == {"1.4": 5, "2.1": 50, "2.2": 0, "2.3": 0}

    cache_dir = tmp_path / "out" / ".cache"  # one batch's cache, shared by both
    thread = threading.Thread(target=grade, args=(attacker, tmp_path / "out" / "attacker"),
                              kwargs={"parts": ("1.4",), "cache_dir": cache_dir})
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not started.exists():
            assert thread.is_alive() and time.monotonic() < deadline, "the attacking child never started"
            time.sleep(0.1)
        in_batch = grade(victim, tmp_path / "out" / "victim", parts=parts, cache_dir=cache_dir)
    finally:
        stop.touch()
        thread.join()
    attempts = report.read_text() if report.exists() else "the attacker did not report"
    assert in_batch.part_scores() == alone.part_scores(), attempts
    assert attempts == "{'read': 0, 'written': 0}"
    # A FORCE regrade of the victim alone, from the batch's cache, gives its lone grade too.
    again = grade(victim, tmp_path / "again", parts=parts, cache_dir=cache_dir)
    assert again.part_scores() == alone.part_scores()


def test_the_cache_keeps_no_outcome_a_co_tenant_or_a_busy_machine_could_have_caused(tmp_path, monkeypatch):
    job = {"part": "1.4", "cells": []}
    store = cache.Store(tmp_path / ".cache", sandbox.KIT_ROOT / "data" / "airfoils.npz")
    waited = Outcome(False, {}, f"it did not finish ({sandbox.WAITED})", 90.0, not_the_students=True)
    store.put(job, 30.0, waited)
    assert store.get(job, 30.0) is None
    shared = isolation.Isolation("namespaces", False, "same user for every child", network=True, pids=True)
    monkeypatch.setattr(isolation, "current", lambda: shared)
    store.put(job, 30.0, Outcome(True, {"observations": {}}))
    assert store.get(job, 30.0) is None
    monkeypatch.setattr(isolation, "current", lambda: isolation.Isolation(
        "separate user", False, "a user id per child", network=True, pids=True, separate_submissions=True))
    store.put(job, 30.0, Outcome(True, {"observations": {}}))
    assert store.get(job, 30.0) is not None


# --- item 9a: processes end with their part; a part is charged for its own CPU ---------------------
def test_no_process_of_a_part_outlives_it_whatever_its_session(solution, tmp_path, no_namespaces):
    marker = f"{time.time() % 1000 + 3000:.6f}"  # `sleep <marker>`: a number no other process uses
    body = f"""
        os = __import__("os")
        for _ in range(3):
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execv("/bin/sleep", ["sleep", "{marker}"])
                os._exit(0)
        return {GOOD_DKL}
        """
    try:
        results = grade(submission(solution, tmp_path / "s", body), tmp_path / "out", parts=("1.4",))
        left = _processes_with(marker)
        assert not left, f"{len(left)} process(es) of the part still run after it"
        assert score(results) == 5
    finally:
        _kill(_processes_with(marker))


def test_a_part_is_charged_for_its_cpu_not_for_waiting(solution, tmp_path, fallback, monkeypatch):
    # Scaled down: a 4 s budget.  Sleeping 6 s uses no CPU (like a child the machine does not schedule).
    monkeypatch.setattr(limits, "TEST_WALL_S", 4.0)
    body = f"""
        builtins = __import__("builtins")
        if not getattr(builtins, "_hw7_slept", False):
            builtins._hw7_slept = True
            __import__("time").sleep(6)
        return {GOOD_DKL}
        """
    results = grade(submission(solution, tmp_path / "s", body), tmp_path / "out", parts=("1.4",))
    assert score(results) == 5, results.tests[0].output


def test_a_part_is_not_charged_for_its_interpreters_start(solution, tmp_path, monkeypatch):
    """A budget smaller than importing torch costs (about 2 s of CPU): the part still gets its points, since
    the count begins when the child has read its job; and the student's own CPU is still counted."""
    monkeypatch.setattr(limits, "TEST_WALL_S", 1.0)
    results = grade(submission(solution, tmp_path / "s", f"return {GOOD_DKL}"), tmp_path / "out", parts=("1.4",))
    assert score(results) == 5, results.tests[0].output
    spin = f"""
        t = __import__("time").process_time()
        while __import__("time").process_time() - t < 3:
            pass
        return {GOOD_DKL}
        """
    results = grade(submission(solution, tmp_path / "t", spin), tmp_path / "out2", parts=("1.4",))
    assert score(results) == 0 and "time budget of 1 s" in results.tests[0].output, results.tests[0].output


def test_a_training_part_is_not_charged_for_torchs_import_at_its_first_optimizer_step(solution, tmp_path,
                                                                                    monkeypatch):
    """torch imports torch._dynamo at a process's first optimizer step (about 1.5 s of CPU): the child of a
    part that trains makes that import before its count begins, so a correct loop fits in a 1-s budget."""
    monkeypatch.setattr(limits, "TEST_WALL_S", 1.0)
    results = grade(submission(solution, tmp_path / "s", f"return {GOOD_DKL}"), tmp_path / "out", parts=("2.2",))
    assert results.part_scores()["2.2"] == 10, [t.output for t in results.tests]


def test_spinning_processes_of_one_submission_do_not_cost_another_its_points(solution, tmp_path, no_namespaces,
                                                                            monkeypatch):
    """Scaled-down starvation: every child on one CPU, a 4 s budget; one submission leaves spinning
    processes in sessions of their own; the next submission's part still gets its points."""
    monkeypatch.setattr(limits, "TEST_WALL_S", 4.0)
    marker = f"hw7spin{uuid.uuid4().hex[:8]}"
    body = f"""
        os, sys = __import__("os"), __import__("sys")
        for _ in range(4):
            if os.fork() == 0:
                os.setsid()
                os.execv(sys.executable, ["{marker}", "-c", "while True: pass"])
        return {GOOD_DKL}
        """
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})  # the children inherit it: one CPU for everyone
    try:
        grade(submission(solution, tmp_path / "a", body), tmp_path / "out" / "a", parts=("1.4",))
        victim = grade(submission(solution, tmp_path / "v", f"return {GOOD_DKL}"), tmp_path / "out" / "v",
                       parts=("1.4",))
        assert not _processes_with(marker)
        assert score(victim) == 5, victim.tests[0].output
    finally:
        os.sched_setaffinity(0, before)
        _kill(_processes_with(marker))


# --- item 9b: the same hash order in every grading ---------------------------------------------------
def test_the_child_hashes_strings_the_same_in_every_grading(solution, tmp_path, fallback):
    expected = subprocess.run([sys.executable, "-c", "print(hash('hw7-seed'))"], capture_output=True, text=True,
                              env={"PYTHONHASHSEED": sandbox.HASH_SEED}, check=True).stdout.strip()
    body = f"return {GOOD_DKL} + (0.0 if hash('hw7-seed') == {expected} else 100.0)"
    results = grade(submission(solution, tmp_path / "s", body), tmp_path / "out", parts=("1.4",))
    assert score(results) == 5


# --- item 9c: a killed grader leaves nothing readable, and its folder is removed later ---------------
def test_a_killed_graders_folder_is_private_and_removed_by_the_next(solution, tmp_path, fallback, shared_temp):
    temp = shared_temp
    sub = submission(solution, tmp_path / "s", f"__import__('time').sleep(60)\nreturn {GOOD_DKL}", as_zip=True)
    driver = f"from autograder.grader import grade\ngrade({str(sub)!r}, parts=('1.4',))"
    env = {**os.environ, "TMPDIR": str(temp), bwrap.DISABLE_ENV: "1"}
    proc = subprocess.Popen([sys.executable, "-c", driver], env=env, cwd=sandbox.KIT_ROOT)
    try:
        deadline = time.monotonic() + 120
        while not list(temp.glob("hw7-grade-*/part-1.4")):
            assert proc.poll() is None and time.monotonic() < deadline, "the grader never started its child"
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait()
    time.sleep(1)
    orphans = [e.name for e in os.scandir("/proc") if e.name.isdigit() and _cwd_in(e.path, temp)]
    _kill([int(pid) for pid in orphans])
    assert not orphans, "the killed grader's child still runs"
    (left,) = temp.glob("hw7-grade-*")
    assert stat.S_IMODE(left.stat().st_mode) & 0o044 == 0, "others can list the grading's folder"
    notebooks = list(left.rglob("*.ipynb"))
    assert notebooks, "the submission was not unpacked: this test would prove nothing"
    for notebook in notebooks:
        private = [p for p in notebook.parents if p != left and left in p.parents]
        assert any(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in private), notebook
    assert workdirs.remove_orphaned_folders(temp) == [left]
    assert not left.exists()


def test_a_child_whose_grader_died_before_its_death_signal_was_set_never_starts(tmp_path):
    # The window the killed-grader test above hit on a slow machine: the grader is killed after its fork of
    # the child but before setpriv asks for the death signal, so no signal ever comes.  Here the fork waits
    # half a second before the exec, and the "grader" is already gone by then.
    if not isolation.dies_with_grader():
        pytest.skip("setpriv is not installed (macOS): the fallback has no death signal to test")
    marker = tmp_path / "the child ran"
    grader = textwrap.dedent(f"""
        import os, time
        from autograder.run import isolation
        command = [*isolation.dies_with_grader(), "touch", {str(marker)!r}]
        if os.fork() == 0:
            time.sleep(0.5)
            os.execv(command[0], command)
        os._exit(0)
        """)
    subprocess.run([sys.executable, "-c", grader], cwd=sandbox.KIT_ROOT, check=True)
    time.sleep(2)
    assert not marker.exists(), "a child started although its grader was gone"
    subprocess.run([*isolation.dies_with_grader(), "touch", str(marker)], check=True)  # its grader lives
    assert marker.exists()


def test_a_running_graders_folder_is_left_alone(tmp_path):
    mine = tmp_path / f"{workdirs.TEMP_PREFIX}{os.getpid()}-abc"
    mine.mkdir()
    assert workdirs.remove_orphaned_folders(tmp_path) == [] and mine.exists()


# --- item 9e: the isolation record says what was in force, and it is true -----------------------------
def _reaches_loopback(solution, tmp_path) -> tuple[bool, dict]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    body = f"""
        s = __import__("socket").socket()
        s.settimeout(2)
        return {GOOD_DKL} + (100.0 if s.connect_ex(("127.0.0.1", {port})) == 0 else 0.0)
        """
    try:
        results = grade(submission(solution, tmp_path / "s", body), tmp_path / "out", parts=("1.4",))
    finally:
        server.close()
    return score(results) != 5, results.extra["isolation"]


def test_without_network_namespaces_the_record_says_network_is_not_isolated(solution, tmp_path, no_namespaces):
    reached, record = _reaches_loopback(solution, tmp_path)
    assert record["level"] == "separate user" and reached and record["network"] is False
    assert "NO network isolation" in record["summary"] and record["separate_submissions"] is True
    with pytest.raises(isolation.IsolationError):
        isolation.announce(strict=True)


def test_with_network_namespaces_the_record_says_network_is_isolated(solution, tmp_path, fallback):
    if not isolation.namespace_prefix():
        pytest.skip("unshare cannot make a network namespace here")
    reached, record = _reaches_loopback(solution, tmp_path)
    assert record["level"] == "separate user" and not reached and record["network"] is True
