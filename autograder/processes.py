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

from autograder import isolation

# Run as the child's user: kill(-1) then reaches exactly that user's processes (never the caller itself).
KILLER = "import os\nfor _ in range(50):\n    try:\n        os.kill(-1, 9)\n    except ProcessLookupError:\n        break\n"


def _processes(uid: int | None, root: int) -> list[str]:
    """The /proc folders of a child's processes: all of ``uid``'s, else ``root`` and its descendants."""
    stats: dict[str, tuple[int, str]] = {}
    try:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if uid is not None and os.stat(entry.path).st_uid != uid:
                    continue
                with open(os.path.join(entry.path, "stat"), "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            stats[entry.path] = (int(fields[1]), fields[0].decode())  # parent pid, state
    except OSError:
        return []
    if uid is not None:
        return list(stats)
    tree, grew = {f"/proc/{root}"}, True
    while grew:
        grew = False
        for path, (parent, _) in stats.items():
            if path not in tree and f"/proc/{parent}" in tree:
                tree.add(path)
                grew = True
    return [p for p in tree if p in stats]


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


