"""The bundled example submissions are what `make examples` makes from the current notebooks."""

import make_examples


def test_examples_are_up_to_date(tmp_path, root):
    assert make_examples.main([str(tmp_path / "examples")]) == 0
    committed = root / "examples" / "submissions"
    fresh = {p.name: p.read_bytes() for p in (tmp_path / "examples").iterdir()}
    assert sorted(fresh) == sorted(p.name for p in committed.iterdir())
    stale = [name for name, data in fresh.items() if (committed / name).read_bytes() != data]
    assert not stale, f"run `make examples`: {stale} differ from what the notebooks give"
