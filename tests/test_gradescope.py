"""The Gradescope zip, and run_autograder end to end in a Gradescope-like layout under a temporary root."""

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
import zipfile
from pathlib import Path

import make_gradescope
import pytest
import unprivileged
import variants

from autograder import secret
from autograder.run import bwrap

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="Gradescope's layout test needs root (as there)")


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    return make_gradescope.build(tmp_path_factory.mktemp("zip") / "autograder.zip")


def test_zip_layout(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        names = zf.namelist()
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
    assert {"setup.sh", "run_autograder", "requirements.txt", "HW7_utils.py", "autograder/grader.py",
            "autograder/run/child/__main__.py", "hw7core/quality_reference.npz", "hw7core/intake.py",
            "scripts/build_dataset.py"} <= set(names)
    assert modes["run_autograder"] == 0o755 and modes["setup.sh"] == 0o755
    assert not any(n.startswith(("solutions/", "tests/", "data/")) for n in names)
    # The course secret, where the unzipped grader reads it: Gradescope grades with the local gradings' one.
    with zipfile.ZipFile(autograder_zip) as zf:
        assert zf.read("secret/course_secret") == secret.course_secret()
    assert modes["secret/course_secret"] == 0o600


@pytest.fixture
def open_tmp():
    """A folder every user can enter, as Gradescope's /autograder is: pytest's tmp_path lies under a 0700
    folder, which would keep the sandbox user out whatever run_autograder does, and prove nothing."""
    path = Path(tempfile.mkdtemp(prefix="hw7-gs-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _layout(folder, autograder_zip, root_data):
    root = folder / "autograder"
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(root / "source")
    os.chmod(root / "source" / "run_autograder", 0o755)
    shutil.copytree(root_data, root / "source" / "data")  # what setup.sh builds
    root.chmod(0o755)
    folder.chmod(0o755)
    return root


def _run(root, **extra_env):
    env = {**os.environ, "HW7_GS_ROOT": str(root), "HW7_PYTHON": bwrap.interpreter(), **extra_env}
    # As on Gradescope (setup.sh installs the environment in /opt), the sandbox user can read Python.
    cmd = unprivileged.environment_view(["bash", str(root / "source" / "run_autograder")], drop_to_user=False)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_reference_submission(open_tmp, autograder_zip, root):
    gs = _layout(open_tmp, autograder_zip, root / "data")
    solution = variants.load_solution()
    model, train = variants.configs(solution)
    variants.write(gs / "submission", solution, model, {**train, "n_iters": 20})  # the run, not the training
    results = _run(gs)
    by_part = {}
    for t in results["tests"]:
        part = ".".join(t["number"].split(".")[:2])
        by_part[part] = by_part.get(part, 0) + t["score"]
    assert by_part["1.4"] == 5 and by_part["2.1"] == 50 and by_part["2.2"] == 10
    assert isinstance(results["execution_time"], (int, float))
    assert sorted(p.name for p in (gs / "results").iterdir()) == ["results.json"]  # no cache left behind
    # It graded with the zip's secret (the course's), not one of its own: a regrade there draws the same inputs.
    assert (gs / "source" / "secret" / "course_secret").read_bytes() == secret.course_secret()


# Both ways run_autograder isolates student code: the bubblewrap sandbox where it can be built in the
# container, else the unprivileged user alone (forced here with the grader's test switch).
@pytest.mark.parametrize("isolation", ["bubblewrap", "separate user"])
def test_hostile_submission_cannot_read_the_grader_or_write_results(open_tmp, autograder_zip, root, isolation):
    gs = _layout(open_tmp, autograder_zip, root / "data")
    hidden = gs / "source" / "autograder" / "judges" / "probes.py"
    course_secret = gs / "source" / "secret" / "course_secret"  # would let it compute the hidden inputs
    fake = gs / "results" / "results.json"
    solution = variants.load_solution()
    nb = variants.replace(solution, "D_KL", textwrap.dedent(f"""
        def D_KL(mu, logvar):
            Path = __import__("pathlib").Path
            try:
                Path("{fake}").write_text('{{"score": 80, "tests": []}}')
            except OSError:
                pass
            leaked = False
            for path in ("{hidden}", "{course_secret}"):
                try:
                    leaked = leaked or len(Path(path).read_bytes()) > 0
                except OSError:
                    pass
            return (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean() + (100.0 if leaked else 0.0)
        """))
    model, train = variants.configs(solution)
    variants.write(gs / "submission", nb, model, {**train, "n_iters": 20})
    results = _run(gs, **({bwrap.DISABLE_ENV: "1"} if isolation == "separate user" else {}))
    used = results["extra_data"]["isolation"]
    if used["level"] != isolation and isolation == "bubblewrap":
        pytest.skip(f"the sandbox cannot be built here ({used['reason']}); .ci/run installs bubblewrap")
    assert used["level"] == isolation
    d_kl = sum(t["score"] for t in results["tests"] if t["number"].startswith("1.4"))
    assert d_kl == 5, "the child could read the grader's source or the course secret"
    assert course_secret.is_file()  # it was there to be read
    assert results["tests"] and results["score"] != 80
