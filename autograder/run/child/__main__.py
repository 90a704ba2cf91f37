"""The child's entry point: ``python -s -P child/__main__.py FD`` in the scratch folder (not -I: PYTHONHASHSEED)."""

import os
import sys

sys.path.insert(0, os.getcwd())  # -P leaves the scratch folder (this package, HW7_utils) off the path

from child import runtime  # noqa: E402

# Part -> "module:function" of its observer, imported only for that part's job, so that a child holds
# no other part's code (the re-training's reference loop, the training probe's KL) in sys.modules.  The
# parts are hw7core/parts.py's; the child cannot import it, so tests/test_judges.py checks these keys
# against parts.NUMBERS.
OBSERVERS = {"1.4": "model:observe_dkl", "2.1": "model:observe_vae", "2.2": "loops:observe_training",
             "2.3": "retraining:retrain"}

if __name__ == "__main__":
    runtime.main(OBSERVERS)
