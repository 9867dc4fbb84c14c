"""Generated streets of the model city: deterministic names, ids and positions per district."""

from __future__ import annotations

import math
import zlib

from vitals.catalog.model import District, Street


def allocate_streets(districts: tuple[District, ...], total: int | None) -> list[int]:
    """Streets per district: the districts' own counts, or scaled to ``total`` (at least 1 each).

    Uses largest-remainder rounding so the counts add up to ``total`` exactly.
    """
    counts = [d.streets for d in districts]
    if total is None or not districts:
        return counts
    weight = sum(counts)
    exact = [max(1.0, total * c / weight) for c in counts]
    base = [math.floor(x) for x in exact]
    short = total - sum(base)
    order = sorted(range(len(exact)), key=lambda i: (base[i] - exact[i], i))
    i = 0
    while short > 0:
        base[order[i % len(order)]] += 1
        short -= 1
        i += 1
    while short < 0:  # only when the minimum of 1 pushed us over: take from the largest
        j = max(range(len(base)), key=lambda k: base[k])
        base[j] -= 1
        short += 1
    return base


def _jitter(key: str, scale: float) -> float:
    """A deterministic offset in [-scale, scale] from a key (no global random state)."""
    return (zlib.crc32(key.encode()) / 0xFFFFFFFF * 2.0 - 1.0) * scale


def generate_streets(districts: tuple[District, ...], total: int | None = None) -> tuple[Street, ...]:
    """Streets ``<district>_sNNN`` named after their district, placed around its centroid."""
    streets: list[Street] = []
    for district, n in zip(districts, allocate_streets(districts, total), strict=True):
        for k in range(1, n + 1):
            sid = f"{district.id}_s{k:03d}"
            streets.append(Street(
                id=sid,
                name_zh=f"{district.name_zh}第{k}街道",
                name_en=f"{district.name_en} Street {k}",
                district_id=district.id,
                lat=round(district.lat + _jitter(sid + "lat", 0.08), 4),
                lon=round(district.lon + _jitter(sid + "lon", 0.08), 4),
            ))
    return tuple(streets)
