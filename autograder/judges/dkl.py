"""Part 1.4, D_KL: judged case by case against the notebook's values and the reference formula."""

from __future__ import annotations

from autograder.judges.common import Verdict, close, shape_text
from autograder.judges.probes import HIDDEN_DKL_CASES, PUBLIC_DKL, dkl_cases


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


def case_problem(case: dict, seed: int, shape: tuple[int, ...]) -> str | None:
    """What is wrong with one case's observation, or None when its value is right."""
    is_public = seed in PUBLIC_DKL
    desc = case.get("describe") or {}
    vals = case.get("values") or []
    if case.get("error"):
        return f"D_KL raised {case['error']}"
    if desc.get("kind") != "tensor" or desc.get("shape") != []:
        return f"D_KL must return a 0-dim tensor (shape ()), got {shape_text(desc)}"
    got = vals[0] if vals else None
    expected = PUBLIC_DKL[seed] if is_public else expected_dkl(seed, shape)
    if close(got, expected):
        return None
    if is_public:
        return f"seed {seed}: expected {expected:.7f}, got {got}"
    return (f"inputs of shape {shape}: the value is wrong (check that you average over the batch "
            "AND latent dimensions and use exp(logvar) for sigma^2)")


def case_problems(obs: dict) -> list[tuple[bool, str | None]]:
    """(is the case public, its problem) for every case, in the order of probes.dkl_cases()."""
    cases = obs.get("cases") or []
    out = []
    for i, (seed, shape) in enumerate(dkl_cases()):
        case = cases[i] if i < len(cases) and isinstance(cases[i], dict) else {"error": "no result"}
        out.append((seed in PUBLIC_DKL, case_problem(case, seed, shape)))
    return out


def judge_public(problems: list[tuple[bool, str | None]], points: float) -> Verdict:
    """1.4.1: all or nothing on the notebook's three values."""
    found = [p for public, p in problems if public and p]
    return (0.0 if found else points), "\n".join(found) or "All three public values match."


def judge_hidden(problems: list[tuple[bool, str | None]], points: float) -> Verdict:
    """1.4.2: a share of the points for each hidden case right."""
    hidden = [p for public, p in problems if not public]
    right = sum(p is None for p in hidden)
    return (points * right / len(HIDDEN_DKL_CASES),
            "\n".join(dict.fromkeys(p for p in hidden if p)) or "Correct on every input tried.")


def judge(obs: dict, points: dict[str, float]) -> dict[str, Verdict]:
    problems = case_problems(obs)
    return {"1.4.1": judge_public(problems, points["1.4.1"]), "1.4.2": judge_hidden(problems, points["1.4.2"])}
