"""The child's runtime: the channel to the parent, the job, running the student's cells, and the
helpers every observer uses (``attempt``, ``call``, ``tensor``, ``describe``, ``values``, ``seed_everything``).

``main`` reads the job (the part, the student's cells, the probe inputs) from stdin, runs the cells,
calls the part's observer and sends its observations (a protocol dataclass) to the parent over the pipe FD.

Nothing here is trusted by the parent: student code runs in this process and can call ``send`` itself,
replace it, or write to the pipe.  The parent accepts one report per job (autograder/run/sandbox.py) and
judges only what the report's outputs earn on the inputs it chose (autograder/judges).
"""

import json
import math
import os
import sys
import traceback

CHANNEL = None
JOB = {}  # filled in place by main(): the observers import this very dict
# The parts whose observers step an optimizer (the loop's probes, the re-training).  torch imports
# torch._dynamo at a process's first optimizer step, about 1.5 s of CPU: an import, not the student's work,
# so these children make it before the part's count begins.  (tests/test_judges.py checks the parts.)
TRAINING_PARTS = ("2.2", "2.3")

# The reporting path holds its own references, taken before any student code runs, so that patching
# json, os, this module's globals or builtins later does not change what is sent.
_dumps, _write, _exit, _isinstance = json.dumps, os.write, os._exit, isinstance
_asdict = __import__("dataclasses").asdict


def send(message, _state={}):  # noqa: B006 (state shared between calls on purpose)
    if "fd" not in _state:
        _state.update(fd=CHANNEL.fileno(), nonce=JOB.get("nonce"), part=JOB.get("part"))
    message = {**message, "nonce": _state["nonce"], "part": _state["part"]}
    data = (_dumps(message, default=_jsonable) + "\n").encode()
    while data:
        data = data[_write(_state["fd"], data):]


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    return repr(value)


def error_text(exc):
    """The student's view of an exception: type, message and the line in their own cell."""
    if isinstance(exc, OSError) and exc.errno == 27:  # EFBIG: the file-size limit (Python ignores SIGXFSZ)
        return (f"it wrote more than {JOB.get('file_mb', '?')} MB to its output or to a file "
                "(too many prints?) and was stopped")
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    where = f" ({frames[-1].filename[1:-1]}, line {frames[-1].lineno})" if frames else ""
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return f"{type(exc).__name__}{': ' + text if text else ''}{where}"


def attempt(fn, *args, **kwargs):
    """(result, None) or (None, error text); a student's sys.exit() is an error, not an exit."""
    try:
        return fn(*args, **kwargs), None
    except BaseException as exc:  # noqa: BLE001 (student code may raise anything)
        if isinstance(exc, MemoryError):
            raise
        return None, error_text(exc)


def values(t, limit=4096):
    import torch

    t = t.detach().to("cpu", torch.float64).flatten()[:limit]
    return [None if not math.isfinite(v) else v for v in t.tolist()]


def tensor(t, limit=8192):
    """A returned tensor as protocol data: its form and its first ``limit`` values."""
    from .protocol import Tensor

    try:
        numbers = values(t, limit)
    except Exception:  # noqa: BLE001 (a tensor on the meta device, a subclass that refuses): form only
        numbers = []
    return Tensor(shape=list(t.shape), values=numbers, requires_grad=bool(t.requires_grad), device=str(t.device))


def call(fn, *args, limit=8192, **kwargs):
    """Call a student's function: (protocol Call, the raw result or None)."""
    import torch

    from .protocol import Call

    out, err = attempt(fn, *args, **kwargs)
    if err is not None:
        return Call(error=err), None
    seen = Call(kind=type(out).__name__)
    if isinstance(out, torch.Tensor):
        seen.items = [tensor(out, limit)]
    elif isinstance(out, (tuple, list)):
        seen.length = len(out)
        seen.items = [tensor(o, limit) if isinstance(o, torch.Tensor) else None for o in out[:4]]
    return seen, out


def describe(out):
    import torch

    if isinstance(out, torch.Tensor):
        return {"kind": "tensor", "shape": list(out.shape), "dtype": str(out.dtype).replace("torch.", ""),
                "device": str(out.device), "requires_grad": bool(out.requires_grad)}
    if isinstance(out, (tuple, list)):
        return {"kind": type(out).__name__, "len": len(out)}
    return {"kind": type(out).__name__}


def seed_everything(seed=0):
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)



class LazyPyplot:
    """`plt` for graded code: pyplot is imported on first use only (graded cells rarely plot)."""

    def __getattr__(self, name):
        import matplotlib.pyplot

        return getattr(matplotlib.pyplot, name)


class CellTimeout(BaseException):
    pass


def _alarm(signum, frame):
    raise CellTimeout(f"defining this cell's contents took more than {JOB['cell_s']} s (a loop at the top "
                      "level of a class?)")


def main(observers):
    """Run the job's part with the observer ``observers[part]`` ("module:function" of this package, imported
    only now: a child holds no other part's code in sys.modules) on the namespace of the student's cells."""
    import importlib
    global CHANNEL
    import signal

    CHANNEL = os.fdopen(int(sys.argv[1]), "w")
    sys.path.insert(0, os.getcwd())
    # The heavy imports come before the job is read: their CPU is not charged to the part (sandbox.Child.run).
    # matplotlib is not among them: no observer plots, the student's `plt` is imported on first use, and the
    # environment's MPLBACKEND=Agg (sandbox._clean_env) keeps it headless then.
    import torch

    import HW7_utils  # noqa: F401

    torch.set_num_threads(1)
    JOB.update(json.loads(sys.stdin.read()))
    sys.stdin.close()
    if JOB.get("part") in TRAINING_PARTS:
        import torch._dynamo  # noqa: F401
    report = send
    send({"started": True})  # fixes the reporting state before student code exists
    try:
        module, function = observers[JOB["part"]].split(":")
        observe = getattr(importlib.import_module(f"child.{module}"), function)  # before any student code
        ns = {"__name__": "__main__", "plt": LazyPyplot()}
        exec(compile(JOB["prelude"], "<imports>", "exec"), ns)
        cell_errors = []
        for cell in JOB["cells"]:
            code, err = attempt(compile, cell["source"], f"<cell {cell['index'] + 1}>", "exec")
            if err is None:
                seed_everything(0)
                signal.signal(signal.SIGALRM, _alarm)
                signal.alarm(JOB["cell_s"])
                try:
                    _, err = attempt(exec, code, ns)
                finally:
                    signal.alarm(0)
            if err is not None:
                cell_errors.append({"cell": cell["index"] + 1, "error": err})
        seed_everything(0)
        observations = observe(ns)
        if not _isinstance(observations, dict):
            observations = _asdict(observations)  # a protocol dataclass
        report({"observations": observations, "cell_errors": cell_errors})
    except MemoryError:
        report({"cause": f"it ran out of memory (the limit is {JOB.get('memory_gb', '?')} GB)"})
    except BaseException as exc:  # noqa: BLE001
        report({"cause": f"the grader's harness stopped: {error_text(exc)}"})
    _exit(0)  # skip interpreter teardown: student objects' __del__ must not run after the report

