"""The judges on their own: observation dicts in, points and messages out (no child, no model)."""

from __future__ import annotations

import pytest

from autograder import judges as checks
from autograder.judges import dkl, probes, table, train, vae
from hw7core import parts


def tensor(*shape, **more):
    return {"kind": "tensor", "shape": list(shape), **more}


# --- the tables ------------------------------------------------------------------------------------
def test_the_tests_of_each_part_add_up_to_its_points():
    for part in parts.PARTS:
        assert sum(t.points for t in table.of_part(part.number)) == part.points, part.number
    assert {t.part for t in table.TESTS} == set(parts.NUMBERS)
    assert len(table.BY_NUMBER) == len(table.TESTS)  # numbers are unique


def test_public_tests_are_the_visible_quick_ones():
    assert table.PUBLIC == ("1.4.1", "2.1.1", "2.1.3", "2.1.5", "2.2.1")
    assert all(table.BY_NUMBER[n].visibility == "visible" for n in table.PUBLIC)


def test_a_blocked_part_gets_every_test_at_zero_with_the_reason():
    tests = table.zero("2.1", "No model_config.")
    assert [t.number for t in tests] == ["2.1.1", "2.1.2", "2.1.3", "2.1.4", "2.1.5", "2.1.6"]
    assert all(t.score == 0 and t.output == "No model_config." for t in tests)
    assert sum(t.max_score for t in tests) == 50


def test_the_probe_parameters_travel_in_the_job():
    assert [c["seed"] for c in checks.job_for("1.4")["cases"]] == [0, 1, 2, 11, 12, 13]
    loops = checks.job_for("2.2")["loops"]
    assert [(p["scheduler"], p["n_iters"], p["beta"], p["window"], p["batch_size"]) for p in loops] == [
        ("StepLR", 9, 0.7, 4, 16), ("Plateau", 6, 2.0, 3, 32)]
    assert checks.job_for("2.1")["probes"]["n_samples"] == 24
    assert checks.job_for("2.3") == {"n_samples": 24}


# --- 1.4 D_KL --------------------------------------------------------------------------------------
def dkl_case(value):
    return {"error": None, "describe": tensor(), "values": [value]}


def right_dkl_cases():
    cases = [dkl_case(probes.PUBLIC_DKL[seed]) for seed in probes.PUBLIC_DKL]
    return cases + [dkl_case(dkl.expected_dkl(seed, shape)) for seed, shape in probes.HIDDEN_DKL_CASES]


def test_dkl_right_everywhere_gets_full_marks():
    scores = {t.number: t.score for t in checks.judge("1.4", {"cases": right_dkl_cases()})}
    assert scores == {"1.4.1": 2.0, "1.4.2": 3.0}


def test_dkl_expected_values_match_the_notebook_and_leave_the_global_generator_alone():
    """Gradings of a batch share one process: the judge must draw from a generator of its own (a batch
    once scored a right D_KL 4/5 when another grading's thread drew from torch's global one)."""
    import torch

    assert all(abs(dkl.expected_dkl(seed, probes.PUBLIC_DKL_SHAPE) - value) < 1e-6
               for seed, value in probes.PUBLIC_DKL.items())
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    first = [dkl.expected_dkl(seed, shape) for seed, shape in probes.HIDDEN_DKL_CASES]
    assert torch.equal(torch.get_rng_state(), state)
    torch.randn(1000)  # another thread's draws in between change nothing
    assert [dkl.expected_dkl(seed, shape) for seed, shape in probes.HIDDEN_DKL_CASES] == first


def test_dkl_one_wrong_hidden_case_costs_a_third_without_quoting_it():
    cases = right_dkl_cases()
    cases[4] = dkl_case(123.0)
    public, hidden = checks.judge("1.4", {"cases": cases})
    assert public.score == 2 and hidden.score == pytest.approx(2.0)
    assert "123" not in hidden.output and "(1, 3)" in hidden.output


def test_dkl_a_wrong_public_value_is_quoted_and_scores_nothing():
    cases = right_dkl_cases()
    cases[1] = dkl_case(0.5)
    public, _ = checks.judge("1.4", {"cases": cases})
    assert public.score == 0 and "seed 1: expected 1.0280911, got 0.5" in public.output


def test_dkl_not_a_scalar_tensor_and_missing_results():
    problems = dkl.case_problems({"cases": [{"describe": tensor(10)}]})
    assert "0-dim tensor" in problems[0][1] and problems[1] == (True, "D_KL raised no result")


# --- 2.1 VAE ---------------------------------------------------------------------------------------
def test_encoder_shapes_and_chunk():
    right = {"parts": [tensor(7, 10), tensor(7, 10)], "has_output_layer": True, "chunk_diff": 0.0}
    assert vae.encoder_shapes(right, 10, 8.0) == (8.0, "Shapes are right.")
    assert vae.encoder_chunk(right, 7.0)[0] == 7.0
    wrong = {"parts": [tensor(7, 3), tensor(7, 3)], "has_output_layer": True, "chunk_diff": 0.5}
    assert vae.encoder_shapes(wrong, 10, 8.0)[0] == 0 and "(7, 10)" in vae.encoder_shapes(wrong, 10, 8.0)[1]
    assert vae.encoder_chunk(wrong, 7.0)[0] == 0
    assert "tuple (mu, logvar)" in vae.encoder_shapes({"describe": {"kind": "Tensor"}}, 10, 8.0)[1]


def test_decoder_without_gradients_gets_half():
    d = {"describe": tensor(5, 200), "finite": True, "grad_reaches_params": False}
    assert vae.decoder(d, 10, 10.0)[0] == 5.0
    assert vae.decoder({**d, "grad_reaches_params": True}, 10, 10.0)[0] == 10.0
    assert vae.decoder({**d, "finite": False}, 10, 10.0) == (0.0, "decoder(z) returned NaN or inf")


def test_reparameterisation_partial_credit():
    right = {"parts": [{}, {}, {}], "randn_like_calls": 1, "reparam_diff": 0.0, "grad_mu": True, "grad_logvar": True}
    assert vae.reparameterisation(right)[0] == 10.0
    assert vae.reparameterisation({**right, "grad_logvar": False})[0] == 6.0
    own_noise = {**right, "randn_like_calls": 0, "implied_eps_std": 1.0}
    assert vae.reparameterisation(own_noise)[0] == 7.0
    assert vae.reparameterisation({"error": "RuntimeError: x"}) == (0.0, "model(y) raised RuntimeError: x")


def test_generate_points_add_up_by_property():
    right = {"describe": tensor(24, 200, requires_grad=False), "same_seed_diff": 0.0, "other_seed_diff": 1.0,
             "z_diff": 0.0, "decoder_training": False, "encoder_calls": 0, "device_error": None,
             "device_describe": tensor(3, 200, device="cpu")}
    assert vae.generate(right) == (10.0, "generate behaves as specified.")
    assert vae.generate({**right, "decoder_training": True})[0] == 9.0
    assert vae.generate({**right, "z_diff": None, "z_mean": 0.0, "z_std": 1.0})[0] == 9.0
    assert vae.generate({**right, "describe": tensor(3, 200)})[0] == 0


def test_a_vae_that_cannot_be_built_still_scores_its_encoder_and_decoder():
    obs = {"build_error": "TypeError: bad", "latent_size": 10, "standalone": {"Encoder": "Encoder(**model_config)"},
           "encoder": {"parts": [tensor(7, 10), tensor(7, 10)], "has_output_layer": True, "chunk_diff": 0.0}}
    tests = {t.number: t for t in checks.judge("2.1", obs)}
    assert tests["2.1.1"].score == 8 and "built on its own with Encoder(**model_config)" in tests["2.1.1"].output
    assert tests["2.1.3"].score == 0 and "`Decoder` on its own: not tested" in tests["2.1.3"].output
    assert all(tests[n].score == 0 and "VAE(**model_config) failed" in tests[n].output
               for n in ("2.1.4", "2.1.5", "2.1.6"))


def test_a_vae_without_its_attributes_fails_every_test():
    tests = checks.judge("2.1", {"has": {"encoder": True, "decoder": False, "latent_size": True}})
    assert all(t.score == 0 and "attributes decoder" in t.output for t in tests)


# --- 2.2 train_VAE ---------------------------------------------------------------------------------
def loop_run(probe, convention="mean"):
    n, beta = probe.n_iters, probe.beta
    rec, prior = [0.1 * (i + 1) for i in range(n)], [0.01 * (i + 1) for i in range(n)]
    scale = 4 if convention == "sum" else 1
    total = [r + beta * scale * p for r, p in zip(rec, prior)]
    grads = [0.5] * n
    if probe.scheduler == "StepLR":
        calls = [0] * n
    else:
        calls = [sum(total[max(0, i - probe.window + 1): i + 1]) / len(total[max(0, i - probe.window + 1): i + 1])
                 for i in range(n)]
    return {"steps": n, "forward_calls": n, "batches": [probe.batch_size] * 3, "grad_at_step": grads,
            "hook_grads": [scale * g for g in grads] if convention == "sum" else grads, "trackers": 1,
            "tracker": {"n_iters": n, "rec": rec, "prior": [scale * p for p in prior], "total": total},
            "training_flags": [True] * n, "expected_rec": rec, "expected_prior": prior, "expected_grad": grads,
            "latent_dims": 4, "scheduler_calls": calls}


def right_loops(convention="mean"):
    return {p.key: loop_run(p, convention) for p in probes.LOOP_PROBES}


def test_a_right_loop_gets_full_marks_and_names_the_kl_convention():
    tests = checks.judge("2.2", right_loops())
    assert [t.score for t in tests] == [3.0, 2.0, 3.0, 1.0, 1.0]
    assert "averaged over the latent dimensions" in tests[2].output


def test_the_kl_summed_over_the_latent_dimensions_is_accepted():
    probe = probes.LOOP_PROBES[0]
    assert train.prior_convention(loop_run(probe, "sum"), probe.n_iters, probe.beta) == "sum"
    assert train.prior_convention(loop_run(probe), probe.n_iters, probe.beta) == "mean"


def test_a_loop_hard_wired_to_one_setting_loses_half():
    obs = right_loops()
    obs["plateau"]["steps"] = obs["plateau"]["forward_calls"] = 9  # n_iters ignored
    runs = checks.judge("2.2", obs)[0]
    assert runs.score == 1.5 and "with n_iters=6" in runs.output


def test_the_plateau_scheduler_needs_the_running_mean_of_its_window():
    obs = right_loops()
    obs["plateau"]["scheduler_calls"] = obs["plateau"]["tracker"]["total"]  # the last loss, not the mean
    assert train.judge_scheduler([obs["steplr"], obs["plateau"]], 1.0)[0] == 0.5
    obs["steplr"]["error"] = "RuntimeError: x"
    assert train.judge_scheduler([obs["steplr"], obs["plateau"]], 1.0) == (0.0, "train_VAE raised an error (see above)")


def test_no_train_vae_fails_every_test_with_the_reason():
    tests = checks.judge("2.2", {"missing": ["train_VAE"]})
    assert all(t.score == 0 and t.output == "No `train_VAE` found in the graded cells." for t in tests)
