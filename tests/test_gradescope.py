"""The Gradescope zip, and run_autograder end to end in a Gradescope-like layout under a temporary root."""

import json
import os
import shutil
import subprocess
import textwrap
import zipfile

import make_gradescope
import pytest
import unprivileged
import variants

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


def _layout(tmp_path, autograder_zip, root_data):
    root = tmp_path / "autograder"
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(root / "source")
    os.chmod(root / "source" / "run_autograder", 0o755)
    shutil.copytree(root_data, root / "source" / "data")  # what setup.sh builds
    root.chmod(0o755)
    tmp_path.chmod(0o755)
    return root


def _run(root, **extra_env):
    env = {**os.environ, "HW7_GS_ROOT": str(root), "HW7_PYTHON": bwrap.interpreter(), **extra_env}
    # As on Gradescope (setup.sh installs the environment in /opt), the sandbox user can read Python.
    cmd = unprivileged.environment_view(["bash", str(root / "source" / "run_autograder")], drop_to_user=False)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_reference_submission(tmp_path, autograder_zip, root):
    gs = _layout(tmp_path, autograder_zip, root / "data")
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


# Both ways run_autograder isolates student code: the bubblewrap sandbox where it can be built in the
# container, else the unprivileged user alone (forced here with the grader's test switch).
@pytest.mark.parametrize("isolation", ["bubblewrap", "separate user"])
def test_hostile_submission_cannot_read_the_grader_or_write_results(tmp_path, autograder_zip, root, isolation):
    gs = _layout(tmp_path, autograder_zip, root / "data")
    secret = gs / "source" / "autograder" / "judges" / "probes.py"
    fake = gs / "results" / "results.json"
    solution = variants.load_solution()
    nb = variants.replace(solution, "D_KL", textwrap.dedent(f"""
        def D_KL(mu, logvar):
            Path = __import__("pathlib").Path
            try:
                Path("{fake}").write_text('{{"score": 80, "tests": []}}')
            except OSError:
                pass
            try:
                leaked = "PUBLIC_DKL" in Path("{secret}").read_text()
            except OSError:
                leaked = False
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
    assert d_kl == 5, "the child could read the grader's source"
    assert results["tests"] and results["score"] != 80
