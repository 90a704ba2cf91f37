"""Part 2.3: the student's model re-trained in the sandbox, its samples scored; bounds and fallbacks."""

import json
import subprocess
import sys

import numpy as np
import pytest
import variants

from autograder.grader import grade
from hw7core import limits


@pytest.fixture(scope="module")
def solution():
    return variants.load_solution()


def part(results, number="2.3"):
    return next(t for t in results.tests if t.number == number)


@pytest.mark.slow
def test_reference_solution_scores_15_with_its_real_configs(solution, tmp_path):
    # 2.3 alone: the quick parts of the same solution are graded in test_grader.py (its own loop is kept
    # when they pass, and when they are not graded).
    results = grade(variants.write(tmp_path / "ref", solution), tmp_path / "out", parts=("2.3",))
    test = part(results)
    assert test.score == 15, test.output
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [t for t in written["tests"] if t["number"] == "2.3"][0]["score"] == 15
    assert "worth about" in test.output and "Re-training took" in test.output
    samples = np.array(written["extra_data"]["samples"])
    assert samples.shape == (24, 200) and np.isfinite(samples).all()
    assert written["extra_data"]["curves"]["n"] == variants.configs(solution)[1]["n_iters"]


def test_short_training_is_graded_identically_twice(solution, tmp_path):
    model, train = variants.configs(solution)
    sub = variants.write(tmp_path / "s", solution, model, {**train, "n_iters": 60})
    first = grade(sub, parts=("2.3",))
    second = grade(sub, parts=("2.3",))
    assert part(first).score == part(second).score
    assert first.extra["samples"] == second.extra["samples"]
    assert part(first).score < 15  # 60 iterations are not enough: noisy samples


def test_training_past_its_time_budget_is_named(solution, tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "TRAIN_WALL_S", 4.0)
    results = grade(variants.write(tmp_path / "s", solution), parts=("2.3",))
    assert part(results).score == 0
    assert "time budget of 4 s" in part(results).output and "n_iters <= 20000" in part(results).output


def test_a_broken_kl_is_replaced_for_the_retraining(solution, tmp_path):
    nb = variants.replace(solution, "D_KL", "def D_KL(mu, logvar):\n    return -mu.abs().mean()\n")
    model, train = variants.configs(solution)
    results = grade(variants.write(tmp_path / "s", nb, model, {**train, "n_iters": 50}), parts=("1.4", "2.2", "2.3"))
    assert results.part_scores()["1.4"] == 0 and results.part_scores()["2.2"] == 10
    assert "used the correct KL formula instead" in part(results).output


def test_a_broken_loop_is_replaced_for_the_retraining(solution, tmp_path):
    nb = variants.replace(solution, "train_VAE", "def train_VAE(model, train_dataset, **kwargs):\n"
                                                 "    raise RuntimeError('not done yet')\n")
    model, train = variants.configs(solution)
    results = grade(variants.write(tmp_path / "s", nb, model, {**train, "n_iters": 50}), parts=("2.2", "2.3"))
    assert results.part_scores()["2.2"] == 0
    assert "re-trained with the grader's reference loop" in part(results).output
    assert "samples" in results.extra


def test_score_samples_command(tmp_path, dataset):
    real = np.stack([dataset[i][0] for i in range(0, 1597, 66)][:24])
    # Halfway between two real airfoils: smooth, diverse and no copy of one (real ones score as copies).
    np.save(tmp_path / "real.npy", 0.5 * (real + np.roll(real, 1, axis=0)))
    proc = subprocess.run([sys.executable, "-m", "autograder", "score-samples", str(tmp_path / "real.npy"), "--json"],
                          capture_output=True, text=True, check=True)
    report = json.loads(proc.stdout)
    assert report["points"] == 15 and report["band"] == "smooth and diverse"
    np.save(tmp_path / "flat.npy", np.zeros((24, 200)))
    proc = subprocess.run([sys.executable, "-m", "autograder", "score-samples", str(tmp_path / "flat.npy")],
                          capture_output=True, text=True, check=True)
    assert "0 / 15" in proc.stdout or "0.0 / 15" in proc.stdout


def test_check_command(solution, tmp_path, root):
    good = variants.write(tmp_path / "good", solution, as_zip=True)
    proc = subprocess.run([sys.executable, "-m", "autograder", "check", str(good)], capture_output=True, text=True,
                          cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[PASS] 1.4 D_KL" in proc.stdout and "Public checks passed" in proc.stdout
    assert "all tests passed" not in proc.stdout.lower()  # the hidden tests have not run
    import nbformat

    student = nbformat.read(str(root / "notebooks" / "HW7.ipynb"), as_version=4)
    bad = variants.write(tmp_path / "bad", student, omit=("train_config.yaml",), as_zip=True)
    proc = subprocess.run([sys.executable, "-m", "autograder", "check", str(bad)], capture_output=True, text=True,
                          cwd=root)
    assert proc.returncode == 1
    assert "[FAIL] 1.4 D_KL" in proc.stdout and "NotImplementedError" in proc.stdout
    assert "train_config.yaml is missing" in proc.stdout
    assert "2.1.6" not in proc.stdout  # hidden tests stay hidden in the local check


def test_a_missing_loop_leaves_the_model_to_the_reference_training():
    """The student's own run no longer borrows the grader's loop (issue 21): a missing train_VAE gives no
    model there, and the reference training (its own job) trains the model; a missing VAE stays final."""
    from autograder.judges import samples as retrain
    from autograder.run.sandbox import Outcome

    no_loop = retrain.judge(Outcome(True, {"observations": {"missing": ["train_VAE"]}}))
    assert no_loop.no_model and not no_loop.model_broken
    assert retrain.second_training_reason(no_loop, []) is not None
    no_model = retrain.judge(Outcome(True, {"observations": {"missing": ["VAE", "train_VAE"]}}))
    assert no_model.model_broken and retrain.second_training_reason(no_model, []) is None
