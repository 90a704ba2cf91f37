"""The grader's temporary folders: private to the grader, and removed even when a grader was killed.

A grading's folder holds the unpacked submission (in a ``0700`` folder of its own) and one scratch
folder per child.  When children run as users of their own (the grader is root) the grading's folder
is ``0711``: each child may pass through it to its own ``0700`` scratch folder, and list nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from autograder.run import isolation

TEMP_PREFIX = "hw7-grade-"


def private_root(folder: Path) -> None:
    """A grading's temporary folder: nobody else may list it; where children run as users of their own (root)
    they may pass through it to their own scratch folder (0700 each), and nowhere else."""
    folder.chmod(0o711 if isolation.separate_uids() else 0o700)


def grading_folder() -> tempfile.TemporaryDirectory:
    """A private temporary folder for one grading, named after this process; the folders of graders that
    were killed (their process is gone) are removed first, so that no unpacked submission outlives them."""
    remove_orphaned_folders(Path(tempfile.gettempdir()))
    return tempfile.TemporaryDirectory(prefix=f"{TEMP_PREFIX}{os.getpid()}-")  # mkdtemp: 0700


def remove_orphaned_folders(temp: Path) -> list[Path]:
    """Remove this user's grading folders in ``temp`` whose grader process no longer exists; those removed."""
    removed = []
    try:
        entries = list(os.scandir(temp))
    except OSError:
        return removed
    for entry in entries:
        pid = entry.name.removeprefix(TEMP_PREFIX).split("-", 1)[0]
        if not (entry.name.startswith(TEMP_PREFIX) and pid.isdigit()):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.geteuid():
                continue
            os.kill(int(pid), 0)
            continue  # its grader is still running (or the pid was reused: then it is left alone)
        except ProcessLookupError:
            pass
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)  # fd-based on Linux: never follows a link inside
        removed.append(Path(entry.path))
    return removed
