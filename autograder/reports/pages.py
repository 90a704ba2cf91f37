"""The pieces every page of the kit shares: the style, the page frame, embedded figures, numbers."""

from __future__ import annotations

import base64
from html import escape

MARKS = {"passed": "&#10003;", "failed": "&#10007;"}  # a shape as well as a colour: readable without colour

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0} th,td{border:1px solid #ddd;padding:.3em .6em;
text-align:left;vertical-align:top} th{background:#f4f4f4} td.num{text-align:right;white-space:nowrap}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:.5em;margin:.2em 0;font-size:.9em}
.passed{color:#1a7f37} .failed{color:#c62828} td.passed,td.failed{white-space:nowrap} .muted{color:#666;font-size:.9em}
.badge{display:inline-block;padding:.1em .5em;border-radius:.6em;background:#eee;font-size:.85em}
img{max-width:100%}
"""


def num(value: float) -> str:
    """A score as people write it: 80, 72.5, 10.6."""
    value = round(float(value), 4)
    return str(int(value)) if value.is_integer() else repr(value)


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def figure(draw, alt: str) -> str:
    """An embedded figure, or a note saying why it could not be drawn (a page never fails on one)."""
    try:
        return f"<p>{_img(draw(), alt)}</p>"
    except Exception as exc:  # a malformed extra_data must not cost the student their page
        import matplotlib.pyplot as plt

        plt.close("all")
        return f'<p class="muted">The figure could not be drawn ({escape(type(exc).__name__)}: {escape(str(exc))}).</p>'
