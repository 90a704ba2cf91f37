"""The child side of a graded part: run the student's definitions and observe what they do.

The sandbox copies this folder into the child's scratch folder as ``child/`` and runs
``python -I child/__main__.py FD``; the job comes on stdin.  The child judges nothing: it records
observations (shapes, values, gradients, call counts) on the inputs the job names, and the parent
(autograder/judges) judges them.  The tests' expected answers (the notebook's D_KL values, the
reference D_KL on the hidden inputs) stay in the parent; the child holds only the KL formula the
assignment states, to recompute the losses a training probe should have tracked; the reference
training loop joins it only in the sandbox of the job that trains with it (autograder/run/reference_training.py).  Its modules import only each other, the standard library, torch and HW7_utils, so
the grader's own folder stays closed to the child.
"""
