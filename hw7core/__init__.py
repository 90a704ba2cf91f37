"""HW7's core, shared by the autograder and the student handout (which ships this folder whole).

The table of parts, every bound, the intake of a submission, the graded cells, which parts can run,
the sample-quality score of part 2.3 with its frozen reference, and the student's check
(`python -m hw7core HW7_submission.zip`).  The grader imports this package; this package imports
nothing of the grader (a layering contract in pyproject.toml, checked by `make lint`), so nothing
secret can be here: no hidden tests, no probes, no expected values, no child observers.
"""
