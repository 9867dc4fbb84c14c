"""Display width of CJK text in a terminal: wide characters take two columns, ANSI escapes and combining marks
none; padding and clipping keep columns aligned."""

from __future__ import annotations

import doctest

import vitals.textwidth
from vitals.textwidth import cell, clip, display_width, pad


def test_widths_of_cjk_latin_fullwidth_combining_and_ansi() -> None:
    assert display_width("yuzhong") == 7
    assert display_width("渝中区") == 6
    assert display_width("ＡＢ") == 4  # fullwidth Latin
    assert display_width("e\u0301") == 1  # e + combining acute
    assert display_width("\033[31m红色\033[0m") == 4
    assert display_width("") == 0


def test_pad_and_cell_give_exact_columns() -> None:
    for text in ("渝中区 yuzhong", "两江新区 liangjiang", "a", "万州区第12街道 wanzhou_s012"):
        for width in (6, 9, 26):
            assert display_width(cell(text, width)) == width
            assert display_width(pad(text, width)) == max(width, display_width(text))
    assert pad("区", 4, ">") == "  区"
    # a wide character never straddles the cut
    assert clip("渝中区", 5) == "渝.." and display_width(clip("渝中区", 5)) == 4
    assert clip("渝中区", 6) == "渝中区"


def test_doctests() -> None:
    assert doctest.testmod(vitals.textwidth).failed == 0
