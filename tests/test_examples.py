"""The bundled example submissions are what `make examples` makes from the current notebooks."""

import make_examples


def test_examples_are_up_to_date(tmp_path, root):
    assert make_examples.main([str(tmp_path / "examples")]) == 0
    committed = root / "examples" / "submissions"
    fresh = {p.name: p.read_bytes() for p in (tmp_path / "examples").iterdir()}
    assert sorted(fresh) == sorted(p.name for p in committed.iterdir())
    stale = [name for name, data in fresh.items() if (committed / name).read_bytes() != data]
    assert not stale, f"run `make examples`: {stale} differ from what the notebooks give"


def test_examples_read_like_students_notebooks(root):
    """No nbgrader solution markers: a student's notebook never has them, and the TA's sheet shows the
    written answers as they stand."""
    import zipfile

    for path in sorted((root / "examples" / "submissions").glob("*.zip")):
        with zipfile.ZipFile(path) as zf:
            text = zf.read("HW7.ipynb").decode()
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, path.name
