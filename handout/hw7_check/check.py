"""The handout's entry to the student's check: the grader's own student_check.py, copied beside this file
when the handout is built (the kit runs the same file as `python -m autograder check`)."""

from .student_check import check, main

__all__ = ["check", "main"]
