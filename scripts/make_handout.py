"""Build what students get: build/handout/HW7/ and build/HW7_handout.zip (the same files).

    python scripts/make_handout.py [--out DIR]

The handout is a list of files plus one folder copied whole: hw7core/, the package the grader and the
student's check share (parts, limits, intake, cells, readiness, the sample-quality scorer and its
frozen reference, the check itself).  It imports nothing of the grader (the layering contract in
pyproject.toml, checked by `make lint`), so nothing the students must not see (the solution, the
hidden tests and their probes, the child's observers) can be in it, and the handout and the grader
read a submission and score samples with one implementation.  The public tests the check runs are
taken from the student notebook.  The zip is byte-identical from one build to the next: sorted
entries, one fixed date, fixed permissions.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import zipfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STUDENT = ROOT / "notebooks" / "HW7.ipynb"
TOP = "HW7"  # the folder students unpack
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold: no build time in the bytes
FILE_MODE = 0o644

CORE = ROOT / "hw7core"  # the shared core, shipped whole under the same name
# Part -> the nbgrader id of the notebook cell holding that part's public test.
PUBLIC_TEST_CELLS = {"1.4": "D_KL_public", "2.1": "VAE_public", "2.2": "train_VAE_public"}


def handout_files() -> dict[str, Path]:
    """Path in the handout -> source file in the kit (every file but the generated public_tests.json)."""
    files = {
        "README.md": ROOT / "handout" / "README.md",
        "requirements.txt": ROOT / "handout" / "requirements.txt",
        "environment.yml": ROOT / "handout" / "environment.yml",
        "HW7.ipynb": STUDENT,
        "HW7_utils.py": ROOT / "HW7_utils.py",
        "data/airfoils.npz": ROOT / "data" / "airfoils.npz",
        "data/airfoils_report.txt": ROOT / "data" / "airfoils_report.txt",
        "data/DATA.md": ROOT / "handout" / "DATA.md",
        "templates/latex_unicode/conf.json": ROOT / "templates" / "latex_unicode" / "conf.json",
        "templates/latex_unicode/index.tex.j2": ROOT / "templates" / "latex_unicode" / "index.tex.j2",
    }
    files.update(core_files())
    return files


def core_files() -> dict[str, Path]:
    """Every file of the shared core (Python's caches aside), by its path in the handout."""
    return {path.relative_to(ROOT).as_posix(): path for path in sorted(CORE.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}


def public_tests(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """Part -> the source of the notebook's public test cell for it."""
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in notebook.cells}
    missing = [cell_id for cell_id in PUBLIC_TEST_CELLS.values() if cell_id not in by_id]
    if missing:
        raise ValueError(f"the student notebook has no public test cell {', '.join(missing)}")
    return {part: by_id[cell_id].source for part, cell_id in PUBLIC_TEST_CELLS.items()}


def stale_student_notebook() -> bool:
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_student

    solution = nbformat.read(make_student.SOLUTION, as_version=4)
    return STUDENT.read_text(encoding="utf-8") != make_student.render(make_student.make_student(solution))


def contents() -> dict[str, bytes]:
    """Every file of the handout, path -> bytes."""
    files = {path: source.read_bytes() for path, source in handout_files().items()}
    tests = public_tests(nbformat.reads(files["HW7.ipynb"].decode("utf-8"), as_version=4))
    files["hw7core/public_tests.json"] = (json.dumps(tests, indent=1, sort_keys=True) + "\n").encode()
    return dict(sorted(files.items()))


def write_folder(files: dict[str, bytes], folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    for path, data in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(FILE_MODE)


def write_zip(files: dict[str, bytes], zip_path: Path) -> None:
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w") as zf:
        for path, data in files.items():
            info = zipfile.ZipInfo(f"{TOP}/{path}", date_time=ZIP_DATE)
            info.create_system = 3  # Unix, so that the permissions below are read
            info.external_attr = (0o100000 | FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="where handout/HW7/ and the zip go")
    args = parser.parse_args(argv)

    absent = [str(source.relative_to(ROOT)) for source in handout_files().values() if not source.is_file()]
    if absent:
        hint = " (run `make data` first)" if any(a.startswith("data") for a in absent) else ""
        print(f"error: missing {', '.join(absent)}{hint}", file=sys.stderr)
        return 2
    if stale_student_notebook():
        print(f"error: {STUDENT.relative_to(ROOT)} is out of date with the solution: run `make student`",
              file=sys.stderr)
        return 1
    files = contents()
    folder, zip_path = args.out / "handout" / TOP, args.out / "HW7_handout.zip"
    write_folder(files, folder)
    write_zip(files, zip_path)
    print(f"wrote {folder}/ ({len(files)} files) and {zip_path} ({zip_path.stat().st_size / 2**20:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
