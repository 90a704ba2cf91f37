"""A child's processes, wherever they went: find them, measure their CPU time, end them all.

With a user id of its own per child (the grader is root) a child's processes are exactly that user's,
whatever session or process group they put themselves in.  Otherwise they are the child and its
descendants (a process that left the tree, reparented to init, is no longer found: SECURITY.md says so).
Linux's ``/proc`` is read; without it (macOS) the CPU time is unknown and the caller uses the wall clock.
"""

from __future__ import annotations

import os
import subprocess
import sys

from autograder.run import isolation

# Run as the child's user: kill(-1) then reaches exactly that user's processes (never the caller itself).
KILLER = "import os\nfor _ in range(50):\n    try:\n        os.kill(-1, 9)\n    except ProcessLookupError:\n        break\n"


def _processes(uid: int | None, root: int) -> list[str]:
    """The /proc folders of a child's processes: all of ``uid``'s, else ``root`` and its descendants."""
    if uid is None:
        return _descendants(root)
    found = []
    try:
        for entry in os.scandir("/proc"):
            try:
                if entry.name.isdigit() and entry.stat().st_uid == uid:
                    found.append(entry.path)
            except OSError:
                continue
    except OSError:
        return []
    return found


def _descendants(root: int) -> list[str]:
    """``root`` and the processes below it, through each thread's ``children`` list (only these are read)."""
    if not os.path.exists(f"/proc/self/task/{os.getpid()}/children"):  # a kernel without CONFIG_PROC_CHILDREN
        return _descendants_by_scan(root)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        path = f"/proc/{pid}"
        try:
            tasks = os.listdir(f"{path}/task")
        except OSError:
            continue
        found.append(path)
        for task in tasks:
            try:
                with open(f"{path}/task/{task}/children", "rb") as handle:
                    todo += [int(child) for child in handle.read().split()]
            except (OSError, ValueError):
                continue
    return found


def _descendants_by_scan(root: int) -> list[str]:
    parents: dict[str, str] = {}
    for entry in os.scandir("/proc"):
        try:
            with open(os.path.join(entry.path, "stat"), "rb") as handle:
                parents[entry.path] = "/proc/" + handle.read().rsplit(b")", 1)[1].split()[1].decode()
        except (OSError, IndexError):
            continue
    tree, grew = {f"/proc/{root}"}, True
    while grew:
        grown = {path for path, parent in parents.items() if parent in tree} - tree
        tree |= grown
        grew = bool(grown)
    return [path for path in tree if path in parents]


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") and "SC_CLK_TCK" in os.sysconf_names else 100


def tree_cpu_seconds(uid: int | None, root: int) -> float | None:
    """CPU seconds used so far by a child's processes (their reaped children included); None without /proc."""
    if not os.path.isdir("/proc/self"):
        return None
    total = 0
    for path in _processes(uid, root):
        try:
            with open(os.path.join(path, "stat"), "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        except (OSError, IndexError, ValueError):
            continue
    return total / _TICK


def kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid``, new sessions and process groups included, until none is left.

    kill(-1) sent *as that user* reaches exactly its processes; a fork racing it is caught by the next round.
    """
    # The killer runs under the grader's own process limit, far above the child's (limits.EXTRA_PROCESSES).
    for _ in range(20):
        subprocess.run([*isolation.user_prefix(uid), sys.executable, "-S", "-c", KILLER],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                       timeout=30)
        if not [p for p in _processes(uid, 0) if _state(p) not in ("Z", "X", "")]:
            return


def _state(path: str) -> str:
    try:
        with open(os.path.join(path, "stat"), "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return ""


