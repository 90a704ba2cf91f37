"""The reference tests: each part's probe parameters (probes.py) go to its child in the job, and the
child's observations come back to a judge function per test (dkl.py, vae.py, train.py), which gives
points and a message in the student's terms; the rows of table.py say what each test is worth.

The expected answers of 1.4 and 2.1 are computed here, in the parent, and never travel to the child;
2.2's expected losses are recomputed in the child, from the tensors it records, with the KL formula the
assignment states (only the child has those tensors).  Messages of hidden tests never quote expected
numbers or input values (a hidden D_KL case names its input's shape).
"""

from __future__ import annotations

from collections.abc import Callable

from autograder.judges import dkl, table, train, vae
from autograder.judges.common import Verdict
from autograder.judges.probes import HIDDEN_DKL_CASES, PUBLIC_DKL, job_for
from autograder.judges.train import prior_convention
from autograder.results import TestResult

__all__ = ["HIDDEN_DKL_CASES", "JUDGES", "PUBLIC_DKL", "judge", "job_for", "prior_convention", "table"]

# Part -> its judge: the child's observations and each test's points -> each test's verdict.
JUDGES: dict[str, Callable[[dict, dict[str, float]], dict[str, Verdict]]] = {
    "1.4": dkl.judge, "2.1": vae.judge, "2.2": train.judge,
}


def judge(part: str, observations: dict) -> list[TestResult]:
    """The tests of a quickly probed part, scored from the child's observations (table order)."""
    tests = table.of_part(part)
    verdicts = JUDGES[part](observations, {t.number: t.points for t in tests})
    return [t.result(*verdicts[t.number]) for t in tests]
