"""Run a command as an ordinary user from a root test run (CI runs as root), or as is when not root.

The Python environment may sit in a folder that other users cannot enter (pyenv under /root, a clone
under /root).  Rather than open that folder on the machine, the command runs in a private mount
namespace where each such folder is replaced by an empty in-memory one that holds only the
environment's own folders (bound back, unchanged).  Nothing of the machine is modified.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import tempfile
from pathlib import Path

from autograder.run import bwrap

TEST_USER = "nobody"  # exists everywhere; the tests give it its own home and kit in a temporary folder


def is_root() -> bool:
    return os.geteuid() == 0


def grading_user() -> pwd.struct_passwd:
    return pwd.getpwnam(TEST_USER) if is_root() else pwd.getpwuid(os.getuid())


def _closed_ancestor(path: Path) -> Path | None:
    """The outermost folder above ``path`` that other users cannot enter, if any."""
    for folder in [*reversed(path.parents)][1:]:
        if not folder.stat().st_mode & 0o001:
            return folder
    return None


def environment_view(cmd: list[str], drop_to_user: bool, readable: dict[Path, Path] | None = None) -> list[str]:
    """``cmd`` wrapped so that the Python environment is reachable by others (and run as the test user).

    ``readable`` maps files the user may not read to readable copies, bound over them in the view.
    """
    if not is_root():
        return cmd
    user = grading_user()
    if drop_to_user:
        cmd = [shutil.which("setpriv") or "setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
               "--clear-groups", *cmd]
    hidden = {root: _closed_ancestor(root) for root in bwrap.python_roots()}
    hidden = {root: closed for root, closed in hidden.items() if closed}
    if not hidden and not readable:
        return cmd
    stash = tempfile.mkdtemp(prefix="hw7-env-view-")  # emptied and removed again before the command runs
    q = shlex.quote
    lines = ["set -e"]
    for i, root in enumerate(hidden):
        lines += [f"mkdir -p {q(f'{stash}/{i}')}", f"mount --bind {q(str(root))} {q(f'{stash}/{i}')}"]
    for closed in sorted(set(hidden.values())):
        lines.append(f"mount -t tmpfs -o mode=0755 hw7-view {q(str(closed))}")
    for i, root in enumerate(hidden):
        lines += [f"mkdir -p {q(str(root))}", f"mount --bind {q(f'{stash}/{i}')} {q(str(root))}",
                  f"umount {q(f'{stash}/{i}')}"]
    lines.append(f"rm -rf {q(stash)}")
    for target, copy in (readable or {}).items():
        lines.append(f"mount --bind {q(str(copy))} {q(str(Path(target).resolve()))}")
    lines.append("exec " + shlex.join(cmd))
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(lines)]


def give_to_test_user(path: Path) -> None:
    if not is_root():
        return
    user = grading_user()
    for item in [path, *path.rglob("*")]:
        os.chown(item, user.pw_uid, user.pw_gid, follow_symlinks=False)
