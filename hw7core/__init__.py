"""HW7's check of a submission, for students: `python -m hw7core HW7_submission.zip`.

intake.py, cells.py, limits.py and sample_quality.py (with quality_reference.npz) are the
autograder's own modules, copied here unchanged when the handout is built, so this check reads a
submission with the grader's rules and scores samples with the grader's scorer.  The grader's hidden
tests are not here: only the notebook's public tests (public_tests.json) run.
"""
