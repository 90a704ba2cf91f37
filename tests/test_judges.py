"""The judges on their own: the parent's inputs and typed observations in, points and messages out (no child)."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import pytest

from autograder import judges as checks
from autograder.judges import dkl, probes, table, train, vae
from autograder.run.child import protocol
from hw7core import parts

ROOT = Path(__file__).resolve().parent.parent


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


KEY = b"one submission"
OTHER = b"another submission"
SECRET = b"a course secret for the tests...."


def test_hidden_inputs_come_from_the_secret_and_the_submission_and_public_ones_stay():
    """Issue 21: the same submission gets the same inputs (regrades, the cache); another submission or
    another course secret other ones; the notebook's public D_KL seeds never change."""
    for part in parts.QUICK:
        assert probes.inputs_for(part, KEY, SECRET) == probes.inputs_for(part, KEY, SECRET)
        assert probes.inputs_for(part, KEY, SECRET) != probes.inputs_for(part, OTHER, SECRET)
        assert probes.inputs_for(part, KEY, SECRET) != probes.inputs_for(part, KEY, b"another secret, same length")
    cases = probes.inputs_for("1.4", KEY, SECRET).cases
    assert sorted(c.seed for c in cases if probes.is_public(c)) == list(probes.PUBLIC_DKL)
    assert sorted(c.shape for c in cases if not probes.is_public(c)) == sorted(
        list(shape) for _, shape in probes.HIDDEN_DKL_CASES)
    orders = {tuple(probes.is_public(c) for c in probes.dkl_inputs(str(i).encode(), SECRET).cases) for i in range(50)}
    assert len(orders) > 5  # the public cases' places are secret too
    assert checks.inputs_for("2.3", KEY) is None and checks.job_for("2.3") == {}


def test_the_derived_inputs_stay_in_their_ranges():
    for i in range(200):
        vae_in = probes.vae_inputs(str(i).encode(), SECRET)
        for name, (low, high) in probes.VAE_RANGES.items():
            assert low <= getattr(vae_in, name) <= high
        assert vae_in.generate_seeds[0] != vae_in.generate_seeds[1]
        loops = probes.loop_inputs(str(i).encode(), SECRET)
        assert [p.scheduler for p in loops.probes] == ["StepLR", "Plateau"]
        assert all(3 * p.batch_size <= loops.dataset_size and p.n_iters >= 5 for p in loops.probes)


def test_the_job_carries_derived_numbers_never_the_secret(tmp_path, monkeypatch):
    from autograder import secret

    monkeypatch.setenv(secret.ENV_FILE, str(tmp_path / "s"))
    course = secret.course_secret()
    text = json.dumps([checks.job_for(part, KEY) for part in parts.QUICK])
    assert course.hex() not in text and str(int.from_bytes(course[:8], "big")) not in text
    inputs = protocol.load(protocol.VaeInputs, checks.job_for("2.1", KEY)["inputs"])
    assert inputs == probes.vae_inputs(KEY)


def test_the_dispatch_tables_are_the_parts():
    """Issue 19 (declared once): judges, inputs, observations and the child's observers are keyed by parts.py."""
    import ast

    assert list(checks.JUDGES) == list(parts.QUICK)
    assert set(probes.INPUTS) == set(protocol.INPUTS) == set(protocol.SEEN) == set(parts.QUICK)
    source = (ROOT / "autograder" / "run" / "child" / "__main__.py").read_text()
    observers = next(ast.literal_eval(node.value) for node in ast.walk(ast.parse(source))
                     if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "OBSERVERS")
    assert list(observers) == list(parts.NUMBERS)
    from autograder.run.child import runtime  # the parts whose children step an optimizer: the loop's, 2.3

    assert set(runtime.TRAINING_PARTS) == {p.number for p in parts.PARTS if p.retrains or "train_VAE" in p.names}


def test_every_quick_test_says_what_its_points_rest_on():
    for t in table.TESTS:
        assert t.rests_on and 0 <= t.on_report <= 1, t.number
        assert (t.on_report > 0) == ("child's report" in t.rests_on), t.number


# --- the protocol ----------------------------------------------------------------------------------
def test_load_keeps_declared_fields_of_declared_types_only():
    seen = protocol.load(protocol.DklSeen, {"cases": [{"kind": "Tensor", "items": [{"shape": [], "values": [0.5]}],
                                                       "points": 5}], "score": 80, "missing": "D_KL"})
    assert seen.cases[0].tensor().values == [0.5] and seen.missing == []
    assert not hasattr(seen, "score") and not hasattr(seen.cases[0], "points")
    assert protocol.load(protocol.LoopRun, {"steps": True, "hook_grads": [1, "x"]}) == protocol.LoopRun()
    assert protocol.load(protocol.DklSeen, "not a dict") == protocol.DklSeen()


# --- 1.4 D_KL --------------------------------------------------------------------------------------
def scalar(value):
    return protocol.Call(kind="Tensor", items=[protocol.Tensor(shape=[], values=[value])])


def dkl_trial(values=None, key=KEY):
    inputs = probes.dkl_inputs(key, SECRET)
    right = [probes.PUBLIC_DKL[c.seed] if probes.is_public(c) else dkl.expected_dkl(c.seed, tuple(c.shape))
             for c in inputs.cases]
    return inputs, [scalar(v) for v in (values or right)]


def judge_dkl(inputs, cases):
    return checks.judge("1.4", {"cases": [protocol.dump(c) for c in cases]}, inputs)


def test_dkl_right_everywhere_gets_full_marks():
    scores = {t.number: t.score for t in judge_dkl(*dkl_trial())}
    assert scores == {"1.4.1": 2.0, "1.4.2": 3.0}


def test_dkl_right_values_of_another_submission_fail():
    _, replayed = dkl_trial(key=OTHER)
    public, hidden = judge_dkl(probes.dkl_inputs(KEY, SECRET), replayed)
    assert public.score == 0 and hidden.score == 0


def test_dkl_expected_values_match_the_notebook_and_leave_the_global_generator_alone():
    """Gradings of a batch share one process: the judge must draw from a generator of its own (a batch
    once scored a right D_KL 4/5 when another grading's thread drew from torch's global one)."""
    import torch

    assert all(abs(dkl.expected_dkl(seed, probes.PUBLIC_DKL_SHAPE) - value) < 1e-6
               for seed, value in probes.PUBLIC_DKL.items())
    cases = [c for c in probes.dkl_inputs(KEY, SECRET).cases if not probes.is_public(c)]
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    first = [dkl.expected_dkl(c.seed, tuple(c.shape)) for c in cases]
    assert torch.equal(torch.get_rng_state(), state)
    torch.randn(1000)  # another thread's draws in between change nothing
    assert [dkl.expected_dkl(c.seed, tuple(c.shape)) for c in cases] == first


def test_dkl_one_wrong_hidden_case_costs_a_third_without_quoting_it():
    inputs, cases = dkl_trial()
    cases[next(i for i, c in enumerate(inputs.cases) if c.shape == [1, 3])] = scalar(123.0)
    public, hidden = judge_dkl(inputs, cases)
    assert public.score == 2 and hidden.score == pytest.approx(2.0)
    assert "123" not in hidden.output and "(1, 3)" in hidden.output


def test_dkl_a_wrong_public_value_is_quoted_and_scores_nothing():
    inputs, cases = dkl_trial()
    cases[next(i for i, c in enumerate(inputs.cases) if probes.is_public(c) and c.seed == 1)] = scalar(0.5)
    public, _ = judge_dkl(inputs, cases)
    assert public.score == 0 and "seed 1: expected 1.0280911, got 0.5" in public.output


def test_dkl_not_a_scalar_tensor_and_missing_results():
    inputs = probes.dkl_inputs(KEY, SECRET)
    vector = protocol.Call(kind="Tensor", items=[protocol.Tensor(shape=[10], values=[0.0] * 10)])
    problems = dkl.case_problems(inputs, [vector])
    assert "0-dim tensor" in problems[0][1] and problems[1][1] == "D_KL raised no result"


# --- 2.1 VAE ---------------------------------------------------------------------------------------
def as_call(*tensors, kind=None, requires_grad=False):

    items = [protocol.Tensor(shape=list(t.shape), values=t.detach().double().flatten().tolist(),
                             requires_grad=requires_grad) for t in tensors]
    if len(tensors) == 1 and kind is None:
        return protocol.Call(kind="Tensor", items=items)
    return protocol.Call(kind=kind or "tuple", length=len(tensors), items=items)


class Honest:
    """What the child sees of the solution's VAE (a tiny one: linear maps) on one grading's inputs."""

    def __init__(self, key=KEY, latent=4):
        import torch

        torch.manual_seed(0)
        self.inputs, self.latent = probes.vae_inputs(key, SECRET), latent
        self.enc, self.dec = torch.nn.Linear(200, 2 * latent), torch.nn.Linear(latent, 200)

    def encoder(self):
        from autograder.run.child.model import drawn

        out = self.enc(drawn(self.inputs.encoder_seed, self.inputs.encoder_batch, 200))
        mu, logvar = out.chunk(2, dim=-1)
        return protocol.EncoderSeen(call=as_call(mu, logvar), layer_found=True, layer_out=as_call(out).items[0])

    def forward(self):
        import torch

        from autograder.run.child.model import drawn

        mu, logvar = self.enc(drawn(self.inputs.forward_seed, self.inputs.forward_batch, 200)).chunk(2, dim=-1)
        z = mu + torch.exp(0.5 * logvar) * drawn(self.inputs.eps_seed, *mu.shape)
        y_hat = self.dec(z)
        g_mu, g_logvar = torch.autograd.grad(y_hat.sum(), [mu, logvar])
        return protocol.ForwardSeen(call=as_call(y_hat, mu, logvar), randn_like_calls=1, z=as_call(z).items[0],
                                    grad_mu=as_call(g_mu).items[0], grad_logvar=as_call(g_logvar).items[0])

    def generate(self, samples=None):
        from autograder.run.child.model import drawn

        n, (seed, other) = self.inputs.n_samples, self.inputs.generate_seeds
        z = drawn(seed, n, self.latent)
        out = self.dec(z).detach()
        first = samples if samples is not None else out
        return protocol.GenerateSeen(
            first=as_call(first), again=as_call(first), other=as_call(self.dec(drawn(other, n, self.latent))),
            decoded_eval=as_call(out), decoded_train=as_call(out), decoded_seen=as_call(out), z=as_call(z).items[0],
            z_stats=[0.0, 1.0], decoder_training=False, encoder_calls=0,
            device=as_call(self.dec(z[: self.inputs.device_samples]).detach()))

    def seen(self, **changes):
        from autograder.run.child.model import drawn

        inputs = self.inputs
        decoded = self.dec(drawn(inputs.decoder_seed, inputs.decoder_batch, self.latent))
        seen = protocol.VaeSeen(latent_size=self.latent, has=dict.fromkeys(("encoder", "decoder", "latent_size"), True),
                                encoder=self.encoder(), forward=self.forward(), generate=self.generate(),
                                decoder=protocol.DecoderSeen(call=as_call(decoded), grad_reaches_params=True))
        for name, value in changes.items():
            setattr(seen, name, value)
        return seen


def judge_vae(seen, inputs):
    return {t.number: t for t in checks.judge("2.1", protocol.dump(seen), inputs)}


@pytest.fixture(scope="module")
def honest():
    return Honest()


def test_the_honest_vae_gets_full_marks(honest):
    tests = judge_vae(honest.seen(), honest.inputs)
    assert {n: t.score for n, t in tests.items()} == {t.number: t.points for t in table.of_part("2.1")}, [
        t.output for t in tests.values()]


def test_the_same_observations_under_another_submissions_inputs_fail(honest):
    """A report recorded from a correct submission, replayed under another submission's inputs."""
    tests = judge_vae(honest.seen(), probes.vae_inputs(OTHER, SECRET))
    assert sum(t.score for t in tests.values()) < 10, {n: t.score for n, t in tests.items()}


def test_encoder_shapes_and_chunk(honest):
    enc, batch = honest.encoder(), honest.inputs.encoder_batch
    assert vae.encoder_shapes(enc, 4, batch, 8.0) == (8.0, "Shapes are right.")
    assert vae.encoder_chunk(enc, 4, batch, 7.0)[0] == 7.0
    swapped = protocol.EncoderSeen(call=protocol.Call(kind="tuple", length=2, items=enc.call.items[::-1]),
                                   layer_found=True, layer_out=enc.layer_out)
    assert vae.encoder_chunk(swapped, 4, batch, 7.0)[0] == 0
    assert vae.encoder_shapes(enc, 3, batch, 8.0)[0] == 0 and f"({batch}, 3)" in vae.encoder_shapes(enc, 3, batch, 8.0)[1]
    assert "tuple (mu, logvar)" in vae.encoder_shapes(protocol.EncoderSeen(call=protocol.Call(kind="Tensor")), 4,
                                                      batch, 8.0)[1]


def test_decoder_without_gradients_gets_half(honest):
    d = honest.seen().decoder
    batch = honest.inputs.decoder_batch
    assert vae.decoder(d, 4, batch, 10.0)[0] == 10.0
    d.grad_reaches_params = False
    assert vae.decoder(d, 4, batch, 10.0)[0] == 5.0
    d.call.items[0].values[0] = None
    assert vae.decoder(d, 4, batch, 10.0) == (0.0, "decoder(z) returned NaN or inf")


def test_reparameterisation_is_checked_against_the_parents_eps(honest):
    f = honest.forward()
    assert vae.reparameterisation(f, honest.inputs, 10.0)[0] == 10.0
    f.grad_logvar = None
    assert vae.reparameterisation(f, honest.inputs, 10.0)[0] == 6.0
    own_noise = honest.forward()
    own_noise.randn_like_calls = 0  # its own eps: z is still mu + sigma * (something standard normal)
    assert vae.reparameterisation(own_noise, honest.inputs, 10.0)[0] == 7.0
    other = probes.vae_inputs(OTHER, SECRET)
    assert vae.reparameterisation(f, other, 10.0)[0] == 0  # another grading's eps and batch
    assert vae.reparameterisation(protocol.ForwardSeen(call=protocol.Call(error="RuntimeError: x")), other, 10.0) == (
        0.0, "model(y) raised RuntimeError: x")


def test_generate_points_add_up_by_property(honest):
    g = honest.generate()
    assert vae.generate(g, honest.inputs, 4, 10.0) == (10.0, "generate behaves as specified.")
    g.decoder_training = True
    assert vae.generate(g, honest.inputs, 4, 10.0)[0] == 9.0
    g = honest.generate()
    g.z = None  # z not seen as the seed's prior draw, but standard normal
    assert vae.generate(g, honest.inputs, 4, 10.0)[0] == 9.0
    g.first = as_call(honest.dec(torch_zeros(3, 4)))
    assert vae.generate(g, honest.inputs, 4, 10.0)[0] == 0


def torch_zeros(*shape):
    import torch

    return torch.zeros(*shape)


def test_generate_returning_training_airfoils_gets_the_shape_share_only(honest, dataset):
    import torch

    airfoils = torch.tensor(dataset.y[: honest.inputs.n_samples])
    g = honest.generate(samples=airfoils)  # z drawn and decoded as asked, then real airfoils returned
    score, message = vae.generate(g, honest.inputs, 4, 10.0)
    assert score == 2.0 and "not your decoder's output" in message


def test_judges_score_out_of_their_rows_points(honest, monkeypatch):
    """Issue 19, defect 3: README's recipe (take 2 points from 2.1.6 for a new test) must scale, not clamp."""
    g = honest.generate()
    g.decoder_training = True  # 9/10 of 2.1.6
    seen = honest.seen(generate=g, forward=protocol.ForwardSeen(
        call=honest.forward().call, randn_like_calls=0, z=honest.forward().z))  # eps implied only, no grads
    rows = [dataclasses.replace(t, points=8.0) if t.number in ("2.1.4", "2.1.6") else t for t in table.TESTS]
    monkeypatch.setattr(table, "TESTS", tuple(rows))
    tests = judge_vae(seen, honest.inputs)
    assert tests["2.1.6"].max_score == 8 and tests["2.1.6"].score == pytest.approx(7.2)
    assert tests["2.1.4"].score == pytest.approx(0.3 * 8)


def test_a_vae_that_cannot_be_built_still_scores_its_encoder_and_decoder(honest):
    seen = protocol.VaeSeen(build_error="TypeError: bad", latent_size=4,
                            standalone={"Encoder": "Encoder(**model_config)"}, encoder=honest.encoder())
    tests = judge_vae(seen, honest.inputs)
    assert tests["2.1.1"].score == 8 and "built on its own with Encoder(**model_config)" in tests["2.1.1"].output
    assert tests["2.1.3"].score == 0 and "`Decoder` on its own: not tested" in tests["2.1.3"].output
    assert all(tests[n].score == 0 and "VAE(**model_config) failed" in tests[n].output
               for n in ("2.1.4", "2.1.5", "2.1.6"))


def test_a_vae_without_its_attributes_fails_every_test(honest):
    seen = protocol.VaeSeen(has={"encoder": True, "decoder": False, "latent_size": True})
    assert all(t.score == 0 and "attributes decoder" in t.output for t in judge_vae(seen, honest.inputs).values())


# --- 2.2 train_VAE ---------------------------------------------------------------------------------
def loop_run(inputs, probe, convention="mean"):
    """What the child reports of a right loop: sequential batches, the tracked values the parent expects."""
    n, beta, size = probe.n_iters, probe.beta, inputs.dataset_size
    rows = [[(i * probe.batch_size + j) % size for j in range(probe.batch_size)] for i in range(n)]
    run = protocol.LoopRun(rows=rows)
    expected = train.expected_steps(run, inputs, beta)
    scale = 10 if convention == "sum" else 1
    rec, prior = expected["expected_rec"], [scale * p for p in expected["expected_prior"]]
    total = [r + beta * p for r, p in zip(rec, prior)]
    grads = [scale * g for g in expected["expected_grad"]]
    if probe.scheduler == "StepLR":
        calls = [0] * n
    else:
        calls = [sum(total[max(0, i - probe.window + 1): i + 1]) / len(total[max(0, i - probe.window + 1): i + 1])
                 for i in range(n)]
    return dataclasses.replace(run, steps=n, grad_at_step=grads, hook_grads=grads, trackers=1,
                               tracker=protocol.TrackerSeen(n_iters=n, rec=rec, prior=prior, total=total),
                               training_flags=[True] * n, scheduler_calls=calls)


def right_loops(inputs, convention="mean"):
    return protocol.LoopSeen(runs=[loop_run(inputs, p, convention) for p in inputs.probes])


@pytest.fixture(scope="module")
def loop_inputs():
    return probes.loop_inputs(KEY, SECRET)


def judge_loops(seen, inputs):
    return checks.judge("2.2", protocol.dump(seen), inputs)


def test_a_right_loop_gets_full_marks_and_names_the_kl_convention(loop_inputs):
    tests = judge_loops(right_loops(loop_inputs), loop_inputs)
    assert [t.score for t in tests] == [3.0, 2.0, 3.0, 1.0, 1.0], [t.output for t in tests]
    assert "averaged over the latent dimensions" in tests[2].output


def test_the_kl_summed_over_the_latent_dimensions_is_accepted(loop_inputs):
    tests = judge_loops(right_loops(loop_inputs, "sum"), loop_inputs)
    assert tests[2].score == 3.0 and "summed over the latent dimensions" in tests[2].output


def test_a_right_loop_replayed_under_another_submissions_probes_fails(loop_inputs):
    tests = judge_loops(right_loops(probes.loop_inputs(OTHER, SECRET)), loop_inputs)
    assert sum(t.score for t in tests) == 0, [(t.number, t.score) for t in tests]


def test_a_loop_hard_wired_to_one_setting_loses_half(loop_inputs):
    seen = right_loops(loop_inputs)
    plateau = seen.runs[1]
    plateau.rows, plateau.steps = plateau.rows + plateau.rows[:2], plateau.steps + 2  # n_iters ignored
    runs = judge_loops(seen, loop_inputs)[0]
    assert runs.score == 1.5 and f"with n_iters={loop_inputs.probes[1].n_iters}" in runs.output


def test_the_plateau_scheduler_needs_the_running_mean_of_its_window(loop_inputs):
    seen = right_loops(loop_inputs)
    steplr, plateau = seen.runs
    plateau.scheduler_calls = plateau.tracker.total  # the last loss, not the mean
    assert train.judge_scheduler(seen.runs, loop_inputs.probes, 1.0)[0] == 0.5
    steplr.error = "RuntimeError: x"
    assert train.judge_scheduler(seen.runs, loop_inputs.probes, 1.0) == (0.0, "train_VAE raised an error (see above)")


def test_the_losses_are_judged_against_the_parents_own_computation(loop_inputs):
    seen = right_loops(loop_inputs)
    for run in seen.runs:  # beta forgotten: total = rec + prior
        run.tracker.total = [r + p for r, p in zip(run.tracker.rec, run.tracker.prior)]
    assert judge_loops(seen, loop_inputs)[2].score == 0
    seen = right_loops(loop_inputs)
    seen.runs[0].rows[0] = [loop_inputs.dataset_size + 5] * len(seen.runs[0].rows[0])  # rows not the probe's
    assert judge_loops(seen, loop_inputs)[2].score == 1.5


def test_no_train_vae_fails_every_test_with_the_reason(loop_inputs):
    tests = judge_loops(protocol.LoopSeen(missing=["train_VAE"]), loop_inputs)
    assert all(t.score == 0 and t.output == "No `train_VAE` found in the graded cells." for t in tests)


# --- the channel -----------------------------------------------------------------------------------
def lines(*messages):
    return b"".join(json.dumps(m).encode() + b"\n" for m in messages)


def test_the_channel_accepts_the_jobs_first_report_only():
    from autograder.run.channel import parse as _parse

    started = {"started": True, "nonce": "n", "part": "1.4"}
    real = {"observations": {"cases": []}, "cell_errors": [], "nonce": "n", "part": "1.4"}
    forged = {**real, "observations": {"cases": [], "forged": True}}
    assert _parse(lines(started, real), "n", "1.4") == real
    after = _parse(lines(started, real, forged), "n", "1.4")
    assert after["observations"] == real["observations"] and "1 x a second report" in after["ignored"][0]
    before = _parse(lines(started, forged, real), "n", "1.4")  # only what those outputs earn (test_integrity.py)
    assert before["observations"] == forged["observations"]
    claims = _parse(lines(started, {**real, "score": 80, "tests": []}, real, {**real, "part": "2.1"},
                          {**real, "nonce": "m"}), "n", "1.4")
    assert claims["observations"] == real["observations"]
    assert "claiming more than a report (score, tests)" in claims["ignored"][0]
    assert "2 x a message for another job or part" in claims["ignored"][0]
    assert _parse(lines(started, {**real, "score": 80}), "n", "1.4") is None


def test_hidden_dkl_cases_tell_a_flipped_logvar_sign_from_the_right_formula():
    """A wrong sign of logvar is off by mean(logvar); the hidden seeds keep that far above the tolerance
    (a random (128, 10) draw once made it 1.4e-5, and the wrong_kl example passed that case)."""
    import torch

    from autograder.judges.common import close

    for i in range(40):
        for case in probes.dkl_inputs(str(i).encode(), SECRET).cases:
            if probes.is_public(case):
                continue
            generator = torch.Generator().manual_seed(case.seed)
            mu, logvar = torch.randn(*case.shape, generator=generator), torch.randn(*case.shape, generator=generator)
            right = float((0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean())
            flipped = float((0.5 * (mu.pow(2) + logvar.exp() - 1 + logvar)).mean())
            assert not close(flipped, right), (i, case.shape)


def test_a_seed_whose_logvar_averages_near_zero_is_skipped():
    """The seed a grading of the wrong_kl example drew: its (128, 10) logvar averages 1.4e-5, so a flipped
    sign passed that hidden case."""
    import random

    class Draws(random.Random):
        def __init__(self, values):
            super().__init__(0)
            self.values = list(values)

        def getrandbits(self, k):
            return self.values.pop(0) if self.values else super().getrandbits(k)

    bad = 3346887073505659546
    assert probes._dkl_seed(Draws([bad, 12345]), (128, 10)) == 12345


def test_a_fresh_kit_creates_one_secret_whatever_asks_for_it_at_once(tmp_path):
    """The first grading of a fresh clone asks for the secret from the parts' threads at once (and a batch
    from several gradings): every caller gets the same secret, none an error (seen in CI: FileExistsError
    on the temporary file, and the grading lost)."""
    from concurrent.futures import ThreadPoolExecutor

    from autograder import secret

    for attempt in range(20):
        path = tmp_path / str(attempt) / "course_secret"
        barrier = threading.Barrier(8)

        def ask(_, path=path, barrier=barrier):
            barrier.wait()
            return secret.course_secret(path)

        with ThreadPoolExecutor(8) as pool:
            got = set(pool.map(ask, range(8)))
        assert got == {path.read_bytes()} and len(path.read_bytes()) == secret.SECRET_BYTES
        assert [p.name for p in path.parent.iterdir()] == ["course_secret"]  # no temporary file left
        assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("damage", ["short", "a folder"])
def test_a_damaged_course_secret_stops_grading_and_the_zip_with_its_fix_not_a_traceback(tmp_path, monkeypatch,
                                                                                       capsys, damage):
    import make_gradescope

    from autograder import cli, secret

    path = tmp_path / "course_secret"
    if damage == "short":
        path.write_bytes(b"12345")
    else:
        path.mkdir()
    monkeypatch.setenv(secret.ENV_FILE, str(path))
    subs = tmp_path / "subs"
    subs.mkdir()
    assert cli.main(["grade-all", str(subs), "--out", str(tmp_path / "all")]) == 2
    assert cli.main(["grade", str(subs), "--out", str(tmp_path / "one")]) == 2
    assert make_gradescope.main(["--out", str(tmp_path / "autograder.zip")]) == 2
    err = capsys.readouterr().err
    assert err.count(f"course secret {path}") == 3 and "Traceback" not in err
    assert ("is damaged (5 bytes" if damage == "short" else "cannot read or make") in err
    assert not any((tmp_path / name).exists() for name in ("all", "one", "autograder.zip"))
