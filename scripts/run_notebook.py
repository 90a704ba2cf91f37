"""Execute HW7.ipynb headless, the way a student runs it, inside a throw-away copy of the kit.

The notebook imports ``HW7_utils`` from the folder above it and writes its configs and zip next to
itself, so it runs in ``WORKDIR/<folder>/HW7.ipynb`` with a copy of ``HW7_utils.py`` in ``WORKDIR`` and
``WORKDIR/data`` linked to the kit's data.  Nothing is written into the kit itself, and the copy has no
``autograder`` folder, so ``check_submission`` in the last cell only reports that the check is missing.

    python scripts/run_notebook.py NOTEBOOK OUT.ipynb [--n-iters N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
N_ITERS = re.compile(r"\bn_iters\s*=\s*\d+")


def set_n_iters(nb: nbformat.NotebookNode, n_iters: int) -> None:
    """Rewrite ``n_iters=...`` in the cell that defines ``train_config`` (a shorter training for tests)."""
    cells = [c for c in nb.cells if c.cell_type == "code" and "train_config" in c.source and N_ITERS.search(c.source)]
    if len(cells) != 1:
        raise ValueError(f"expected one config cell with `n_iters=<number>`, found {len(cells)}")
    cells[0].source = N_ITERS.sub(f"n_iters={int(n_iters)}", cells[0].source)


def make_kit(workdir: Path, notebook: Path, folder: str = "notebooks") -> Path:
    """Lay out a minimal kit in ``workdir`` and return the path the notebook is copied to."""
    workdir = Path(workdir)
    (workdir / folder).mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "HW7_utils.py", workdir / "HW7_utils.py")
    if not (workdir / "data").exists():
        os.symlink(ROOT / "data", workdir / "data", target_is_directory=True)
    target = workdir / folder / "HW7.ipynb"
    shutil.copy2(notebook, target)
    return target


def execute(
    notebook: Path,
    workdir: Path,
    n_iters: int | None = None,
    timeout: int = 600,
    extra_cells: list[str] = (),
    folder: str = "notebooks",
) -> nbformat.NotebookNode:
    """Run ``notebook`` top to bottom in a kit copy under ``workdir``; return the executed notebook.

    ``extra_cells`` are appended (e.g. to save a variable for a test).  A failing cell raises
    nbclient's ``CellExecutionError``; the partly executed notebook is then at ``err.nb``.
    """
    path = make_kit(workdir, notebook, folder)
    nb = nbformat.read(path, as_version=4)
    if n_iters is not None:
        set_n_iters(nb, n_iters)
    nb.cells += [nbformat.v4.new_code_cell(src) for src in extra_cells]
    nbformat.write(nb, path)  # the zip cell packs the notebook from disk, as a student's save would

    # The kernel gets Jupyter's own inline plotting (as for a student), not a backend set for tests.
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute(env=env)
    except Exception as exc:
        exc.nb = nb
        raise
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("out", type=Path, help="where to write the executed notebook")
    parser.add_argument("--n-iters", type=int, help="shorten the training to this many iterations")
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        print(f"error: {args.notebook} does not exist", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hw7-run-") as tmp:
        nb = execute(args.notebook, Path(tmp), n_iters=args.n_iters)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
