"""The one writer of every CSV the kit hands to people (gradebook, canvas, score sheets, audit).

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return
before one) as a formula, and names and ids come from students (Gradescope lets them choose their
display name): ``=HYPERLINK(...)`` in a name would run when the TA opens gradebook.csv.  Every text
cell that could start a formula gets a leading apostrophe (OWASP's advice); plain numbers, negative
ones included, stay numbers so Canvas and spreadsheets still import the scores.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def cell(value: Any) -> str:
    """One cell as text, defused when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def unescape(text: str) -> str:
    """A cell read back from a file the kit wrote (the apostrophe it added taken off)."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text


class Writer:
    """``csv.writer`` whose every cell goes through ``cell``."""

    def __init__(self, handle, **kwargs: Any):
        self._writer = csv.writer(handle, **kwargs)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
