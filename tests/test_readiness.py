"""readiness.assess: which parts can run, and where the re-trained configs come from."""

import variants

from hw7core import cells, intake, readiness

# The solution's notebook holds a valid model_config (hidden sizes [512, 256, 128]).
NO_INPUT_SIZE = b"latent_size: 10\nhidden_sizes: [16]\n"


def _assess(tmp_path, **write):
    sub = intake.load_submission(variants.write(tmp_path / "s", variants.load_solution(), **write), tmp_path / "w")
    return sub, readiness.assess(sub, cells.find_graded_cells(sub.notebook))


def test_an_absent_config_file_is_taken_from_the_notebook(tmp_path):
    sub, ready = _assess(tmp_path, omit=("model_config.yaml",))
    assert "model_config" in sub.absent and sub.model_config["hidden_sizes"] == [512, 256, 128]
    assert ready.blocked == {}
    assert "model_config.yaml is missing; used the model_config written in the notebook instead." in ready.notes
    assert "2.3: model_config from the notebook (cell" in ready.notes[0]


def test_a_config_file_that_is_there_but_invalid_is_never_replaced(tmp_path):
    """Its message says 'input_size is missing': the file is not, and the notebook's (another model) is not used."""
    sub, ready = _assess(tmp_path, extra={"model_config.yaml": NO_INPUT_SIZE})
    assert not any("used the model_config written in the notebook" in note for note in ready.notes)
    assert "input_size is missing (it must be 200)" in ready.blocked.get("2.3", "") and "2.1" in ready.blocked
    assert sub.absent == set() and sub.model_config is None
    assert "2.3: model_config: none usable, train_config from train_config.yaml" in ready.notes[0]


def test_configs_from_the_zip_are_not_called_missing_when_the_notebook_builds_them(tmp_path):
    nb = variants.edit(variants.load_solution(), "model_config", "model_config = dict(",
                       "base = {}\nmodel_config = dict(**base, ")
    sub = intake.load_submission(variants.write(tmp_path / "s", nb), tmp_path / "w")
    ready = readiness.assess(sub, cells.find_graded_cells(sub.notebook))
    assert ready.blocked == {}
    assert "2.3: model_config from model_config.yaml, train_config from train_config.yaml" in ready.notes[0]
    assert "missing: model_config" not in "\n".join(ready.notes)
