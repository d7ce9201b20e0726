"""Reproducible output: the ``SOURCE_DATE_EPOCH`` convention (reproducible-builds.org).

When the environment variable ``SOURCE_DATE_EPOCH`` holds a Unix time (whole seconds), every
timestamp segkit writes into a published file is that moment instead of the clock, and measured
durations are written as 0, so two runs of the same data, parameters and package versions give
byte-identical files. Without it, timestamps are the real time (UTC).
"""

from __future__ import annotations

import datetime as dt
import os

from .errors import ParameterError

__all__ = ["source_date_epoch", "now", "timestamp", "duration"]

_VAR = "SOURCE_DATE_EPOCH"


def source_date_epoch() -> dt.datetime | None:
    """The moment ``SOURCE_DATE_EPOCH`` names (UTC), or None when it is unset or empty.

    Example
    -------
    >>> moment = source_date_epoch()
    >>> moment is None or moment.tzinfo is dt.timezone.utc
    True
    """
    raw = os.environ.get(_VAR, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ParameterError(f"{_VAR} must be a Unix time in whole seconds, got {raw!r}", where=_VAR,
                             fix="set it to e.g. $(git log -1 --format=%ct), or unset it")
    return dt.datetime.fromtimestamp(int(raw), tz=dt.timezone.utc)


def now() -> dt.datetime:
    """The current time in UTC, or the ``SOURCE_DATE_EPOCH`` moment when it is set."""
    return source_date_epoch() or dt.datetime.now(dt.timezone.utc)


def timestamp() -> str:
    """:func:`now` as ISO 8601 to the second, e.g. ``2026-12-03T15:00:00+00:00``."""
    return now().isoformat(timespec="seconds")


def duration(seconds: float) -> float:
    """A measured duration as it is published: 0.0 under ``SOURCE_DATE_EPOCH`` (never reproducible)."""
    return 0.0 if source_date_epoch() is not None else seconds
