"""Which isolation of student code is in force on this machine, and saying so.

Levels, strongest first (``full`` only for the first):
- ``bubblewrap``: each child in a bwrap sandbox (see `autograder.run.bwrap`): no access to the user's files.
- ``separate user``: the grader is root (Gradescope) and each child runs as an unprivileged user;
  what it may read is what that user may read (run_autograder closes the grader's folders to it).
- ``namespaces``: no network and its own PIDs, but the child runs as the grader's user and can read
  and write whatever that user can.
- ``process``: a separate process with rlimits and time budgets only.
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder import KIT_ROOT
from autograder.run import bwrap

SANDBOX_USER_ENV = "HW7_SANDBOX_USER"  # the unprivileged user for student code when root
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


@dataclass(frozen=True)
class Isolation:
    level: str
    full: bool
    summary: str
    reason: str = ""  # why the full sandbox is not in force ("" when it is)

    def to_dict(self) -> dict:
        return asdict(self)


def sandbox_user() -> pwd.struct_passwd | None:
    """The unprivileged user that runs student code when the grader is root, else None."""
    if os.geteuid() != 0:
        return None
    for name in filter(None, (os.environ.get(SANDBOX_USER_ENV), "nobody")):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


def user_prefix() -> tuple[str, ...]:
    user = sandbox_user()
    if not user:
        return ()
    return (shutil.which("setpriv") or "setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
            "--clear-groups")


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
    user = sandbox_user()
    try:
        problem = bwrap.probe(user_prefix(), (user.pw_uid, user.pw_gid) if user else None)
    except Exception as exc:  # noqa: BLE001 (an odd machine must never cost a submission its results.json)
        problem = f"the trial sandbox failed ({type(exc).__name__}: {exc})"
    if user and "Permission denied" in problem:
        problem += (f" (user {user.pw_name} cannot read the Python environment: install it where every user may "
                    "read it, as gradescope/setup.sh does)")
    return problem


@functools.cache
def current() -> Isolation:
    """The isolation every child of this process gets (decided once per run)."""
    base = "separate process, rlimits (CPU, memory, file size, processes), time budgets"
    user = sandbox_user()
    as_user = f", runs as user {user.pw_name}" if user else ""
    if uses_bwrap():
        return Isolation("bubblewrap", True, f"{base}, {bwrap.version()} sandbox (own read-only file system, "
                                             f"writable scratch folder only, no network, own PIDs){as_user}")
    reason = _bwrap_problem()
    if user:
        return Isolation("separate user", False, base + as_user + (
            ", no network and own PID namespace" if namespace_prefix() else ""), reason)
    if namespace_prefix():
        return Isolation("namespaces", False, base + ", no network and own PID namespace", reason)
    return Isolation("process", False, base, reason)


def warning(isolation: Isolation) -> str:
    """What a weaker isolation means for the person grading, and the fix."""
    if isolation.level == "separate user":
        what = ("Student code runs as an unprivileged user: it cannot write the grader's files, but can read "
                "whatever that user may read.")
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


def summary_note(rows: list[dict]) -> str:
    """One sentence for the summary page when some gradings ran without the full sandbox, else "".

    ``rows`` as the reports get them (``row["results"]`` is a results.json); rows without results are skipped.
    """
    extras = [row["results"].get("extra_data") for row in rows
              if isinstance(row.get("results"), dict) and row["results"].get("tests")]
    levels = [extra.get("isolation") if isinstance(extra, dict) else None for extra in extras]
    weak = [lv for lv in levels if not (isinstance(lv, dict) and lv.get("full") is True)]
    if not weak:
        return ""
    named = sorted({str(lv.get("level")) if isinstance(lv, dict) else "not recorded" for lv in weak})
    reasons = sorted({str(lv.get("reason")) for lv in weak if isinstance(lv, dict) and lv.get("reason")})
    return (f"{len(weak)} of {len(levels)} submission(s) were graded without the grading sandbox (isolation: "
            f"{', '.join(named)}{'; ' + '; '.join(reasons) if reasons else ''}): their code was not confined to its "
            f"scratch folder: it could read, and unless it ran as a separate user change, the files of the account "
            f"that graded them. {fix()}")
