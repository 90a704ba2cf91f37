"""HW7's check of a submission, for students: `python -m hw7_check HW7_submission.zip`.

student_check.py (the check), public_child.py, intake.py, cells.py, readiness.py, parts.py, limits.py and
sample_quality.py (with quality_reference.npz) are the autograder's own modules, copied here unchanged
when the handout is built, so this check reads a submission with the grader's rules, says what the grader
will train, and scores samples with the grader's scorer.  The grader's hidden tests are not here: only the
notebook's public tests (public_tests.json) run.
"""
