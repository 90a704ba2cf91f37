"""Batch grading: input layouts, the gradebook and pages, robustness, skipping (Dask: test_cluster.py)."""

import copy
import csv
import io
import json
import textwrap
import zipfile

import nbformat
import pytest
import variants

from autograder import batch, cluster, settings
from autograder.results import Results
from hw7core import limits


@pytest.fixture(scope="module")
def solution():
    return variants.load_solution()


@pytest.fixture(scope="module")
def quick_configs(solution):
    model, train = variants.configs(solution)
    return model, {**train, "n_iters": 20}  # the batch's handling is tested here, not the training


def test_discover_layouts(tmp_path, solution, quick_configs):
    variants.write(tmp_path / "alice", solution, *quick_configs, as_zip=True)
    variants.write(tmp_path / "bob", solution, *quick_configs)
    (tmp_path / "carol.ipynb").write_text("{}")
    (tmp_path / ".hidden").mkdir()
    jobs = batch.discover(tmp_path)
    assert [(j.id, j.path.name) for j in jobs] == [("alice", "alice.zip"), ("bob", "bob"), ("carol", "carol.ipynb")]


def test_gradescope_export_layout(tmp_path, solution, quick_configs):
    export = tmp_path / "export"
    variants.write(export / "submission_111", solution, *quick_configs)
    variants.write(export / "submission_222", solution, *quick_configs)
    (export / "submission_metadata.yml").write_text(textwrap.dedent("""\
        submission_111:
          :submitters:
          - :name: Ada Lovelace
            :email: ada@example.edu
            :sid: '1'
          :created_at: 2026-11-20 10:00:00.000000000 -08:00
        submission_222:
          :submitters:
          - :name: Alan Turing
            :email: alan@example.edu
          - :name: Grace Hopper
            :email: grace@example.edu
        """))
    jobs = batch.discover(export)
    assert [(j.id, j.name, j.email) for j in jobs] == [
        ("submission_111", "Ada Lovelace", "ada@example.edu"),
        ("submission_222", "Alan Turing; Grace Hopper", "alan@example.edu; grace@example.edu"),
    ]
    assert [j.sid for j in jobs] == ["1", ""]  # Gradescope's student id, for canvas.csv


def test_batch_survives_bad_submissions_and_writes_consistent_reports(tmp_path, solution, quick_configs,
                                                                      monkeypatch):
    # A part's budget is CPU time, its imports not counted: the correct parts use well under a second of it
    # (the training parts import torch._dynamo before they read their job: child/runtime.py), so 3 s is
    # ample, and the endless loop (in the hanging D_KL's part) spins for 3 s, not the default 30.
    monkeypatch.setattr(limits, "TEST_WALL_S", 3.0)
    subs = tmp_path / "subs"
    variants.write(subs / "good", solution, *quick_configs, as_zip=True)
    hang = variants.replace(solution, "D_KL", "def D_KL(mu, logvar):\n    while True:\n        pass\n")
    variants.write(subs / "hangs", hang, *quick_configs, as_zip=True)
    crash = variants.replace(solution, "VAE", "class VAE:\n    def __init__(self, **kw):\n"
                                              "        __import__('os')._exit(3)\n")
    variants.write(subs / "crashes", crash, *quick_configs, as_zip=True)
    (subs / "garbage.zip").write_bytes(b"PK\x03\x04 not really a zip")
    course = tmp_path / "grading.yaml"
    course.write_text("leaderboard: true\nlms_column: HW7 (42)\nlms_columns: separate\n")
    monkeypatch.setenv(settings.ENV_PATH, str(course))
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section\nGood,1,S1,good,A\nHangs,2,S2,hangs,A\n"
                      "Crashes,3,S3,crashes,A\nAbsent,4,S4,absent,A\n")
    out = tmp_path / "grades"
    notes: list[str] = []
    rows = batch.grade_all(subs, out, workers=2, progress=False, roster=roster, notes=notes)
    assert [r.id for r in rows] == ["crashes", "garbage", "good", "hangs"]
    for row in rows:
        results = json.loads((out / row.id / "results.json").read_text())
        assert isinstance(results["score"], (int, float)) and results["tests"]
        page = (out / row.id / "feedback.html").read_text()
        assert row.id in page
    scores = {r.id: r.data["score"] for r in rows}
    assert scores["good"] >= 65 and scores["garbage"] == 0
    hangs = {t["number"]: t for t in rows[3].data["tests"]}
    assert hangs["1.4.1"]["score"] == 0 and "time budget of 3 s" in hangs["1.4.1"]["output"]
    assert sum(t["score"] for t in rows[3].data["tests"] if t["number"].startswith("2.1")) == 50
    crashes = rows[0].data["tests"]
    assert sum(t["score"] for t in crashes if t["number"].startswith("1.4")) == 5
    assert "exit code 3" in next(t["output"] for t in crashes if t["number"] == "2.1.1")
    assert "data:image/png;base64," in (out / "good" / "feedback.html").read_text()

    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0])[:10] == ["id", "name", "email", "1.4", "2.1", "2.2", "2.3", "total", "max_total", "status"]
    for line in table:
        results = json.loads((out / line["id"] / "results.json").read_text())
        assert float(line["total"]) == pytest.approx(sum(t["score"] for t in results["tests"]))
        parts = [float(line[p] or 0) for p in ("1.4", "2.1", "2.2", "2.3")]
        assert sum(parts) == pytest.approx(float(line["total"]))
    assert (out / "summary.html").is_file()
    sheet = (out / "written.html").read_text()
    assert all(f">{name}<" in sheet or name in sheet for name in ("good", "hangs", "crashes", "garbage"))
    assert "hint, not a grade" in sheet

    # The leaderboard (switched on in grading.yaml), the similarity report and the Canvas export.
    good = json.loads((out / "good" / "results.json").read_text())
    assert [e["name"] for e in good["leaderboard"]][:2] == ["2.3 points", "Distinct airfoils (of 24)"]
    summary = (out / "summary.html").read_text()
    assert "Sample-quality leaderboard" in summary and 'href="similarity.html"' in summary
    assert "Absent (roster line 5)" in summary and "garbage" in summary.split("not in the roster")[1]
    similarity_page = (out / "similarity.html").read_text()
    assert "Not a grade." in similarity_page and (out / "similarity.csv").is_file()
    with open(out / "canvas.csv", newline="", encoding="utf-8") as handle:
        canvas = list(csv.reader(handle))
    assert canvas[0][-2:] == ["HW7 (42)", "HW7 written"] and canvas[1][-2:] == ["80", "25"]
    assert {line[3]: line[-2] for line in canvas[2:]} == {
        "good": str(scores["good"]), "hangs": str(rows[3].data["score"]),
        "crashes": str(rows[0].data["score"]), "absent": ""}
    assert any("no submission: Absent" in n for n in notes) and any("garbage" in n for n in notes)

    # A second run grades nothing again unless forced.
    before = {p: p.stat().st_mtime_ns for p in out.glob("*/results.json")}
    batch.grade_all(subs, out, workers=2, progress=False)
    assert before == {p: p.stat().st_mtime_ns for p in out.glob("*/results.json")}

    # ... but a grading that broke (a Dask worker that refused or vanished, say) is not a grade: it is done again.
    Results.failed("grading this submission stopped: no Dask worker was left").write(out / "garbage" / "results.json")
    again = {r.id: r for r in batch.grade_all(subs, out, workers=2, progress=False)}
    assert again["garbage"].status == "graded" and again["garbage"].data["tests"] == rows[1].data["tests"]
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/results.json") if p.parent.name != "garbage"} == {
        p: t for p, t in before.items() if p.parent.name != "garbage"}


def test_pack_round_trip(tmp_path, solution, quick_configs):
    folder = variants.write(tmp_path / "s", solution, *quick_configs)
    name, data = cluster.pack(folder)
    assert name == "s.zip"
    (tmp_path / name).write_bytes(data)
    with zipfile.ZipFile(tmp_path / name) as zf:
        assert sorted(zf.namelist()) == ["HW7.ipynb", "model_config.yaml", "train_config.yaml"]


def test_longest_submissions_are_scheduled_first(tmp_path, solution, quick_configs):
    model, train = quick_configs
    variants.write(tmp_path / "short", solution, model, {**train, "n_iters": 100}, as_zip=True)
    variants.write(tmp_path / "long", solution, model, {**train, "n_iters": 5000})
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    costs = {j.id: batch.expected_cost(j) for j in batch.discover(tmp_path)}
    assert costs == {"short": 100, "long": 5000, "broken": 0}


# --- issue 18: no submission can take the batch down, hang it or poison it ----------------------------------
def test_ids_are_unique_by_construction_and_do_not_depend_on_the_others(tmp_path):
    """Issue 18, item 7: `-2` was appended without checking it was free: two results.json in one folder."""
    def ids_of(names):
        for path in tmp_path.iterdir():
            path.unlink()
        for name in names:
            (tmp_path / name).write_bytes(b"")
        ids = {job.path.name: job.id for job in batch.discover(tmp_path)}
        assert len({i.casefold() for i in ids.values()}) == len(names)  # distinct, even on a case-blind disk
        return ids

    names = ["x y.zip", "x_y.zip", "x_y-2.zip", "gradebook.csv.zip", "#.zip", "a.zip", "a.ipynb", "B.zip", "b.zip"]
    ids = ids_of(names)
    assert ids["x_y.zip"] == "x_y" and ids["x_y-2.zip"] == "x_y-2" and ids["x y.zip"].startswith("x_y+")
    assert ids["gradebook.csv.zip"].startswith("gradebook.csv+") and ids["#.zip"].startswith("submission+")
    assert all("+" in ids[n] for n in ("a.zip", "a.ipynb", "B.zip", "b.zip"))  # same stems: none plain
    # No name ever gets an id that another name got in another batch (its results.json would be reused).
    for subset in (names[:3], names[2:6], ["a.zip", "b.zip"], ["x y.zip", "B.zip"]):
        for name, ident in ids_of(subset).items():
            assert all(other == name for other, i in ids.items() if i == ident)


@pytest.mark.timeout(60)
def test_a_fifo_or_a_link_in_a_submission_blocks_nothing(tmp_path, solution, quick_configs):
    """Issue 18, item 8: cost-sorting opened train_config.yaml, a FIFO, and waited forever."""
    import os

    folder = variants.write(tmp_path / "subs" / "fifo", solution, *quick_configs)
    (folder / "train_config.yaml").unlink()
    os.mkfifo(folder / "train_config.yaml")
    (folder / "model_config.yaml").unlink()
    (folder / "model_config.yaml").symlink_to("/etc/hostname")
    job = batch.discover(tmp_path / "subs")[0]
    assert batch.expected_cost(job) == 0
    name, data = cluster.pack(folder)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == ["HW7.ipynb"]  # the FIFO and the link are left out


def _with_answer(nb, answer: str):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "q1_4_answer":
            cell.source = answer
    return nb


@pytest.mark.timeout(900)
def test_one_hostile_submission_changes_nobody_elses_grade(tmp_path, solution, quick_configs, monkeypatch):
    """Issue 18, "done when": beside any one of the hostile submissions, the others get exactly the grade
    they get alone, every results.json and page is written, and the batch returns.  The children are
    stubbed (tests/parent_only.py): what is under test is the parent's handling of what students wrote."""
    import os

    import parent_only
    from test_written import HIDDEN_BRACKETS, SIMPLIFY_BOMB

    from autograder.staff import kl_hint

    parent_only.install(monkeypatch, {"surrogate": "ValueError: bad value \ud800 in your code"})
    monkeypatch.setattr(kl_hint, "CHECK_S", 5.0)

    def goods(folder):
        variants.write(folder / "good_a", solution, *quick_configs, as_zip=True)
        variants.write(folder / "good_b", solution, *quick_configs)

    alone = tmp_path / "alone"
    goods(alone)
    expected = {r.id: r.data for r in batch.grade_all(alone, tmp_path / "out-alone", workers=1, progress=False)}

    subs = tmp_path / "subs"
    goods(subs)
    bomb = copy.deepcopy(solution)
    bomb.cells.append(nbformat.v4.new_code_cell("# AUTOGRADED\ntrain_config = dict(n_iters=((((9**64)**64)**64)**64)**64)"))
    variants.write(subs / "config_bomb", bomb, *quick_configs, omit=("train_config.yaml",), as_zip=True)
    variants.write(subs / "deep_yaml", solution, *quick_configs, as_zip=True,
                   extra={"train_config.yaml": b"n_iters: " + b"[" * 5000 + b"]" * 5000})
    fifo = variants.write(subs / "fifo", solution, *quick_configs)
    (fifo / "train_config.yaml").unlink()
    os.mkfifo(fifo / "train_config.yaml")
    for name in ("x y", "x_y", "x_y-2"):
        variants.write(subs / name, solution, *quick_configs, as_zip=True)
    surrogate = _with_answer(solution, "my answer \ud800")
    variants.write(subs / "surrogate", solution, *quick_configs, as_zip=True,
                   extra={"HW7.ipynb": json.dumps(surrogate).encode("ascii")})  # "\ud800" escaped in the JSON
    variants.write(subs / "hidden_brackets", _with_answer(solution, HIDDEN_BRACKETS), *quick_configs, as_zip=True)
    variants.write(subs / "simplify_bomb", _with_answer(solution, SIMPLIFY_BOMB), *quick_configs, as_zip=True)

    out = tmp_path / "out"
    rows = batch.grade_all(subs, out, workers=2, progress=False)
    assert len({r.id for r in rows}) == len(rows) == 11
    for row in rows:
        assert (out / row.id / "results.json").is_file() and (out / row.id / "feedback.html").is_file()
        assert row.status == "graded", (row.id, row.data["tests"][0]["output"])
    for name in ("gradebook.csv", "canvas.csv", "summary.html", "written.html", "similarity.html"):
        assert (out / name).read_text(encoding="utf-8")
    by_id = {r.id: r.data for r in rows}
    for ident, results in expected.items():
        assert by_id[ident]["tests"] == results["tests"] and by_id[ident]["score"] == results["score"]
    full = expected["good_a"]["score"]
    for ident in ("x_y", "x_y-2", next(i for i in by_id if i.startswith("x_y+")), "hidden_brackets", "simplify_bomb"):
        assert by_id[ident]["score"] == full
    assert "was not used: it computes a number larger than 2**63" in by_id["config_bomb"]["output"]
    assert "nests lists or mappings too deeply" in by_id["deep_yaml"]["output"]
    assert "\ufffd in your code" in by_id["surrogate"]["tests"][0]["output"]
    sheet = (out / "written.html").read_text(encoding="utf-8")
    assert "my answer \ufffd" in sheet and "longer than 5 s" in sheet and "not rendered" in sheet
