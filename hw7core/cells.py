"""Find the graded cells by what they define, not where they are, and check their imports.

A graded cell starts with ``# AUTOGRADED``.  Students split, merge, reorder and retag cells, so the
parts are found by the names the cells define (``D_KL``, ``Encoder``, ...).  Only definitions
(functions, classes, imports of allowed modules, and assignments of plain values) are kept: a
training run or a plot left at the top level of a graded cell would otherwise run inside every test.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from . import parts

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
            tree = ast.parse(text)
        except SyntaxError as exc:
            cells.append(GradedCell(index, "", [], error=(
                f"cell {cell_no} has a syntax error on line {exc.lineno}: {exc.msg}")))
            continue
        kept, defines, cell_notes, cell_forbidden = _keep(tree, cell_no)
        forbidden += cell_forbidden
        notes += cell_notes
        source = ast.unparse(ast.Module(body=kept, type_ignores=[])) if kept else ""
        cells.append(GradedCell(index, source, defines, cell_notes))
        for name in defines:
            if name in ALL_NAMES:
                if name in where and where[name] != index:
                    notes.append(f"`{name}` is defined in cells {where[name] + 1} and {cell_no}; "
                                 f"the later one (cell {cell_no}) is graded")
                where[name] = index
    # Graded names defined in untagged cells: tell the student the tag is missing.
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code" or any(c.index == index for c in cells):
            continue
        try:
            tree = ast.parse(_cell_text(cell))
        except SyntaxError:
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


def _safe_eval(node: ast.AST):
    """Evaluate a plain value (see _is_plain_value) without running any code."""
    if isinstance(node, ast.Constant):
        return node.value
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
        if isinstance(node.op, ast.Pow) and (not isinstance(right, (int, float)) or abs(right) > 64):
            raise ValueError("exponent too large")
        ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
               ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a**b}
        if isinstance(node.op, ast.Mult) and (isinstance(left, (str, list)) or isinstance(right, (str, list))):
            raise ValueError("sequence repetition")
        return ops[type(node.op)](left, right)
    if isinstance(node, ast.Call):
        if node.func.id == "dict":
            out = dict(_safe_eval(node.args[0])) if node.args else {}
            out.update({k.arg: _safe_eval(k.value) for k in node.keywords})
            return out
        return list(_safe_eval(node.args[0])) if node.args else []
    raise ValueError(f"not a plain value: {type(node).__name__}")


def notebook_configs(code: GradedCode) -> dict[str, object]:
    """The model_config and train_config dicts as written in the graded cells (no code is run)."""
    found = {}
    for cell in code.cells:
        if not cell.source:
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id in ("model_config", "train_config"):
                        try:
                            found[target.id] = _safe_eval(node.value)
                        except (ValueError, TypeError, ZeroDivisionError, OverflowError, KeyError):
                            pass
    return found
