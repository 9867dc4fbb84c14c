"""Series state: rolling vital signs, duplicates, warning levels with hysteresis and data quality, per shard,
in numpy arrays. Definitions of every statistic: ``docs/vitals.md``."""

from vitals.state.shard import ShardState, UpdateResult
from vitals.state.sharding import rows_per_shard, shard_of, split_by_shard
from vitals.state.view import VitalsView
from vitals.state.windows import DEFAULT_WINDOWS, Window

__all__ = [
    "DEFAULT_WINDOWS", "ShardState", "UpdateResult", "VitalsView", "Window", "rows_per_shard", "shard_of",
    "split_by_shard",
]
