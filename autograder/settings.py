"""The course's grading settings (``grading.yaml`` beside the autograder; baked into Gradescope's zip).

One file holds what an instructor decides once per course: the leaderboard, who is named on it, the
similarity threshold and the LMS column.  Reading never fails: a missing file means the defaults, and a
bad value keeps its default and is reported in ``Settings.problems`` (``grade-all`` prints them), so a
typo never costs a student their results.json.
"""

from __future__ import annotations

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
    lms_column: str = "HW7 autograded"
    path: str = ""
    problems: tuple[str, ...] = field(default=(), compare=False)


def _checked(key: str, value: object, default: object) -> tuple[object, str | None]:
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        expected = "true or false"
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
        expected = "a number from 0 to 1"
    else:
        ok = isinstance(value, str) and value.strip() != ""
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
