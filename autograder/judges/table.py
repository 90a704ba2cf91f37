"""The table of tests: one row per test, its number, name, points and visibility.

The parts' points (parts.py) are the sums of these rows (tests/test_judges.py).  Public tests are the
notebook's own; the others are hidden until grades are published.  A new test is one row here and one
judge function in the module of its part (dkl.py, vae.py, train.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from autograder.results import TestResult
from hw7core import parts

VISIBLE = "visible"
HIDDEN = "after_published"


@dataclass(frozen=True)
class Test:
    number: str
    name: str
    points: float
    needs: tuple[str, ...]  # the graded names it tests (the notebook's cell of that name shows its points)
    visibility: str = VISIBLE
    # What its points rest on (issue 21; SECURITY.md "Grade integrity" explains each): values the parent
    # checks itself on this grading's inputs, or the child's report (hooks, spies, counters: whatever runs
    # beside student code can be forged by it) for ``on_report`` of the points.
    rests_on: str = ""
    on_report: float = 0.0

    @property
    def part(self) -> str:
        return ".".join(self.number.split(".")[:2])

    def result(self, score: float = 0.0, output: str = "") -> TestResult:
        return TestResult(self.name, self.number, self.points, score, output, self.visibility)


TESTS = (
    Test("1.4.1", "D_KL: the notebook's public test values", 2.0, ("D_KL",),
         rests_on="the outputs on the notebook's public inputs against its published values", on_report=0.0),
    Test("1.4.2", "D_KL: other shapes and inputs", 3.0, ("D_KL",), HIDDEN,
         rests_on="the outputs on secret inputs against the KL computed in the parent", on_report=0.0),
    Test("2.1.1", "Encoder: returns (mu, logvar), each (batch, latent_size)", 8.0, ("Encoder",),
         rests_on="the shapes of the outputs for a secret batch size", on_report=0.0),
    Test("2.1.2", "Encoder: one output layer of 2*latent_size, split with torch.chunk", 7.0, ("Encoder",), HIDDEN,
         rests_on="the child's report: the output layer's values (a hook), compared with mu and logvar in the parent", on_report=1.0),
    Test("2.1.3", "Decoder: (batch, latent_size) -> (batch, output_size), differentiable", 10.0, ("Decoder",),
         rests_on="the output's shape for a secret batch size; gradients reaching the parameters: the child's report", on_report=0.5),
    Test("2.1.4", "VAE.forward: reparameterisation z = mu + exp(0.5 logvar) * eps", 10.0, ("VAE",), HIDDEN,
         rests_on="the decoder's input against mu + exp(0.5 logvar) * eps for the parent's eps, and the gradients' ratio", on_report=0.0),
    Test("2.1.5", "VAE.forward: returns (y_hat, mu, logvar) with the right shapes", 5.0, ("VAE",),
         rests_on="the shapes of the outputs for a secret batch size", on_report=0.0),
    Test("2.1.6", "VAE.generate: samples the prior, decodes in eval mode, seeded", 10.0, ("VAE",), HIDDEN,
         rests_on="samples against the student's own decoder on the prior's z for a secret seed; eval mode and no encoder: the child's report", on_report=0.2),
    Test("2.2.1", "train_VAE: exactly n_iters iterations over the DataLoader", 3.0, ("train_VAE",),
         rests_on="the child's report: forward passes, optimizer steps and batch sizes, for secret n_iters and batch_size", on_report=1.0),
    Test("2.2.2", "train_VAE: gradients zeroed every step", 2.0, ("train_VAE",), HIDDEN,
         rests_on="the child's report: the gradient the optimizer saw against the backward pass's", on_report=1.0),
    Test("2.2.3", "train_VAE: loss = rec + beta * prior, tracked and backpropagated", 3.0, ("train_VAE",), HIDDEN,
         rests_on="the tracked losses and gradients against the parent's computation on its probe model and secret data", on_report=0.0),
    Test("2.2.4", "train_VAE: learning-rate scheduler stepped as specified", 1.0, ("train_VAE",), HIDDEN,
         rests_on="the child's report: the scheduler's calls", on_report=1.0),
    Test("2.2.5", "train_VAE: model in train mode, one tracker updated each iteration", 1.0, ("train_VAE",), HIDDEN,
         rests_on="the child's report: trackers made, their n_iters and updates, the model's mode", on_report=1.0),
    # Part 2.3 is one test: the sample-quality score of the model re-trained from the configs.
    Test(parts.RETRAINED, parts.NAMES[parts.RETRAINED], parts.POINTS[parts.RETRAINED],
         parts.BY_NUMBER[parts.RETRAINED].names, rests_on="the re-trained model's samples (SECURITY.md, part 2.3)"),
)
BY_NUMBER = {test.number: test for test in TESTS}
# The tests the student's local check runs: the visible ones of the quickly probed parts.
PUBLIC = tuple(t.number for t in TESTS if t.visibility == VISIBLE and t.part in parts.QUICK)


def points_for(names: tuple[str, ...]) -> float:
    """What the tests of these names are worth: the points the notebook prints on their cell."""
    return sum(t.points for t in TESTS if set(t.needs) & set(names))


def of_part(part: str) -> tuple[Test, ...]:
    return tuple(t for t in TESTS if t.part == part)


def zero(part: str, message: str) -> list[TestResult]:
    """Every test of ``part`` at 0 points, with ``message`` (the part could not run)."""
    return [t.result(0.0, message) for t in of_part(part)]
