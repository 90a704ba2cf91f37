"""The HW7 autograder: intake (hw7core) -> graded cells -> isolated runs -> judges -> results -> reports.

The layout, in pipeline order, is in README.md beside this file."""

import sys
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
if str(KIT_ROOT) not in sys.path:  # HW7_utils lives at the kit's top level
    sys.path.insert(0, str(KIT_ROOT))

# nbformat validates notebooks with jsonschema, which imports rfc3987_syntax when it is installed
# (Jupyter pulls it in) and that compiles a grammar at import: 1.2 s of every grading, for "iri"
# formats that no notebook schema uses.  Without it jsonschema simply skips those formats.
sys.modules.setdefault("rfc3987_syntax", None)
