"""Grading with the children stubbed out, for tests of the parent (issue 18) that must stay cheap.

The parent's own handling of a submission runs for real: the intake, the graded cells, the notebook's
configs, readiness, the results model, the batch, every page and sheet.  Only the children are replaced:
a part that can run scores what its graded cells define (each test whose names are all defined passes),
so a submission's grade still depends on its own notebook alone.  ``CHILD_MESSAGES`` puts a message in
every test's output, as a child's exception message would arrive (student text the parent must carry).
"""

from __future__ import annotations

from autograder import grader
from autograder.judges.table import of_part, zero

CHILD_MESSAGES: dict[str, str] = {}  # a fragment of the submission's file name -> the message


def _grade(self):
    message = next((m for key, m in CHILD_MESSAGES.items() if key in self.sub.source.name), "")
    for part in self.parts:
        if part in self.blocked:
            tests = zero(part, self.blocked[part])
        else:
            tests = [t.result(t.points if all(n in self.code.where for n in t.needs) else 0.0, message)
                     for t in of_part(part)]
        for test in tests:
            self.results.add(test)
    return self.results


def install(monkeypatch, messages: dict[str, str] | None = None) -> None:
    """Stub the children out of every grading for this test (``messages``: see CHILD_MESSAGES)."""
    monkeypatch.setattr(grader._Grading, "grade", _grade)
    monkeypatch.setattr("parent_only.CHILD_MESSAGES", dict(messages or {}))
