"""The course's grading settings (``grading.yaml`` beside the autograder; baked into Gradescope's zip).

One file holds what an instructor decides once per course: the leaderboard, who is named on it, the
similarity threshold, the LMS columns and the late policy.  Reading never fails: a missing file means the defaults, and a
bad value keeps its default and is reported in ``Settings.problems`` (``grade-all`` prints them), so a
typo never costs a student their results.json.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from autograder import KIT_ROOT

DEFAULT_PATH = KIT_ROOT / "grading.yaml"
ENV_PATH = "HW7_SETTINGS"  # another settings file (tests, or a course that keeps it elsewhere)


@dataclass(frozen=True)
class Settings:
    leaderboard: bool = False
    leaderboard_names: bool = False
    similarity_threshold: float = 0.5
    lms_column: str = "HW7"
    # "total": canvas.csv has one column, the final grade out of 105; "separate": the autograded part (80)
    # in lms_column and the written part (25) in lms_written_column, each with the late penalty applied.
    lms_columns: str = "total"
    lms_written_column: str = "HW7 written"
    # The late policy (late.py); no due date: no penalty.
    due: str = ""
    grace_minutes: float = 0.0
    late_penalty_per_day: float = 0.0  # percent of the grade per started day late
    late_penalty_cap: float = 100.0  # percent: the most a late submission loses
    extensions: str = "extensions.csv"  # in the grades folder: submission, days (per-student extensions)
    path: str = ""
    problems: tuple[str, ...] = field(default=(), compare=False)


CHOICES = {"lms_columns": ("total", "separate")}
RANGES = {"similarity_threshold": (0, 1), "grace_minutes": (0, 10**6), "late_penalty_per_day": (0, 100),
          "late_penalty_cap": (0, 100)}
MAY_BE_EMPTY = ("due",)


def _checked(key: str, value: object, default: object) -> tuple[object, str | None]:
    if key in CHOICES:
        ok = value in CHOICES[key]
        expected = " or ".join(CHOICES[key])
    elif key == "due" and value:
        ok = isinstance(value, str) and parse_time(value) is not None
        expected = "a date and time with its time zone, e.g. \"2026-11-20 23:59 -08:00\""
    elif isinstance(default, bool):
        ok = isinstance(value, bool)
        expected = "true or false"
    elif isinstance(default, float):
        low, high = RANGES[key]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high
        expected = f"a number from {low} to {high}"
    else:
        ok = isinstance(value, str) and (value.strip() != "" or key in MAY_BE_EMPTY)
        expected = "a non-empty text"
    if ok:
        return (float(value) if isinstance(default, float) else value), None
    return default, f"{key}: {value!r} is not {expected}; using {default!r}"


def load(path: str | os.PathLike | None = None) -> Settings:
    """The settings from ``path``, else ``$HW7_SETTINGS``, else the kit's ``grading.yaml``."""
    path = Path(path or os.environ.get(ENV_PATH) or DEFAULT_PATH)
    defaults = Settings()
    if not path.is_file():
        return Settings(path=str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError("it is not a list of `key: value` lines")
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        return Settings(path=str(path), problems=(f"{path} could not be read ({exc}); using the defaults",))
    known = {f.name: getattr(defaults, f.name) for f in fields(Settings) if f.name not in ("path", "problems")}
    values, problems = {}, []
    for key, value in data.items():
        if key not in known:
            problems.append(f"{path}: unknown setting {key!r} (known: {', '.join(known)})")
            continue
        values[key], problem = _checked(key, value, known[key])
        if problem:
            problems.append(f"{path}: {problem}")
    return Settings(**values, path=str(path), problems=tuple(problems))


def parse_time(text: object) -> _dt.datetime | None:
    """A time with its zone (Gradescope writes ``2026-11-20 10:00:00.000000000 -08:00``); None when
    unreadable or without a zone (a naive time would depend on the grading machine's clock)."""
    if isinstance(text, _dt.datetime):
        return text if text.tzinfo is not None else None
    from dateutil import parser

    try:
        when = parser.parse(str(text))
    except (ValueError, OverflowError):
        return None
    return when if when.tzinfo is not None else None
