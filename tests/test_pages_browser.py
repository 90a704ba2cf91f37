"""The pages in a real browser (headless Chromium): they render, every image loads and has alt text,
nothing reaches the console, nothing is fetched from the network, and pass/fail is not colour alone.

Set HW7_SCREENSHOTS=folder to keep a full-page screenshot of each page for a person to look at.
"""

import copy
import io
import json
import os
from pathlib import Path

import code_variants
import pytest
import variants
from browser import Browser, executable

from autograder import reports
from autograder.results import Results, leaderboard
from autograder.results.rows import Row
from autograder.staff import lms, similarity, written

pytestmark = pytest.mark.skipif(executable() is None, reason="headless Chromium is not installed "
                                "(Debian: apt-get install chromium; .ci/run installs it)")
FIXTURE = Path(__file__).parent / "fixtures" / "sample_results.json"


@pytest.fixture(scope="module")
def browser():
    chromium = Browser()
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    """Each kind of page the kit writes, from saved results (no grading, no re-training)."""
    out = tmp_path_factory.mktemp("pages")
    sample = json.loads(FIXTURE.read_text(encoding="utf-8"))
    noisier = copy.deepcopy(sample)
    noisier["extra_data"]["quality"]["sigma_med"] = 9e-3
    rows = [{"id": "alice", "name": "Alice Ångström", "email": "alice@example.edu", "status": "graded",
             "results": sample},
            {"id": "bob", "name": "Bob", "email": "", "status": "graded", "results": noisier},
            {"id": "carol", "name": "Carol", "email": "", "status": "autograder failed",
             "results": Results.failed("RuntimeError: the sandbox <b>broke</b>").to_gradescope(leaderboard=False)},
            {"id": "dave", "name": "Dave", "email": "", "status": "error", "results": {},
             "message": "No usable results.json"}]
    rows = [Row.from_dict(row) for row in rows]
    reconciliation = lms.Reconciliation(exported=2, not_in_roster=["Dave / dave"],
                                        no_submission=["Eve (roster line 5)"], problems=["carol: grading failed"])
    sections = [leaderboard.board_html(rows, show_names=False), lms.summary_html(reconciliation, "roster.csv")]
    reports.write_reports(rows, out, sections=sections)
    solution = variants.load_solution()
    similarity.write_report({"alice": solution, "bob": code_variants.disguise(solution),
                             "carol": code_variants.independent("a"), "dave": None}, out, 0.5)
    answers = {"q1_4": r"$$D_{KL} = \frac{1}{2}\left(\mu^2 + \sigma^2 - 1 - \ln \sigma^2\right)$$",
               "q1_5": "Large **beta**: the samples collapse to one shape."}
    (out / "written.html").write_text(written.grading_sheet_html(
        [{"student": "Alice / alice", **answers}, {"student": "bob", "q1_4": None, "q1_5": None}]), encoding="utf-8")
    return {"feedback": out / "alice" / "feedback.html", "failed feedback": out / "carol" / "feedback.html",
            "summary": out / "summary.html", "similarity": out / "similarity.html", "written": out / "written.html"}


def _keep(name: str, png: bytes) -> None:
    folder = os.environ.get("HW7_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name.replace(' ', '_')}.png").write_bytes(png)


def _colours(png: bytes) -> int:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return len(image.convert("RGB").getcolors(maxcolors=1 << 20) or [])


@pytest.mark.parametrize("name", ["feedback", "failed feedback", "summary", "similarity", "written"])
def test_page_renders_cleanly(browser, pages, name):
    visit = browser.visit(pages[name])
    _keep(name, visit.screenshot)
    assert visit.console == [], visit.console
    assert visit.external == [], visit.external
    assert all(image["loaded"] for image in visit.images), visit.images
    assert all((image["alt"] or "").strip() for image in visit.images), visit.images
    assert visit.screenshot.startswith(b"\x89PNG") and _colours(visit.screenshot) > 20  # drawn, not blank
    assert "Traceback" not in visit.text


def test_feedback_page_shows_its_figures_and_marks_pass_and_fail_with_a_symbol(browser, pages):
    visit = browser.visit(pages["feedback"])
    assert [i["alt"] for i in visit.images] == ["generated airfoils", "learning curves",
                                                "noise amplitude of each sample"]
    marks = json.loads(browser.evaluate(
        "JSON.stringify(Array.from(document.querySelectorAll('.passed, .failed')).map(e => e.innerText))"))
    assert marks and all(m in ("\u2713 passed", "\u2717 failed") for m in marks), marks
    assert "\u2717 failed" in marks and "\u2713 passed" in marks


def test_summary_page_shows_the_board_and_the_lms_notes(browser, pages):
    text = browser.visit(pages["summary"]).text
    assert "Sample-quality leaderboard" in text and "Alice" not in text.split("Students")[0].split("leaderboard")[1]
    assert "Eve (roster line 5)" in text and "Dave / dave" in text and "carol: grading failed" in text


def test_similarity_page_says_it_is_no_grade(browser, pages):
    text = browser.visit(pages["similarity"]).text
    assert "Not a grade." in text and "1. alice and bob" in text


def test_the_checks_catch_a_broken_page(browser, tmp_path):
    """The driver itself: console errors, exceptions, broken or unlabelled images are all reported."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html lang="en"><body><img src="missing.png">'
                    "<script>console.error('boom'); undefined_function();</script></body></html>")
    visit = browser.visit(page)
    assert any("boom" in c for c in visit.console) and any("undefined_function" in c for c in visit.console)
    assert any("missing.png" in c for c in visit.console), visit.console  # the failed load is logged too
    assert visit.images == [{"alt": None, "loaded": False, "src": (tmp_path / "missing.png").as_uri()[:60]}]


def test_written_sheet_saves_the_scores_offline_and_they_read_back(browser, tmp_path):
    """A TA types points and comments on written.html and presses Save: the browser downloads
    written_scores.csv (from a Blob, no request), and make grade reads the same scores back."""
    import time

    from autograder.results import written_scores

    page = tmp_path / "written.html"
    page.write_text(written.grading_sheet_html([
        {"student": "Ada / ada", "id": "ada", "name": "=Ada", "q1_4": "$$x$$", "q1_5": "beta",
         "points": {"1.4": 12.0}, "comments": {"1.4": "earlier comment"}},
        {"student": "bob", "id": "bob", "name": "Bob, Jr.", "q1_4": None, "q1_5": None}]), encoding="utf-8")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(downloads))
    visit = browser.visit(page)
    assert visit.console == [] and visit.external == []
    assert browser.evaluate("""(() => {
      const type = (id, what, q, text) => {
        const field = document.querySelector(`section[data-id="${id}"] ${what}[data-q="${q}"]`);
        field.value = text; field.dispatchEvent(new Event("input", {bubbles: true}));
      };
      type("ada", "input", "1.5", "9");
      type("bob", "input", "1.4", "14.5");
      type("bob", "textarea", "1.5", '-2: "beta too small" not explained,\\nsee the rubric');
      type("bob", "input", "1.5", "11");
      document.getElementById("save").click();
      return document.getElementById("save-status").textContent;
    })()""").startswith("Saved written_scores.csv (1 score(s) out of range")
    saved = downloads / "written_scores.csv"
    deadline = time.monotonic() + 20
    while not saved.is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    back = written_scores.read(saved, {"ada", "bob"})
    assert back.points == {"ada": {"1.4": 12.0, "1.5": 9.0}, "bob": {"1.4": 14.5, "1.5": None}}
    assert back.comments["ada"]["1.4"] == "earlier comment"
    assert back.comments["bob"]["1.5"] == '-2: "beta too small" not explained,\nsee the rubric'
    assert back.problems == ["written_scores.csv line 4: 1.5 11 is out of range; skipped: it must be from 0 to 10",
                             "written_scores.csv: bob has no valid score for 1.5 (its written total is left blank)"]
    import csv

    with open(saved, newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert table[1] == ["Points Possible", "", "15", "", "10", ""] and table[2][1] == "'=Ada"  # defused, as csvsafe
