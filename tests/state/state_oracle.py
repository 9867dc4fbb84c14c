"""Random reading streams with gaps, duplicates and out-of-order arrivals, and a pandas/numpy oracle that
computes every vital of docs/vitals.md directly from the definitions (plain loops where the definition is a
sequence, e.g. hysteresis)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.health.levels import badness, oriented_thresholds
from vitals.state import ShardState, VitalsView, split_by_shard

NS = 1_000_000_000
ORIGIN_NS = 946_684_800 * NS
T0 = 1_767_225_600 * NS  # 2026-01-01T00:00:00Z


@dataclass
class Stream:
    batch: ReadingBatch         # every reading in arrival order
    duplicate: np.ndarray       # bool per reading: an exact duplicate of an earlier arrival


def random_stream(catalog: Catalog, rng: np.random.Generator, *, n_series: int = 4, max_span_s: int = 108_000,
                  disorder_s: float = 150.0, dup_share: float = 0.05) -> Stream:
    """Readings of a few series: regular cadence with gaps and jitter, values around thresholds with stuck runs,
    arrival shuffled within ``disorder_s``, ~``dup_share`` exact duplicates arriving up to 100 s later."""
    codes = rng.choice(catalog.n_series, size=n_series, replace=False)
    span = int(rng.integers(600, max_span_s))
    parts = [_series_readings(catalog, rng, int(s), span) for s in codes]
    ts = np.concatenate([p[0] for p in parts])
    series = np.concatenate([np.full(len(p[0]), s) for p, s in zip(parts, codes, strict=True)])
    value = np.concatenate([p[1] for p in parts])
    key = ts / NS + np.where(rng.random(len(ts)) < 0.3, rng.uniform(0, disorder_s, len(ts)), 0.0)
    n_dup = int(dup_share * len(ts))
    pick = rng.integers(0, len(ts), n_dup)
    dup_value = np.where(rng.random(n_dup) < 0.5, value[pick], value[pick] + 1.0)
    ts, series = np.concatenate([ts, ts[pick]]), np.concatenate([series, series[pick]])
    value = np.concatenate([value, dup_value])
    key = np.concatenate([key, key[pick] + rng.uniform(1e-3, 100.0, n_dup)])
    order = np.argsort(key, kind="stable")
    ts, series, value = ts[order], series[order], value[order]
    ind, street = catalog.split_series_id(series)
    batch = ReadingBatch(ts.astype(np.int64), ind.astype(np.int16), street.astype(np.int32), value)
    seen = pd.DataFrame({"s": series, "t": ts}).duplicated().to_numpy()
    return Stream(batch, seen)


def _series_readings(catalog: Catalog, rng: np.random.Generator, series: int, span: int) -> tuple[np.ndarray, ...]:
    ind = series // catalog.n_streets
    cadence = int(rng.choice([60, 120, 300, 900]))
    steps = np.where(rng.random(span // cadence + 1) < 0.1, rng.integers(2, 20, span // cadence + 1), 1)
    grid = np.cumsum(steps) * cadence
    grid = grid[grid < span]
    ts = T0 + int(rng.integers(0, 3600)) * NS + grid * NS + rng.integers(0, 10 * NS, len(grid))
    th = catalog.thresholds_array[ind]
    center = th[int(rng.integers(0, 4))]
    scale = max(abs(th[-1] - th[0]) / 6.0, 1e-3)
    value = center + scale * rng.normal(0, 1, len(ts))
    if catalog.indicators[ind].basis == "zscore":
        s = catalog.indicators[ind].seasonality
        value = s.base + s.noise * rng.normal(2.5, 1.5, len(ts))
    value = np.round(value, 3)
    if rng.random() < 0.4 and len(value) > 2:  # a stuck run
        a = int(rng.integers(0, len(value) - 1))
        value[a:] = value[a]
    return ts, value


def apply_in_batches(states: list[ShardState], batch: ReadingBatch, cuts: list[int], catalog: Catalog) -> int:
    """Feed ``batch`` cut at ``cuts`` (positions), split by shard; returns the number of duplicates."""
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(batch))), len(batch)]
    dups = 0
    for a, b in itertools.pairwise(bounds):
        part = batch.take(np.arange(a, b))
        for shard, sub in split_by_shard(part, catalog, len(states)):
            dups += len(states[shard].update(sub).duplicates)
    return dups


def union_view(states: list[ShardState]) -> VitalsView:
    now = max(s.clock_ns for s in states)
    view = VitalsView.concat([s.view(now) for s in states])
    order = np.argsort(view.series)
    return VitalsView(view.series[order], view.indicator[order], view.street[order],
                      {k: v[order] for k, v in view.columns.items()}, view.now_s)


def oracle(catalog: Catalog, stream: Stream, windows: tuple, *, half_life_cadences: float = 5.0,
           stuck_cadences: float = 6.0) -> pd.DataFrame:
    """Every view column per series (index: global series id) from the accepted readings."""
    b = stream.batch
    keep = ~stream.duplicate
    series = catalog.series_id(b.indicator, b.street)[keep]
    df = pd.DataFrame({"series": series, "ind": b.indicator[keep].astype(np.int64), "ts": b.ts_ns[keep],
                       "value": b.value[keep], "arrival": np.arange(int(keep.sum()))})
    as_of = int(df.ts.max())
    out = df.groupby("series").agg(readings=("value", "size"), last_ts=("ts", "max"), first_ts=("ts", "min"),
                                   ind=("ind", "first"))
    out["last"] = df.loc[df.groupby("series").ts.idxmax()].set_index("series").value
    out["last_ts_s"] = out.last_ts / NS
    out["seconds_since_last"] = (as_of - out.last_ts) / NS
    cadence = catalog.cadence_array[out.ind.to_numpy()]
    hl = cadence[np.searchsorted(out.index.to_numpy(), df.series)] * half_life_cadences * NS
    weight = np.exp2(-(out.last_ts.reindex(df.series).to_numpy() - df.ts.to_numpy()) / hl)
    out["ewma"] = (df.assign(wx=weight * df.value, w=weight).groupby("series")[["wx", "w"]].sum()
                   .pipe(lambda g: g.wx / g.w))
    differs = df.value.to_numpy() != out["last"].reindex(df.series).to_numpy()
    change = df[differs].groupby("series").ts.max().reindex(out.index)
    ref = change.fillna(out.first_ts).astype(np.int64)
    out["stuck"] = ((out.last_ts - ref) / NS >= stuck_cadences * cadence).astype(float)
    for w in windows:
        _window_oracle(out, df, w, as_of)
    _dropout_oracle(out, catalog, windows, as_of)
    _level_oracle(out, df, catalog)
    return out


def _window_oracle(out: pd.DataFrame, df: pd.DataFrame, w, as_of: int) -> None:
    bucket_ns = w.bucket_s * NS
    bucket = (df.ts - ORIGIN_NS) // bucket_ns
    head = (as_of - ORIGIN_NS) // bucket_ns
    inside = df[bucket > head - w.buckets].assign(mid=(bucket - head + 0.5) * w.bucket_s)
    g = inside.groupby("series")
    out[f"count_{w.name}"] = g.size().reindex(out.index).fillna(0)
    out[f"mean_{w.name}"] = g.value.mean()
    out[f"min_{w.name}"] = g.value.min()
    out[f"max_{w.name}"] = g.value.max()
    out[f"p95_{w.name}"] = g.value.apply(lambda v: np.sort(v.to_numpy())[(95 * len(v) + 99) // 100 - 1])

    def slope(part: pd.DataFrame) -> float:
        if part.mid.nunique() < 2:
            return np.nan
        x = part.mid - part.mid.mean()
        return float((x * part.value).sum() / (x * x).sum())

    out[f"rate_{w.name}"] = g[["mid", "value"]].apply(slope) if len(inside) else np.nan


def _dropout_oracle(out: pd.DataFrame, catalog: Catalog, windows: tuple, as_of: int) -> None:
    ratios = []
    for code, row in out.iterrows():
        cadence = catalog.cadence_array[int(row.ind)]
        fits = [w for w in sorted(windows, key=lambda w: w.length_s) if w.length_s >= 4 * cadence]
        w = fits[0] if fits else max(windows, key=lambda w: w.length_s)
        head = (as_of - ORIGIN_NS) // (w.bucket_s * NS)
        start = max(ORIGIN_NS + (head - w.buckets + 1) * w.bucket_s * NS, int(row.first_ts))
        expected = np.floor((as_of - start) / NS / cadence)
        count = out.loc[code, f"count_{w.name}"]
        ratios.append(min(max(1 - count / expected, 0.0), 1.0) if expected >= 1 else 0.0)
    out["dropout_ratio"] = ratios


def _level_oracle(out: pd.DataFrame, df: pd.DataFrame, catalog: Catalog) -> None:
    ind = df.ind.to_numpy()
    x = badness(catalog, ind, df.value.to_numpy(), df.ts.to_numpy())
    th = oriented_thresholds(catalog)
    gap = np.diff(th, axis=1)
    lowered = th - catalog.hysteresis.margin * np.concatenate([gap[:, :1], gap], axis=1)
    raw = (x[:, None] >= th[ind]).sum(axis=1)
    low = (x[:, None] >= lowered[ind]).sum(axis=1)
    state: dict[int, list[int]] = {}  # series -> [max ts, level, quiet, raw]
    for s, t, r, d in zip(df.series.to_numpy(), df.ts.to_numpy(), raw, low, strict=True):
        st = state.setdefault(int(s), [-(2**63), 0, 0, 0])
        if t <= st[0]:
            continue
        st[0], st[3] = t, int(r)
        if r > st[1]:
            st[1], st[2] = int(r), 0
        elif d < st[1]:
            st[2] += 1
            if st[2] >= catalog.hysteresis.intervals:
                st[1], st[2] = int(d), 0
        else:
            st[2] = 0
    out["level"] = [float(state[int(s)][1]) for s in out.index]
    out["raw_level"] = [float(state[int(s)][3]) for s in out.index]
