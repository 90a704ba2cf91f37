"""Grade a folder of submissions: local workers or a Dask cluster, then the gradebook and pages.

Layouts accepted (detected in this order):
- Gradescope's "Export Submissions": ``submission_metadata.yml`` beside one folder per submission;
  names and emails come from the metadata.
- a folder of zips and/or notebooks: one submission per ``*.zip`` or ``*.ipynb``;
- a folder of folders: one submission per sub-folder.
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from autograder.results import Results
from autograder.results.rows import load_row
from autograder.run.cache import FOLDER_NAME
from hw7core import limits

if TYPE_CHECKING:
    from autograder.settings import Settings
    from autograder.staff.lms import Roster

METADATA = "submission_metadata.yml"


@dataclass
class Job:
    id: str
    path: Path
    name: str = ""
    email: str = ""
    sid: str = ""  # Gradescope's student id(s) of the submitters, for the LMS export


class _TolerantLoader(yaml.SafeLoader):
    """Safe, but reads Ruby-tagged nodes of Gradescope's metadata as plain data instead of failing."""


def _plain(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_TolerantLoader.add_multi_constructor("!", _plain)
_TolerantLoader.add_multi_constructor("tag:", _plain)


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@-]+", "_", text).strip("._") or "submission"


def _gradescope_jobs(folder: Path) -> list[Job]:
    try:
        meta = yaml.load((folder / METADATA).read_text(encoding="utf-8"), Loader=_TolerantLoader) or {}
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{folder / METADATA} could not be read ({exc}); re-download the export") from exc
    jobs = []
    for key, record in sorted(meta.items()):
        path = folder / str(key)
        if not path.exists():
            continue
        submitters = (record or {}).get(":submitters") or [{}]
        names = [str(s.get(":name", "")) for s in submitters if isinstance(s, dict)]
        emails = [str(s.get(":email", "")) for s in submitters if isinstance(s, dict)]
        sids = [str(s.get(":sid") or "") for s in submitters if isinstance(s, dict)]
        jobs.append(Job(_safe_id(str(key)), path, "; ".join(filter(None, names)), "; ".join(filter(None, emails)),
                        "; ".join(filter(None, sids))))
    return jobs


def discover(folder: str | Path) -> list[Job]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder of submissions")
    if (folder / METADATA).is_file():
        return _gradescope_jobs(folder)
    jobs = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name.startswith("__"):
            continue
        if path.is_file() and path.suffix.lower() in (".zip", ".ipynb"):
            jobs.append(Job(_safe_id(path.stem), path))
        elif path.is_dir():
            jobs.append(Job(_safe_id(path.name), path))
    seen: dict[str, int] = {}
    for job in jobs:  # a.zip and a.ipynb side by side must not share a folder
        seen[job.id] = seen.get(job.id, 0) + 1
        if seen[job.id] > 1:
            job.id = f"{job.id}-{seen[job.id]}"
    return jobs


def expected_cost(job: Job) -> int:
    """A cheap guess of how long a submission takes to grade: its n_iters (0 when unknown).

    Longest first keeps both workers busy to the end instead of leaving one long re-training last.
    """
    from HW7_utils import load_yaml

    try:
        if job.path.suffix.lower() == ".zip":
            with zipfile.ZipFile(job.path) as zf:
                info = next(i for i in zf.infolist() if i.filename.endswith("train_config.yaml"))
                if info.file_size > limits.YAML_MAX_BYTES:
                    return 0
                with tempfile.NamedTemporaryFile(suffix=".yaml") as tmp:
                    tmp.write(zf.read(info))
                    tmp.flush()
                    config = load_yaml(tmp.name)
        else:
            config = load_yaml(job.path / "train_config.yaml")
        return int(config.get("n_iters", 0))
    except Exception:  # any oddity only means "unknown": the grading itself will report it
        return 0


def _grade_local(job: Job, cache_dir: Path | None = None) -> dict[str, Any]:
    from autograder.grader import grade

    return grade(job.path, parallel=False, cache_dir=cache_dir).to_gradescope()


def grade_all(submissions: str | Path, out: str | Path, workers: int | None = None, force: bool = False,
              scheduler: str | None = None, progress: bool = True, roster: str | Path | None = None,
              notes: list[str] | None = None, strict: bool = False,
              cache: bool = True) -> list[dict[str, Any]]:
    """Grade every submission into ``out/<id>/results.json`` and write the gradebook and pages.

    Already graded submissions are skipped unless ``force``.  Returns one row per submission; what the
    instructor must read (settings problems, the roster reconciliation) is appended to ``notes``.
    A roster that cannot be used raises ValueError before anything is graded.  Without the full
    sandbox it warns once on stderr, or with ``strict`` raises IsolationError.  With ``cache``, local
    gradings reuse the outcomes stored in ``out/.cache`` for unchanged code (autograder/run/cache.py).
    """
    from tqdm import tqdm

    from autograder import settings
    from autograder.run import isolation
    from autograder.staff import lms

    isolation.announce(strict)

    notes = [] if notes is None else notes
    course = settings.load()
    notes += [f"grading.yaml: {p}" for p in course.problems]
    class_roster = lms.read_roster(roster) if roster is not None else None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = discover(submissions)
    todo = [j for j in jobs if force or not (out / j.id / "results.json").is_file()]
    todo.sort(key=expected_cost, reverse=True)
    bar = tqdm(total=len(todo), desc="grading", unit="sub", disable=not progress)

    def record(job: Job, results: dict) -> None:
        Results.from_dict(results).write(out / job.id / "results.json")  # the one writer of results.json
        bar.update(1)

    def failed(job: Job, exc: BaseException) -> dict:
        return Results.failed(f"grading this submission stopped: {type(exc).__name__}: {exc}").to_gradescope()

    if scheduler:
        from autograder.cluster import grade_on_cluster, pack

        grade_on_cluster(scheduler, todo, pack, record, failed)
    else:
        workers = max(1, workers or os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            cache_dir = out / FOLDER_NAME if cache else None
            futures = {pool.submit(_grade_local, j, cache_dir): j for j in todo}
            for future in as_completed(futures):
                job = futures[future]
                try:
                    record(job, future.result())
                except Exception as exc:
                    record(job, failed(job, exc))
    bar.close()
    rows = [load_row(out / job.id / "results.json", job.id, name=job.name, email=job.email, sid=job.sid)
            for job in jobs]
    write_pages(rows, jobs, out, course, roster, class_roster, notes)
    return rows


def write_pages(rows: list[dict[str, Any]], jobs: list[Job], out: Path, course: Settings,
                roster_path: str | Path | None, roster: Roster | None, notes: list[str]) -> None:
    """Everything made from the graded rows: feedback pages, gradebook.csv and summary.html, the
    similarity report, canvas.csv and the written-answers sheet (each notebook read once)."""
    from autograder import reports
    from autograder.results import leaderboard
    from autograder.staff import lms, similarity

    notebooks = load_notebooks(jobs)
    try:
        _, _, pairs = similarity.write_report(notebooks, out, course.similarity_threshold)
        sections = [similarity.summary_html(pairs, course.similarity_threshold)]
    except Exception as exc:  # a hint for staff must never cost the batch its gradebook
        pairs, sections = [], [f"<h2>Similarity</h2><p>similarity.html could not be written ({type(exc).__name__}).</p>"]
        notes.append(f"similarity.html could not be written ({type(exc).__name__}: {exc})")
    reconciliation = lms.canvas_csv(rows, out / "canvas.csv", course.lms_column, reports.MAX_TOTAL, roster)
    notes += reconciliation.lines()
    notes.append(f"similarity.html: {sum(p.listed(course.similarity_threshold) for p in pairs)} pair(s) of "
                 f"submissions share at least {course.similarity_threshold:.0%} of their own graded code "
                 "(a hint for staff, never a grade).")
    sections.append(lms.summary_html(reconciliation, Path(roster_path).name if roster_path is not None else None))
    if course.leaderboard:
        sections.insert(0, leaderboard.board_html(rows, course.leaderboard_names))
    reports.write_reports(rows, out, sections=sections)
    write_grading_sheet(jobs, out / "written.html", notebooks)


def load_notebooks(jobs: list[Job]) -> dict[str, Any]:
    """Each submission's notebook through the intake (None when it has no usable notebook)."""
    from hw7core import intake

    notebooks: dict[str, Any] = {}
    for job in jobs:
        with tempfile.TemporaryDirectory(prefix="hw7-notebook-") as tmp:
            try:
                notebooks[job.id] = intake.load_submission(job.path, tmp).notebook
            except Exception:  # unreadable: its results.json already says why; nothing to compare or read
                notebooks[job.id] = None
    return notebooks


def write_grading_sheet(jobs: list[Job], path: Path, notebooks: dict[str, Any] | None = None) -> Path:
    """The TA's sheet for the hand-graded questions 1.4 and 1.5, one section per student."""
    from autograder.staff import written

    notebooks = load_notebooks(jobs) if notebooks is None else notebooks
    entries = []
    for job in jobs:
        answers: dict[str, str | None] = dict.fromkeys(written.ANSWER_IDS)
        if notebooks.get(job.id) is not None:
            answers = written.answers_from_notebook(notebooks[job.id])
        entries.append({"student": " / ".join(filter(None, (job.name, job.id))), **answers})
    path.write_text(written.grading_sheet_html(entries), encoding="utf-8")
    return path
