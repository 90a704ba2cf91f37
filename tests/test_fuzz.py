"""Fuzzing the intake: malformed notebooks, YAML and zips never raise anything but IntakeError.

`make test` runs a few hundred examples per test.  The long run (documented in the README):

    HW7_FUZZ_EXAMPLES=10000 .venv/bin/python -m pytest tests/test_fuzz.py     # or: make fuzz
"""

import copy
import json
import os
import zipfile

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hw7core import cells, intake


@pytest.fixture(scope="module")
def monkeypatch_session():
    with pytest.MonkeyPatch.context() as patch:  # hypothesis runs many examples in one test call
        yield patch

EXAMPLES = int(os.environ.get("HW7_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
SNIPPETS = ["# AUTOGRADED\n", "# AUTOGRADED (5)\n", "def D_KL(mu, logvar):\n    return mu\n", "class VAE:\n  pass\n",
            "import os\n", "model_config = dict(input_size=200, latent_size=10)\n", "train_config = {'n_iters': 10**9}\n",
            "x = 10 ** 10 ** 10\n", "def f(:\n", "while True: pass\n", "train_config = [1] * 10\n", "\x00\n",
            "model_config = dict(**{})\n", "y = -(-(1))\n", "z = {1: [2, (3,)]}\n", "a = b = 1\n", "import torch.nn as nn\n"]
sources = st.lists(st.sampled_from(SNIPPETS) | st.text(max_size=40), max_size=6).map("".join)
cells_strategy = st.lists(st.fixed_dictionaries({
    "cell_type": st.sampled_from(["code", "markdown", "raw", "weird"]),
    "source": sources | st.lists(sources, max_size=3),
    "metadata": st.dictionaries(st.text(max_size=5), json_values, max_size=2),
}), max_size=8)
notebooks = st.one_of(
    cells_strategy.map(lambda cs: {"cells": cs, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
    st.fixed_dictionaries({"cells": cells_strategy, "nbformat": st.integers(-1, 6),
                           "nbformat_minor": st.integers(-1, 9), "metadata": json_values}),
    json_values,
)


def _write_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            try:
                zf.writestr(name, data)
            except Exception:  # names zipfile itself cannot write: not what is under test
                pass


@FUZZ
@given(nb=notebooks)
def test_notebooks(tmp_path_factory, nb):
    folder = tmp_path_factory.mktemp("nb")
    (folder / "HW7.ipynb").write_text(json.dumps(nb, allow_nan=True))
    sub = intake.load_submission(folder, folder / "work")
    if sub.notebook is not None:
        code = cells.find_graded_cells(sub.notebook)
        cells.describe(code)
        cells.notebook_configs(code)
    else:
        assert sub.problems["notebook"]


@FUZZ
@given(model=st.text(max_size=200) | json_values.map(json.dumps), train=st.text(max_size=200) | json_values.map(json.dumps))
def test_yaml(tmp_path_factory, model, train):
    folder = tmp_path_factory.mktemp("yaml")
    (folder / "HW7.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    (folder / "model_config.yaml").write_text(model, encoding="utf-8", errors="surrogateescape")
    (folder / "train_config.yaml").write_text(train, encoding="utf-8", errors="surrogateescape")
    sub = intake.load_submission(folder, folder / "work")
    assert (sub.model_config is None) == ("model_config" in sub.problems)
    assert (sub.train_config is None) == ("train_config" in sub.problems)


names = st.one_of(st.sampled_from(["HW7.ipynb", "model_config.yaml", "train_config.yaml", "../x", "/abs", "a/../../b",
                                   "dir/", "C:/x", "x\\..\\..\\y", ".hidden/HW7.ipynb", "__MACOSX/HW7.ipynb"]),
                  st.text(min_size=1, max_size=30))


@FUZZ
@given(members=st.lists(st.tuples(names, st.binary(max_size=300)), max_size=6), garbage=st.binary(max_size=200),
       corrupt=st.booleans())
def test_zips(tmp_path_factory, members, garbage, corrupt):
    folder = tmp_path_factory.mktemp("zip")
    path = folder / "s.zip"
    _write_zip(path, members)
    if corrupt:
        data = bytearray(path.read_bytes())
        data[len(data) // 2: len(data) // 2 + len(garbage)] = garbage
        path.write_bytes(bytes(data))
    try:
        sub = intake.load_submission(path, folder / "work")
    except intake.IntakeError as exc:
        assert str(exc)
        return
    for p in (folder / "work").rglob("*"):
        assert (folder / "work") in p.resolve().parents
    assert sub.notebook is not None or sub.problems["notebook"]


def test_fuzz_budget_is_documented():
    assert EXAMPLES >= 1
    assert "HW7_FUZZ_EXAMPLES=10000" in (__doc__ or "")




# --- the parent's handling of student text in a batch (issue 18) --------------------------------------------
# Text as students write it, and as they might to break the grader: lone surrogates, NUL, markup, formulas,
# LaTeX that never closes, very long runs.
student_text = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=10),  # surrogates
    st.sampled_from(["\ud800", "\x00", "=HYPERLINK(\"http://x\")", "<script>alert(1)</script>", "</pre></td>",
                     "\\[" * 3000, "$$" + "x^{" * 200 + "$$", "../../etc", "a;b;c", "\n" * 50, "${}$", "\\end{align}"]),
)
yaml_text = st.one_of(st.text(max_size=80), st.sampled_from([
    "n_iters: " + "[" * 3000, "n_iters: 9" + "9" * 5000, "a: &a [1,1,1,1,1,1,1,1,1,1]\nb: [*a,*a,*a,*a,*a]", "!!python/object:os.system {}",
    "n_iters: .inf", "beta: \"\\ud800\""]))
BATCH = settings(FUZZ, max_examples=max(4, EXAMPLES // 30))


@BATCH
@given(name=student_text, email=student_text, message=student_text, answer=student_text, train=yaml_text)
def test_batch_outputs_are_always_written(tmp_path_factory, monkeypatch_session, name, email, message, answer, train):
    """Whatever a student writes (a display name, an exception message, an answer, a config), every
    results.json, feedback page, gradebook.csv, canvas.csv, summary.html and written.html is written.
    The children are stubbed (tests/parent_only.py): the parent's own handling is what is fuzzed."""
    import parent_only
    import yaml
    from test_batch import _with_answer

    from autograder import batch
    from autograder.staff import kl_hint

    parent_only.install(monkeypatch_session, {"fuzzed": message})
    monkeypatch_session.setattr(kl_hint, "CHECK_S", 5.0)
    folder = tmp_path_factory.mktemp("batch")
    subs, out = folder / "subs", folder / "out"
    notebook = _with_answer(_solution(), answer)
    for key in ("submission_1", "submission_2_fuzzed"):
        (subs / key).mkdir(parents=True)
        (subs / key / "HW7.ipynb").write_text(json.dumps(notebook), encoding="ascii")  # escapes surrogates
        (subs / key / "model_config.yaml").write_text("input_size: 200\nlatent_size: 10\nhidden_sizes: [8]\n")
        (subs / key / "train_config.yaml").write_text(train, encoding="utf-8", errors="surrogatepass")
    meta = {"submission_1": {":submitters": [{":name": "Ada", ":email": "ada@uni.edu", ":sid": "1"}]},
            "submission_2_fuzzed": {":submitters": [{":name": name, ":email": email, ":sid": message[:20]}]}}
    (subs / "submission_metadata.yml").write_text(yaml.safe_dump(meta), encoding="utf-8")
    rows = batch.grade_all(subs, out, workers=1, progress=False, cache=False)
    assert len(rows) == 2
    for row in rows:
        assert json.loads((out / row.id / "results.json").read_text(encoding="utf-8"))["tests"]
        assert (out / row.id / "feedback.html").read_text(encoding="utf-8")
    for page in ("gradebook.csv", "canvas.csv", "summary.html", "written.html"):
        assert (out / page).read_text(encoding="utf-8")
    part_1_4 = [[t["score"] for t in row.data["tests"] if t["number"].startswith("1.4")] for row in rows]
    assert part_1_4[0] == part_1_4[1] and sum(part_1_4[0]) == 5  # same notebook, same grade (1.4 needs no config)


_SOLUTION = []


def _solution():
    if not _SOLUTION:
        import variants

        _SOLUTION.append(variants.load_solution())
    return copy.deepcopy(_SOLUTION[0])
