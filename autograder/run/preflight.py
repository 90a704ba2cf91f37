"""What this machine must have before anything is graded: a torch that imports.

Every child imports torch, and the parent judges with it.  A torch that cannot be imported would turn
every submission into an "autograder failed" with the same traceback; the grader stops first instead,
with what to do.  The usual cause: on Linux, plain pip takes PyPI's CUDA build of torch, and the kit
installs with --no-deps, so the NVIDIA libraries that build loads are missing.

``python -m autograder.run.preflight`` (the end of ``make setup``) prints the problem and exits 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

from autograder import KIT_ROOT

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
NVIDIA_HINTS = ("libcudnn", "libcublas", "libcuda", "libnccl", "libcusparse", "libnvjitlink", "nvidia")


class TorchMissing(ValueError):
    """torch cannot be imported here: says why and how to install the CPU build."""


def pinned_torch(root: Path = KIT_ROOT) -> str:
    """requirements.txt's pin of torch ("torch==X"), or "torch" when there is none to read."""
    try:
        lines = (root / "requirements.txt").read_text(encoding="utf-8").splitlines()
    except OSError:
        return "torch"
    return next((line.strip() for line in lines if line.startswith("torch==")), "torch")


def explain(exc: BaseException, python: str = sys.executable, pin: str | None = None) -> str:
    """The message for a failed ``import torch`` (pure but for the pin: the tests give it the exceptions seen)."""
    what = f"{type(exc).__name__}: {exc}"
    fix = (f"install the CPU build in this environment: {python} -m pip install --force-reinstall --no-deps "
           f"{pin or pinned_torch()} --index-url {CPU_INDEX}  (or `rm -r .venv && make setup`, which does)")
    if any(hint in str(exc) for hint in NVIDIA_HINTS):
        return (f"torch cannot be imported ({what}): this is PyPI's CUDA build of torch, installed without the "
                f"NVIDIA libraries it loads (the kit installs with --no-deps and grades on the CPU); {fix}")
    return f"torch cannot be imported ({what}); {fix}"


def require_torch() -> None:
    """Raise TorchMissing, with the fix, when torch does not import in this Python."""
    try:
        import torch  # noqa: F401
    except (ImportError, OSError) as exc:  # a missing shared library is one or the other, by version
        raise TorchMissing(explain(exc)) from None


if __name__ == "__main__":
    try:
        require_torch()
    except TorchMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
