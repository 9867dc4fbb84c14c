"""Pieces of the offline HTML reports (city backtest, NAB backtest, city check-up): one file each, plots as
embedded PNGs, no external URL (a Content-Security-Policy forbids any load but inline styles and ``data:``
images, so a report opened on an air-gapped wall PC looks the same), readable durations and numbers."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

from vitals.units import DAY_S

# no scripts, no fonts, no fetches: inline CSS and data: images only
CSP = ("<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:; "
       "style-src 'unsafe-inline'\">")

CSS = """body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:1.5em 2em;color:#222}
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}h3{font-size:1em;margin:.8em 0 .3em}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ccc;padding:3px 8px;vertical-align:top}
th{background:#f3f3f3;text-align:left}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%}details{margin:.2em 0}summary{cursor:pointer}.note{color:#555;font-size:.9em}
.lv0{background:#e8f5e9}.lv1{background:#dbe9ff}.lv2{background:#fff6c2}.lv3{background:#ffd9b0}.lv4{background:#ffc0c0}
.up{color:#b00020}.down{color:#1b5e20}.page{page-break-after:always}
@media print{details{display:block}summary{display:none}}"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: str, *, lang: str = "en", css: str = "") -> str:
    """A whole document: charset, the CSP, the title and the house CSS (plus ``css``)."""
    return (f"<!DOCTYPE html>\n<html lang='{esc(lang)}'><head><meta charset='utf-8'>{CSP}"
            f"<meta name='viewport' content='width=device-width'><title>{esc(title)}</title>"
            f"<style>{CSS}{css}</style></head>\n<body>\n{body}\n</body></html>\n")


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_uri(fig: Any, dpi: int = 72) -> str:
    """The figure as a ``data:image/png;base64,...`` URI; closes the figure."""
    plt = pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def img(uri: str, alt: str, cls: str = "plot") -> str:
    return f"<img class='{esc(cls)}' alt='{esc(alt)}' src='{uri}'>"


def duration(seconds: float | None) -> str:
    """``45 s``, ``17.4 min``, ``3.2 h``, ``2.5 d``; ``-`` for None or NaN.

    >>> duration(1044), duration(30), duration(5400), duration(3 * 86400)
    ('17.4 min', '30 s', '1.5 h', '3.0 d')
    """
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    s = float(seconds)
    if abs(s) < 90:
        return f"{s:.0f} s"
    if abs(s) < 90 * 60:
        return f"{s / 60:.1f} min"
    if abs(s) < 48 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / DAY_S:.1f} d"


def number(value: Any, digits: int = 3) -> str:
    """Integers with thousands separators, floats to ``digits`` significant digits, None as ``-``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}g}" if abs(value) < 10**digits else f"{value:,.0f}"
    return str(value)


def percent(share: float | None, digits: int = 1) -> str:
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "-"
    return f"{100.0 * share:.{digits}f} %"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, table_id: str = "", numeric: Sequence[int] = (),
          row_classes: Sequence[str] | None = None) -> str:
    """An HTML table; cells are escaped unless given as ``Raw``; columns in ``numeric`` right-aligned."""
    num = set(numeric)
    head = "".join(f"<th class='num'>{esc(h)}</th>" if i in num else f"<th>{esc(h)}</th>"
                   for i, h in enumerate(headers))
    body = []
    for k, row in enumerate(rows):
        cls = f" class='{esc(row_classes[k])}'" if row_classes and row_classes[k] else ""
        cells = "".join(f"<td class='num'>{_cell(c)}</td>" if i in num else f"<td>{_cell(c)}</td>"
                        for i, c in enumerate(row))
        body.append(f"<tr{cls}>{cells}</tr>")
    ident = f" id='{esc(table_id)}'" if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def fnum(value: Any) -> float:
    """A pandas or numpy scalar as a float (the stubs type cells loosely)."""
    return float(value)


def inum(value: Any) -> int:
    return int(value)


class Raw(str):
    """Markup that a table cell takes as it is."""


def _cell(value: Any) -> str:
    return value if isinstance(value, Raw) else esc(value)
