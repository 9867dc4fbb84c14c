"""Terminal display width of text with CJK characters: a wide (W) or fullwidth (F) character takes two columns,
a combining mark or a zero-width character none (``unicodedata``; ANSI colour escapes take none either), so
columns of Chinese names line up.

>>> display_width("渝中区 yuzhong")
14
>>> pad("渝中区", 8) + "|"
'渝中区  |'
>>> clip("解放碑街道", 7)
'解放..'
"""

from __future__ import annotations

import re
import unicodedata

_ANSI = re.compile(r"\033\[[0-9;]*[A-Za-z]")
_ZERO = {"Mn", "Me", "Cf"}  # combining marks and format characters (zero width joiners, ...)


def char_width(ch: str) -> int:
    """Columns of one character: 2 wide or fullwidth, 0 combining or format or control, else 1."""
    if unicodedata.category(ch) in _ZERO or (ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (ANSI colour escapes take none)."""
    return sum(char_width(ch) for ch in _ANSI.sub("", text))


def clip(text: str, width: int, ellipsis: str = "..") -> str:
    """``text`` cut to at most ``width`` columns (ending in ``ellipsis`` when cut); no ANSI escapes expected.
    The default ellipsis is ASCII: "…" is East Asian "ambiguous", one column or two depending on the terminal."""
    if display_width(text) <= width:
        return text
    room = width - display_width(ellipsis)
    out, used = [], 0
    for ch in text:
        w = char_width(ch)
        if used + w > room:
            break
        out.append(ch)
        used += w
    return "".join(out) + ellipsis


def pad(text: str, width: int, align: str = "<") -> str:
    """``text`` padded with spaces to ``width`` columns (``align`` ``<`` left, ``>`` right); never cut."""
    gap = " " * max(width - display_width(text), 0)
    return gap + text if align == ">" else text + gap


def cell(text: str, width: int, align: str = "<") -> str:
    """``text`` clipped and padded to exactly ``width`` columns."""
    return pad(clip(text, width), width, align)
