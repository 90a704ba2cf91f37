"""Acceptance suite for part 2.3's sample-quality score (hw7core/sample_quality.py).

Every case draws with a fixed seed; the bands asserted are the rubric's: smooth and diverse 15,
a bit noisy 8-12, collapsed 5, too rough or not airfoils 0.
"""

import json
import math

import numpy as np
import pytest

from autograder import cli
from hw7core import sample_quality as sq
from hw7core.quality_metrics import roughness, savgol_matrix

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def real(dataset) -> np.ndarray:
    return dataset.y.astype(np.float64)


COPY_RMS = sq.COPY_RMS


@pytest.fixture(autouse=True)
def copies_allowed(monkeypatch):
    """The rubric's bands are calibrated with real airfoils standing in for ideal generated samples: the
    copy rule (issue 21), which scores such samples as copies, is off here except in its own tests."""
    monkeypatch.setattr(sq, "COPY_RMS", 0.0)


@pytest.fixture
def copy_rule(copies_allowed, monkeypatch):
    monkeypatch.setattr(sq, "COPY_RMS", COPY_RMS)


def draw(real: np.ndarray, seed: int, n: int = 24) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return real[rng.choice(len(real), n, replace=False)]


def swap_surfaces(y: np.ndarray) -> np.ndarray:
    """The lower surface becomes the upper one (each still in the 200-value ordering)."""
    return np.concatenate([y[:, 100:][:, ::-1], y[:, :100][:, ::-1]], axis=1)


def mirror_in_x(y: np.ndarray) -> np.ndarray:
    """Leading and trailing edges exchanged (the cosine grid is symmetric about x = 0.5)."""
    return np.concatenate([y[:, :100][:, ::-1], y[:, 100:][:, ::-1]], axis=1)


def smooth_bump(rng: np.random.Generator, n: int, amplitude: float) -> np.ndarray:
    """A smooth perturbation of each surface, zero at both edges: a few low sine modes."""
    s = np.linspace(0, 1, 100)
    modes = np.stack([np.sin(k * np.pi * s) for k in (1, 2, 3)])  # (3, 100)
    coef = rng.normal(size=(n, 2, 3)) * amplitude / np.sqrt(3)
    bump = coef @ modes  # (n, 2, 100): upper then lower, both indexed LE -> TE
    return np.concatenate([bump[:, 0, ::-1], bump[:, 1]], axis=1)


# ---------------------------------------------------------------------------------------------
# The frozen reference
# ---------------------------------------------------------------------------------------------
def test_reference_is_small_and_the_window_follows_the_rule():
    assert sq.REFERENCE_PATH.stat().st_size < 3 * 2**20
    ref = sq.load_reference()
    ok = [w for w, p in zip(ref["windows"], ref["real_sigma_p99"]) if p <= ref["sigma_smooth"] / 4]
    assert ref["window"] == max(ok)
    assert ref["sigma_smooth"] < ref["sigma_too"]
    assert ref["real_y"].shape == (1597, 200)
    assert len(ref["real_vendi_sets"]) >= 200


def test_white_noise_reads_as_its_own_amplitude():
    rng = np.random.default_rng(5)
    for s in (1e-3, 1e-2):
        sigma = roughness(rng.normal(0, s, (200, 200)), sq.load_reference()["window"])
        assert np.median(sigma) == pytest.approx(s, rel=0.03)


# ---------------------------------------------------------------------------------------------
# Real and realistic-VAE samples: 15
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(10))
def test_real_airfoils_score_full_marks(real, seed):
    report = sq.score(draw(real, seed))
    assert report.points == 15, report.summary()
    assert report.band == "smooth and diverse"
    assert report.n_smooth_valid >= 22


@pytest.mark.parametrize("seed", SEEDS)
def test_smoothly_perturbed_real_airfoils_score_full_marks(real, seed):
    rng = np.random.default_rng(100 + seed)
    report = sq.score(draw(real, seed) + smooth_bump(rng, 24, 1e-2))
    assert report.points == 15, report.summary()


@pytest.mark.parametrize("seed", SEEDS)
def test_slightly_smoothed_real_airfoils_score_full_marks(real, seed):
    from scipy.ndimage import gaussian_filter1d

    y = draw(real, seed)
    surfaces = gaussian_filter1d(y.reshape(24, 2, 100), 1.0, axis=-1, mode="nearest")
    assert sq.score(surfaces.reshape(24, 200)).points == 15


@pytest.mark.parametrize("seed", SEEDS)
def test_interpolations_between_real_airfoils_score_full_marks(real, seed):
    rng = np.random.default_rng(200 + seed)
    a, b = draw(real, seed), draw(real, seed + 50)
    t = rng.uniform(0.2, 0.8, size=(24, 1))
    report = sq.score((1 - t) * a + t * b)
    assert report.points == 15, report.summary()


@pytest.mark.parametrize("seed", SEEDS)
def test_vae_like_output_with_a_little_jitter_scores_full_marks(real, seed):
    rng = np.random.default_rng(300 + seed)
    a, b = draw(real, seed), draw(real, seed + 70)
    y = 0.5 * (a + b) + smooth_bump(rng, 24, 5e-3) + rng.normal(0, 7e-4, (24, 200))
    assert sq.score(y).points == 15


# ---------------------------------------------------------------------------------------------
# Noise: 15 -> 12 -> ... -> 8 -> 0
# ---------------------------------------------------------------------------------------------
AMPLITUDES = (0.0, 1.5e-3, 3e-3, 6e-3, 1.2e-2, 1.8e-2, 2.4e-2, 4.8e-2)


@pytest.mark.parametrize("seed", SEEDS)
def test_white_noise_lowers_the_score_monotonically(real, seed):
    base = draw(real, seed)
    noise = np.random.default_rng(400 + seed).normal(size=base.shape)
    points = [sq.score(base + a * noise).points for a in AMPLITUDES]
    assert points[:2] == [15, 15]
    assert all(p >= q for p, q in zip(points, points[1:])), points
    assert points[2:6] == sorted(points[2:6], reverse=True) and len(set(points[2:6])) == 4, points
    assert 11 <= points[2] <= 12  # 3e-3: just noisy
    assert 8 <= points[3] < points[2]  # 6e-3: clearly noisy, still 8-12
    assert 8 <= points[5] <= 9  # 1.8e-2: very fuzzy, near the bottom of the band
    assert points[6:] == [0, 0]


def test_noisy_band_and_feedback(real):
    base = draw(real, 7)
    report = sq.score(base + np.random.default_rng(8).normal(0, 6e-3, base.shape))
    assert report.band == "a bit noisy"
    assert report.sigma_med == pytest.approx(6e-3, rel=0.1)
    text = report.summary()
    assert "±6" in text and "iterations" in report.hint


def spread_noise(real, seed, median=1.4e-2, spread=0.57, n_spiky=0):
    """24 real airfoils, each with white noise of its own amplitude (log-normal over the set: median
    ``median``), the noisiest ``n_spiky`` also carrying spikes that make them non-airfoils."""
    from scipy.stats import norm

    base = draw(real, seed)
    rng = np.random.default_rng(500 + seed)
    amplitude = median * np.exp(spread * norm.ppf((np.arange(24) + 0.5) / 24))
    y = base + amplitude[:, None] * rng.normal(size=base.shape)
    for i in range(24 - n_spiky, 24):
        y[i, rng.choice(200, 12, replace=False)] += rng.choice([-1, 1], 12) * 0.3
    return y


@pytest.mark.parametrize("seed", (0, 2, 3, 5))  # draws whose 22nd smallest lands near the 2.9e-2
def test_jagged_set_with_spiky_non_airfoils_scores_at_most_about_six(real, seed):
    """Issue 11's case: median 1.4e-2, 22nd smallest about 2.9e-2, a few spiky non-airfoils."""
    report = sq.score(spread_noise(real, seed, n_spiky=2))
    assert report.sigma_med == pytest.approx(1.4e-2, rel=0.15)
    assert report.sigma_22 == pytest.approx(2.9e-2, rel=0.2)
    assert 0 < report.points <= 6.5, report.summary()  # the median alone gave 8.8
    assert "far-too-rough" in report.reason


@pytest.mark.parametrize("seed", SEEDS)
def test_far_too_rough_samples_pull_the_points_down_smoothly(real, seed):
    base = draw(real, seed)
    noise = np.random.default_rng(600 + seed).normal(size=base.shape)
    points = []
    for k in range(11):  # k of the 24 samples far too rough (4e-2), the others noisy (1.2e-2)
        amplitude = np.where(np.arange(24) < k, 4e-2, 1.2e-2)[:, None]
        points.append(sq.score(base + amplitude * noise).points)
    # Two are allowed (some draws hold one real airfoil that fails a shape check: it takes one place).
    assert points[1] == points[0] and 8 <= points[0] <= 10, points
    assert all(p >= q for p, q in zip(points, points[1:])), points
    assert all(p - q <= 2 for p, q in zip(points, points[1:])), points  # no cliff
    assert points[9:] == [0, 0] and points[6] > 0, points  # 2 allowed + 6 more: too rough


# ---------------------------------------------------------------------------------------------
# Collapse: 5; a few modes: between
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_copies_of_one_airfoil_score_five(real, seed):
    one = draw(real, seed, 1)
    report = sq.score(np.repeat(one, 24, axis=0))
    assert report.points == 5 and report.band == "collapsed"
    assert report.effective_count == pytest.approx(1.0, abs=0.01)
    assert "beta" in report.hint


@pytest.mark.parametrize("seed", SEEDS)
def test_near_copies_score_five(real, seed):
    one = np.repeat(draw(real, seed, 1), 24, axis=0)
    rng = np.random.default_rng(500 + seed)
    assert sq.score(one + rng.normal(0, 1e-3, one.shape)).points == 5
    assert sq.score(one + smooth_bump(rng, 24, 3e-3)).points == 5


@pytest.mark.parametrize("seed", SEEDS)
def test_copies_of_training_airfoils_score_zero_as_copies(real, seed, copy_rule):
    """Real airfoils are not generated samples (issue 21): 24 of them, one 24 times, or with white noise of
    1e-3 (smooth enough for full marks), score 0."""
    for samples in (draw(real, seed), np.repeat(draw(real, seed, 1), 24, axis=0),
                    draw(real, seed) + np.random.default_rng(seed).normal(0, 1e-3, (24, 200))):
        report = sq.score(samples)
        assert report.points == 0 and report.band == "copies of training airfoils"
        assert "not generated" in report.reason and "decode z" in report.hint


@pytest.mark.parametrize("seed", SEEDS)
def test_a_few_copies_cost_like_far_too_rough_samples(real, seed, copy_rule):
    """Copies among generated samples (interpolations of real pairs) count as far-too-rough ones: two
    are allowed, as for full marks; six more take the points to 0."""
    generated = 0.5 * (draw(real, seed) + draw(real, seed + 100))
    copies = draw(real, seed + 200)
    points = []
    for k in (0, 2, 3, 8):
        samples = np.concatenate([copies[:k], generated[k:]])
        report = sq.score(samples)
        assert report.copies == list(range(k)), report.copies
        points.append(report.points)
    assert points[0] == points[1] == 15 and 0 < points[2] < 15 and points[3] == 0, points


def test_the_mean_shape_and_smoothly_changed_airfoils_are_not_copies(real, copy_rule):
    """What an honest collapsed model gives (the mean shape) keeps its 5; real airfoils changed by a smooth
    bump of 1e-2 (shapes a VAE could generate) keep their 15."""
    assert sq.score(np.repeat(real.mean(axis=0, keepdims=True), 24, axis=0)).points == 5
    bumped = sq.score(draw(real, 0) + smooth_bump(np.random.default_rng(100), 24, 1e-2))
    assert bumped.copies == [] and bumped.points == 15


def test_mean_shape_scores_five(real):
    report = sq.score(np.repeat(real.mean(axis=0, keepdims=True), 24, axis=0))
    assert report.points == 5 and report.band == "collapsed"


@pytest.mark.parametrize("seed", (3, 4, 5))
def test_three_distinct_airfoils_score_between(real, seed):
    report = sq.score(np.repeat(draw(real, seed, 3), 8, axis=0))
    assert 5 < report.points < 15, report.summary()
    assert report.band == "partly collapsed"
    assert 1.5 < report.effective_count < 3.2  # three shapes, some of them alike


# ---------------------------------------------------------------------------------------------
# Not airfoils: 0
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_random_noise_scores_zero(seed):
    y = np.random.default_rng(seed).normal(0, 0.3, (24, 200))
    assert sq.score(y).points == 0


@pytest.mark.parametrize("level", (0.0, 0.2, -0.5))
def test_flat_lines_score_zero(level):
    report = sq.score(np.full((24, 200), level))
    assert report.points == 0
    assert report.band == "not airfoil-shaped"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("flip", ["negated", "negated and swapped", "mirrored in x"])
def test_upside_down_and_mirrored_airfoils_score_zero(real, seed, flip):
    y = draw(real, seed)
    y = {"negated": -y, "negated and swapped": swap_surfaces(-y), "mirrored in x": mirror_in_x(y)}[flip]
    report = sq.score(y)
    assert report.points == 0, report.summary()
    assert report.band == "not airfoil-shaped"


# ---------------------------------------------------------------------------------------------
# Unusable input: 0, "invalid", never an exception
# ---------------------------------------------------------------------------------------------
def _bad_inputs():
    good = np.zeros((24, 200))
    nan, inf = good.copy(), good.copy()
    nan[3, 5] = np.nan
    inf[0, 0] = np.inf
    return {
        "nan": nan,
        "inf": inf,
        "23 samples": np.zeros((23, 200)),
        "199 points": np.zeros((24, 199)),
        "transposed": np.zeros((200, 24)),
        "1-d": np.zeros(4800),
        "3-d": np.zeros((1, 24, 200)),
        "scalar": 1.0,
        "none": None,
        "string": "airfoils",
        "strings": np.full((24, 200), "0.1"),
        "complex": np.zeros((24, 200), dtype=complex),
        "ragged list": [[0.0] * 200] * 23 + [[0.0] * 199],
        "dict": {"samples": good},
        "empty": np.zeros((0, 200)),
    }


@pytest.mark.parametrize("name", list(_bad_inputs()))
def test_unusable_input_scores_zero_with_a_reason(name):
    report = sq.score(_bad_inputs()[name])
    assert report.points == 0
    assert report.band == "invalid"
    assert report.reason
    json.dumps(report.to_dict(), allow_nan=False)


def test_wrong_shape_message_says_what_came_and_what_was_expected():
    reason = sq.score(np.zeros((23, 200))).reason
    assert "(23, 200)" in reason and "(24, 200)" in reason


def test_torch_tensor_requiring_grad_scores_like_the_array(real):
    torch = pytest.importorskip("torch")
    y = draw(real, 11)
    tensor = torch.tensor(y, dtype=torch.float32, requires_grad=True) * 1.0  # a non-leaf, as a model returns
    from_tensor = sq.score(tensor)
    assert from_tensor.points == 15
    assert from_tensor.to_dict() == sq.score(y.astype(np.float32)).to_dict()
    assert sq.score(torch.full((24, 200), float("nan"))).band == "invalid"
    assert sq.score(torch.zeros(24, 200, dtype=torch.bfloat16)).points == 0


def test_nested_lists_are_accepted(real):
    y = draw(real, 12)
    assert sq.score(y.tolist()).to_dict() == sq.score(y).to_dict()


def test_absurd_magnitudes_do_not_raise():
    for value in (1e300, -1e300, 1e-300):
        report = sq.score(np.full((24, 200), value))
        assert report.points == 0
        json.dumps(report.to_dict(), allow_nan=False)


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------
def test_same_array_twice_gives_identical_reports(real):
    y = draw(real, 13) + np.random.default_rng(13).normal(0, 5e-3, (24, 200))
    first, second = sq.score(y), sq.score(y.copy())
    assert first.to_dict() == second.to_dict()
    assert first.summary() == second.summary()


def test_report_fields_and_summary(real):
    report = sq.score(draw(real, 14))
    d = report.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["max_points"] == 15 and len(d["sigma_eq"]) == 24
    assert report.real_effective_count == pytest.approx(18, abs=3)
    assert report.points == math.floor(report.points * 10 + 0.5) / 10
    text = report.summary()
    assert "15 / 15" in text and "of 24 samples" in text and "distinct airfoils" in text


def test_invalid_shapes_report_infinite_roughness_as_null(real):
    report = sq.score(-draw(real, 15))
    d = report.to_dict()
    assert d["sigma_22"] is None and all(s is None for s in d["sigma_eq"])
    assert all(report.invalid_reasons)
    json.dumps(d, allow_nan=False)


# ---------------------------------------------------------------------------------------------
# score-samples SAMPLES.npy [--json]
# ---------------------------------------------------------------------------------------------
def test_cli_prints_the_summary(real, tmp_path, capsys):
    path = tmp_path / "samples.npy"
    np.save(path, draw(real, 17).astype(np.float32))
    assert cli.main(["score-samples", str(path)]) == 0
    assert "15 / 15" in capsys.readouterr().out


def test_cli_json(real, tmp_path, capsys):
    path = tmp_path / "samples.npy"
    np.save(path, np.repeat(draw(real, 18, 1), 24, axis=0))
    assert cli.main(["score-samples", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["points"] == 5 and out["band"] == "collapsed"


@pytest.mark.parametrize("kind", ["missing", "text", "pickled", "npz"])
def test_cli_bad_files_exit_2_without_traceback(tmp_path, capsys, kind):
    path = tmp_path / "samples.npy"
    if kind == "text":
        path.write_text("not an array")
    elif kind == "pickled":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif kind == "npz":
        np.savez(path, y=np.zeros((24, 200)))
        path = tmp_path / "samples.npy.npz"
    assert cli.main(["score-samples", str(path)]) == 2
    err = capsys.readouterr().err
    assert "score-samples" in err and "Traceback" not in err


def test_cli_wrong_shape_still_reports(tmp_path, capsys):
    path = tmp_path / "samples.npy"
    np.save(path, np.zeros((10, 200)))
    assert cli.main(["score-samples", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["points"] == 0 and out["band"] == "invalid"


# --- the smoother (quality_metrics.savgol_matrix: scipy's filter, built without importing scipy.signal) -------
@pytest.mark.parametrize("window", [5, 9, 15, 21, 25, 31, 99])
def test_the_smoother_is_scipys_savitzky_golay_filter(window):
    from scipy.signal import savgol_filter

    H, gain = savgol_matrix(window)
    expected = savgol_filter(np.eye(100), window, 3, mode="interp", axis=0)
    np.testing.assert_allclose(H, expected, rtol=0, atol=1e-12)
    assert gain == pytest.approx(np.sum((np.eye(100) - expected) ** 2) / 100, rel=1e-12)


@pytest.mark.parametrize("window", [4, 3, 10, 101])
def test_a_window_the_smoother_cannot_use_is_named(window):
    with pytest.raises(ValueError, match=f"odd, from 5 to 99; got {window}"):
        savgol_matrix(window)

