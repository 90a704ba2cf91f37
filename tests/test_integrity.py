"""Grade integrity (issue 21), tried as a student who has read the whole kit would: every submission here
forges, replays or patches something, and must earn no more than its own code earns honestly.

The quick parts only (1.4, 2.1, 2.2).  The course secret is a fixed test file, so the hidden inputs (and
so these grades) are the same on every run.  The child's time budget is raised: the tests must not fail
because the machine is busy.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import variants

from autograder import secret
from autograder.grader import grade
from hw7core import limits

QUICK = ("1.4", "2.1", "2.2")

# The broken code of every forging submission (what it "knows" is the kit, not the assignment): D_KL
# returns 0, forward returns its input as y_hat (the decoder is never called), generate returns zeros,
# train_VAE returns at once.  Encoder and Decoder are the solution's.
BROKEN = {
    "D_KL": "def D_KL(mu, logvar):\n    return torch.zeros(())\n",
    "train_VAE": "def train_VAE(model, train_dataset, **kwargs):\n    return None\n",
}
BROKEN_VAE = textwrap.dedent("""
    class VAE(nn.Module):
        def __init__(self, input_size, hidden_sizes, latent_size):
            super().__init__()
            self.latent_size = latent_size
            self.encoder = Encoder(input_size, hidden_sizes, latent_size)
            self.decoder = Decoder(latent_size, list(reversed(hidden_sizes)), input_size)

        def forward(self, y):
            mu, logvar = self.encoder(y)
            return y, mu, logvar

        def generate(self, n_samples, seed=0, device=Device):
            return torch.zeros(n_samples, 200)
    """)


@pytest.fixture(scope="module", autouse=True)
def fixed_secret_and_time(tmp_path_factory):
    path = tmp_path_factory.mktemp("secret") / "course_secret"
    path.write_bytes(b"the integrity tests' own secret, 48 bytes long.")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(secret.ENV_FILE, str(path))
        patch.setattr(limits, "TEST_WALL_S", 150.0)
        yield


@pytest.fixture(scope="module")
def solution():
    return variants.load_solution()


@pytest.fixture(scope="module")
def recorded(solution, tmp_path_factory):
    """The observations of a correct submission, as its children reported them: part -> observations."""
    folder = tmp_path_factory.mktemp("correct")
    cache_dir = folder / "cache"
    results = grade(variants.write(folder / "sub", solution), parts=QUICK, cache_dir=cache_dir)
    assert results.score == 65
    found = {}
    for entry in cache_dir.rglob("*.json"):
        payload = json.loads(entry.read_text())["outcome"]["payload"]
        found[payload["part"]] = payload["observations"]
    assert sorted(found) == list(QUICK)
    return found


def broken(solution, **cells):
    """The solution with the broken code above, then ``cells`` (name -> source) replacing their cells."""
    nb = variants.replace(solution, "VAE", BROKEN_VAE)
    for name, source in {**BROKEN, **cells}.items():
        nb = variants.replace(nb, name, source)
    return nb


def graded(tmp_path, nb, parts=QUICK):
    return grade(variants.write(tmp_path / "sub", nb), parts=parts)


@pytest.fixture(scope="module")
def honest(solution, tmp_path_factory):
    """What the broken code earns on its own: 1.4 = 0, 2.1 = the Encoder's and the Decoder's 25, 2.1.5's
    shapes (forward returns y, of the right shape) and generate's shape share; 2.2 = 0."""
    results = graded(tmp_path_factory.mktemp("honest"), broken(solution))
    scores = results.part_scores()
    assert scores["1.4"] == 0 and scores["2.2"] == 0 and 25 <= scores["2.1"] < 40, results.summary()
    return scores


def no_more_than(results, honest_scores, parts=QUICK):
    scores = results.part_scores()
    for part in parts:
        assert scores[part] <= honest_scores[part], (part, scores, [(t.number, t.score, t.output) for t in results.tests])


# --- the channel ---------------------------------------------------------------------------------------
def in_a_class_body(code: str) -> str:
    """Code that runs when its graded cell is run: the grader keeps only definitions at a cell's top level,
    but a class body runs when the class is defined (the issue's forgery hid in the Encoder's)."""
    return "class _Forge:\n" + textwrap.indent(textwrap.dedent(code), "    ")


def forging_dkl(recorded, when: dict[str, str]) -> str:
    """A D_KL cell that sends the correct submission's observations over the child's own channel (the
    runtime's `send`, this job's nonce and part), for each part at the moment ``when`` names: "instead" of
    the real report (then exits), "before" it, or "after" it (wrapping the runtime's exit)."""
    return BROKEN["D_KL"] + in_a_class_body(f"""
        _os, _sys, _json = __import__("os"), __import__("sys"), __import__("json")  # graded cells may not import
        _rt = _sys.modules["child.runtime"]
        _recorded = _json.loads({json.dumps(json.dumps(recorded))})
        _part = _rt.JOB["part"]
        _when = {when!r}.get(_part)
        _forged = {{"observations": _recorded[_part], "cell_errors": []}}
        if _when == "instead":
            _rt.send(_forged)
            _os._exit(0)
        elif _when == "before":
            _rt.send(_forged)
        elif _when == "after":
            _rt._exit = lambda code, rt=_rt, forged=_forged, real=_rt._exit: (rt.send(forged), real(code))
        """)


def test_observations_replayed_instead_of_before_and_after_the_report_earn_nothing_more(
        solution, recorded, honest, tmp_path):
    """The issue's first forgery (80/80 before): the correct submission's observations, recorded under its
    own inputs, sent by a submission whose code does nothing right.  Instead of the report (1.4), they are
    judged on this submission's secret inputs: the public values land on other cases (their order is secret),
    the hidden ones are other draws -> 0 = what its D_KL earns.  Before the report (2.1): the first report
    counts, and every shape, eps and seed is another grading's -> no more than its own code's points.
    After the report (2.2): ignored, and said so -> its own loop's 0."""
    nb = broken(solution, D_KL=forging_dkl(recorded, {"1.4": "instead", "2.1": "before", "2.2": "after"}))
    results = graded(tmp_path, nb)
    no_more_than(results, honest)
    notes = "\n".join(results.notes)
    assert "Part 2.1: the grader's channel also carried 1 x a second report" in notes
    assert "Part 2.2: the grader's channel also carried 1 x a second report" in notes


def test_claims_of_verdicts_and_other_parts_are_ignored_and_noted(solution, recorded, honest, tmp_path):
    """Messages that claim more than a report (a score, tests) or name another part: ignored, said so;
    the part is graded from its real report (D_KL returns 0 -> 0)."""
    cell = BROKEN["D_KL"] + in_a_class_body(f"""
        _sys, _json = __import__("sys"), __import__("json")
        _rt = _sys.modules["child.runtime"]
        _recorded = _json.loads({json.dumps(json.dumps(recorded))})
        _rt.send({{"observations": _recorded["1.4"], "cell_errors": [], "score": 80, "tests": []}})
        _os = __import__("os")
        _os.write(_rt.CHANNEL.fileno(), (_json.dumps({{"observations": _recorded["2.1"], "cell_errors": [],
                  "nonce": _rt.JOB["nonce"], "part": "2.1"}}) + "\\n").encode())
        """)
    results = graded(tmp_path, broken(solution, D_KL=cell), parts=("1.4",))
    assert results.part_scores()["1.4"] == 0
    notes = "\n".join(results.notes)
    assert "a message claiming more than a report (score, tests)" in notes
    assert "a message for another job or part" in notes


# --- patched observers, hooks, torch functions and the runtime ------------------------------------------
def test_patched_observers_runtime_and_torch_functions(solution, recorded, honest, tmp_path):
    """The runtime's `send` replaced, the observers replaced by ones that return the recorded observations,
    torch.randn_like and torch.manual_seed patched, hooks disabled: the observer was chosen before the cells
    ran, the report goes through the runtime's own reference to its sender, and what comes back is judged
    on this grading's inputs -> no more than the broken code's own points."""
    cell = BROKEN["D_KL"] + in_a_class_body(f"""
        _sys, _json = __import__("sys"), __import__("json")
        _rt = _sys.modules["child.runtime"]
        _recorded = _json.loads({json.dumps(json.dumps(recorded))})
        _rt.send = lambda *a, **k: None
        for _name in ("child.model", "child.loops"):
            _module = _sys.modules.get(_name)
            if _module is not None:
                for _fn in ("observe_dkl", "observe_vae", "observe_training"):
                    setattr(_module, _fn, lambda ns, obs=_recorded[_rt.JOB["part"]]: obs)
        torch.randn_like = lambda t, *a, **k: torch.zeros_like(t)
        torch.manual_seed = lambda seed: torch.default_generator
        torch.nn.Module.register_forward_pre_hook = lambda self, hook, *a, **k: type(
            "H", (), {{"remove": lambda s: None}})()
        """)
    results = graded(tmp_path, broken(solution, D_KL=cell))
    no_more_than(results, honest)


# --- generate returning training airfoils --------------------------------------------------------------
def test_generate_returning_training_airfoils_gets_the_shape_share_only(solution, tmp_path):
    """The issue's second forgery (2.1.6 = 10/10 before): decode z as asked, then return real airfoils from
    AirfoilDataset (the same seed, the same airfoils).  Honest code for this test is a generate of the
    right shape whose samples are not the decoder's: 2 of 2.1.6's 10 points (the shape share)."""
    source = solution.cells[variants.cell_defining(solution, "VAE")].source.split("\n", 1)[1]
    at = source.rindex("return self.decoder(z)")  # generate's last line (forward's returns a tuple before it)
    source = source[:at] + textwrap.indent(textwrap.dedent("""
        decoded = self.decoder(z)  # decoded as asked, then thrown away
        data = __import__("HW7_utils").AirfoilDataset()
        picks = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n_samples]
        return torch.stack([torch.as_tensor(data[int(i)][0]) for i in picks]).to(device)
        """), "        ").lstrip() + source[at + len("return self.decoder(z)"):]
    results = graded(tmp_path, variants.replace(solution, "VAE", source), parts=("2.1",))
    tests = {t.number: t for t in results.tests}
    assert tests["2.1.6"].score == pytest.approx(2.0), tests["2.1.6"].output
    assert "not your decoder's output" in tests["2.1.6"].output
    assert results.part_scores()["2.1"] == 42  # every other test of the VAE is the solution's


# --- reference implementations searched for in sys.modules ---------------------------------------------
SEARCHING_DKL = textwrap.dedent("""
    def D_KL(mu, logvar):
        sys = __import__("sys")
        for name, module in list(sys.modules.items()):
            if name.startswith(("child", "autograder", "checks")):
                for attr in dir(module):
                    if "kl" in attr.lower() and attr != "D_KL" and callable(getattr(module, attr)):
                        try:
                            return getattr(module, attr)(mu, logvar)
                        except Exception:
                            continue
        return torch.zeros(())
    """)
SEARCHING_LOOP = textwrap.dedent("""
    def train_VAE(model, train_dataset, **kwargs):
        sys = __import__("sys")
        for name, module in list(sys.modules.items()):
            if name.startswith(("child", "autograder")):
                for attr in dir(module):
                    if "train" in attr.lower() and attr != "train_VAE" and callable(getattr(module, attr)):
                        try:
                            return getattr(module, attr)(model, train_dataset, tracker_cls=VAE_Tracker, **kwargs)
                        except Exception:
                            continue
        return None
    """)


def test_dkl_and_loop_that_call_whatever_reference_is_loaded_earn_what_their_own_code_does(solution, tmp_path):
    """The issue's third forgery (1.4 = 5/5 and 2.2 = 10/10 before): D_KL and train_VAE that call any KL or
    training loop of the grader found in sys.modules.  A child loads only its own part's module, and the
    2.2 child's KL (handed to the loop as D_KL, as the spec allows) refuses to serve a part 1.4 job; what is
    left is their own fallbacks: 0 for 1.4, 0 for 2.2 (the loop finds no training function)."""
    nb = variants.replace(variants.replace(solution, "D_KL", SEARCHING_DKL), "train_VAE", SEARCHING_LOOP)
    results = graded(tmp_path, nb, parts=("1.4", "2.2"))
    scores = results.part_scores()
    assert scores["1.4"] == 0 and scores["2.2"] == 0, [(t.number, t.output) for t in results.tests]
