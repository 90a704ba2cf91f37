"""The one student check's pure parts (its whole runs are in test_handout.py)."""

from hw7core import check as student_check


def test_config_differences_name_each_setting_and_ignore_tuple_vs_list():
    assert student_check.config_differences({"n_iters": 2000, "hidden_dims": [8]},
                                            {"n_iters": 5000, "hidden_sizes": [8]}) == [
        "hidden_dims: [8] in the zip, not set in the notebook",
        "hidden_sizes: not set in the zip, [8] in the notebook",
        "n_iters: 2000 in the zip, 5000 in the notebook"]
    assert student_check.config_differences({"hidden_sizes": [8, 4]}, {"hidden_sizes": (8, 4)}) == []


def test_failure_message_adds_the_graders_hint_only_for_a_wrong_value():
    wrong = student_check.failure_message("1.4", {"error": "Mismatched elements: 1 / 1", "cell_errors": []})
    assert wrong.endswith(f"The grader's hint: {student_check.GRADER_HINTS['1.4']}.")
    broken = student_check.failure_message("1.4", {"error": "NameError", "cell_errors": ["cell 9: SyntaxError"]})
    assert "hint" not in broken and "cell 9: SyntaxError" in broken
    assert "hint" not in student_check.failure_message("2.1", {"error": "shapes", "cell_errors": []})
