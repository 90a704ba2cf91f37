"""Grading on a real Dask cluster: `dask scheduler` and `dask worker` processes on loopback, set up as
the README says (the kit on the workers' PYTHONPATH only), against local grading of the same batch.

Every process runs outside the kit's folder with a bounded life (`timeout`), and is killed at the end.
The batch is two variants of the solution that score differently (one with a wrong D_KL, which is also
trained a second time with the grader's loop), each re-trained for a few iterations: the cluster's work is
to grade them where the local batch does, not to train well.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import variants

from autograder import KIT_ROOT, batch, cli, cluster, secret

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
DASK = Path(sys.executable).with_name("dask")
LIFE_S = 600  # no process started here outlives this


class Process:
    """One dask process in its own session (so that it and its children can be ended together)."""

    def __init__(self, args: list[str], cwd: Path, kit: bool, env: dict[str, str] | None = None):
        env = {**{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MPLBACKEND")}, **(env or {})}
        if kit:
            env["PYTHONPATH"] = str(ROOT)
        self.log = cwd / f"{args[0]}-{time.monotonic_ns()}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(["timeout", str(LIFE_S), str(DASK), *args], cwd=cwd, env=env,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


class Cluster:
    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.file = folder / "scheduler.json"
        self.processes: list[Process] = []
        self.scheduler = self.start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                     "--scheduler-file", str(self.file)], kit=False)
        deadline = time.monotonic() + 60
        while not self.file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert self.file.is_file(), self.scheduler.log.read_text()
        time.sleep(0.2)
        self.address = json.loads(self.file.read_text())["address"]
        assert self.address.startswith("tcp://127.0.0.1:")

    def start(self, args: list[str], kit: bool, env: dict[str, str] | None = None) -> Process:
        process = Process(args, self.folder, kit, env)
        self.processes.append(process)
        return process

    def worker(self, kit: bool = True, env: dict[str, str] | None = None) -> Process:
        name = f"worker-{len(self.processes)}"
        process = self.start(["worker", "--scheduler-file", str(self.file), "--host", "127.0.0.1", "--nthreads",
                              "1", "--no-dashboard", "--death-timeout", "60", "--name", name], kit=kit, env=env)
        process.name = name
        return process

    def wait_for(self, *workers: Process) -> None:
        """Until the scheduler lists exactly these workers (one just killed may still be listed for a while)."""
        from dask.distributed import Client

        with Client(self.address, timeout="30s") as client:
            deadline = time.monotonic() + 60
            while {w["name"] for w in client.scheduler_info(n_workers=-1)["workers"].values()} != {
                    w.name for w in workers}:
                assert time.monotonic() < deadline, [w.log.read_text()[-2000:] for w in workers]
                time.sleep(0.2)

    def close(self) -> None:
        for process in reversed(self.processes):
            process.kill()


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    solution = variants.load_solution()
    model, train = variants.configs(solution)
    quick = {**train, "n_iters": 10}
    subs = tmp_path_factory.mktemp("subs")
    variants.write(subs / "good", solution, model, quick, as_zip=True)
    wrong = variants.replace(solution, "D_KL", "def D_KL(mu, logvar):\n    return mu.sum()\n")
    variants.write(subs / "wrong_kl", wrong, model, quick, as_zip=True)
    return subs


@pytest.fixture(scope="module")
def local(submissions, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    batch.grade_all(submissions, out, workers=2, progress=False, cache=False)
    return out


@pytest.fixture
def make_cluster(tmp_path):
    made = []

    def make(name: str = "cluster") -> Cluster:
        made.append(Cluster(tmp_path / name))
        return made[-1]

    yield make
    for c in made:
        c.close()


def gradebook(out: Path) -> str:
    return (out / "gradebook.csv").read_text(encoding="utf-8")


def scores(out: Path) -> dict:
    return {p.parent.name: [(t["number"], t["score"]) for t in json.loads(p.read_text())["tests"]]
            for p in sorted(out.glob("*/results.json"))}


def test_the_documented_setup_grades_as_local_grading_does(submissions, local, make_cluster, tmp_path):
    c = make_cluster()  # the scheduler has no kit: it must not need one
    c.worker(), c.worker()
    out = tmp_path / "dask"
    assert cli.main(["grade-all", str(submissions), "--out", str(out), "--scheduler", c.address]) == 0
    assert gradebook(out) == gradebook(local)
    assert scores(out) == scores(local)
    assert "graded" in gradebook(out) and "autograder failed" not in gradebook(out)
    assert scores(local)["wrong_kl"] != scores(local)["good"]


def test_no_worker_or_a_worker_without_the_kit_stops_with_a_clear_message(submissions, make_cluster, tmp_path,
                                                                           monkeypatch, capsys):
    monkeypatch.setattr(cluster, "WORKER_WAIT_S", 5.0)
    c = make_cluster()
    start = time.monotonic()
    assert cli.main(["grade-all", str(submissions), "--out", str(tmp_path / "none"), "--scheduler", c.address]) == 2
    assert time.monotonic() - start < 40
    err = capsys.readouterr().err
    assert "no Dask worker joined the scheduler" in err and "within 5 s" in err and "dask worker" in err

    bare = c.worker(kit=False)
    with pytest.raises(cluster.ClusterError) as caught:
        batch.grade_all(submissions, tmp_path / "nokit", scheduler=c.address, progress=False)
    message = str(caught.value)
    assert "cannot import the kit" in message and "No module named 'autograder'" in message
    assert "PYTHONPATH" in message and "tcp://127.0.0.1:" in message
    assert not list((tmp_path / "nokit").glob("*/results.json"))  # nothing graded by half
    bare.kill()

    # A worker with the kit but not the course secret would grade with other hidden inputs and latents.
    missing = tmp_path / "worker-home" / "course_secret"
    stranger = c.worker(env={secret.ENV_FILE: str(missing)})
    c.wait_for(stranger)  # the scheduler may still list the worker just killed: this check is about the stranger
    with pytest.raises(cluster.ClusterError) as caught:
        batch.grade_all(submissions, tmp_path / "nosecret", scheduler=c.address, progress=False)
    message = str(caught.value)
    assert "has no course secret" in message and str(missing) in message and "HW7_SECRET_FILE" in message
    assert str(secret.secret_file()) in message and not missing.exists()  # the check made no secret of its own
    assert not list((tmp_path / "nosecret").glob("*/results.json"))

    # The same worker joining after the start-up check (as if the check had not seen it): each task checks
    # the worker it runs on, which refuses to grade; the submission is recorded as failed with the reason.
    monkeypatch.setattr(cluster, "check_workers", lambda client, mine: None)
    capsys.readouterr()
    rows = batch.grade_all(submissions, tmp_path / "late", scheduler=c.address, progress=False)
    assert [r.status for r in rows] == ["autograder failed"] * 2
    reason = "refused to grade: worker tcp://127.0.0.1:"
    assert all(reason in r.tests[0].output and "has no course secret" in r.tests[0].output for r in rows)
    err = capsys.readouterr().err
    assert err.count("error: refused to grade") == 1 and "run grade-all again" in err  # said once per worker
    assert not missing.exists()
    stranger.kill()


def test_an_unreachable_scheduler_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cluster, "WORKER_WAIT_S", 3.0)
    out = tmp_path / "out"
    assert cli.main(["grade-all", str(tmp_path), "--out", str(out), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "could not reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err


def test_a_worker_that_dies_mid_batch_loses_no_grade(submissions, local, make_cluster, tmp_path):
    from dask.distributed import Client

    # One submission: the worker grading it dies, and the one left must grade it again from the start.
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(submissions / "good.zip", alone)
    c = make_cluster()
    workers = [c.worker(), c.worker()]
    out = tmp_path / "dask"
    graded = threading.Thread(target=batch.grade_all, args=(alone, out),
                              kwargs={"scheduler": c.address, "progress": False})
    graded.start()
    killed = None
    with Client(c.address, timeout="30s") as watcher:
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline:
            busy = [w for w, tasks in watcher.processing().items() if tasks]
            if busy:
                name = watcher.scheduler_info(n_workers=-1)["workers"][busy[0]]["name"]
                killed = next(w for w in workers if w.name == name)
                time.sleep(1.0)  # let it get well into its grading
                killed.kill()  # the whole machine, as it were: the nanny and its worker
            time.sleep(0.2)
    assert killed is not None, "no worker was seen grading"
    graded.join(timeout=400)
    assert not graded.is_alive()
    assert scores(out) == {"good": scores(local)["good"]}  # graded, by the worker that was left
    assert gradebook(out).splitlines()[1:] == [line for line in gradebook(local).splitlines() if line.startswith("good,")]



def test_results_come_back_as_checked_json_text_never_as_objects():
    results = {"score": 5, "tests": [{"name": "D_KL", "number": "1.4.1", "score": 5, "max_score": 5}]}
    assert cluster.results_from_wire(json.dumps(results)) == results
    for answer, why in [(results, "not the text of a results.json"),  # an object, as pickle would bring it
                        (b"\x80\x04K\x01.", "not the text of a results.json"),
                        ("{not json", "not JSON"),
                        (json.dumps({"score": 80}), "not a results.json"),
                        (" " * (cluster.RESULTS_MAX_CHARS + 1), "larger than")]:
        with pytest.raises(ValueError, match=why):
            cluster.results_from_wire(answer)


def test_a_worker_with_another_or_no_course_secret_is_named_and_one_with_the_same_can_grade():
    mine = {"version": "v", "torch": "t", "secret": secret.fingerprint(b"a" * 32), "secret_file": "/kit/secret/s"}
    same = {**mine, "secret_file": "/elsewhere/s"}  # a copy elsewhere (HW7_SECRET_FILE) is the same secret
    assert cluster.problem_of("tcp://w:1", same, mine) == ""
    other = cluster.problem_of("tcp://w:1", {**same, "secret": secret.fingerprint(b"b" * 32)}, mine)
    assert "another course secret" in other and mine["secret"] in other and "/kit/secret/s" in other
    assert "has no course secret at /elsewhere/s" in cluster.problem_of("tcp://w:1", {**same, "secret": ""}, mine)
    assert secret.fingerprint(b"a" * 32) != secret.fingerprint(b"a" * 31 + b"b")
    assert (b"a" * 32).hex()[:16] not in mine["secret"]


def test_a_worker_with_an_older_kit_is_named_by_its_version_not_a_traceback(monkeypatch):
    monkeypatch.delattr(secret, "fingerprint_if_present")  # a kit from before the secret's check
    info = cluster.kit_on_worker()
    assert info["secret"] == "" and info["secret_file"] == "?"
    mine = {"version": "new", "torch": info["torch"], "secret": "f" * 16, "secret_file": "/kit/s"}
    assert "another version of the kit" in cluster.problem_of("tcp://w:1", info, mine)


# A worker is checked against the version of every file the grading runs: a judge or an observer in a
# subpackage, the shared core, the frozen reference.  (Issue 19: only the top-level autograder/*.py counted.)
@pytest.mark.parametrize("changed", ["autograder/judges/dkl.py", "autograder/run/child/model.py",
                                     "hw7core/intake.py", "hw7core/quality_reference.npz", "HW7_utils.py"])
def test_kit_version_changes_with_any_graded_file(tmp_path, changed):
    kit = tmp_path / "kit"
    for package in cluster.GRADED_PACKAGES:
        shutil.copytree(KIT_ROOT / package, kit / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(KIT_ROOT / "HW7_utils.py", kit)
    before = cluster.kit_version(kit)
    assert cluster.kit_version(kit) == before  # deterministic
    with open(kit / changed, "ab") as handle:
        handle.write(b"\n")
    assert cluster.kit_version(kit) != before


def test_kit_version_is_of_this_kit():
    assert cluster.kit_version() == cluster.kit_version(KIT_ROOT)
    assert {Path("HW7_utils.py"), Path("autograder/judges/dkl.py"), Path("hw7core/quality_reference.npz")} <= set(
        cluster.kit_files())
