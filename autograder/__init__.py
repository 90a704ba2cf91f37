"""The HW7 autograder: intake -> graded cells -> isolated runs -> checks -> sample quality -> results."""

import sys
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
if str(KIT_ROOT) not in sys.path:  # HW7_utils lives at the kit's top level
    sys.path.insert(0, str(KIT_ROOT))
