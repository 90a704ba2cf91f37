"""The reference tests: each part's inputs (probes.py, secret per grading) go to its child in the job, and
the child's raw observations (child/protocol.py) come back to a judge per part (dkl.py, vae.py,
train.py), which gives each test of the part points out of its row in table.py and a message in the
student's terms.

Expected values live here, in the parent: they are computed from the inputs the parent chose (made again
from its own job, never read back from the child), and never travel to the child.  Messages of hidden
tests never quote hidden inputs or expected numbers.
"""

from __future__ import annotations

from collections.abc import Callable

from autograder.judges import dkl, table, train, vae
from autograder.judges.common import Trial, Verdict
from autograder.judges.probes import HIDDEN_DKL_CASES, PUBLIC_DKL, inputs_for, job_for
from autograder.judges.train import prior_convention
from autograder.results import TestResult
from autograder.run.child import protocol
from hw7core import parts

__all__ = ["HIDDEN_DKL_CASES", "JUDGES", "PUBLIC_DKL", "inputs_for", "judge", "job_for", "prior_convention", "table"]

# Part -> its judge: (the parent's inputs + the child's observations, each test's points) -> each test's
# verdict.  Derived from parts.QUICK: each judge module names the part it judges.
_BY_PART = {module.PART: module.judge for module in (dkl, vae, train)}
JUDGES: dict[str, Callable[[Trial, dict[str, float]], dict[str, Verdict]]] = {p: _BY_PART[p] for p in parts.QUICK}


def judge(part: str, observations: dict, inputs) -> list[TestResult]:
    """The tests of a quickly probed part, scored from the child's observations (table order).

    ``inputs``: the protocol inputs the parent sent (probes.inputs_for), not anything the child sent back."""
    tests = table.of_part(part)
    trial = Trial(inputs=inputs, seen=protocol.load(protocol.SEEN[part], observations))
    verdicts = JUDGES[part](trial, {t.number: t.points for t in tests})
    return [t.result(*verdicts[t.number]) for t in tests]

