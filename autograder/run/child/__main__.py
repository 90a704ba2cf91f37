"""The child's entry point: ``python -s -P child/__main__.py FD`` in the scratch folder (not -I: PYTHONHASHSEED)."""

import os
import sys

sys.path.insert(0, os.getcwd())  # -P leaves the scratch folder (this package, HW7_utils) off the path

from child import loops, model, retraining, runtime  # noqa: E402

# Part -> the function that observes it (the parts are hw7core/parts.py's; the child cannot import it).
OBSERVERS = {"1.4": model.observe_dkl, "2.1": model.observe_vae, "2.2": loops.observe_training,
             "2.3": retraining.retrain}

if __name__ == "__main__":
    runtime.main(OBSERVERS)
