"""The outcome cache (autograder/run/cache.py): a regrade reuses what the children observed of unchanged
code, re-runs a child when anything in the key changed, never trusts a bad entry, and gives the same
scores as grading without it.  Quick parts only, plus one short re-training (undertrained.zip).
"""

import json
import logging
import shutil
import textwrap
from pathlib import Path

import pytest
import variants

from autograder import cli, grader
from autograder import judges as checks
from autograder.grader import grade
from autograder.run import cache, sandbox
from autograder.run.sandbox import Outcome

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "airfoils.npz"
JOB = {"part": "1.4", "cells": [{"index": 3, "source": "def D_KL(mu, logvar): ..."}],
       "model_config": {"latent_size": 10}, "train_config": {"n_iters": 300}, "seeds": [0, 1]}
SEEN = Outcome(True, {"observations": {"dkl": [0.93, float("nan")]}, "nonce": "abc"}, "", 1.5, "tail")


def no_child(*args, **kwargs):
    raise AssertionError("a child was started although the cache held this part's outcome")


def without_time(path: Path) -> dict:
    results = json.loads(path.read_text(encoding="utf-8"))
    results.pop("execution_time")
    return results


@pytest.fixture(scope="module")
def solution():
    return variants.load_solution()


@pytest.fixture
def store(tmp_path):
    return cache.Store(tmp_path / ".cache", DATA)


# --- the store --------------------------------------------------------------------------------
def test_an_outcome_comes_back_exactly_and_the_nonce_is_not_part_of_the_key(store):
    assert store.get(JOB, 30.0) is None
    store.put({**JOB, "nonce": "1234"}, 30.0, SEEN)
    got = store.get({**JOB, "nonce": "5678"}, 30.0)
    assert got.ok and got.cause == "" and got.seconds == 1.5 and got.output_tail == "tail"
    assert got.payload["observations"]["dkl"][0] == 0.93 and got.payload["observations"]["dkl"][1] != 0.93


@pytest.mark.parametrize("change", [
    lambda job: {**job, "cells": [{"index": 3, "source": "def D_KL(mu, logvar): return 0"}]},
    lambda job: {**job, "model_config": {"latent_size": 8}},
    lambda job: {**job, "train_config": {"n_iters": 301}},
    lambda job: {**job, "part": "2.2"},
    lambda job: {**job, "use_reference_dkl": True},  # the fallback flags
    lambda job: {**job, "seeds": [0, 2]},  # a probe parameter
], ids=["cell source", "model_config", "train_config", "part", "flags", "probe"])
def test_any_change_to_the_job_misses(store, change):
    store.put(JOB, 30.0, SEEN)
    assert store.get(change(JOB), 30.0) is None
    assert store.get(JOB, 30.0) is not None


def test_a_different_time_budget_misses(store):
    store.put(JOB, 30.0, SEEN)
    assert store.get(JOB, 60.0) is None


@pytest.mark.parametrize("what", ["child file", "reference", "data", "torch", "threads", "isolation"])
def test_any_change_to_what_the_child_runs_with_misses(tmp_path, monkeypatch, what):
    copies = {}
    for name, path in (("child", cache.CHILD_FILES[0]), ("reference", cache.REFERENCE_FILE), ("data", DATA)):
        copies[name] = tmp_path / path.name
        shutil.copy(path, copies[name])
    monkeypatch.setattr(cache, "CHILD_FILES", (copies["child"], *cache.CHILD_FILES[1:]))
    monkeypatch.setattr(cache, "REFERENCE_FILE", copies["reference"])
    before = cache.Store(tmp_path / ".cache", copies["data"])
    before.put(JOB, 30.0, SEEN)
    assert cache.Store(tmp_path / ".cache", copies["data"]).get(JOB, 30.0) is not None  # same inputs: a hit
    if what == "torch":
        monkeypatch.setattr(cache, "_torch_version", lambda: "2.99.0")
    elif what == "threads":
        monkeypatch.setattr(sandbox, "_clean_env", lambda scratch: {"OMP_NUM_THREADS": "2"})
    elif what == "isolation":  # e.g. a stricter sandbox, where some code behaves differently
        from autograder.run import isolation

        stricter = isolation.Isolation("bubblewrap", True, "separate process, bubblewrap sandbox")
        monkeypatch.setattr(isolation, "current", lambda: stricter)
    else:
        changed = {"child file": copies["child"], "reference": copies["reference"], "data": copies["data"]}[what]
        with open(changed, "ab") as handle:
            handle.write(b"\n# one more byte\n")
    assert cache.Store(tmp_path / ".cache", copies["data"]).get(JOB, 30.0) is None


def test_the_hashed_child_files_are_those_the_sandbox_copies(tmp_path):
    sandbox.prepare_scratch(tmp_path / "scratch", DATA)
    copied = {p.name for p in (tmp_path / "scratch").rglob("*") if p.is_file() and p.name != "airfoils.npz"}
    assert copied == {p.name for p in cache.CHILD_FILES}


def test_a_hang_is_kept_but_a_cancelled_or_unstarted_child_is_not(store):
    hang = Outcome(False, {}, "it ran longer than its time budget of 30 s and was stopped", 30.0)
    store.put(JOB, 30.0, hang)
    assert store.get(JOB, 30.0).cause == hang.cause
    unstarted = Outcome(False, {}, "the grader could not start its test process (exit code 1)", not_the_students=True)
    store.put({**JOB, "part": "2.1"}, 30.0, unstarted)
    assert store.get({**JOB, "part": "2.1"}, 30.0) is None
    # The outcome's field decides, not its wording (issue 19, defect 4): reworded, it is still not kept.
    store.put({**JOB, "part": "2.2"}, 30.0, Outcome(False, {}, "the sandbox broke", not_the_students=True))
    assert store.get({**JOB, "part": "2.2"}, 30.0) is None


@pytest.mark.parametrize("cause", ["cancelled by the grader", "stopped: the grader re-runs it with its own loop"])
def test_a_run_the_grader_stopped_is_not_kept_whatever_its_message_says(store, cause):
    """The cancel event decides, not the wording: a reworded message caches the same."""
    import threading

    cancel = threading.Event()
    stopped = Outcome(False, {}, cause, 3.0)

    def run():
        cancel.set()  # the grader stops the child while it runs
        return stopped

    assert store.reuse({**JOB, "part": "2.3"}, 600.0, run, cancel) is stopped
    assert store.get({**JOB, "part": "2.3"}, 600.0) is None
    assert store.reuse({**JOB, "part": "2.2"}, 30.0, lambda: stopped, threading.Event()) is stopped
    assert store.get({**JOB, "part": "2.2"}, 30.0).cause == cause  # not stopped by the grader: the student's


@pytest.mark.parametrize("spoil", ["not json", "wrong format", "key mismatch", "bad outcome", "too large"])
def test_a_corrupt_or_foreign_entry_is_ignored_with_a_warning_and_run_again(store, caplog, spoil):
    store.put(JOB, 30.0, SEEN)
    path = store.path(store.key(JOB, 30.0))
    entry = json.loads(path.read_text())
    if spoil == "not json":
        path.write_text('{"format": 1, "key": ')
    elif spoil == "wrong format":
        path.write_text(json.dumps({**entry, "format": cache.FORMAT + 1}))
    elif spoil == "key mismatch":  # e.g. another job's entry copied under this name
        path.write_text(json.dumps({**entry, "key": "0" * 64}))
    elif spoil == "bad outcome":
        path.write_text(json.dumps({**entry, "outcome": {**entry["outcome"], "ok": "yes"}}))
    else:
        path.write_bytes(b" " * (cache.ENTRY_MAX_BYTES + 1))
    with caplog.at_level(logging.WARNING, logger="autograder.run.cache"):
        assert store.get(JOB, 30.0) is None
    assert "ignored cache entry" in caplog.text and str(path) in caplog.text
    fresh = Outcome(True, {"observations": {"dkl": [1.0]}}, "", 2.0)
    assert store.reuse(JOB, 30.0, lambda: fresh) is fresh  # run again, and the entry replaced
    assert store.get(JOB, 30.0).payload == fresh.payload


# --- through the grader -----------------------------------------------------------------------
def test_a_regrade_reuses_the_outcomes_and_redoes_the_judging(solution, tmp_path, monkeypatch):
    sub = variants.write(tmp_path / "sub", solution)
    cache_dir = tmp_path / "out" / ".cache"
    first = grade(sub, tmp_path / "out", parts=("1.4", "2.1", "2.2"), cache_dir=cache_dir)
    assert len(list(cache_dir.rglob("*.json"))) == 3
    monkeypatch.setattr(grader, "Child", no_child)
    second = grade(sub, tmp_path / "again", parts=("1.4", "2.1", "2.2"), cache_dir=cache_dir)
    assert without_time(tmp_path / "out" / "results.json") == without_time(tmp_path / "again" / "results.json")
    assert second.score == first.score == 65
    judge = checks.JUDGES["1.4"]  # a TA changes a message: picked up without running the child

    def reworded(observations, points):
        verdicts = judge(observations, points)
        verdicts["1.4.1"] = (verdicts["1.4.1"][0], "a new message")
        return verdicts

    monkeypatch.setitem(checks.JUDGES, "1.4", reworded)
    third = grade(sub, parts=("1.4",), cache_dir=cache_dir)
    assert [t.output for t in third.tests][0] == "a new message"


def test_changed_student_code_is_run_again(solution, tmp_path):
    cache_dir = tmp_path / ".cache"
    grade(variants.write(tmp_path / "a", solution), parts=("1.4",), cache_dir=cache_dir)
    wrong = variants.replace(solution, "D_KL", textwrap.dedent("""
        def D_KL(mu, logvar):
            return (0.5 * (mu.pow(2) + logvar.exp() - 1 + logvar)).mean()
        """))
    results = grade(variants.write(tmp_path / "b", wrong), parts=("1.4",), cache_dir=cache_dir)
    assert results.part_scores()["1.4"] == 0
    assert len(list(cache_dir.rglob("*.json"))) == 2


def test_a_cached_retraining_scores_exactly_as_the_first(solution, tmp_path, monkeypatch):
    model, train = variants.configs(solution)
    sub = variants.write(tmp_path / "sub", solution, model, {**train, "n_iters": 40})  # the one re-training here
    cache_dir = tmp_path / ".cache"
    first = grade(sub, tmp_path / "first", cache_dir=cache_dir)
    monkeypatch.setattr(grader, "Child", no_child)  # a regrade starts no interpreter at all, in parallel too
    second = grade(sub, tmp_path / "second", cache_dir=cache_dir)
    assert "2.3" in first.part_scores() and first.extra.get("samples"), first.summary()
    assert second.score == first.score, [t.output for t in second.tests]
    assert without_time(tmp_path / "first" / "results.json") == without_time(tmp_path / "second" / "results.json")
    assert second.extra["samples"] == first.extra["samples"]


def test_the_command_line_caches_by_default_and_not_with_no_cache(solution, tmp_path, monkeypatch):
    real_grade = grader.grade
    monkeypatch.setattr(grader, "grade", lambda *a, **k: real_grade(*a, **k, parts=("1.4",)))
    sub = variants.write(tmp_path / "sub", solution)
    assert cli.main(["grade", str(sub), "--out", str(tmp_path / "cached")]) == 0
    assert list((tmp_path / "cached" / ".cache").rglob("*.json"))
    assert cli.main(["grade", str(sub), "--out", str(tmp_path / "plain"), "--no-cache"]) == 0
    assert (tmp_path / "plain" / "results.json").is_file() and not (tmp_path / "plain" / ".cache").exists()


def test_grade_all_keeps_its_cache_in_the_output_folder_unless_told_not_to(root, tmp_path, monkeypatch):
    from autograder import batch

    real_grade = grader.grade
    monkeypatch.setattr(grader, "grade", lambda *a, **k: real_grade(*a, **k, parts=("1.4",)))
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(root / "examples" / "submissions" / "reference.zip", subs)
    batch.grade_all(subs, tmp_path / "cached", workers=1, progress=False)
    assert list((tmp_path / "cached" / ".cache").rglob("*.json"))
    batch.grade_all(subs, tmp_path / "plain", workers=1, progress=False, cache=False)
    assert (tmp_path / "plain" / "reference" / "results.json").is_file()
    assert not (tmp_path / "plain" / ".cache").exists()
