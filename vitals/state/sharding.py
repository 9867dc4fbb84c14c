"""Series shards: shard ``k`` owns the global series ids with ``id % n_shards == k``; inside a shard a series
lives at the local row ``id // n_shards``, so each shard's arrays have ``ceil(n_series / n_shards)`` rows."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vitals.batches import ReadingBatch
from vitals.catalog.model import Catalog


def shard_of(series_ids: npt.NDArray[np.integer], n_shards: int) -> npt.NDArray[np.int64]:
    """The shard of each global series id."""
    return series_ids.astype(np.int64) % n_shards


def rows_per_shard(n_series: int, n_shards: int) -> int:
    return -(-n_series // n_shards)


def split_by_shard(batch: ReadingBatch, catalog: Catalog, n_shards: int) -> list[tuple[int, ReadingBatch]]:
    """The non-empty per-shard parts of ``batch`` in shard order; arrival order is kept inside each part.

    One stable argsort of the shard numbers, then contiguous slices.
    """
    if not len(batch):
        return []
    if n_shards == 1:
        return [(0, batch)]
    shard = shard_of(catalog.series_id(batch.indicator, batch.street), n_shards)
    order = np.argsort(shard, kind="stable")
    counts = np.bincount(shard, minlength=n_shards)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return [(k, batch.take(order[bounds[k]:bounds[k + 1]])) for k in range(n_shards) if counts[k]]
