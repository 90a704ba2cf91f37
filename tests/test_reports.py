"""Reports are views of results.json: feedback pages, the gradebook CSV and the summary page."""

import base64
import copy
import csv
import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from autograder import reports
from autograder import results as model
from autograder.reports import figures, pages, summary
from autograder.results import Results
from autograder.results import rows as row_model
from hw7core.parts import POINTS as PART_POINTS

FIXTURE = Path(__file__).parent / "fixtures" / "sample_results.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(autouse=True)
def _no_figures_left():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a report left a matplotlib figure open"


@pytest.fixture(scope="module")
def sample() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _row(ident, results, status="graded", name="", email=""):
    return row_model.Row.from_dict({"id": ident, "name": name, "email": email, "status": status, "results": results,
                                    "results_path": f"grades/{ident}/results.json"})


def _synthetic(scores: dict[str, float], output: str = "Wrong value 0.25 in cell 3.") -> dict:
    """A results.json with one test per part, as the grader writes it."""
    results = Results(notes=["synthetic"])
    for number, score in scores.items():
        results.add(model.TestResult(f"test {number}", number, PART_POINTS[number], score,
                               "Right." if score == PART_POINTS[number] else output))
    return results.to_gradescope()


@pytest.fixture()
def rows(sample) -> list[row_model.Row]:
    failed = Results.failed("RuntimeError: the sandbox <b>broke</b>").to_gradescope()
    return [
        _row("alice_hw7", sample, name="Alice Ångström", email="alice@example.edu"),
        _row("bob_hw7", failed, status="autograder failed", name="Bob"),
        row_model.Row("carol_hw7", "error", name="Carol", message="results.json is missing"),
    ]


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in DATA_URI.findall(page)]


# ---------------------------------------------------------------------------------------------
# Feedback page
# ---------------------------------------------------------------------------------------------
def test_feedback_page_shows_scores_tests_and_figures(sample, rows):
    page = reports.feedback_html(rows[0])
    assert page.startswith("<!DOCTYPE html>") and "Alice Ångström" in page
    assert "Total: 75.6 / 80" in page
    for test in sample["tests"]:
        assert f"<td>{test['number']}</td>" in page
    assert "10.6 / 15" in page and "50 / 50" in page
    assert "Graded cells found:" in page  # the top-level notes
    images = _images(page)
    assert len(images) == 3  # airfoils, learning curves, noise per sample
    assert all(img.startswith(PNG_MAGIC) for img in images)
    assert "worth about 4.8 distinct of 24" in page and "a bit noisy" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page


def test_feedback_page_is_small_enough_to_mail(rows):
    assert len(reports.feedback_html(rows[0]).encode()) < 400_000


def test_feedback_page_escapes_student_text(sample):
    results = copy.deepcopy(sample)
    results["tests"][0]["output"] = "cell 3: NameError <script>alert('x')</script>"
    results["output"] = "<img src=x onerror=alert(1)>"
    page = reports.feedback_html(_row("eve", results, name="<script>evil()</script>"))
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_hidden_tests_never_shown_after_published_on_request(sample):
    results = copy.deepcopy(sample)
    results["tests"][2]["visibility"] = "hidden"
    hidden, later = results["tests"][2]["number"], results["tests"][1]["number"]
    assert results["tests"][1]["visibility"] == "after_published"
    page = reports.feedback_html(_row("a", results))
    assert f"<td>{hidden}</td>" not in page and f"<td>{later}</td>" in page
    assert "includes 1 hidden test(s)" in page
    before = reports.feedback_html(_row("a", results), include_after_published=False)
    assert f"<td>{later}</td>" not in before and "<td>1.4.1</td>" in before


def test_feedback_for_failed_and_error_rows(rows):
    failed = reports.feedback_html(rows[1])
    assert "Total: 0 / 80" in failed and "<td>0</td>" in failed
    assert "&lt;b&gt;broke&lt;/b&gt;" in failed and "not graded" in failed
    error = reports.feedback_html(rows[2])
    assert "results.json is missing" in error and "Total: 0 / 80" in error


def test_bad_extra_data_gives_a_note_not_a_crash(sample):
    results = copy.deepcopy(sample)
    results["extra_data"]["samples"] = [[1.0, 2.0]]  # not (n, 200)
    page = reports.feedback_html(_row("a", results))
    assert "The figure could not be drawn (ValueError" in page


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
def test_render_helpers_return_png_and_close_figures(sample, tmp_path):
    extra = sample["extra_data"]
    out = tmp_path / "samples.png"
    data = figures.render_samples_png(extra["samples"], out)
    assert data.startswith(PNG_MAGIC) and out.read_bytes() == data
    assert figures.render_curves_png(extra["curves"]).startswith(PNG_MAGIC)
    assert figures.render_curves_png({"rec": [1.0, None], "prior": [], "total": [5.0], "every": 10}).startswith(PNG_MAGIC)


# ---------------------------------------------------------------------------------------------
# Gradebook
# ---------------------------------------------------------------------------------------------
def test_gradebook_columns_and_totals_agree_with_tests(rows, tmp_path):
    path = reports.gradebook_csv(rows, tmp_path / "gradebook.csv")
    with open(path, encoding="utf-8", newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert list(lines[0]) == ["id", "name", "email", "1.4", "2.1", "2.2", "2.3", "total", "max_total", "status",
                              "written 1.4", "written 1.5", "written", "submitted", "days late", "late penalty %",
                              "late penalty", "final", "max_final"]
    assert [line["id"] for line in lines] == ["alice_hw7", "bob_hw7", "carol_hw7"]
    assert all(line["final"] == "" for line in lines)  # rows without a final grade (no merge step): blank
    for line, row in zip(lines, rows):
        tests = row.data.get("tests", [])
        expected = 0.0 if row.status == "error" else sum(t["score"] for t in tests)
        assert float(line["total"]) == pytest.approx(expected)
        parts = [float(line[p]) for p in PART_POINTS if line[p] != ""]
        assert sum(parts) == pytest.approx(float(line["total"]) if parts else 0.0)
        for part in PART_POINTS:
            in_part = [t["score"] for t in tests if ".".join(t["number"].split(".")[:2]) == part]
            assert line[part] == ("" if not in_part or row.status == "error" else pages.num(sum(in_part)))
        assert line["max_total"] == "80" and line["status"] == row.status
    alice = lines[0]
    assert (alice["1.4"], alice["2.1"], alice["2.2"], alice["2.3"], alice["total"]) == ("5", "50", "10", "10.6", "75.6")
    assert alice["name"] == "Alice Ångström"
    assert all(lines[2][p] == "" for p in PART_POINTS) and lines[2]["total"] == "0"


# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------
def test_summary_pass_rates_causes_and_links():
    rows = [
        _row("s1", _synthetic({"1.4": 5, "2.1": 50, "2.2": 10, "2.3": 15})),
        _row("s2", _synthetic({"1.4": 0, "2.1": 50, "2.2": 0, "2.3": 7.5}, "Wrong value 0.25 in cell 3.")),
        _row("s3", _synthetic({"1.4": 0, "2.1": 20, "2.2": 10, "2.3": 7.5}, "Wrong value -1.5e-03 in cell 12.")),
        _row("s 4/x", None, status="error"),
    ]
    assert summary.pass_rates(rows) == [("1.4", "test 1.4", 1, 3), ("2.1", "test 2.1", 2, 3),
                                        ("2.2", "test 2.2", 2, 3), ("2.3", "test 2.3", 1, 3)]
    causes = summary.failure_causes(rows)
    assert causes == [("Wrong value # in cell #.", 6, ["1.4", "2.1", "2.2", "2.3"])]
    page = summary.summary_html(rows)
    assert "<b>4 submission(s)</b>" in page and "3 graded, 1 error" in page
    assert '<td class="num">1/3</td><td class="num">33%</td>' in page
    assert '<td class="num">2/3</td><td class="num">67%</td>' in page
    assert 'href="s1/feedback.html"' in page and 'href="s%204/x/feedback.html"' in page
    images = _images(page)
    assert len(images) == 1 and images[0].startswith(PNG_MAGIC)


def test_failure_cause_normalises_varying_numbers():
    assert summary.failure_cause("\n  cell 7: got 3.2e-05, expected 0.1\nmore") == "cell #: got #, expected #"
    assert summary.failure_cause("") == "(no message)"


def test_write_reports_and_load_row(rows, tmp_path, sample):
    (tmp_path / "r.json").write_text(json.dumps(sample), encoding="utf-8")
    assert row_model.load_row(tmp_path / "r.json", "alice").status == "graded"
    assert row_model.load_row(tmp_path / "missing.json", "x").status == "error"
    Results.failed("boom").write(tmp_path / "f" / "results.json")
    assert row_model.load_row(tmp_path / "f" / "results.json", "f").status == "autograder failed"
    out = reports.write_reports(rows, tmp_path / "reports")
    assert {p.name for p in out.iterdir()} == {"alice_hw7", "bob_hw7", "carol_hw7", "gradebook.csv", "summary.html"}
    assert (out / "alice_hw7" / "feedback.html").read_text(encoding="utf-8").count("data:image/png;base64,") == 3
    with pytest.raises(ValueError):
        reports.write_reports([_row("../x", None, "error")], tmp_path / "bad")


def test_empty_and_invalid_inputs_still_give_pages():
    assert "<b>0 submission(s)</b>" in summary.summary_html([])
    invalid = {"points": 0.0, "band": "invalid", "reason": "shape (3,)", "n_smooth_valid": 0.0,
               "sigma_eq": [None] * 24, "sigma_med": None}
    page = reports.feedback_html(_row("z", {"tests": [], "extra_data": {"quality": invalid}}))
    assert "not measurable" in page and "0 of 24" in page and len(_images(page)) == 1


def test_an_autograder_failure_is_marked_failed_in_results_json_and_on_the_page():
    failed = Results.failed("RuntimeError: boom").to_gradescope(leaderboard=False)
    assert [t["status"] for t in failed["tests"]] == ["failed"]
    page = reports.feedback_html(_row("x", failed, status="autograder failed"))
    assert "&#10007; failed" in page and "&#10003; passed" not in page
