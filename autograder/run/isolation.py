"""Which isolation of student code is in force on this machine, and saying so.

Levels, strongest first (``full`` only for the first):
- ``bubblewrap``: each child in a bwrap sandbox (see `autograder.run.bwrap`): no access to the user's files.
- ``separate user``: the grader is root (Gradescope) and each child runs as a user id of its own, from a
  reserved range no account uses (:func:`allocate_uid`): it can neither read nor signal another child,
  and what it may read is what any user may (run_autograder closes the grader's folders to others).
  It has no network only where ``unshare`` works (it needs CAP_SYS_ADMIN): ``Isolation.network`` says.
- ``namespaces``: no network and its own PIDs, but the child runs as the grader's user and can read
  and write whatever that user can, other submissions' children included.
- ``process``: a separate process with rlimits and time budgets only.

``Isolation`` records, per grading, what was in force (results.json's ``extra_data.isolation``);
``--strict`` grades only where each child has its own file system and network (``full``).
"""

from __future__ import annotations

import functools
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from autograder import KIT_ROOT
from autograder.results.extra_data import Isolation  # noqa: F401 (the record it writes; defined with the results)
from autograder.run import bwrap

# When the grader is root every child gets a user id of its own from this range (no account, no file of the
# machine's owned by it): RLIMIT_NPROC then counts that child's processes only, and one signal as that user
# reaches exactly that child's processes, in whatever session or process group they put themselves.
CHILD_UIDS = range(1_900_000_000, 2_000_000_000)
INSTALL = ("on Linux install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf "
           "install bubblewrap)")
REPAIR = ("remove what stopped bubblewrap (above; e.g. unprivileged user namespaces turned off: "
          "sysctl kernel.unprivileged_userns_clone=1 on Debian, user.max_user_namespaces > 0 elsewhere)")


def fix() -> str:
    """The way out, for the person grading: install or repair bubblewrap, or grade elsewhere."""
    first = REPAIR if bwrap.executable() and sys.platform.startswith("linux") else INSTALL
    return (f"To fix it: {first}, or grade on Gradescope, or in a throw-away container or virtual machine. "
            "--strict (make grade STRICT=1) refuses to grade without the sandbox.")


class IsolationError(RuntimeError):
    """Strict grading was asked for and the full sandbox cannot be built here."""


def separate_uids() -> bool:
    """Each child runs as a user id of its own: possible (and done) when the grader is root."""
    return os.geteuid() == 0


_uids_in_use: set[int] = set()
_uids_lock = threading.Lock()


def _uid_is_free(uid: int) -> bool:
    """No account and no running process has ``uid`` (another grader on this machine may use the range too)."""
    try:
        pwd.getpwuid(uid)
        return False
    except KeyError:
        pass
    try:
        return not any(entry.name.isdigit() and os.stat(entry.path).st_uid == uid for entry in os.scandir("/proc"))
    except OSError:
        return True


def allocate_uid() -> int | None:
    """A user id of its own for one child (root only; None otherwise), until :func:`release_uid`."""
    if not separate_uids():
        return None
    with _uids_lock:
        for _ in range(100):
            uid = CHILD_UIDS[secrets.randbelow(len(CHILD_UIDS))]
            if uid not in _uids_in_use and _uid_is_free(uid):
                _uids_in_use.add(uid)
                return uid
    raise RuntimeError(f"no free user id in {CHILD_UIDS} for a child")


def release_uid(uid: int | None) -> None:
    with _uids_lock:
        _uids_in_use.discard(uid)


def user_prefix(uid: int | None) -> tuple[str, ...]:
    """Run as ``uid`` (group ``uid``, no supplementary groups; setpriv needs no account for it), killed when
    its parent ends (a grader killed mid-batch leaves no child running)."""
    if uid is None:
        return ()
    return (shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--pdeathsig=KILL")


# Run after setpriv has asked for the death signal: a grader killed before that (between its fork and this
# exec) sends none, and the command would start as an orphan; the parent id tells, as init (or a subreaper)
# has adopted it by then.
_STILL_THE_GRADERS = 'test "$PPID" = "$0" && exec "$@"'


def dies_with_grader() -> tuple[str, ...]:
    """A prefix that kills the command when the grader's thread that started it ends (for ``unshare``, whose
    --kill-child then ends the whole namespace), and that does not start it at all when the grader (this
    process) is already gone; empty without setpriv (macOS)."""
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return ()
    return (setpriv, "--pdeathsig=KILL", "--", "/bin/sh", "-c", _STILL_THE_GRADERS, str(os.getpid()))


@functools.cache
def namespace_prefix() -> tuple[str, ...]:
    """The `unshare` wrapper that gives the child no network and its own PIDs, if it works here."""
    unshare = shutil.which("unshare")
    if not unshare:
        return ()
    base = [unshare, "--net", "--pid", "--fork", "--kill-child"]
    if os.geteuid() != 0:
        base[1:1] = ["--user", "--map-current-user"]
    try:
        ok = subprocess.run([*base, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return tuple(base) if ok else ()


@functools.cache
def uses_bwrap() -> bool:
    return not _bwrap_problem()


@functools.cache
def _bwrap_problem() -> str:
    private = [KIT_ROOT, Path.home()] if os.geteuid() != 0 else [KIT_ROOT]
    exposed = bwrap.exposure_problem(private)
    if exposed:
        return exposed
    uid = allocate_uid()
    try:
        problem = bwrap.probe(user_prefix(uid), (uid, uid) if uid is not None else None)
    except Exception as exc:  # noqa: BLE001 (an odd machine must never cost a submission its results.json)
        problem = f"the trial sandbox failed ({type(exc).__name__}: {exc})"
    finally:
        release_uid(uid)
    if uid is not None and "Permission denied" in problem:
        problem += (" (an unprivileged user cannot read the Python environment: install it where every user may "
                    "read it, as gradescope/setup.sh does)")
    return problem


@functools.cache
def current() -> Isolation:
    """The isolation every child of this process gets (decided once per run)."""
    base = "separate process, rlimits (CPU, memory, file size, processes), time budgets"
    as_user = ", each child as a user id of its own" if separate_uids() else ""
    if uses_bwrap():
        return Isolation("bubblewrap", True, f"{base}, {bwrap.version()} sandbox (own read-only file system, "
                                             f"writable scratch folder only, no network, own PIDs){as_user}",
                         network=True, pids=True, separate_submissions=True)
    reason = _bwrap_problem()
    namespaces = bool(namespace_prefix())
    spaces = ", no network and own PID namespace" if namespaces else ", NO network isolation (unshare failed)"
    if separate_uids():
        return Isolation("separate user", False, base + as_user + spaces, reason, network=namespaces, pids=True,
                         separate_submissions=True)
    if namespaces:
        return Isolation("namespaces", False, base + spaces, reason, network=True, pids=True)
    return Isolation("process", False, base, reason)


def warning(isolation: Isolation) -> str:
    """What a weaker isolation means for the person grading, and the fix."""
    if isolation.level == "separate user":
        what = ("Student code runs as an unprivileged user id of its own per child: it cannot write the grader's "
                "files or touch other submissions, but can read whatever any user may read"
                + ("." if isolation.network else ", and it HAS network access (no network namespace here)."))
    else:
        what = ("Student code runs as you: it can read and change anything your account can (your home "
                "folder, this kit including the solution and the grader, other submissions, the grades).")
    return (f"Warning: the grading sandbox is not in force (isolation: {isolation.level}; "
            f"{isolation.reason}). {what} {fix()}")


@functools.cache
def _warn_once(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def announce(strict: bool = False) -> Isolation:
    """Before a run: refuse (strict) or warn once on stderr when the full sandbox is not in force."""
    isolation = current()
    if not isolation.full:
        if strict:
            raise IsolationError("Refusing to grade (--strict): " + warning(isolation).removeprefix("Warning: "))
        _warn_once(warning(isolation))
    return isolation


def summary_note(rows: list) -> str:
    """One sentence for the summary page when some gradings ran without the full sandbox, else "".

    ``rows`` as the reports get them (rows.Row); rows without results are skipped.
    """
    from autograder.results.extra_data import ExtraData

    levels = [ExtraData.from_dict(row.results.extra).isolation for row in rows if row.results and row.results.tests]
    weak = [lv for lv in levels if lv is None or not lv.full]
    if not weak:
        return ""
    named = sorted({lv.level if lv is not None else "not recorded" for lv in weak})
    reasons = sorted({lv.reason for lv in weak if lv is not None and lv.reason})
    return (f"{len(weak)} of {len(levels)} submission(s) were graded without the grading sandbox (isolation: "
            f"{', '.join(named)}{'; ' + '; '.join(reasons) if reasons else ''}): their code was not confined to its "
            f"scratch folder: it could read, and unless it ran as a separate user change, the files of the account "
            f"that graded them. {fix()}")
