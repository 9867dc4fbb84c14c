"""Time units: the one home of the conversion constants (event times are int64 nanoseconds since the epoch)."""

from __future__ import annotations

NS_PER_S = 1_000_000_000
DAY_S = 86_400
WEEK_S = 7 * DAY_S
