"""What every judge shares: the numeric tolerance and the description of a returned value."""

from __future__ import annotations

import math

from hw7core.limits import TOL

Verdict = tuple[float, str]  # (points, the message in the student's terms)


def close(a: float | None, b: float, tol: float = TOL) -> bool:
    return a is not None and math.isfinite(a) and abs(a - b) <= tol + tol * abs(b)


def shape_text(desc: dict | None) -> str:
    """What the child described (kind, shape or length), in words."""
    if not desc:
        return "nothing"
    if desc.get("kind") == "tensor":
        return f"a tensor of shape {tuple(desc['shape'])}"
    if "len" in desc:
        return f"a {desc['kind']} of length {desc['len']}"
    return f"a {desc['kind']}"
