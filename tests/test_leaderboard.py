"""The sample-quality leaderboard: Gradescope's fields, switched on by grading.yaml, and the local board."""

import json
from pathlib import Path

import pytest

from autograder import results as model
from autograder import settings
from autograder.results import leaderboard
from autograder.results.rows import Row
from hw7core.quality_report import QualityReport

FIXTURE = Path(__file__).parent / "fixtures" / "sample_results.json"


@pytest.fixture(scope="module")
def quality() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))["extra_data"]["quality"]


def _results(quality: dict | None) -> model.Results:
    results = model.Results()
    results.add(model.TestResult("Generated airfoils", "2.3", 15.0, (quality or {}).get("points", 0)))
    if quality is not None:
        results.extra["quality"] = quality
    return results


@pytest.fixture()
def course(tmp_path, monkeypatch):
    """A grading.yaml of the test's own, as an instructor would write it."""
    path = tmp_path / "grading.yaml"
    monkeypatch.setenv(settings.ENV_PATH, str(path))
    return path


def test_entries_have_gradescopes_field_names_and_order(quality):
    board = leaderboard.entries(QualityReport.from_dict(quality))
    assert [set(e) for e in board] == [{"name", "value", "order"}] * 3
    assert [(e["name"], e["value"], e["order"]) for e in board] == [
        ("2.3 points", 10.6, "desc"), ("Distinct airfoils (of 24)", 4.8, "desc"), ("Noise amplitude", 0.00416, "asc")]
    assert all(isinstance(e["value"], (int, float)) for e in board)


def test_a_model_that_was_not_scored_is_on_the_board_with_zero():
    assert leaderboard.entries(None) == [{"name": "2.3 points", "value": 0.0, "order": "desc"},
                                         {"name": "Distinct airfoils (of 24)", "value": 0.0, "order": "desc"}]
    unmeasured = QualityReport.from_dict({"points": 0, "band": "invalid", "effective_count": None, "sigma_med": None})
    assert leaderboard.entries(unmeasured)[1]["value"] == 0.0 and len(leaderboard.entries(unmeasured)) == 2


def test_results_json_has_the_leaderboard_only_when_grading_yaml_switches_it_on(course, tmp_path, quality):
    assert "leaderboard" not in _results(quality).to_gradescope()  # no grading.yaml: off
    course.write_text("leaderboard: false\n")
    assert "leaderboard" not in json.loads(_results(quality).write(tmp_path / "off.json").read_text())
    course.write_text("leaderboard: true\n")
    written = json.loads(_results(quality).write(tmp_path / "on.json").read_text())
    assert written["leaderboard"] == leaderboard.entries(QualityReport.from_dict(quality))
    assert "leaderboard" in json.loads(model.Results.failed("boom").write(tmp_path / "failed.json").read_text())


def test_the_kits_own_grading_yaml_is_off_by_default_and_valid(root):
    course = settings.load(root / "grading.yaml")
    assert course.problems == () and course.leaderboard is False and course == settings.Settings(path=course.path)


@pytest.mark.parametrize("text, problem", [
    ("leaderboard: yes please\n", "leaderboard: 'yes please' is not true or false"),
    ("similarity_threshold: 3\n", "is not a number from 0 to 1"),
    ("leaderbord: true\n", "unknown setting 'leaderbord'"),
    ("- a list\n", "could not be read"),
])
def test_a_bad_setting_keeps_its_default_and_says_so(course, text, problem):
    course.write_text(text)
    loaded = settings.load()
    assert loaded.leaderboard is False and loaded.similarity_threshold == 0.5
    assert len(loaded.problems) == 1 and problem in loaded.problems[0]


def _row(ident, name, quality, status="graded"):
    return Row.from_dict({"id": ident, "name": name, "status": status,
                          "results": _results(quality).to_gradescope(leaderboard=False)})


def test_local_board_ranks_as_gradescope_and_names_only_when_allowed(quality):
    better = {**quality, "points": 15, "sigma_med": 1e-3}
    noisier = {**quality, "sigma_med": 9e-3}
    rows = [_row("s1", "Ada", quality), _row("s2", "Alan", better), _row("s3", "Grace", noisier),
            _row("s4", "Bob", None), _row("s5", "Eve", better, status="autograder failed")]
    ranked = leaderboard.ranking(rows, show_names=False)
    assert [(r["rank"], r["who"]) for r in ranked] == [(1, "s2"), (2, "s1"), (3, "s3"), (4, "s4")]
    anonymous = leaderboard.board_html(rows, show_names=False)
    assert "Ada" not in anonymous and "<td>s1</td>" in anonymous and "not measurable" in anonymous
    named = leaderboard.board_html(rows, show_names=True)
    assert "<td>Ada</td>" in named and "<td>s1</td>" not in named
    assert "No graded submission yet" in leaderboard.board_html([], show_names=False)


def test_make_gradescope_bakes_the_settings_into_the_autograder_zip(root):
    import make_gradescope

    members = make_gradescope.members()
    assert members["grading.yaml"] == root / "grading.yaml"
    assert settings.DEFAULT_PATH == root / "grading.yaml"  # where the autograder reads it, there as here
