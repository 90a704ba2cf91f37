"""Find the graded cells by what they define, not where they are, and check their imports.

A graded cell starts with ``# AUTOGRADED``.  Students split, merge, reorder and retag cells, so the
parts are found by the names the cells define (``D_KL``, ``Encoder``, ...).  Only definitions
(functions, classes, imports of allowed modules, and assignments of plain values) are kept: a
training run or a plot left at the top level of a graded cell would otherwise run inside every test.
"""

from __future__ import annotations

import ast
import re
import threading
from dataclasses import dataclass, field

from . import limits, parts

TAG = re.compile(r"^\s*#\s*AUTOGRADED\b", re.IGNORECASE)
NAMES_BY_PART = {part.number: part.names for part in parts.PARTS}
ALL_NAMES = tuple(n for names in NAMES_BY_PART.values() for n in names)

# The fixed import cell: module -> the names a cell may bind from it.
ALLOWED_IMPORTS = {
    "typing": None, "tqdm": None, "numpy": None, "matplotlib": None, "matplotlib.pyplot": None,
    "torch": None, "torch.nn": None, "torch.optim": None, "torch.optim.lr_scheduler": None,
    "torch.nn.functional": None, "torch.utils.data": None, "HW7_utils": None, "math": None,
}

# What the grader itself imports for every child, as the notebook's locked import cell does
# (`plt` is bound by the child to a stand-in that imports pyplot on first use: 0.8 s saved per part).
IMPORT_PRELUDE = """\
from typing import Sequence, Tuple, Union
from tqdm import tqdm
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.optim import lr_scheduler
import torch.nn.functional as F
from torch.utils.data import DataLoader
from HW7_utils import AirfoilDataset, VAE_Tracker, plot_airfoils, save_yaml, zip_files
Device = 'cpu'
"""


@dataclass
class GradedCell:
    index: int  # position in the notebook (0-based)
    source: str  # the kept definitions, ready to run
    defines: list[str]
    notes: list[str] = field(default_factory=list)
    error: str | None = None  # a syntax error: nothing from this cell can run


@dataclass
class GradedCode:
    cells: list[GradedCell]
    where: dict[str, int]  # name -> cell index that defines it (the last definition wins)
    forbidden_imports: list[str]
    notes: list[str]

    def missing(self, part: str) -> list[str]:
        return [n for n in NAMES_BY_PART[part] if n not in self.where]


# CPython 3.11 keeps the AST converter's recursion count in state that threads share: two ast.parse calls at
# once (a batch grades two submissions in threads) can fail with "SystemError: AST constructor recursion depth
# mismatch" (python/cpython#106905).  Every parse in the parent goes through this lock.
_AST_LOCK = threading.Lock()


def parse(text: str) -> ast.Module:
    """ast.parse, one thread at a time (see _AST_LOCK)."""
    with _AST_LOCK:
        return ast.parse(text)


def _cell_text(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _is_plain_value(node: ast.AST) -> bool:
    """Literals, dicts/lists of literals and simple arithmetic (e.g. 5 * 1000, 1e-3), dict(...)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(_is_plain_value(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is None or _is_plain_value(k) for k in node.keys) and all(
            _is_plain_value(v) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return _is_plain_value(node.operand)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
        return _is_plain_value(node.left) and _is_plain_value(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("dict", "list"):
        return all(_is_plain_value(a) for a in node.args) and all(
            _is_plain_value(k.value) for k in node.keywords)
    return False


def _import_problems(node: ast.AST, cell_no: int) -> list[str]:
    modules = []
    if isinstance(node, ast.Import):
        modules = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        modules = [("." * node.level) + (node.module or "")]
    return [f"cell {cell_no}, line {node.lineno}: `import {m}` is not allowed in graded cells (only "
            "what the notebook's import cell imports); it was ignored" for m in modules
            if m not in ALLOWED_IMPORTS]


def _keep(tree: ast.Module, cell_no: int) -> tuple[list[ast.stmt], list[str], list[str], list[str]]:
    kept, defines, notes, forbidden = [], [], [], []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kept.append(node)
            defines.append(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            problems = _import_problems(node, cell_no)
            forbidden += problems
            if not problems:
                kept.append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and _is_plain_value(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if all(isinstance(t, ast.Name) for t in targets):
                kept.append(node)
                defines += [t.id for t in targets]
            else:
                notes.append(f"cell {cell_no}, line {node.lineno}: skipped an assignment that is not to a plain name")
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring or a bare string
        else:
            kind = type(node).__name__.lower()
            notes.append(f"cell {cell_no}, line {node.lineno}: top-level `{kind}` statement not run by the "
                         "grader (graded cells should only define functions, classes and configs)")
    return kept, defines, notes, forbidden


def find_graded_cells(notebook) -> GradedCode:
    cells, where, forbidden, notes = [], {}, [], []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        text = _cell_text(cell)
        if not TAG.match(text.lstrip("\n").split("\n", 1)[0] if text.strip() else ""):
            continue
        cell_no = index + 1
        try:
            tree = parse(text)
            kept, defines, cell_notes, cell_forbidden = _keep(tree, cell_no)
            source = ast.unparse(ast.Module(body=kept, type_ignores=[])) if kept else ""
        except SyntaxError as exc:
            cells.append(GradedCell(index, "", [], error=(
                f"cell {cell_no} has a syntax error on line {exc.lineno}: {exc.msg}")))
            continue
        except (RecursionError, MemoryError, ValueError):  # nesting deeper than Python itself can compile
            cells.append(GradedCell(index, "", [], error=(
                f"cell {cell_no} nests expressions too deeply for Python to compile; split them up")))
            continue
        forbidden += cell_forbidden
        notes += cell_notes
        cells.append(GradedCell(index, source, defines, cell_notes))
        for name in defines:
            if name in ALL_NAMES:
                if name in where and where[name] != index:
                    notes.append(f"`{name}` is defined in cells {where[name] + 1} and {cell_no}; "
                                 f"the later one (cell {cell_no}) is graded")
                where[name] = index
    # Graded names defined in untagged cells: tell the student the tag is missing.
    graded = {c.index for c in cells}  # a set: a notebook at the size cap has thousands of cells
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code" or index in graded:
            continue
        try:
            tree = parse(_cell_text(cell))
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            continue
        for node in tree.body:
            name = getattr(node, "name", None)
            if name in ALL_NAMES and name not in where:
                notes.append(f"`{name}` is defined in cell {index + 1}, which does not start with "
                             "`# AUTOGRADED`; put that line back as the cell's first line")
    return GradedCode(cells, where, forbidden, notes)


def describe(code: GradedCode) -> str:
    """One line per part: what was found where (for the feedback)."""
    lines = []
    for part, names in NAMES_BY_PART.items():
        found = [f"{n} (cell {code.where[n] + 1})" for n in names if n in code.where]
        missing = [n for n in names if n not in code.where]
        text = ", ".join(found) if found else "nothing"
        if missing:
            text += f"; missing: {', '.join(missing)}"
        lines.append(f"{part}: {text}")
    return "\n".join(lines)


# A config in a graded cell is a handful of literals: anything larger is refused, never computed.
CONFIG_MAX_NODES = 400  # syntax-tree nodes of one config's value
CONFIG_MAX_INT = 2**63  # the largest whole number a config may hold (or compute on the way)


class ConfigRefused(ValueError):
    """A config in a graded cell that the grader will not evaluate; the message is for the student."""


def _bounded(value):
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > CONFIG_MAX_INT:
        raise ConfigRefused(f"it computes a number larger than 2**63 (the largest setting is {limits.N_ITERS_MAX})")
    return value


def _power(base, exponent):
    """``base ** exponent`` only when the result is small: the size is checked before it is computed."""
    if not all(isinstance(v, (int, float)) for v in (base, exponent)):
        raise TypeError("a power of something that is not a number")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1 and (
            exponent * (abs(base).bit_length() - 1) > CONFIG_MAX_INT.bit_length()):
        raise ConfigRefused(f"it computes a number larger than 2**63 (the largest setting is {limits.N_ITERS_MAX})")
    return base ** (float(exponent) if isinstance(exponent, int) and exponent < 0 else exponent)


def _times(left, right):
    if not all(isinstance(v, (int, float)) for v in (left, right)):
        raise ConfigRefused("it repeats a string or a list with `*`; write the value out")
    return left * right


_OPERATORS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: _times,
              ast.Div: lambda a, b: a / b, ast.Pow: _power}


def _safe_eval(node: ast.AST):
    """Evaluate a plain value (see _is_plain_value) without running any code, every number bounded
    before it is computed (a student's ``9**64**64`` would hold the grader for hours)."""
    if isinstance(node, ast.Constant):
        return _bounded(node.value)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_safe_eval(e) for e in node.elts]
        return items if not isinstance(node, ast.Set) else set(items)
    if isinstance(node, ast.Dict):
        return {_safe_eval(k): _safe_eval(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp):
        value = _safe_eval(node.operand)
        return -value if isinstance(node.op, ast.USub) else +value if isinstance(node.op, ast.UAdd) else (
            not value if isinstance(node.op, ast.Not) else ~value)
    if isinstance(node, ast.BinOp):
        left, right = _safe_eval(node.left), _safe_eval(node.right)
        return _bounded(_OPERATORS[type(node.op)](left, right))
    if isinstance(node, ast.Call):
        if node.func.id == "dict":
            out = dict(_safe_eval(node.args[0])) if node.args else {}
            out.update({k.arg: _safe_eval(k.value) for k in node.keywords})
            return out
        return list(_safe_eval(node.args[0])) if node.args else []
    raise ValueError(f"not a plain value: {type(node).__name__}")


def config_value(node: ast.AST):
    """A config's value as written in a graded cell; ConfigRefused (with the reason) for anything that
    is not a small literal: too many pieces, a number beyond 2**63, or an expression that fails."""
    size = sum(1 for _ in ast.walk(node))
    if size > CONFIG_MAX_NODES:
        raise ConfigRefused(f"it has {size} pieces (at most {CONFIG_MAX_NODES}); write the settings as plain values")
    try:
        return _safe_eval(node)
    except ConfigRefused:
        raise
    except (ValueError, TypeError, ZeroDivisionError, OverflowError, KeyError, AttributeError,
            RecursionError) as exc:
        raise ConfigRefused(f"it could not be read as plain values ({type(exc).__name__})") from exc


def notebook_configs(code: GradedCode, refused: dict[str, str] | None = None) -> dict[str, object]:
    """The model_config and train_config dicts as written in the graded cells (no code is run).
    A config that is not a small literal is left out, and why goes into ``refused`` (name -> reason)."""
    found: dict[str, object] = {}
    refused = {} if refused is None else refused
    for cell in code.cells:
        if not cell.source:
            continue
        for node in parse(cell.source).body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id in ("model_config", "train_config"):
                        try:
                            found[target.id] = config_value(node.value)
                            refused.pop(target.id, None)
                        except ConfigRefused as exc:
                            found.pop(target.id, None)
                            refused[target.id] = (f"the {target.id} written in cell {cell.index + 1} was not "
                                                  f"used: {exc}")
    return found
