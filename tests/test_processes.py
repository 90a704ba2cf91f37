"""A child's processes (autograder/run/processes.py): found wherever they went, their CPU time, all of them ended."""

import os
import subprocess
import sys
import time

import pytest

from autograder.run import isolation, processes

LINUX = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
SPIN = "import time\nend = time.process_time() + 1.0\nwhile time.process_time() < end: pass\ntime.sleep(30)"


@LINUX
def test_descendants_are_found_through_the_children_lists_as_a_full_scan_finds_them():
    proc = subprocess.Popen(["bash", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        time.sleep(0.5)
        found = processes._descendants(proc.pid)
        assert len(found) == 3 and f"/proc/{proc.pid}" in found
        assert sorted(found) == sorted(processes._descendants_by_scan(proc.pid))
    finally:
        for path in processes._descendants(proc.pid)[::-1]:
            os.kill(int(path.rsplit("/", 1)[1]), 9)
        proc.wait()


@LINUX
def test_the_cpu_time_of_a_tree_counts_its_processes_together():
    proc = subprocess.Popen(["bash", "-c", f"{sys.executable} -c '{SPIN}' & {sys.executable} -c '{SPIN}' & wait"])
    try:
        deadline = time.monotonic() + 60
        while (processes.tree_cpu_seconds(None, proc.pid) or 0) < 1.9:
            assert time.monotonic() < deadline, "two spinning processes never reached 2 s of CPU together"
            time.sleep(0.2)
    finally:
        for path in processes._descendants(proc.pid)[::-1]:
            os.kill(int(path.rsplit("/", 1)[1]), 9)
        proc.wait()
    assert processes.tree_cpu_seconds(None, 2**22 + 1) == 0  # no such process: nothing used


@LINUX
@pytest.mark.skipif(os.geteuid() != 0, reason="a user id of its own needs root")
def test_every_process_of_a_user_is_killed_whatever_its_session():
    uid = isolation.allocate_uid()
    try:
        start = [*isolation.user_prefix(uid), "bash", "-c", "for i in 1 2 3; do setsid sleep 300 & done"]
        subprocess.run(start, check=True)
        assert len(processes._processes(uid, 0)) == 3
        processes.kill_uid(uid)
        time.sleep(0.5)
        assert [p for p in processes._processes(uid, 0) if processes._state(p) not in ("Z", "X", "")] == []
    finally:
        isolation.release_uid(uid)
