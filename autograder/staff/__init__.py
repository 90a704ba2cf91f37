"""Staff tools on a graded batch: code similarity, the LMS gradebook, the TA's sheet of
written answers (with kl_hint.py's hint on 1.4's final expression)."""
