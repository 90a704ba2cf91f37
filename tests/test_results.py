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
