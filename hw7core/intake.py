"""Intake: turn a zip, a folder or a lone notebook into a checked Submission.

Nothing here runs student code.  Every problem becomes a message that names the file and the fix;
the parts that do not need the broken piece are still graded.
"""

from __future__ import annotations

import itertools
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from . import configs, limits

NOTEBOOK = "HW7.ipynb"
MODEL_CONFIG = "model_config.yaml"
TRAIN_CONFIG = "train_config.yaml"
IGNORED_DIRS = {"__MACOSX", ".ipynb_checkpoints"}
CONFIG_MAX_ITEMS = 10_000  # values in one config, YAML aliases counted each time they are used


class IntakeError(Exception):
    """The submission as a whole cannot be read (e.g. a zip bomb); the message is for the student."""


@dataclass
class Submission:
    source: Path
    notebook: Any = None  # nbformat.NotebookNode (v4) or None
    notebook_name: str | None = None
    model_config: dict | None = None
    train_config: dict | None = None
    problems: dict[str, str] = field(default_factory=dict)  # piece -> message
    absent: set[str] = field(default_factory=set)  # pieces not in the submission at all (others were unreadable)
    notes: list[str] = field(default_factory=list)


# --- zips -------------------------------------------------------------------------------------
def safe_extract(zip_path: Path, target: Path) -> list[Path]:
    """Extract a zip without links, absolute or parent paths, and within the size caps."""
    try:
        zf = zipfile.ZipFile(zip_path)
        return _extract(zf, zip_path, target)
    except ZIP_ERRORS as exc:
        raise IntakeError(f"{zip_path.name} is not a readable zip file ({type(exc).__name__}: "
                          f"{str(exc)[:120]}). Re-create it with zip_files(...) in the notebook's last "
                          "cell.") from exc


# What a damaged or exotic zip can raise while it is read (bad headers, CRCs, names, methods, passwords).
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, UnicodeDecodeError, ValueError,
              NotImplementedError, RuntimeError, OverflowError)


def _extract(zf: zipfile.ZipFile, zip_path: Path, target: Path) -> list[Path]:
    extracted, total = [], 0
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.ZIP_MAX_FILES:
            raise IntakeError(f"{zip_path.name} holds {len(infos)} files; a submission needs 3 "
                              f"({NOTEBOOK}, {MODEL_CONFIG}, {TRAIN_CONFIG}).")
        for info in infos:
            name = info.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if info.is_dir() or not parts:
                continue
            if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
                continue  # never write outside the target
            if stat.S_ISLNK(info.external_attr >> 16):
                continue  # no links
            total += info.file_size
            if total > limits.ZIP_MAX_BYTES:
                raise IntakeError(f"{zip_path.name} unpacks to more than "
                                  f"{limits.ZIP_MAX_BYTES // 2**20} MB; submit only the 3 files.")
            dest = target.joinpath(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as out:
                # Read at most the declared size (+1 byte to notice a lying header).
                data = src.read(info.file_size + 1)
                if len(data) > info.file_size:
                    raise IntakeError(f"{zip_path.name} is malformed (a member is larger than it says).")
                out.write(data)
            extracted.append(dest)
    return extracted


def candidates(folder: Path) -> list[Path]:
    """The regular files of a submission folder (links, FIFOs and hidden or ignored folders left out),
    sorted; IntakeError when the folder holds more entries than a submission may."""
    most = 4 * limits.ZIP_MAX_FILES  # files and folders: a folder is bounded like a zip
    found, listed = [], list(itertools.islice(folder.rglob("*"), most + 1))
    if len(listed) > most:
        raise IntakeError(f"{folder.name} holds more than {most} files and folders; a submission needs 3 "
                          f"({NOTEBOOK}, {MODEL_CONFIG}, {TRAIN_CONFIG}).")
    for path in sorted(listed):
        rel = path.relative_to(folder)
        if any(part in IGNORED_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and not path.is_symlink():
            found.append(path)
    return found


def _pick(files: list[Path], wanted: str, sub: Submission, suffix: str | None = None) -> Path | None:
    """The file named ``wanted`` (the shallowest one), else one with ``suffix`` if given, else None."""
    exact = [f for f in files if f.name == wanted]
    pool = exact or ([f for f in files if f.suffix.lower() == suffix] if suffix else [])
    if not pool:
        return None
    pool.sort(key=lambda f: (len(f.parts), str(f)))
    if len(pool) > 1:
        sub.notes.append(f"Found {len(pool)} candidates for {wanted}; graded {pool[0].name}.")
    elif not exact:
        sub.notes.append(f"No file named {wanted}; graded {pool[0].name} instead.")
    return pool[0]


# --- reading a submission's files -----------------------------------------------------------------
class TooLarge(ValueError):
    """A submission's file is larger than its cap (the message names the file and the cap)."""


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """A submission's file, read safely: never through a link, never blocking (a FIFO or a device
    named like a config would hold the grader forever), only a regular file, at most ``max_bytes``.

    ValueError (TooLarge for the size) with a message for the student; OSError if it cannot be opened."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if os.path.islink(path):
            raise ValueError(f"{path.name} is a link, not a file; submit the file itself") from exc
        raise
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path.name} is not a regular file; submit the file itself")
        data = handle.read(max_bytes + 1)  # the size may change after fstat: read one byte more to see it
    if max(info.st_size, len(data)) > max_bytes:
        raise TooLarge(f"{path.name} is larger than {_size(max_bytes)}")
    return data


def _size(n: int) -> str:
    return f"{n // 2**20} MB" if n >= 2**20 else f"{n // 2**10} KB"


# Lone surrogates (a JSON "\ud800" reads into one) cannot be written as UTF-8: every page would fail.
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD, so that it can always be written as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def clean_strings(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings) with every string cleaned by clean_text, in place
    for dicts and lists (a notebook keeps its type); returns it."""
    stack, top = [], value
    if isinstance(top, str):
        return clean_text(top)
    stack.append(top)
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, item in list(items):
            if isinstance(key, str) and _SURROGATE.search(key):
                del node[key]
                key = clean_text(key)
            if isinstance(item, str):
                node[key] = clean_text(item)
            else:
                node[key] = item
                if isinstance(item, (dict, list)):
                    stack.append(item)
    return top


# --- notebook and configs -----------------------------------------------------------------------
def read_notebook(path: Path):
    import nbformat

    try:
        data = read_bounded(path, limits.NOTEBOOK_MAX_BYTES)
    except TooLarge as exc:
        raise ValueError(f"{exc}: clear large outputs (Kernel > Restart & Clear Output), run it again and "
                         "resubmit") from exc
    try:
        return clean_strings(nbformat.reads(data.decode("utf-8"), as_version=4))
    except Exception as exc:  # nbformat raises many kinds for broken files
        raise ValueError(f"{path.name} is not a readable Jupyter notebook ({type(exc).__name__}: "
                         f"{clean_text(str(exc))[:200]}); open it in Jupyter, save it, and resubmit it") from exc


def read_yaml(path: Path) -> Any:
    try:
        data = read_bounded(path, limits.YAML_MAX_BYTES)
    except TooLarge as exc:
        raise ValueError(f"{exc}; it should hold a few settings. Re-create it with save_yaml(...) in the "
                         "notebook") from exc
    return parse_yaml(data, path.name)


def parse_yaml(data: bytes, name: str) -> Any:
    """A config file's bytes as read by HW7_utils.load_yaml, bounded; ValueError with a message."""
    from HW7_utils import _ConfigLoader  # the loader of HW7_utils.load_yaml, which reads by path

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name} is not UTF-8 text; re-create it with save_yaml(...)") from exc
    try:
        value = yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        detail = clean_text(str(exc)).splitlines()[0][:200]
        raise ValueError(f"{name} is not valid YAML or uses tags that are not allowed ({detail}); "
                         "re-create it with save_yaml(...) in the notebook") from exc
    except (RecursionError, MemoryError) as exc:
        raise ValueError(f"{name} nests lists or mappings too deeply; it should hold a few settings. "
                         "Re-create it with save_yaml(...) in the notebook") from exc
    except (ValueError, OverflowError) as exc:  # e.g. an integer of thousands of digits
        raise ValueError(f"{name} holds a value that cannot be read ({type(exc).__name__}); "
                         "re-create it with save_yaml(...) in the notebook") from exc
    if _items_beyond(value, CONFIG_MAX_ITEMS):
        raise ValueError(f"{name} holds more than {CONFIG_MAX_ITEMS} values (YAML aliases counted each "
                         "time they are used); it should hold a few settings. Re-create it with save_yaml(...)")
    return clean_strings(value)


def _items_beyond(value: Any, limit: int) -> bool:
    """Does ``value`` hold more than ``limit`` values, shared ones (YAML aliases) counted at every use?
    Stops counting at the limit: ten nested aliases of ten describe 10**10 values in a few lines."""
    stack, count = [value], 0
    while stack:
        node = stack.pop()
        count += 1
        if count > limit:
            return True
        if isinstance(node, dict):
            stack += list(node.keys()) + list(node.values())
        elif isinstance(node, (list, tuple, set)):
            stack += list(node)
    return False


def _load_config(path: Path | None, name: str, validate, sub: Submission) -> dict | None:
    key = name.removesuffix(".yaml")
    if path is None:
        sub.absent.add(key)
        sub.problems[key] = (f"{name} is missing from the submission. Run the notebook's submission "
                             f"cell (save_yaml(...) then zip_files(...)) and include {name} in the zip.")
        return None
    try:
        cfg = read_yaml(path)
    except (ValueError, OSError) as exc:
        sub.problems[key] = str(exc)
        return None
    errors = validate(cfg)
    if errors:
        sub.problems[key] = f"{name}: " + "; ".join(errors) + ". Fix it in the notebook and save it again."
        return None
    return cfg


def load_submission(source: str | Path, workdir: str | Path) -> Submission:
    """Read a submission (zip, folder, or lone .ipynb with its configs beside it)."""
    source = Path(source)
    sub = Submission(source=source)
    if source.is_file() and source.suffix.lower() == ".zip":
        folder = Path(workdir) / "unpacked"
        folder.mkdir(parents=True, exist_ok=True)
        safe_extract(source, folder)
        files = candidates(folder)
    elif source.is_dir():
        files = candidates(source)
    elif source.is_file() and source.suffix.lower() == ".ipynb":
        files = [source] + [p for p in (source.parent / MODEL_CONFIG, source.parent / TRAIN_CONFIG)
                            if p.is_file()]
    elif not source.exists():
        raise IntakeError(f"{source} does not exist.")
    else:
        raise IntakeError(f"{source.name} is not a submission: submit the zip made by zip_files(...), "
                          f"holding {NOTEBOOK}, {MODEL_CONFIG} and {TRAIN_CONFIG}.")

    nb_path = _pick(files, NOTEBOOK, sub, suffix=".ipynb")
    if nb_path is None:
        others = ", ".join(f.name for f in files[:5]) or "nothing"
        sub.problems["notebook"] = (f"No notebook found (the submission holds {others}). Include "
                                    f"{NOTEBOOK} itself, not a PDF or a screenshot.")
    else:
        sub.notebook_name = nb_path.name
        try:
            sub.notebook = read_notebook(nb_path)
        except (ValueError, OSError) as exc:
            sub.problems["notebook"] = str(exc)
    sub.model_config = _load_config(_pick(files, MODEL_CONFIG, sub), MODEL_CONFIG, configs.validate_model_config, sub)
    sub.train_config = _load_config(_pick(files, TRAIN_CONFIG, sub), TRAIN_CONFIG, configs.validate_train_config, sub)
    return sub
