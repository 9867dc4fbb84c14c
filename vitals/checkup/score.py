"""The vulnerability score of an area (district or street): four components in [0, 1], each a plain figure of
the period mapped by ``x / (x + half)`` (0 when nothing happened, 0.5 at the documented half point, towards 1
beyond), averaged with fixed weights and scaled to 0-100. Not fitted to anything: the same figures always give
the same score, so two periods compare. Definition and half points: ``docs/checkup.md``.

- exposure: the share of the area's series-time at blue or worse, each series weighted by its indicator's health
  weight (half point 2 %);
- frequency: incidents touching the area per 7 days (half point 2 for a district, 1 for a street);
- severity: the mean incident peak, yellow 1/3, orange 2/3, red 1 (already in [0, 1]);
- recovery: the median time to recover of the area's incidents (half point 1 hour).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from vitals.report_html import duration, fnum

WEIGHTS = {"exposure": 0.25, "frequency": 0.25, "severity": 0.25, "recovery": 0.25}
HALF = {"exposure": 0.02, "frequency_district": 2.0, "frequency_street": 1.0, "recovery": 3600.0}


@dataclass(frozen=True)
class Raw:
    """The plain figures of each area (arrays of equal length)."""

    exposure: npt.NDArray[np.float64]     # weighted share of series-time at blue or worse
    frequency: npt.NDArray[np.float64]    # incidents per 7 days
    severity: npt.NDArray[np.float64]     # mean incident peak mapped to [0, 1]
    recovery_s: npt.NDArray[np.float64]   # median time to recover (NaN: no recovered incident)


def saturate(x: npt.NDArray[np.float64], half: float) -> npt.NDArray[np.float64]:
    x = np.nan_to_num(np.maximum(np.asarray(x, dtype=np.float64), 0.0))
    return x / (x + half)


def vulnerability(raw: Raw, kind: str = "district") -> pd.DataFrame:
    """Components and score (0-100) per area, in the order of ``raw``."""
    comp = pd.DataFrame({
        "exposure": saturate(raw.exposure, HALF["exposure"]),
        "frequency": saturate(raw.frequency, HALF[f"frequency_{kind}"]),
        "severity": np.clip(np.nan_to_num(raw.severity), 0.0, 1.0),
        "recovery": saturate(raw.recovery_s, HALF["recovery"]),
    })
    comp["score"] = 100.0 * sum(WEIGHTS[name] * comp[name] for name in WEIGHTS)
    return comp


def reasons(raw: Raw, comp: pd.DataFrame, i: int, lang: str = "en", top: int = 2) -> list[str]:
    """The components that add most to area ``i``'s score, in words with their figures."""
    order = sorted(WEIGHTS, key=lambda name: -WEIGHTS[name] * fnum(comp.at[i, name]))
    out = []
    for name in order[:top]:
        if fnum(comp.at[i, name]) <= 0.0:
            continue
        out.append(_words(name, raw, i, lang))
    return out


def _words(name: str, raw: Raw, i: int, lang: str) -> str:
    zh = lang == "zh"
    if name == "exposure":
        share = f"{100 * raw.exposure[i]:.1f}%"
        return f"预警时长占比 {share}" if zh else f"exposure: {share} of the time at a warning level"
    if name == "frequency":
        f = f"{raw.frequency[i]:.1f}"
        return f"事件频次 每周 {f} 起" if zh else f"frequency: {f} incidents per week"
    if name == "severity":
        return (f"严重程度 {raw.severity[i]:.2f}（黄=0.33，橙=0.67，红=1）" if zh
                else f"severity: mean incident peak {raw.severity[i]:.2f} (yellow 0.33, orange 0.67, red 1)")
    rec = duration(raw.recovery_s[i])
    return f"恢复时间中位数 {rec}" if zh else f"recovery: median time to recover {rec}"
