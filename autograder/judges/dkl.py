"""Part 1.4, D_KL: each case's output compared with the notebook's value (public) or with the reference
formula on the same inputs, computed here (hidden, on this grading's secret seeds)."""

from __future__ import annotations

from autograder.judges.common import Trial, Verdict, close, scaled, shape_text
from autograder.judges.probes import PUBLIC_DKL, is_public
from autograder.run.child.protocol import Call, DklCase, DklInputs

PART = "1.4"


def expected_dkl(seed: int, shape: tuple[int, ...]) -> float:
    """The reference D_KL on the inputs the child draws for this case (computed here, never sent).

    A generator of its own, seeded as the child seeds torch's global one (so the same draws): gradings
    of a batch run in threads of one process, and a shared global generator would let another thread's
    draws slip in between, giving a wrong expected value now and then.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    mu = torch.randn(*shape, generator=generator)
    logvar = torch.randn(*shape, generator=generator)
    return float((0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean())


def case_problem(got: Call, case: DklCase, public: bool) -> str | None:
    """What is wrong with one case's output, or None when its value is right."""
    shape = tuple(case.shape)
    if got.error:
        return f"D_KL raised {got.error}"
    t = got.tensor()
    if got.kind != "Tensor" or t is None or t.shape != []:
        return f"D_KL must return a 0-dim tensor (shape ()), got {shape_text(got)}"
    value = t.values[0] if t.values else None
    expected = PUBLIC_DKL[case.seed] if public else expected_dkl(case.seed, shape)
    if close(value, expected):
        return None
    if public:
        return f"seed {case.seed}: expected {expected:.7f}, got {value}"
    return (f"inputs of shape {shape}: the value is wrong (check that you average over the batch "
            "AND latent dimensions and use exp(logvar) for sigma^2)")


def case_problems(inputs: DklInputs, cases: list[Call]) -> list[tuple[bool, str | None]]:
    """(is the case public, its problem) for every case of the inputs, in their (secret) order."""
    out = []
    for i, case in enumerate(inputs.cases):
        got = cases[i] if i < len(cases) else Call(error="no result")
        public = is_public(case)
        out.append((public, case_problem(got, case, public)))
    return out


def judge_public(problems: list[tuple[bool, str | None]], points: float) -> Verdict:
    """1.4.1: all or nothing on the notebook's three values."""
    found = [p for public, p in problems if public and p]
    return (0.0 if found else points), "\n".join(found) or "All three public values match."


def judge_hidden(problems: list[tuple[bool, str | None]], points: float) -> Verdict:
    """1.4.2: a share of the points for each hidden case right."""
    hidden = [p for public, p in problems if not public]
    right = sum(p is None for p in hidden)
    return (scaled(right / max(1, len(hidden)), points),
            "\n".join(dict.fromkeys(p for p in hidden if p)) or "Correct on every input tried.")


def judge(trial: Trial, points: dict[str, float]) -> dict[str, Verdict]:
    if trial.seen.missing:
        return dict.fromkeys(points, (0.0, f"No `{', '.join(trial.seen.missing)}` found in the graded cells."))
    problems = case_problems(trial.inputs, trial.seen.cases)
    return {"1.4.1": judge_public(problems, points["1.4.1"]), "1.4.2": judge_hidden(problems, points["1.4.2"])}
