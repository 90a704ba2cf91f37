"""Rewrite imports and paths of modules that moved (issue 19's layout) in the given .py / .md files.

    python scripts/relayout_imports.py FILE... [--check]

The moves are docs/layout-moves.txt (`old/path -> new/path`; a path ending in / is a folder).  In a
.py file, `from autograder import cache, limits` becomes `from autograder.run import cache` and
`from hw7core import limits` (the names the code uses stay bound: a module renamed on the way is
imported `as` its old name), and every dotted module name (`autograder.judges.table`, in imports,
`monkeypatch` strings or prose) and file path (`autograder/judges/table.py`) is rewritten; .md files get
the dotted names and paths.  Running it again changes nothing (no new name contains an old one).
With --check it rewrites nothing and exits 1 when a file would change.  Imports it splits may need
`ruff check --fix --select I FILE` to be sorted again.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MOVES_FILE = ROOT / "docs" / "layout-moves.txt"
IMPORT_ROOTS = ("handout/",)  # folders that are on sys.path themselves (the handout's root)
FROM_IMPORT = re.compile(r"^([ \t]*)from[ \t]+([A-Za-z_][\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.M)


def read_moves(path: Path = MOVES_FILE) -> list[tuple[str, str]]:
    """(old, new) paths, folders without their trailing slash."""
    moves = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            old, new = (part.strip().rstrip("/") for part in line.split("->"))
            moves.append((old, new))
    return moves


def module_name(path: str) -> str | None:
    """The import name of a kit path: autograder/run/cache.py -> autograder.run.cache (None: not a module)."""
    for root in IMPORT_ROOTS:
        path = path.removeprefix(root)
    if path.endswith(".py"):
        path = path[:-3]
    elif "." in path.rsplit("/", 1)[-1]:
        return None  # a data file
    name = path.replace("/", ".")
    return name.removesuffix(".__init__")


def module_moves(moves: list[tuple[str, str]]) -> dict[str, str]:
    renamed = {}
    for old, new in moves:
        old_name, new_name = module_name(old), module_name(new)
        if old_name and new_name and old_name != new_name:
            renamed[old_name] = new_name
    return renamed


def _alternation(words) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


class Relayout:
    def __init__(self, moves: list[tuple[str, str]]):
        self.modules = module_moves(moves)
        self.paths = {old: new for old, new in moves}
        self.dotted = re.compile(rf"(?<![\w.])({_alternation(self.modules)})(?![\w])")
        self.slashed = re.compile(rf"(?<![\w.-])({_alternation(self.paths)})(?![\w])")

    def new_module(self, dotted: str) -> str:
        return self.dotted.sub(lambda m: self.modules[m.group(1)], dotted)

    def _from_import(self, match: re.Match) -> str:
        indent, package, names = match.group(1), match.group(2), match.group(3)
        if names.startswith("("):  # a parenthesised list: its comments go
            body, comment = re.sub(r"#[^\n]*", "", names[1:-1]), ""
        else:
            body, _, comment = names.partition("#")
        groups: dict[str, list[str]] = {}
        moved = False
        for item in (i.strip() for i in body.replace("\n", " ").split(",")):
            if not item:
                continue
            name, _, alias = (part.strip() for part in item.partition(" as "))
            parent, _, leaf = self.new_module(f"{package}.{name}").rpartition(".")
            bound = alias or name
            moved = moved or (parent, leaf) != (package, name)
            groups.setdefault(parent, []).append(leaf if leaf == bound else f"{leaf} as {bound}")
        if not moved:
            return match.group(0)  # nothing of it moved: leave the statement as it is written
        tail = f"  # {comment.strip()}" if comment.strip() else ""  # a noqa holds for every line
        return "\n".join(f"{indent}from {parent} import {', '.join(items)}{tail}" for parent, items in groups.items())

    def python(self, text: str) -> str:
        text = FROM_IMPORT.sub(self._from_import, text)
        return self.text(text)

    def text(self, text: str) -> str:
        text = self.slashed.sub(lambda m: self.paths[m.group(1)], text)
        return self.dotted.sub(lambda m: self.modules[m.group(1)], text)

    def rewrite(self, path: Path) -> str:
        source = path.read_text(encoding="utf-8")
        return self.python(source) if path.suffix == ".py" else self.text(source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a file would change")
    args = parser.parse_args(argv)
    relayout = Relayout(read_moves())
    stale = []
    for path in args.files:
        before = path.read_text(encoding="utf-8")
        after = relayout.rewrite(path)
        if after != before:
            stale.append(path)
            if not args.check:
                path.write_text(after, encoding="utf-8")
    for path in stale:
        print(f"{'would rewrite' if args.check else 'rewrote'} {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
