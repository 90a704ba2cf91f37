"""What every judge shares: the numeric tolerance, the protocol's tensors as torch tensors, and the
description of a returned value."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from autograder.run.child.protocol import Call, Tensor
from hw7core.limits import TOL

Verdict = tuple[float, str]  # (points, the message in the student's terms)


@dataclass(frozen=True)
class Trial:
    """What a judge reads: the inputs the parent chose for this grading (made again from its own job,
    never read back from the child) and the child's observations (typed, protocol.py)."""

    inputs: Any  # protocol.DklInputs, VaeInputs or LoopInputs
    seen: Any  # protocol.DklSeen, VaeSeen or LoopSeen


def close(a: float | None, b: float | None, tol: float = TOL) -> bool:
    """a is within tol of b (None, NaN and inf are close to nothing: the expected value may be None when
    the parent could not compute it, e.g. for a batch whose rows are not the probe's)."""
    return (a is not None and b is not None and math.isfinite(a) and math.isfinite(b)
            and abs(a - b) <= tol + tol * abs(b))


def as_torch(t: Tensor | None):
    """The protocol tensor as a float64 torch tensor of its shape (NaN where the child sent None), or None
    when its values do not fill its shape."""
    import torch

    if t is None or math.prod(t.shape) != len(t.values):
        return None
    return torch.tensor([math.nan if v is None else v for v in t.values], dtype=torch.float64).reshape(t.shape)


def all_close(a, b, tol: float = TOL) -> bool:
    """Two torch tensors of the same shape, equal within tol (relative and absolute), all finite."""
    import torch

    return (a is not None and b is not None and a.shape == b.shape and bool(torch.isfinite(a).all())
            and bool(torch.isfinite(b).all()) and bool(((a - b).abs() <= tol + tol * b.abs()).all()))


def shape_of(call: Call, i: int = 0) -> list[int] | None:
    t = call.tensor(i)
    return t.shape if t is not None else None


def shape_text(call: Call | None, i: int | None = None) -> str:
    """What the student's function returned (kind, shape or length), in words."""
    if call is None or (not call.kind and i is None):
        return "nothing"
    if i is not None:
        t = call.tensor(i)
        return f"a tensor of shape {tuple(t.shape)}" if t is not None else "not a tensor"
    if call.length is not None:
        return f"a {call.kind} of length {call.length}"
    if call.kind == "Tensor" and call.items and call.items[0] is not None:
        return f"a tensor of shape {tuple(call.items[0].shape)}"
    return f"a {call.kind}"


def scaled(fraction: float, points: float) -> float:
    """A judge's share of its row's points (issue 19: every judge scores out of its row's points)."""
    return points * max(0.0, min(1.0, fraction))
