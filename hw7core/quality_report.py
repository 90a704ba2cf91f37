"""What part 2.3's score reports: the points, the band, the measurements behind them and a hint, as
text for the student (``summary``) and as JSON for results.json (``to_dict``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .limits import N_POINTS, N_SAMPLES
from .parts import BY_NUMBER, RETRAINED

MAX_POINTS = BY_NUMBER[RETRAINED].points


@dataclass
class QualityReport:
    points: float
    band: str
    reason: str
    max_points: float = MAX_POINTS
    n_smooth_valid: int = 0
    n_valid: int = 0
    sigma_eq: list[float] = field(default_factory=list)  # per sample; inf for an invalid shape
    invalid_reasons: list[str] = field(default_factory=list)  # per sample, "" when valid
    sigma_22: float = math.inf
    sigma_med: float = math.inf
    sigma_smooth: float = math.nan
    sigma_too: float = math.nan
    rho: float = 0.0
    vendi: float = 0.0
    effective_count: float = 0.0  # "worth about k distinct airfoils"
    real_effective_count: float = 0.0
    D: float = 0.0
    hint: str = ""
    copies: list[int] = field(default_factory=list)  # samples that are copies of training airfoils
    nearest_real: list[float] = field(default_factory=list)  # per sample: RMS distance to the nearest one

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: infinities and NaN become None."""
        return _json_safe(asdict(self))

    @classmethod
    def from_dict(cls, data: Any) -> QualityReport | None:
        """A report read back from to_dict's output (results.json); None when it is not one.  A value
        of the wrong kind, or None (to_dict's infinity or NaN), reads as the field's default."""
        if not isinstance(data, dict) or not _same_kind(data.get("points"), 0.0) or not isinstance(
                data.get("band"), str):
            return None
        template = cls(0.0, "", "")
        return cls(**{name: data[name] if _same_kind(data.get(name), default) else default
                      for name, default in asdict(template).items()})

    def summary(self) -> str:
        lines = [f"Sample quality: {self.points:g} / {self.max_points:g} points ({self.band})."]
        if self.band == "invalid":
            lines.append(self.reason)
            if self.hint:
                lines.append(self.hint)
            return "\n".join(lines)
        lines.append(
            f"{self.n_smooth_valid} of {N_SAMPLES} samples are smooth and airfoil-shaped "
            f"({self.n_valid} pass the shape checks; smooth means sigma_eq <= {self.sigma_smooth:.1e})."
        )
        if math.isfinite(self.sigma_med):
            lines.append(
                f"Your samples carry the equivalent of ±{self.sigma_med:.1e} noise on every coordinate "
                f"(median; 22nd smallest {_fmt(self.sigma_22)}); real airfoils show under "
                f"{self.sigma_smooth / 4:.1e}, and from {self.sigma_too:.1e} the shapes are too rough."
            )
        lines.append(
            f"Your {N_SAMPLES} samples are worth about {self.effective_count:.1f} distinct airfoils; "
            f"{N_SAMPLES} real draws give about {self.real_effective_count:.1f} "
            f"(spread ratio rho = {self.rho:.2f}, diversity D = {self.D:.2f})."
        )
        lines.append(self.reason)
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


def _fmt(value: float) -> str:
    return f"{value:.1e}" if math.isfinite(value) else "not measurable (invalid shapes)"


def _same_kind(value: Any, like: Any) -> bool:
    """Is ``value`` of the kind of ``like`` (a whole number counts as a float; a bool is not a number)?"""
    if isinstance(value, bool) or value is None:
        return isinstance(like, bool) and isinstance(value, bool)
    if isinstance(like, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(like))


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def invalid(reason: str) -> QualityReport:
    """The report of samples that cannot be scored at all (0 points)."""
    return QualityReport(
        points=0.0,
        band="invalid",
        reason=reason,
        hint=f"Pass model.generate(n_samples={N_SAMPLES}) (or its .detach().cpu().numpy()): "
        f"an array of shape ({N_SAMPLES}, {N_POINTS}) of finite numbers in the decoder's units.",
    )

