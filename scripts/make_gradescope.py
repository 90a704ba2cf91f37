"""Build the Gradescope autograder zip: setup.sh and run_autograder at the root, the grader beside."""

from __future__ import annotations

import argparse
import stat
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the kit's packages

from autograder import secret  # noqa: E402

FILES = ["HW7_utils.py", "requirements.txt", "scripts/build_dataset.py", "grading.yaml"]  # grading.yaml: the course's settings
PACKAGES = ["autograder", "hw7core"]  # the grader and the core it shares with the handout
TOP = {"gradescope/setup.sh": "setup.sh", "gradescope/run_autograder": "run_autograder"}
SECRET_ARC = secret.DEFAULT_FILE.relative_to(ROOT).as_posix()  # where the unzipped grader reads it


def members() -> dict[str, Path]:
    found = {arc: ROOT / src for src, arc in TOP.items()}
    found.update({f: ROOT / f for f in FILES})
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                found[path.relative_to(ROOT).as_posix()] = path
    return found


def build(out: Path) -> Path:
    # The course secret (created now if this kit has none), where the grader looks for it beside the kit:
    # every Gradescope container then grades with the secret the course's local gradings use.
    files = {arc: path.read_bytes() for arc, path in members().items()}
    files[SECRET_ARC] = secret.course_secret()
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for arc, data in sorted(files.items()):
            info = zipfile.ZipInfo(arc, date_time=(1980, 1, 1, 0, 0, 0))
            mode = 0o755 if arc in ("setup.sh", "run_autograder") else 0o600 if arc == SECRET_ARC else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "autograder.zip")
    args = parser.parse_args(argv)
    try:
        path = build(args.out)
    except secret.SecretError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {path} ({path.stat().st_size // 1024} KB): upload it as the assignment's autograder. It holds "
          f"the course secret ({secret.secret_file()}): keep the zip as private as the solution.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
