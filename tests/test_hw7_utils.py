"""HW7_utils as the notebook uses it: dataset, tracker, plots, configs, zip."""

import json
import subprocess
import sys
import zipfile

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import HW7_utils
from HW7_utils import AirfoilDataset, VAE_Tracker, load_yaml, plot_airfoils, save_yaml, zip_files


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --- dataset ---------------------------------------------------------------------------------
def test_importing_it_imports_neither_matplotlib_nor_torch():
    """The grader's children import HW7_utils before every job and never plot: matplotlib (about 0.2 s of
    each child's start) and torch come only with the functions that use them."""
    code = "import sys, HW7_utils; print(sorted(m for m in ('matplotlib', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=HW7_utils.KIT_ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_dataset_items(dataset):
    assert len(dataset) == 1597
    y, name = dataset[0]
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == (200,)
    assert isinstance(name, str) and name == dataset.names[0]
    assert np.abs(dataset.y).max() == pytest.approx(1.0)
    assert dataset.y.min() == pytest.approx(-0.319 / 0.346, abs=0.01)
    x = dataset.get_x()
    assert x.shape == (200,) and x.dtype == np.float32
    x[0] = 42  # get_x hands out a copy
    assert dataset.get_x()[0] == 1


def test_batched_fetch_matches_single_items(dataset):
    rows = dataset.__getitems__([5, 0, 1596])
    for (row, name), i in zip(rows, [5, 0, 1596]):
        assert isinstance(row, torch.Tensor) and row.dtype == torch.float32
        np.testing.assert_array_equal(row.numpy(), dataset[i][0])
        assert name == dataset[i][1]


def test_dataset_works_with_a_shuffling_dataloader(dataset):
    torch.manual_seed(0)
    ys, names = next(iter(DataLoader(dataset, batch_size=64, shuffle=True)))
    assert ys.shape == (64, 200) and ys.dtype == torch.float32
    assert len(names) == 64 and isinstance(names[0], str)
    assert list(names) != dataset.names[:64]


def test_dataset_found_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert len(AirfoilDataset()) == 1597


def test_dataset_path_can_be_overridden(tmp_path, monkeypatch, dataset):
    small = tmp_path / "small.npz"
    with np.load(dataset.path) as d:
        np.savez(small, x=d["x"], y=d["y"][:5], names=d["names"][:5], coefficient=d["coefficient"])
    assert len(AirfoilDataset(small)) == 5
    monkeypatch.setenv(HW7_utils.DATA_ENV, str(small))
    assert len(AirfoilDataset()) == 5


def test_missing_data_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="make data"):
        AirfoilDataset(tmp_path / "nope.npz")


def test_dataset_plot(dataset):
    fig = dataset.plot(idx=3)
    (ax,) = fig.axes
    assert len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[0].get_ydata(), dataset[3][0][:100])
    assert dataset.names[3] in ax.get_title()


# --- tracker ---------------------------------------------------------------------------------
def test_tracker_records_floats_and_tensors():
    tracker = VAE_Tracker(n_iters=3, plot_freq=1)
    assert tracker.live is False  # no notebook here: record only
    tracker.update(torch.tensor(1.5), torch.tensor(0.25), torch.tensor(1.75))
    tracker.update(1.0, 0.5, 2.0)
    assert tracker.rec_losses == [1.5, 1.0]
    assert tracker.prior_losses == [0.25, 0.5]
    assert tracker.total_losses == [1.75, 2.0]
    assert all(isinstance(v, float) for v in tracker.total_losses)
    assert tracker.total_losses[-20:] == [1.75, 2.0]
    assert len(tracker) == 2


def test_tracker_plot_uses_log_scale_for_wide_ranges():
    tracker = VAE_Tracker(n_iters=100, plot_freq=10)
    for i in range(100):
        tracker.update(10.0 ** (-i / 25), 1.0 + 0.001 * i, 10.0 ** (-i / 25) + 1)
    fig = tracker.plot()
    assert len(fig.axes) == 3
    assert [ax.get_yscale() for ax in fig.axes] == ["log", "linear", "linear"]
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), tracker.prior_losses)


class FakeClock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def shown(monkeypatch):
    """What the live tracker sends to the notebook: ("display" | "update", image)."""
    sent = []

    class Handle:
        def update(self, image):
            sent.append(("update", image))

    def fake_display(image, display_id):
        sent.append(("display", image))
        return Handle()

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", fake_display)
    return sent


def train(tracker, clock, n, seconds_per_iter):
    """Feed n iterations of falling losses; returns the iterations at which a redraw happened."""
    drawn = []
    for i in range(1, n + 1):
        clock.now += seconds_per_iter
        before = tracker.redraws
        tracker.update(1.0 / i, 0.1 + 1.0 / i, 1.0 / i + 0.01)
        if tracker.redraws > before:
            drawn.append(i)
    return drawn


def test_tracker_redraws_one_figure_in_place(shown):
    clock = FakeClock()
    tracker = VAE_Tracker(n_iters=25, plot_freq=10, live=True, clock=clock)
    assert train(tracker, clock, 25, seconds_per_iter=1.0) == [10, 20, 25]  # slow iterations: every plot_freq
    assert [kind for kind, _ in shown] == ["display", "update", "update"]
    assert all(image.data.startswith(b"\x89PNG") for _, image in shown)
    assert len(tracker._fig.axes[0].lines) == 1  # one figure, its lines given new data
    assert len(tracker._fig.axes[0].lines[0].get_ydata()) == 25
    assert plt.get_fignums() == []  # never a pyplot figure for the inline backend to show again


def test_tracker_redraws_at_most_once_a_second_and_always_at_the_end(shown):
    clock = FakeClock()
    tracker = VAE_Tracker(n_iters=1005, plot_freq=10, live=True, clock=clock)
    drawn = train(tracker, clock, 1005, seconds_per_iter=0.01)  # plot_freq asks for 10 redraws a second
    times = [i * 0.01 for i in drawn[:-1]]
    assert drawn[0] == 10 and drawn[-1] == 1005
    assert all(later - earlier >= 1.0 - 1e-9 for earlier, later in zip(times, times[1:]))
    assert 9 <= len(drawn) <= 12  # about one a second over 10 s, plus the end
    assert all(i % 10 == 0 for i in drawn[:-1])  # still on plot_freq's iterations
    final = tracker._fig.axes[2].lines[0]
    assert final.get_xdata()[-1] == 1005 and final.get_ydata()[-1] == pytest.approx(1 / 1005 + 0.01)
    assert tracker._fig.axes[2].get_title() == f"total: {1 / 1005 + 0.01:.3g}"


def test_a_slow_redraw_waits_longer(shown, monkeypatch):
    clock = FakeClock()
    tracker = VAE_Tracker(n_iters=6000, plot_freq=10, live=True, clock=clock)
    figure_class = type(tracker._live_figure())
    real_savefig = figure_class.savefig

    def slow_savefig(fig, *args, **kwargs):
        clock.now += 0.2  # each redraw takes 0.2 s of the training's time
        return real_savefig(fig, *args, **kwargs)

    monkeypatch.setattr(figure_class, "savefig", slow_savefig)
    wait = 0.2 / VAE_Tracker.MAX_REDRAW_SHARE  # so that redraws stay within their share of the time
    assert wait > 2 * VAE_Tracker.MIN_REDRAW_INTERVAL_S
    starts = []
    real_redraw = tracker._redraw
    monkeypatch.setattr(tracker, "_redraw", lambda: (starts.append(clock.now), real_redraw()))
    drawn = train(tracker, clock, 6000, seconds_per_iter=0.01)
    assert drawn[-1] == 6000
    assert all(later - earlier >= wait for earlier, later in zip(starts[:-1], starts[1:-1]))
    assert len(drawn) <= 60 / wait + 2


def test_a_recording_tracker_never_reads_the_clock():
    def no_clock():
        raise AssertionError("the clock was read")

    tracker = VAE_Tracker(n_iters=50, plot_freq=10, live=False, clock=no_clock)
    for _ in range(50):
        tracker.update(1.0, 1.0, 1.0)
    assert tracker.redraws == 0 and tracker._fig is None


def test_live_curves_keep_each_stretch_lowest_and_highest_value():
    values = np.sin(np.arange(10_000) / 50.0) + np.where(np.arange(10_000) == 7_777, 5.0, 0.0)
    steps, shown = HW7_utils._thin(values, 1000)
    assert len(shown) <= 1000 + 20 and steps[0] == 1 and steps[-1] == 10_000
    assert shown.max() == values.max() and shown.min() == values.min()  # the spike at 7,777 survives
    assert np.all(np.diff(steps) >= 0)
    short = np.arange(5.0)
    assert HW7_utils._thin(short, 1000)[1] is short


# --- plot_airfoils ---------------------------------------------------------------------------
def test_plot_airfoils_grid(dataset):
    ys = np.stack([dataset[i][0] for i in range(24)])
    fig = plot_airfoils(dataset.get_x(), ys)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 24
    for ax, y in zip(visible, ys):
        upper, lower = ax.lines
        np.testing.assert_allclose(upper.get_ydata(), y[:100])
        np.testing.assert_allclose(lower.get_ydata(), y[100:])
        assert upper.get_color() != lower.get_color()
        assert ax.get_aspect() == 1.0


def test_plot_airfoils_accepts_tensors_and_partial_rows(dataset):
    ys = torch.tensor(np.stack([dataset[i][0] for i in range(5)]), requires_grad=True)
    fig = plot_airfoils(torch.tensor(dataset.get_x()), ys)
    assert sum(ax.get_visible() for ax in fig.axes) == 5
    assert len(fig.axes) == 8


@pytest.mark.parametrize(
    "x_shape, ys_shape, match",
    [((200,), (24, 100), r"ys must have shape \(n_samples, 200\), got \(24, 100\)"),
     ((100,), (24, 200), r"x must have shape \(200,\)"),
     ((200,), (2, 3, 200), r"ys must have shape"),
     ((200,), (0, 200), r"ys must have shape")],
)
def test_plot_airfoils_wrong_shapes(x_shape, ys_shape, match):
    with pytest.raises(ValueError, match=match):
        plot_airfoils(np.zeros(x_shape), np.zeros(ys_shape))


# --- configs ---------------------------------------------------------------------------------
def test_save_and_load_yaml_round_trip(tmp_path):
    config = dict(
        beta=4.3e-4, optimizer_name="Adam", optimizer_config=dict(lr=1e-3, betas=(0.9, 0.999)),
        lr_scheduler_name=None, lr_scheduler_config={}, running_avg_window=20, n_iters=np.int64(5000),
        batch_size=64, hidden_sizes=[512, 256, 128], tiny=1e-10, flag=True,
    )
    path = save_yaml(config, tmp_path / "c.yaml")
    loaded = load_yaml(path)
    assert loaded == {**config, "n_iters": 5000, "optimizer_config": dict(lr=1e-3, betas=[0.9, 0.999])}
    assert "!!" not in path.read_text()  # plain YAML, no Python tags


def test_load_yaml_reads_exponents_as_floats(tmp_path):
    (tmp_path / "c.yaml").write_text("lr: 1e-3\nbeta: 4.3E-4\nname: Adam\nn: 10\n")
    assert load_yaml(tmp_path / "c.yaml") == {"lr": 1e-3, "beta": 4.3e-4, "name": "Adam", "n": 10}


def test_load_yaml_refuses_python_objects(tmp_path):
    (tmp_path / "c.yaml").write_text("x: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(Exception, match="python/object"):
        load_yaml(tmp_path / "c.yaml")


def test_save_yaml_rejects_objects_with_a_clear_message(tmp_path):
    with pytest.raises(TypeError, match=r"config\['rec_loss_fn'\] is a MSELoss"):
        save_yaml(dict(rec_loss_fn=torch.nn.MSELoss()), tmp_path / "c.yaml")


# --- zip_files -------------------------------------------------------------------------------
def _notebook(path):
    path.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_zip_files(tmp_path, capsys):
    nb = _notebook(tmp_path / "HW7.ipynb")
    (tmp_path / "model_config.yaml").write_text("input_size: 200\n")
    out = zip_files(tmp_path / "sub.zip", [nb, tmp_path / "model_config.yaml"])
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ["HW7.ipynb", "model_config.yaml"]
    printed = capsys.readouterr().out
    assert "HW7.ipynb" in printed and "model_config.yaml" in printed


def test_zip_files_refuses_bad_input(tmp_path):
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "broken.ipynb").write_text("{not json")
    (tmp_path / "list.ipynb").write_text("[1, 2]")
    with pytest.raises(FileNotFoundError, match="missing.yaml does not exist"):
        zip_files(tmp_path / "a.zip", [tmp_path / "missing.yaml"])
    with pytest.raises(ValueError, match="empty.yaml is empty"):
        zip_files(tmp_path / "a.zip", [tmp_path / "empty.yaml"])
    with pytest.raises(ValueError, match="not a valid notebook"):
        zip_files(tmp_path / "a.zip", [tmp_path / "broken.ipynb"])
    with pytest.raises(ValueError, match="not a notebook"):
        zip_files(tmp_path / "a.zip", [tmp_path / "list.ipynb"])
    assert not (tmp_path / "a.zip").exists()
