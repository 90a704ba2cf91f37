"""The child side of a graded part: run the student's definitions and observe what they do.

The sandbox copies this folder into the child's scratch folder as ``child/`` and runs
``python -I child/__main__.py FD``; the job comes on stdin.  The child judges nothing and holds no
expected values: it records observations (shapes, values, gradients, call counts) on the inputs the
job names, and the parent (autograder/checks) judges them.  Its modules import only each other,
the standard library, torch and HW7_utils, so the grader's own folder stays closed to the child.
"""
