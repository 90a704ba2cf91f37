"""The layout: autograder/README.md's tree is the folders' content, the moves script is idempotent, and
`make test` runs the test files in conftest's order."""

from __future__ import annotations

import re

import relayout_imports
from conftest import LONGEST_FIRST, ROOT

PACKAGES = ("hw7core", "autograder")


def readme_tree() -> set[str]:
    """The paths autograder/README.md's tree lists (two spaces of indent per folder level)."""
    text = (ROOT / "autograder" / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## The tree\n.*?```text\n(.*?)```", text, re.S).group(1)
    paths, folders = set(), []
    for line in block.splitlines():
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        folders = folders[:depth]
        path = "/".join([*folders, name.rstrip("/")])
        paths.add(path)
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
    return paths


def on_disk() -> set[str]:
    paths = set()
    for package in PACKAGES:
        paths.add(package)
        for path in (ROOT / package).rglob("*"):
            rel = path.relative_to(ROOT)
            if "__pycache__" not in rel.parts and path.suffix != ".pyc" and path.name != "public_tests.json":
                paths.add(rel.as_posix())
    return paths


def test_readme_tree_matches_the_folders():
    listed, present = readme_tree(), on_disk()
    assert not listed - present, f"the README lists what is not there: {sorted(listed - present)}"
    assert not present - listed, f"the README's tree lacks: {sorted(present - listed)}"


def test_relayout_rewrites_old_imports_once(tmp_path):
    source = tmp_path / "added.py"
    source.write_text(
        "from autograder import KIT_ROOT, cache, limits, retrain\n"
        "from autograder.judges.table import BY_NUMBER\n"
        "import autograder.run.sandbox\n"
        "def f(monkeypatch):\n"
        "    from autograder import rows  # noqa: E402\n"
        "    monkeypatch.setattr('autograder.run.child.model.X', 1)\n"
        "PATH = 'autograder/judges/probes.py'\n")
    relayout = relayout_imports.Relayout(relayout_imports.read_moves())
    once = relayout.rewrite(source)
    assert once == (
        "from autograder import KIT_ROOT\n"
        "from autograder.run import cache\n"
        "from hw7core import limits\n"
        "from autograder.judges import samples as retrain\n"
        "from autograder.judges.table import BY_NUMBER\n"
        "import autograder.run.sandbox\n"
        "def f(monkeypatch):\n"
        "    from autograder.results import rows  # noqa: E402\n"
        "    monkeypatch.setattr('autograder.run.child.model.X', 1)\n"
        "PATH = 'autograder/judges/probes.py'\n")
    source.write_text(once)
    assert relayout.rewrite(source) == once  # idempotent


def test_every_move_is_done():
    for old, new in relayout_imports.read_moves():
        assert (ROOT / new).exists(), new
        assert not (ROOT / old).exists(), old


def test_hw7_utils_imports_neither_package():
    """The child's sandbox holds HW7_utils.py without the core: no import of either package in it (its
    check_submission and score_samples reach the core at run time, by name)."""
    import ast

    tree = ast.parse((ROOT / "HW7_utils.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not {name for name in imported if name.split(".")[0] in PACKAGES}


def test_make_test_runs_the_longest_files_first_and_they_exist():
    # A renamed file would drop out of the order without a word, and without --no-loadscope-reorder
    # pytest-xdist starts the files with the most tests first, whatever conftest's order says.
    assert not [name for name in LONGEST_FIRST if not (ROOT / "tests" / name).is_file()]
    recipe = re.search(r"^test:.*\n\t(.*)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M).group(1)
    assert "--dist loadfile" in recipe and "--no-loadscope-reorder" in recipe
