"""Canvas's gradebook import: round trip through a roster, and every mismatch listed, never dropped."""

import csv

import pytest

from autograder import results as model
from autograder.results.rows import Row
from autograder.staff import lms


def _row(ident, score, status="graded", name="", email="", sid=""):
    results = model.Results()
    results.add(model.TestResult("all", "1.4.1", 80.0, score))
    return Row.from_dict({"id": ident, "name": name, "email": email, "sid": sid, "status": status,
                          "results": results.to_gradescope(leaderboard=False), "results_path": ""})


def _read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


ROSTER = """\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (111)
    Points Possible,,,,,10
"Lovelace, Ada",101,S001,ada,Sec A,9
"Turing, Alan",102,S002,alan,Sec A,7
"Hopper, Grace",103,S003,grace,Sec B,8
"Nobody, Idless",,,,Sec B,5
"Twin, Second",104,S002,twin,Sec B,6
"Absent, Carl",105,S005,carl,Sec B,
"""


@pytest.fixture()
def roster(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    return lms.read_roster(path)


def test_roster_with_missing_and_duplicate_ids_is_reported_line_by_line(roster):
    assert [e.fields["SIS Login ID"] for e in roster.entries] == ["ada", "alan", "grace", "carl"]
    assert len(roster.problems) == 2
    assert "Nobody, Idless (roster line 6) has none of ID" in roster.problems[0]
    assert "Twin, Second (roster line 7) repeats the id 's002' of roster line 4" in roster.problems[1]


def test_canvas_export_round_trips_the_roster(tmp_path, roster):
    rows = [_row("ada", 72.5, email="ada"),  # matched by the submission's id / login
            _row("submission_9", 80, name="Alan Turing", email="alan.turing@uni.edu", sid="S002"),
            _row("grace", 0, status="autograder failed"),  # grading broke: blank, and said so
            _row("mallory", 40, name="Mallory")]  # not on the roster
    result = lms.canvas_csv(rows, tmp_path / "canvas.csv", "HW7 (999)", 80, roster)
    table = _read(tmp_path / "canvas.csv")
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW7 (999)"]
    assert table[1][0].strip() == "Points Possible" and table[1][5] == "80"
    assert table[2:] == [["Lovelace, Ada", "101", "S001", "ada", "Sec A", "72.5"],
                         ["Turing, Alan", "102", "S002", "alan", "Sec A", "80"],
                         ["Hopper, Grace", "103", "S003", "grace", "Sec B", ""],
                         ["Absent, Carl", "105", "S005", "carl", "Sec B", ""]]
    assert result.exported == 2
    assert result.not_in_roster == ["Mallory / mallory"]
    assert result.no_submission == ["Absent, Carl (roster line 8)"]
    assert any("grace: grading failed" in p for p in result.problems)
    assert any("Twin, Second" in p for p in result.problems)  # roster problems travel with the result
    lines = "\n".join(result.lines())
    assert "Mallory / mallory" in lines and "Absent, Carl" in lines and "Nobody, Idless" in lines


def test_two_submissions_of_one_student_keep_the_first_and_say_so(tmp_path, roster):
    rows = [_row("submission_1", 50, email="ada"), _row("submission_2", 70, email="ADA")]
    result = lms.canvas_csv(rows, tmp_path / "canvas.csv", "HW7", 80, roster)
    assert _read(tmp_path / "canvas.csv")[2][5] == "50"
    assert any("matches submissions submission_1 and submission_2" in p for p in result.problems)


def test_a_file_name_never_takes_another_students_roster_line(tmp_path, roster):
    """Issue 18, item 7: an id from a file name a student chose matches only when nothing trusted does,
    and two file names claiming one roster line get nobody's score there."""
    # A zip named after Ada's login beside Ada's own Gradescope submission: the metadata wins.
    rows = [_row("ada", 80), _row("submission_2", 40, email="ADA")]
    result = lms.canvas_csv(rows, tmp_path / "canvas.csv", "HW7", 80, roster)
    assert _read(tmp_path / "canvas.csv")[2][5] == "40"
    assert any("Gradescope's metadata" in p for p in result.problems)
    # A Gradescope row never matches on its id, even when the id is someone's login.
    rows = [_row("alan", 80, email="mallory@uni.edu")]
    result = lms.canvas_csv(rows, tmp_path / "canvas.csv", "HW7", 80, roster)
    assert _read(tmp_path / "canvas.csv")[3][5] == "" and result.not_in_roster == ["alan"]
    # Two zips both named for Ada (her login, her SIS id): refused, said, blank.
    rows = [_row("ada", 80), _row("s001", 10)]
    result = lms.canvas_csv(rows, tmp_path / "canvas.csv", "HW7", 80, roster)
    assert _read(tmp_path / "canvas.csv")[2][5] == ""
    assert any("by their file names only: score left blank" in p for p in result.problems)


def test_without_a_roster_every_submitter_gets_a_line(tmp_path):
    rows = [_row("submission_1", 66, name="Ada Lovelace; Alan Turing", email="ada@u.edu; alan@u.edu",
                 sid="S001; S002"),
            _row("bob", 12)]
    result = lms.canvas_csv(rows, tmp_path / "canvas.csv", "HW7", 80)
    assert _read(tmp_path / "canvas.csv")[2:] == [["Ada Lovelace", "", "S001", "ada@u.edu", "", "66"],
                                                   ["Alan Turing", "", "S002", "alan@u.edu", "", "66"],
                                                   ["bob", "", "", "bob", "", "12"]]
    assert result.exported == 3 and not result.not_in_roster and not result.no_submission


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("name,score\nAda,1\n", "has none of the columns"),
])
def test_unusable_rosters_are_refused_with_the_fix(tmp_path, text, message):
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(lms.RosterError, match=message):
        lms.read_roster(path)
    with pytest.raises(lms.RosterError, match="could not be read"):
        lms.read_roster(tmp_path / "missing.csv")


def test_a_plain_roster_of_emails_works(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("Name,Email\nAda,ada@u.edu\nAda again,ADA@u.edu\n", encoding="utf-8")
    roster = lms.read_roster(path)
    assert [e.fields["Student"] for e in roster.entries] == ["Ada"] and "repeats" in roster.problems[0]
    lms.canvas_csv([_row("s1", 80, email="ada@u.edu")], tmp_path / "canvas.csv", "HW7", 80, roster)
    assert _read(tmp_path / "canvas.csv")[2] == ["Ada", "", "", "", "", "80"]


def test_grade_all_refuses_an_unusable_roster_before_grading(tmp_path, capsys):
    from autograder import cli

    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "someone.zip").write_bytes(b"not graded")
    code = cli.main(["grade-all", str(tmp_path / "subs"), "--out", str(tmp_path / "grades"),
                     "--roster", str(tmp_path / "no-such-roster.csv")])
    assert code == 2 and "no-such-roster.csv could not be read" in capsys.readouterr().err
    assert not (tmp_path / "grades").exists()
