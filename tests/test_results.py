"""The results model reads back what it writes: one rule for scores, totals, "passed" and the status."""

import json

import pytest

from autograder import results as model
from autograder.results import Results


def graded() -> Results:
    results = Results(notes=["Graded cells found."])
    results.add(model.TestResult("D_KL public", "1.4.1", 2.0, 2.0, "Right."))
    results.add(model.TestResult("D_KL hidden", "1.4.2", 3.0, 1.0, "wrong", "after_published"))
    results.add(model.TestResult("Samples", "2.3", 15.0, 10.6, "a bit noisy"))
    results.extra["quality"] = {"points": 10.6}
    return results


def test_a_written_results_json_reads_back_the_same(tmp_path):
    written = graded()
    path = written.write(tmp_path / "results.json")
    back = Results.read(path)
    assert back.score == written.score == 13.6 and back.max_score == 20
    assert [(t.number, t.passed, t.visibility) for t in back.tests] == [
        ("1.4.1", True, "visible"), ("1.4.2", False, "after_published"), ("2.3", False, "visible")]
    assert back.part_scores(graded_only=True) == {"1.4": 3.0, "2.1": None, "2.2": None, "2.3": 10.6}
    assert back.part_scores()["2.1"] == 0.0
    assert back.extra["quality"] == {"points": 10.6} and back.status == "graded"
    assert back.to_gradescope(leaderboard=False) == json.loads(path.read_text())


def test_a_broken_grading_reads_back_as_autograder_failed(tmp_path):
    path = Results.failed("RuntimeError: boom").write(tmp_path / "results.json")
    back = Results.read(path)
    assert back.autograder_failed and back.status == "autograder failed" and back.score == 0


@pytest.mark.parametrize("data", [[], {"tests": "none"}, {"score": 3}])
def test_what_is_not_a_results_json_is_refused(data):
    with pytest.raises(ValueError, match="not a results.json"):
        Results.from_dict(data)


def test_odd_values_in_a_hand_edited_file_count_zero():
    back = Results.from_dict({"tests": [{"number": "2.1.1", "score": "eight", "max_score": None}, "junk"]})
    assert [(t.number, t.score, t.max_score) for t in back.tests] == [("2.1.1", 0.0, 0.0)]


# --- extra_data, typed: written from dataclasses, read back as them ------------------------------------
def _extra_written_by_a_grading() -> Results:
    from dataclasses import asdict
    from pathlib import Path

    from autograder.judges import samples as retrain
    from autograder.run.isolation import Isolation

    fixture = json.loads((Path(__file__).parent / "fixtures" / "sample_results.json").read_text())
    results = graded()
    training = retrain.Training(model.TestResult("Samples", "2.3", 15.0, 10.6), train_seconds=31.5,
                                curves={"rec": [0.5, 0.25], "prior": [1.0, 0.5], "total": [0.51, 0.255], "n": 2},
                                samples=[[0.0] * 200] * 24, quality=fixture["extra_data"]["quality"])
    results.extra.update(training.extra_data())
    results.extra["retraining"] = asdict(retrain.Choice("reference", 9.0, 10.6, "your D_KL (part 1.4) lost points"))
    results.extra["isolation"] = Isolation("process", False, "a separate process", "bwrap is missing").to_dict()
    return results


def test_extra_data_reads_back_as_the_dataclasses_that_wrote_it(tmp_path):
    from autograder.judges import samples as retrain
    from autograder.results.extra_data import ExtraData
    from autograder.run.isolation import Isolation

    written = _extra_written_by_a_grading()
    extra = ExtraData.from_dict(Results.read(written.write(tmp_path / "results.json")).extra)
    assert extra.isolation == Isolation("process", False, "a separate process", "bwrap is missing")
    assert extra.retraining == retrain.Choice("reference", 9.0, 10.6, "your D_KL (part 1.4) lost points")
    assert extra.train_seconds == 31.5 and extra.curves["n"] == 2 and len(extra.samples) == 24
    read_back = extra.quality.to_dict()  # the fixture predates the copy rule's fields: they read as their defaults
    assert extra.quality.points == 10.6 and {k: read_back[k] for k in written.extra["quality"]} == written.extra["quality"]
    assert extra.quality.copies == [] and extra.quality.nearest_real == []


@pytest.mark.parametrize("damage", [
    None, [], "text", {"isolation": {"level": 3}, "retraining": {"kept": "mine"}, "quality": {"points": "10"},
                       "train_seconds": float("nan"), "curves": [1], "samples": [1, 2]},
])
def test_missing_or_malformed_extra_data_reads_as_none(damage):
    from autograder.results.extra_data import ExtraData

    assert ExtraData.from_dict(damage) == ExtraData()


def test_a_quality_value_that_was_not_finite_reads_back_as_the_fields_default():
    from hw7core.quality_report import QualityReport

    report = QualityReport.from_dict({"points": 0, "band": "invalid", "reason": "NaN samples", "sigma_med": None,
                                      "n_valid": "3"})
    assert report.points == 0.0 and report.sigma_med == float("inf") and report.n_valid == 0


# --- a batch row holds its results parsed once -----------------------------------------------------------
def test_a_row_reads_its_results_json_once_into_the_model(tmp_path):
    from autograder.results.rows import Row, load_row

    path = graded().write(tmp_path / "s1" / "results.json")
    row = load_row(path, "s1", name="Ada", email="ada@u.edu", sid=None)
    assert isinstance(row.results, Results) and row.status == "graded" and (row.name, row.sid) == ("Ada", "")
    assert row.total == 13.6 and row.part_scores["1.4"] == 3.0 and row.part_scores["2.1"] is None
    assert row.data == json.loads(path.read_text())  # as written: the pages show what Gradescope got
    assert Row.from_dict({"id": "s1", "name": "Ada", "email": "ada@u.edu", "status": "graded", "results": row.data,
                          "results_path": str(path)}) == row
    missing = load_row(tmp_path / "nobody" / "results.json", "nobody")
    assert (missing.status, missing.results, missing.total, missing.tests) == ("error", None, 0.0, [])
    assert missing.message.startswith("No usable results.json") and set(missing.part_scores.values()) == {None}
