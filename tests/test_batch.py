"""Batch grading: input layouts, the gradebook and pages, robustness, skipping (Dask: test_cluster.py)."""

import csv
import json
import textwrap
import zipfile

import pytest
import variants

from autograder import batch, cluster, settings
from hw7core import limits


@pytest.fixture(scope="module")
def solution():
    return variants.load_solution()


@pytest.fixture(scope="module")
def quick_configs(solution):
    model, train = variants.configs(solution)
    return model, {**train, "n_iters": 60}


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
    monkeypatch.setattr(limits, "TEST_WALL_S", 20.0)
    subs = tmp_path / "subs"
    variants.write(subs / "good", solution, *quick_configs, as_zip=True)
    hang = variants.replace(solution, "D_KL", "def D_KL(mu, logvar):\n    while True:\n        pass\n")
    variants.write(subs / "hangs", hang, *quick_configs, as_zip=True)
    crash = variants.replace(solution, "VAE", "class VAE:\n    def __init__(self, **kw):\n"
                                              "        __import__('os')._exit(3)\n")
    variants.write(subs / "crashes", crash, *quick_configs, as_zip=True)
    (subs / "garbage.zip").write_bytes(b"PK\x03\x04 not really a zip")
    course = tmp_path / "grading.yaml"
    course.write_text("leaderboard: true\nlms_column: HW7 (42)\n")
    monkeypatch.setenv(settings.ENV_PATH, str(course))
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section\nGood,1,S1,good,A\nHangs,2,S2,hangs,A\n"
                      "Crashes,3,S3,crashes,A\nAbsent,4,S4,absent,A\n")
    out = tmp_path / "grades"
    notes: list[str] = []
    rows = batch.grade_all(subs, out, workers=2, progress=False, roster=roster, notes=notes)
    assert [r["id"] for r in rows] == ["crashes", "garbage", "good", "hangs"]
    for row in rows:
        results = json.loads((out / row["id"] / "results.json").read_text())
        assert isinstance(results["score"], (int, float)) and results["tests"]
        page = (out / row["id"] / "feedback.html").read_text()
        assert row["id"] in page
    scores = {r["id"]: r["results"]["score"] for r in rows}
    assert scores["good"] >= 65 and scores["garbage"] == 0
    hangs = {t["number"]: t for t in rows[3]["results"]["tests"]}
    assert hangs["1.4.1"]["score"] == 0 and "time budget of 20 s" in hangs["1.4.1"]["output"]
    assert sum(t["score"] for t in rows[3]["results"]["tests"] if t["number"].startswith("2.1")) == 50
    crashes = rows[0]["results"]["tests"]
    assert sum(t["score"] for t in crashes if t["number"].startswith("1.4")) == 5
    assert "exit code 3" in next(t["output"] for t in crashes if t["number"] == "2.1.1")
    assert "data:image/png;base64," in (out / "good" / "feedback.html").read_text()

    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == ["id", "name", "email", "1.4", "2.1", "2.2", "2.3", "total", "max_total", "status"]
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
    assert canvas[0][-1] == "HW7 (42)" and canvas[1][-1] == "80"
    assert {line[3]: line[-1] for line in canvas[2:]} == {
        "good": str(scores["good"]), "hangs": str(rows[3]["results"]["score"]),
        "crashes": str(rows[0]["results"]["score"]), "absent": ""}
    assert any("no submission: Absent" in n for n in notes) and any("garbage" in n for n in notes)

    # A second run grades nothing again unless forced.
    before = {p: p.stat().st_mtime_ns for p in out.glob("*/results.json")}
    batch.grade_all(subs, out, workers=2, progress=False)
    assert before == {p: p.stat().st_mtime_ns for p in out.glob("*/results.json")}


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
