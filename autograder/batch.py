"""Grade a folder of submissions: local workers or a Dask cluster, then the gradebook and pages.

Layouts accepted (detected in this order):
- Gradescope's "Export Submissions": ``submission_metadata.yml`` beside one folder per submission;
  names and emails come from the metadata.
- a folder of zips and/or notebooks: one submission per ``*.zip`` or ``*.ipynb``;
- a folder of folders: one submission per sub-folder.
"""

from __future__ import annotations

import collections
import hashlib
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
from autograder.results.rows import Row, load_row
from autograder.run.cache import FOLDER_NAME
from hw7core import intake, limits

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
    submitted: str = ""  # when (Gradescope's :created_at), for the late policy (late.py)


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


# What grade_all writes beside the submissions' folders: no submission may be named like one of them.
OUTPUT_NAMES = {"gradebook.csv", "canvas.csv", "summary.html", "written.html", "similarity.html",
                "similarity.csv", FOLDER_NAME.casefold()}


def unique_ids(names: list[str]) -> list[str]:
    """One folder name per submission name, distinct by construction (also on a case-blind disk), and
    never one that another name got in another batch (a regrade reuses the results.json found there).

    A name whose stem is already safe keeps it, unless it names one of the batch's outputs or another
    name has the same stem (``a.zip`` and ``a.ipynb``, ``A.zip`` and ``a.zip``); every other name gets
    its safe form, ``+`` and a digest of the whole name (``+`` is never in a safe stem)."""
    stems = [name.rsplit(".", 1)[0] if name.lower().endswith((".zip", ".ipynb")) else name for name in names]
    safe = [_safe_id(stem) for stem in stems]
    plain = [s == stem and s.casefold() not in OUTPUT_NAMES for s, stem in zip(safe, stems)]
    stem_count = collections.Counter(s.casefold() for s, ok in zip(safe, plain) if ok)
    ids = []
    for name, s, ok in zip(names, safe, plain):
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
        ids.append(s if ok and stem_count[s.casefold()] == 1 else f"{s}+{digest[:12]}")
    if len({i.casefold() for i in ids}) < len(ids):  # two digests alike in 48 bits: never seen
        raise ValueError(f"two submissions would share a folder among {names}; rename one")
    return ids


def _gradescope_jobs(folder: Path) -> list[Job]:
    try:
        meta = yaml.load((folder / METADATA).read_text(encoding="utf-8"), Loader=_TolerantLoader) or {}
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{folder / METADATA} could not be read ({exc}); re-download the export") from exc
    jobs = []
    for key, record in sorted(meta.items(), key=lambda item: str(item[0])):
        path = folder / str(key)
        if not path.exists():
            continue
        submitters = (record or {}).get(":submitters") or [{}]
        names = [str(s.get(":name", "")) for s in submitters if isinstance(s, dict)]
        emails = [str(s.get(":email", "")) for s in submitters if isinstance(s, dict)]
        sids = [str(s.get(":sid") or "") for s in submitters if isinstance(s, dict)]
        created = (record or {}).get(":created_at") if isinstance(record, dict) else None
        # Students choose their display names: made safe to write (lone surrogates) here, once.
        jobs.append(Job(str(key), path, *(intake.clean_text("; ".join(filter(None, values)))
                                          for values in (names, emails, sids)),
                        "" if created is None else intake.clean_text(str(created))))
    for job, ident in zip(jobs, unique_ids([j.id for j in jobs])):
        job.id = ident
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
            jobs.append(Job(path.name, path))
        elif path.is_dir():
            jobs.append(Job(path.name, path))
    for job, ident in zip(jobs, unique_ids([j.id for j in jobs])):
        job.id = ident
    return jobs


def expected_cost(job: Job) -> int:
    """A cheap guess of how long a submission takes to grade: its n_iters (0 when unknown).

    Longest first keeps both workers busy to the end instead of leaving one long re-training last.
    """
    try:
        if job.path.suffix.lower() == ".zip":
            with zipfile.ZipFile(job.path) as zf:
                info = next(i for i in zf.infolist() if i.filename.endswith("train_config.yaml"))
                if info.file_size > limits.YAML_MAX_BYTES:
                    return 0
                config = intake.parse_yaml(zf.read(info), info.filename)
        else:  # never blocks on a FIFO, never reads more than the cap (intake.read_bounded)
            config = intake.read_yaml(job.path / "train_config.yaml")
        n_iters = config.get("n_iters", 0)
        return n_iters if isinstance(n_iters, int) and 0 <= n_iters <= limits.N_ITERS_MAX else 0
    except Exception:  # any oddity only means "unknown": the grading itself will report it
        return 0


def _grade_local(job: Job, cache_dir: Path | None = None) -> dict[str, Any]:
    from autograder.grader import grade

    return grade(job.path, parallel=False, cache_dir=cache_dir).to_gradescope()


def _graded(results_path: Path) -> bool:
    """Does this results.json hold a grade?  One whose grading broke ("autograder failed": a refusing
    or vanished Dask worker, the grader's own trouble) or that cannot be read is graded again."""
    return results_path.is_file() and load_row(results_path, "").status == "graded"


def grade_all(submissions: str | Path, out: str | Path, workers: int | None = None, force: bool = False,
              scheduler: str | None = None, progress: bool = True, roster: str | Path | None = None,
              notes: list[str] | None = None, strict: bool = False,
              cache: bool = True) -> list[dict[str, Any]]:
    """Grade every submission into ``out/<id>/results.json`` and write the gradebook and pages.

    Already graded submissions are skipped unless ``force``.  Returns one row per submission; what the
    instructor must read (settings problems, the roster reconciliation) is appended to ``notes``.
    A roster or a course secret that cannot be used raises ValueError before anything is graded.  Without the full
    sandbox it warns once on stderr, or with ``strict`` raises IsolationError.  With ``cache``, local
    gradings reuse the outcomes stored in ``out/.cache`` for unchanged code (autograder/run/cache.py).
    """
    from tqdm import tqdm

    from autograder import secret, settings
    from autograder.run import isolation, preflight
    from autograder.staff import lms

    preflight.require_torch()  # a torch that cannot import stops here, not in every grading of the batch
    isolation.announce(strict)
    secret.course_secret()  # a damaged one raises SecretError here, not in every grading of the batch

    notes = [] if notes is None else notes
    course = settings.load()
    notes += [f"grading.yaml: {p}" for p in course.problems]
    class_roster = lms.read_roster(roster) if roster is not None else None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = discover(submissions)
    todo = [j for j in jobs if force or not _graded(out / j.id / "results.json")]
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
    from autograder.staff import finalise as staff

    adjusted = staff.apply_adjustments(out, [job.id for job in jobs])  # on every run: FORCE=1 keeps them
    rows = [load_row(out / job.id / "results.json", job.id, name=job.name, email=job.email, sid=job.sid,
                     submitted=job.submitted) for job in jobs]
    write_pages(rows, jobs, out, course, roster, class_roster, notes, adjusted)
    return rows


def write_pages(rows: list[Row], jobs: list[Job], out: Path, course: Settings,
                roster_path: str | Path | None, roster: Roster | None, notes: list[str],
                adjustment_problems: list[str] | tuple[str, ...] = ()) -> None:
    """Everything made from the graded rows: feedback pages, gradebook.csv and summary.html, the
    similarity report, canvas.csv and the written-answers sheet (each notebook read once)."""
    from autograder import reports
    from autograder.results import leaderboard
    from autograder.staff import finalise as staff
    from autograder.staff import lms, similarity

    notebooks = load_notebooks(jobs)
    try:
        _, _, pairs = similarity.write_report(notebooks, out, course.similarity_threshold)
        sections = [similarity.summary_html(pairs, course.similarity_threshold)]
    except Exception as exc:  # a hint for staff must never cost the batch its gradebook
        pairs, sections = [], [f"<h2>Similarity</h2><p>similarity.html could not be written ({type(exc).__name__}).</p>"]
        notes.append(f"similarity.html could not be written ({type(exc).__name__}: {exc})")
    staff_notes, staff_section = staff.finalise(rows, jobs, out, course, adjustment_problems)
    notes += staff_notes
    sections.insert(0, staff_section)
    reconciliation = lms.canvas_csv(rows, out / "canvas.csv", lms.columns(course), roster=roster)
    notes += reconciliation.lines()
    notes.append(f"similarity.html: {sum(p.listed(course.similarity_threshold) for p in pairs)} pair(s) of "
                 f"submissions share at least {course.similarity_threshold:.0%} of their own graded code "
                 "(a hint for staff, never a grade).")
    sections.append(lms.summary_html(reconciliation, Path(roster_path).name if roster_path is not None else None))
    if course.leaderboard:
        sections.insert(0, leaderboard.board_html(rows, course.leaderboard_names))
    reports.write_reports(rows, out, sections=sections)
    write_grading_sheet(jobs, out / "written.html", notebooks, rows)


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


def write_grading_sheet(jobs: list[Job], path: Path, notebooks: dict[str, Any] | None = None,
                        rows: list[Row] | None = None) -> Path:
    """The TA's sheet for the hand-graded questions 1.4 and 1.5, one section per student (with the
    scores and comments of written_scores.csv so far, from the rows' final grades)."""
    from autograder.staff import written

    notebooks = load_notebooks(jobs) if notebooks is None else notebooks
    entries = []
    for job in jobs:
        answers: dict[str, str | None] = dict.fromkeys(written.ANSWER_IDS)
        if notebooks.get(job.id) is not None:
            answers = written.answers_from_notebook(notebooks[job.id])
        done = next((r.final for r in rows or [] if r.id == job.id and r.final is not None), None)
        entries.append({"student": " / ".join(filter(None, (job.name, job.id))), "id": job.id, "name": job.name,
                        **answers, "points": done.written if done else {}, "comments": done.comments if done else {}})
    path.write_text(written.grading_sheet_html(entries), encoding="utf-8")
    return path
