"""Grading as a careful TA would (issue 11): one case per rule, each generated from the solution.

- a prior loss written inline as the KL summed over the latent dimensions, with beta scaled by d, is
  as right as D_KL's mean: 2.2 full, and the solution's 2.3 from the student's own loop;
- a D_KL with a sign error that the loop uses loses 1.4, and its 2.3 comes from the second training
  with the grader's reference loop and KL;
- a loop that never steps its scheduler loses a point of 2.2, but its 2.3 comes from its own loop;
- a syntax error in the VAE's cell keeps the Encoder's and the Decoder's points.
"""

import pytest
import variants

from autograder.grader import grade

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def solution():
    return variants.load_solution()


@pytest.fixture(scope="module")
def configs(solution):
    return variants.configs(solution)


def graded(tmp_path_factory, nb, model, train, parts=("1.4", "2.1", "2.2", "2.3")):
    folder = tmp_path_factory.mktemp("sub")
    return grade(variants.write(folder / "s", nb, model, train), parts=parts)


def find(results, number):
    return next(t for t in results.tests if t.number == number)


@pytest.fixture(scope="module")
def inline_sum(tmp_path_factory, solution, configs):
    model, train = configs
    train = {**train, "beta": train["beta"] / variants.LATENT_DIMS}  # sum = d * mean: the same loss
    return graded(tmp_path_factory, variants.inline_summed_kl(solution), model, train, parts=("1.4", "2.2", "2.3"))


@pytest.fixture(scope="module")
def wrong_sign(tmp_path_factory, solution, configs):
    return graded(tmp_path_factory, variants.wrong_sign_dkl(solution), *configs, parts=("1.4", "2.3"))


@pytest.fixture(scope="module")
def no_scheduler(tmp_path_factory, solution, configs):
    return graded(tmp_path_factory, variants.scheduler_never_stepped(solution), *configs, parts=("2.2", "2.3"))


def test_inline_summed_kl_gets_full_marks_from_its_own_loop(inline_sum):
    scores = inline_sum.part_scores()
    assert scores["2.2"] == 10, find(inline_sum, "2.2.3").output
    assert "summed over the latent dimensions" in find(inline_sum, "2.2.3").output
    assert scores["2.3"] == 15, find(inline_sum, "2.3").output  # as the solution (test_retrain.py)
    assert inline_sum.extra["retraining"] == {"kept": "own", "own_points": 15.0, "reference_points": None,
                                              "why_reference": None}
    assert "Scored from your model trained with your own train_VAE and D_KL" in find(inline_sum, "2.3").output


def test_wrong_sign_kl_loses_1_4_and_is_scored_from_the_reference_training(wrong_sign):
    scores = wrong_sign.part_scores()
    assert scores["1.4"] == 0
    info = wrong_sign.extra["retraining"]
    assert info["kept"] == "reference" and info["reference_points"] > info["own_points"], info
    assert scores["2.3"] == info["reference_points"]
    out = find(wrong_sign, "2.3").output
    assert "Scored from the training with the grader's reference loop" in out
    assert "D_KL (part 1.4) lost points" in out


def test_unstepped_scheduler_loses_a_point_but_keeps_its_own_training(no_scheduler):
    scores = no_scheduler.part_scores()
    assert 0 < scores["2.2"] < 10
    assert find(no_scheduler, "2.2.4").score == 0
    assert no_scheduler.extra["retraining"]["kept"] == "own"
    assert scores["2.3"] == no_scheduler.extra["retraining"]["own_points"]
    assert "Scored from your model trained with your own train_VAE" in find(no_scheduler, "2.3").output or (
        "Your model was trained twice" in find(no_scheduler, "2.3").output)


def test_syntax_error_in_vae_keeps_the_encoder_and_decoder_points(solution, configs, tmp_path_factory):
    nb = variants.replace(solution, "VAE", "class VAE(nn.Module):\n    def __init__(self, a, b c):\n")
    results = graded(tmp_path_factory, nb, *configs, parts=("2.1",))
    got = {t.number: t.score for t in results.tests}
    assert got["2.1.1"] + got["2.1.2"] + got["2.1.3"] == 25, [t.output for t in results.tests]
    assert got["2.1.4"] == got["2.1.5"] == got["2.1.6"] == 0
    assert "syntax error on line 3" in find(results, "2.1.5").output
    assert "built on its own" in find(results, "2.1.1").output


def test_the_worst_case_retraining_time_is_stated_where_instructors_and_students_read(root):
    from autograder import retrain

    minutes = f"{retrain.total_budget_s() / 60:g} minutes"
    assert minutes == "15 minutes"
    for doc in ("README.md", "solutions/HW7.ipynb", "notebooks/HW7.ipynb"):
        assert minutes in (root / doc).read_text(), doc
