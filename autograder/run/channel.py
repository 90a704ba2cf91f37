"""The child's channel, read by the parent: a private pipe that carries the job's messages as JSON lines.

Student code runs in the child and can write to the pipe too (issue 21), so nothing read here is trusted
for more than a report of outputs: the first message says the child has read its job (the part's CPU
count begins there), then one report (the observations, or the cause the part could not run) counts.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from hw7core import limits


def collect(fd: int, sink: list[bytes], started: threading.Event) -> None:
    """Collect the child's channel into ``sink``; set ``started`` at its first line, {"started": true, ...},
    which the child's runtime sends once it has read its job, before any student code exists."""
    total, head = 0, b""
    with os.fdopen(fd, "rb") as pipe:
        while chunk := pipe.read1(65536):
            total += len(chunk)
            if total <= limits.OUTCOME_BYTES:
                sink.append(chunk)
            if not started.is_set() and len(head) < 4096:
                head += chunk
                if b"\n" in head and _says_started(head.split(b"\n", 1)[0]):
                    started.set()


def _says_started(line: bytes) -> bool:
    try:
        return json.loads(line).get("started") is True
    except (ValueError, AttributeError):
        return False


# The keys of each kind of message; keys beyond these are claims (a score, verdicts) that no child makes.
MESSAGE_KEYS = ({"nonce", "part", "started"}, {"nonce", "part", "observations", "cell_errors"},
                {"nonce", "part", "cause"})


def parse(raw: bytes, nonce: str, part: str) -> dict[str, Any] | None:
    """This job's one report: the first well-formed message that carries this run's nonce and part and only
    a report's keys, with ``ignored`` (what else the channel carried, for the grading notes), else None.

    Student code runs in the child and can write to the channel (issue 21): whatever it sends is at most a
    report of outputs chosen by the student, judged on the parent's inputs like any other.  A message for
    another job or part, one that claims more than outputs, or a second report is ignored, and said so."""
    report, ignored = None, []
    for line in raw.decode("utf-8", "replace").splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            ignored.append("a line that is not a message")
            continue
        if not isinstance(message, dict) or message.get("nonce") != nonce or message.get("part") != part:
            ignored.append("a message for another job or part")
        elif set(message) not in MESSAGE_KEYS or not _well_formed(message):
            extra = sorted(set(message) - set().union(*MESSAGE_KEYS))
            ignored.append(f"a message claiming more than a report ({', '.join(extra[:5]) or 'mixed kinds'})")
        elif "started" in message:
            continue
        elif report is not None:
            ignored.append("a second report")
        else:
            report = message
    if report is not None and ignored:
        counted = ", ".join(f"{ignored.count(text)} x {text}" for text in dict.fromkeys(ignored))
        report = {**report, "ignored": [f"the grader's channel also carried {counted}: ignored (only the job's "
                                        "first report counts)"]}
    return report


def _well_formed(message: dict[str, Any]) -> bool:
    if "started" in message:
        return message["started"] is True
    if "cause" in message:
        return isinstance(message["cause"], str)
    return isinstance(message["observations"], dict) and isinstance(message["cell_errors"], list)
