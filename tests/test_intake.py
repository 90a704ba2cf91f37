"""Intake: safe unzipping, notebook and YAML reading, config validation, clear messages."""

import io
import stat
import zipfile

import nbformat
import pytest

from hw7core import intake


def _zip(path, members: dict, links=()):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


NB = nbformat.writes(nbformat.v4.new_notebook())
MODEL = "input_size: 200\nhidden_sizes: [64]\nlatent_size: 10\n"
TRAIN = "beta: 0.001\noptimizer_name: Adam\nn_iters: 100\nbatch_size: 64\n"


def test_a_good_zip(tmp_path):
    sub = intake.load_submission(_zip(tmp_path / "s.zip", {"HW7.ipynb": NB, "model_config.yaml": MODEL,
                                                          "train_config.yaml": TRAIN}), tmp_path / "w")
    assert sub.problems == {} and sub.notebook is not None
    assert sub.model_config["hidden_sizes"] == [64] and sub.train_config["beta"] == 0.001


def test_unsafe_members_are_never_written(tmp_path):
    members = {"../evil.txt": "x", "/abs/evil.txt": "x", "ok/../../evil2.txt": "x", "HW7.ipynb": NB}
    path = _zip(tmp_path / "s.zip", members, links=["link.yaml"])
    work = tmp_path / "w"
    intake.load_submission(path, work)
    written = sorted(p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file())
    assert written == ["unpacked/HW7.ipynb"]
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "evil2.txt").exists()


def test_zip_bomb_is_refused(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("HW7.ipynb", b"0" * (60 * 2**20))
    assert path.stat().st_size < 2**20
    with pytest.raises(intake.IntakeError, match="unpacks to more than 50 MB"):
        intake.load_submission(path, tmp_path / "w")


def test_not_a_zip_and_only_a_pdf(tmp_path):
    (tmp_path / "s.zip").write_bytes(b"not a zip")
    with pytest.raises(intake.IntakeError, match="not a readable zip"):
        intake.load_submission(tmp_path / "s.zip", tmp_path / "w")
    sub = intake.load_submission(_zip(tmp_path / "p.zip", {"HW7.pdf": b"%PDF-1.4"}), tmp_path / "w2")
    assert "No notebook found (the submission holds HW7.pdf)" in sub.problems["notebook"]
    assert "model_config.yaml is missing" in sub.problems["model_config"]


def test_notebook_that_is_not_json_and_v3(tmp_path):
    sub = intake.load_submission(_zip(tmp_path / "s.zip", {"HW7.ipynb": "{broken"}), tmp_path / "w")
    assert "not a readable Jupyter notebook" in sub.problems["notebook"]
    v3 = nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(cells=[nbformat.v3.new_code_cell("x = 1")])])
    sub = intake.load_submission(_zip(tmp_path / "v3.zip", {"HW7.ipynb": nbformat.writes(v3, version=3)}), tmp_path / "w3")
    assert "notebook" not in sub.problems and sub.notebook.nbformat == 4
    assert sub.notebook.cells[0].source == "x = 1"


def test_two_notebooks_prefer_hw7(tmp_path):
    sub = intake.load_submission(_zip(tmp_path / "s.zip", {"copy.ipynb": NB, "HW7.ipynb": NB}), tmp_path / "w")
    assert sub.notebook_name == "HW7.ipynb"
    sub = intake.load_submission(_zip(tmp_path / "t.zip", {"b.ipynb": NB, "a.ipynb": NB}), tmp_path / "w2")
    assert sub.notebook_name == "a.ipynb" and any("2 candidates" in n for n in sub.notes)


@pytest.mark.parametrize("text, message", [
    ("", "it must be a mapping"),
    ("x: !!python/object/apply:os.system ['true']\n", "tags that are not allowed"),
    ("input_size: 100\nlatent_size: 10\n", "input_size must be 200, got 100"),
    ("input_size: 200\n", "latent_size is missing"),
    ("input_size: 200\nlatent_size: 10\nhidden: [100000]\n", "between 1 and 8192"),
    ("a: [1, 2\n", "not valid YAML"),
])
def test_bad_model_config(tmp_path, text, message):
    sub = intake.load_submission(_zip(tmp_path / "s.zip", {"HW7.ipynb": NB, "model_config.yaml": text,
                                                          "train_config.yaml": TRAIN}), tmp_path / "w")
    assert message in sub.problems["model_config"]
    assert "train_config" not in sub.problems


@pytest.mark.parametrize("text, message", [
    ("n_iters: 1000000000\n", "n_iters must be a whole number between 1 and 20000"),
    ("beta: -1\n", "beta must be a number >= 0"),
    ("optimizer_name: Adamm\n", "'Adamm' is not an optimizer in torch.optim"),
    ("lr_scheduler_name: Nope\n", "'Nope' is not a scheduler"),
    ("batch_size: 0\n", "batch_size must be a whole number between 1 and 1597"),
    ("rec_loss_fn: L1\n", "'rec_loss_fn' is not a setting of train_VAE"),
    ("optimizer_config: 0.1\n", "optimizer_config must be a mapping"),
])
def test_bad_train_config(tmp_path, text, message):
    sub = intake.load_submission(_zip(tmp_path / "s.zip", {"HW7.ipynb": NB, "model_config.yaml": MODEL,
                                                          "train_config.yaml": text}), tmp_path / "w")
    assert message in sub.problems["train_config"]
    assert "model_config" not in sub.problems


def test_huge_yaml_is_refused(tmp_path):
    text = "beta: 0.1\n" + "# padding\n" * 20000
    sub = intake.load_submission(_zip(tmp_path / "s.zip", {"HW7.ipynb": NB, "model_config.yaml": MODEL,
                                                          "train_config.yaml": text}), tmp_path / "w")
    assert "larger than 64 KB" in sub.problems["train_config"]


def test_folder_and_lone_notebook(tmp_path):
    (tmp_path / "HW7.ipynb").write_text(NB)
    (tmp_path / "model_config.yaml").write_text(MODEL)
    sub = intake.load_submission(tmp_path / "HW7.ipynb", tmp_path / "w")
    assert sub.model_config is not None and "missing" in sub.problems["train_config"]
    sub = intake.load_submission(tmp_path, tmp_path / "w2")
    assert sub.notebook is not None


def test_other_inputs(tmp_path):
    with pytest.raises(intake.IntakeError, match="does not exist"):
        intake.load_submission(tmp_path / "nope.zip", tmp_path / "w")
    (tmp_path / "x.pdf").write_bytes(b"%PDF")
    with pytest.raises(intake.IntakeError, match="not a submission"):
        intake.load_submission(tmp_path / "x.pdf", tmp_path / "w")


def test_non_utf8_member_names(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        info = zipfile.ZipInfo("HW7.ipynb")
        zf.writestr(info, NB)
        zf.writestr(zipfile.ZipInfo("caf\udce9.yaml".encode("utf-8", "surrogateescape").decode("cp437")), "a: 1")
    (tmp_path / "s.zip").write_bytes(buffer.getvalue())
    sub = intake.load_submission(tmp_path / "s.zip", tmp_path / "w")
    assert sub.notebook is not None


# --- issue 18: every file read from a submission is bounded and never blocks ----------------------------
@pytest.mark.timeout(30)
def test_reading_a_submission_file_never_follows_links_blocks_or_reads_past_its_cap(tmp_path):
    """Issue 18, item 8: a FIFO named train_config.yaml blocked the grader; a huge one was read whole."""
    import os

    os.mkfifo(tmp_path / "fifo.yaml")
    with pytest.raises(ValueError, match="not a regular file"):
        intake.read_bounded(tmp_path / "fifo.yaml", 100)  # returns at once: nobody writes to the FIFO
    (tmp_path / "real.yaml").write_text(TRAIN)
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real.yaml")
    with pytest.raises(ValueError, match="is a link"):
        intake.read_bounded(tmp_path / "link.yaml", 100)
    with open(tmp_path / "huge.yaml", "wb") as handle:
        handle.truncate(8 * 2**30)  # 8 GB, sparse: reading it whole would take the machine's memory
    with pytest.raises(intake.TooLarge, match="larger than 64 KB"):
        intake.read_bounded(tmp_path / "huge.yaml", 64 * 2**10)
    assert intake.read_bounded(tmp_path / "real.yaml", 100) == TRAIN.encode()
    with pytest.raises(ValueError, match="not a regular file"):
        intake.read_yaml(tmp_path / "fifo.yaml")


@pytest.mark.parametrize("text, message", [
    ("n_iters: " + "[" * 5000 + "]" * 5000 + "\n", "nests lists or mappings too deeply"),
    ("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "optimizer_config: {lr: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]}\n", "more than 10000 values"),
    ("n_iters: " + "9" * 5000 + "\n", "holds a value that cannot be read"),
])
def test_hostile_yaml_gets_a_message_not_a_traceback(tmp_path, text, message):
    """Issue 18, item 9: deeply nested YAML raised RecursionError out of the intake ("autograder failed",
    the grader's traceback shown to the student); aliases can describe billions of values in a few lines
    (the parent then serialises them into the child's job)."""
    sub = intake.load_submission(_zip(tmp_path / "s.zip", {"HW7.ipynb": NB, "model_config.yaml": MODEL,
                                                          "train_config.yaml": text}), tmp_path / "w")
    assert message in sub.problems["train_config"] and "save_yaml" in sub.problems["train_config"]
    assert sub.train_config is None and sub.model_config is not None


def test_lone_surrogates_in_a_notebook_are_replaced(tmp_path):
    """Issue 18, item 5: JSON's "\\ud800" reads into a lone surrogate, which no UTF-8 page can hold."""
    import json

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("x"), nbformat.v4.new_code_cell("y")])
    notebook.cells[0].source = "answer \ud800 here"
    notebook.cells[1].outputs = [nbformat.v4.new_output("stream", text="\udfff")]
    notebook.cells[1].metadata["k\ud800"] = ["\ud800"]
    (tmp_path / "HW7.ipynb").write_text(json.dumps(notebook), encoding="ascii")  # \uXXXX escapes
    read = intake.read_notebook(tmp_path / "HW7.ipynb")
    assert json.dumps(read, ensure_ascii=False).encode("utf-8")  # would raise UnicodeEncodeError
    assert read.cells[0].source == "answer \ufffd here" and read.cells[1].metadata["k\ufffd"] == ["\ufffd"]
