"""What a valid model_config and train_config hold: the rules the intake applies to both files, and the
readiness to the notebook's own configs.  Each rule that fails gives a message naming the setting and what
it must be; the caller adds the file's name and the fix.
"""

from __future__ import annotations

import math
import reprlib
from typing import Any

from . import limits

TRAIN_KEYS = {
    "beta", "optimizer_name", "optimizer_config", "lr_scheduler_name", "lr_scheduler_config",
    "running_avg_window", "n_iters", "batch_size",
}


_shown = reprlib.Repr()
_shown.maxstring = _shown.maxother = _shown.maxlong = 60


def shown(value: Any) -> str:
    """A value for a message, cut short (a student's setting can be anything)."""
    return _shown.repr(value)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def validate_model_config(cfg: Any) -> list[str]:
    if not isinstance(cfg, dict):
        return [f"it must be a mapping like input_size: {limits.N_POINTS}, got {type(cfg).__name__}"]
    errors = []
    for key, want in (("input_size", limits.N_POINTS), ("latent_size", limits.LATENT_SIZE)):
        if key not in cfg:
            errors.append(f"{key} is missing (it must be {want})")
        elif not _is_int(cfg[key]) or cfg[key] != want:
            errors.append(f"{key} must be {want}, got {shown(cfg[key])}")
    for key, value in cfg.items():
        if key in ("input_size", "latent_size"):
            continue
        values = value if isinstance(value, list) else [value]
        for v in values:
            if _is_int(v) and not 0 < v <= limits.LAYER_SIZE_MAX:
                errors.append(f"{key} has a layer size of {v}; sizes must be between 1 and {limits.LAYER_SIZE_MAX}")
    return errors


def validate_train_config(cfg: Any) -> list[str]:
    import torch

    if not isinstance(cfg, dict):
        return [f"it must be a mapping like beta: 0.001, got {type(cfg).__name__}"]
    errors = [f"{shown(k)} is not a setting of train_VAE (allowed: {', '.join(sorted(TRAIN_KEYS))})"
              for k in cfg if k not in TRAIN_KEYS]
    if "beta" in cfg and not (_is_number(cfg["beta"]) and cfg["beta"] >= 0):
        errors.append(f"beta must be a number >= 0, got {shown(cfg['beta'])}")
    name = cfg.get("optimizer_name", "Adam")
    optimizer = getattr(torch.optim, name, None) if isinstance(name, str) else None
    if not (isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer)):
        errors.append(f"optimizer_name {shown(name)} is not an optimizer in torch.optim (e.g. 'Adam', 'SGD')")
    name = cfg.get("lr_scheduler_name")
    if name is not None:
        scheduler = getattr(torch.optim.lr_scheduler, name, None) if isinstance(name, str) else None
        if not (isinstance(scheduler, type) and hasattr(scheduler, "step")):
            errors.append(f"lr_scheduler_name {shown(name)} is not a scheduler in torch.optim.lr_scheduler "
                          "(e.g. 'StepLR', or null for none)")
    for key in ("optimizer_config", "lr_scheduler_config"):
        if key in cfg and not isinstance(cfg[key], dict):
            errors.append(f"{key} must be a mapping (e.g. {{lr: 0.001}}), got {shown(cfg[key])}")
    bounds = {
        "n_iters": (1, limits.N_ITERS_MAX),
        "batch_size": (limits.BATCH_SIZE_MIN, limits.BATCH_SIZE_MAX),
        "running_avg_window": (1, limits.RUNNING_AVG_WINDOW_MAX),
    }
    for key, (low, high) in bounds.items():
        if key in cfg and not (_is_int(cfg[key]) and low <= cfg[key] <= high):
            errors.append(f"{key} must be a whole number between {low} and {high}, got {shown(cfg[key])}")
    return errors
