"""Time units: the one home of the conversion constants (event times are int64 nanoseconds since the epoch) and of
the duration labels (``15m``, ``1h``, ``1d``: forecast horizons, Prometheus durations) and their words."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

NS_PER_S = 1_000_000_000
DAY_S = 86_400
WEEK_S = 7 * DAY_S

_LABEL_UNITS: tuple[tuple[str, int], ...] = (("d", DAY_S), ("h", 3600), ("m", 60), ("s", 1))
_WORDS: dict[str, dict[str, str]] = {"en": {"d": " d", "h": " h", "m": " min", "s": " s"},
                                     "zh": {"d": "天", "h": "小时", "m": "分钟", "s": "秒"}}


def _parts(seconds: int) -> list[tuple[int, str]]:
    rest, parts = int(seconds), []
    for unit, size in _LABEL_UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append((count, unit))
    return parts


def duration_label(seconds: int) -> str:
    """The label of a whole number of seconds: the one format of forecast horizons (``horizon`` label, view
    columns ``forecast_<label>``) and of Prometheus durations in generated rules: days, hours, minutes, seconds,
    largest first, zero parts left out.

    >>> [duration_label(s) for s in (900, 1800, 3600, 10800, 43200, 86400, 5400, 45, 0)]
    ['15m', '30m', '1h', '3h', '12h', '1d', '1h30m', '45s', '0s']
    """
    if seconds < 0:
        msg = f"a duration label needs seconds >= 0, got {seconds}"
        raise ValueError(msg)
    return "".join(f"{count}{unit}" for count, unit in _parts(seconds)) or "0s"


def duration_words(seconds: int, language: str = "en") -> str:
    """The same duration for a human reader: ``30 min``, ``6 h``, ``1 h 30 min``; in Chinese ``30分钟``, ``6小时``.

    >>> duration_words(1800), duration_words(21600), duration_words(1800, "zh"), duration_words(86400, "zh")
    ('30 min', '6 h', '30分钟', '1天')
    """
    words = _WORDS[language]
    text = (" " if language == "en" else "").join(f"{count}{words[unit]}" for count, unit in _parts(seconds))
    return text or f"0{words['s']}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_iso(ns: int, timespec: str = "seconds") -> str:
    """Nanoseconds since the epoch as ISO 8601 UTC text ending in ``Z`` (``timespec`` as ``datetime.isoformat``'s;
    exact integer arithmetic, truncated to microseconds)."""
    return (_EPOCH + timedelta(microseconds=int(ns) // 1000)).isoformat(timespec=timespec).replace("+00:00", "Z")


def utc_date(ns: int) -> date:
    """The UTC day of nanoseconds since the epoch."""
    return date(1970, 1, 1) + timedelta(days=int(ns) // (DAY_S * NS_PER_S))
