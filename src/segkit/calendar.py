"""Calendar months, the calibration/holdout split and the tier windows: written once, used everywhere.

Every period segkit works with is made of whole calendar months. Features, tiers and lifecycle
stages all ask the same questions (which month is this, what is N months earlier, which months
form the window ending at ``as_of``); this module answers them, on plain dates and, for the
per-row work, on pandas columns.

Example
-------
>>> import datetime as dt
>>> add_months(dt.date(2024, 1, 31), 1), month_end(dt.date(2024, 2, 10))
(datetime.date(2024, 2, 1), datetime.date(2024, 2, 29))
>>> shift_date(dt.date(2024, 3, 31), -1)
datetime.date(2024, 2, 29)
>>> [m.isoformat() for m in window_month_starts(dt.date(1997, 12, 31), 3)]
['1997-10-01', '1997-11-01', '1997-12-01']
>>> make_split(dt.date(1997, 1, 1), dt.date(1997, 12, 31), holdout_months=6, window_months=6).holdout_end
datetime.date(1998, 6, 30)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pandas as pd

from .errors import ParameterError

__all__ = ["month_start", "add_months", "month_end", "shift_date", "month_index", "months_between",
           "window_month_starts", "Split", "make_split", "split_dates"]


def month_start(day: dt.date) -> dt.date:
    """The first day of ``day``'s month."""
    return dt.date(day.year, day.month, 1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(day: dt.date) -> dt.date:
    """The last day of ``day``'s month."""
    return add_months(day, 1) - dt.timedelta(days=1)


def shift_date(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months; a month's last day stays a month's last day."""
    target = add_months(day, months)
    if day == month_end(day):
        return month_end(target)
    return min(target.replace(day=day.day) if day.day <= month_end(target).day else month_end(target),
               month_end(target))


def month_index(when: dt.date | pd.Timestamp | pd.Series) -> Any:
    """A running month number (year * 12 + month - 1): differences are whole months.

    Works on one date or on a pandas column of dates (vectorised: no Python loop per row).

    >>> month_index(dt.date(1998, 1, 15)) - month_index(dt.date(1997, 11, 30))
    2
    """
    if isinstance(when, pd.Series):
        when = pd.to_datetime(when)
        return when.dt.year * 12 + when.dt.month - 1
    return when.year * 12 + when.month - 1


def months_between(earlier: dt.date | pd.Series, later: dt.date | pd.Timestamp) -> Any:
    """Calendar months from ``earlier``'s month to ``later``'s month (0 = the same month)."""
    return month_index(later) - month_index(earlier)


def window_month_starts(as_of: dt.date, months: int) -> list[dt.date]:
    """The first days of the ``months`` calendar months ending with ``as_of``'s month, oldest first."""
    last = month_start(as_of)
    return [add_months(last, -i) for i in range(months - 1, -1, -1)]


@dataclasses.dataclass(frozen=True)
class Split:
    """Calibration and holdout periods (inclusive dates) and the tier window's months."""

    calibration_start: dt.date
    as_of: dt.date
    holdout_start: dt.date
    holdout_end: dt.date
    window_months: tuple[dt.date, ...]
    previous_window_months: tuple[dt.date, ...]

    @property
    def calibration_end(self) -> dt.date:
        return self.as_of

    @property
    def holdout_month_starts(self) -> tuple[dt.date, ...]:
        months, m = [], month_start(self.holdout_start)
        while m <= self.holdout_end:
            months.append(m)
            m = add_months(m, 1)
        return tuple(months)

    def to_dict(self) -> dict[str, Any]:
        return {
            "calibration": {"start": self.calibration_start.isoformat(), "end": self.as_of.isoformat()},
            "holdout": {"start": self.holdout_start.isoformat(), "end": self.holdout_end.isoformat()},
            "window": [m.strftime("%Y-%m") for m in self.window_months],
        }

    def shifted(self, months: int) -> "Split":
        """The same layout with ``as_of`` moved by ``months`` (negative: earlier), e.g. for stability."""
        return make_split(self.calibration_start, shift_date(self.as_of, months),
                          holdout_months=len(self.holdout_month_starts), window_months=len(self.window_months))


def make_split(first: dt.date, as_of: dt.date, *, holdout_months: int, window_months: int) -> Split:
    """Calibration from ``first`` to ``as_of``, the holdout months after it, the window ending at as_of."""
    window = tuple(window_month_starts(as_of, window_months))
    previous = tuple(add_months(m, -window_months) for m in window)
    return Split(first, as_of, as_of + dt.timedelta(days=1), shift_date(as_of, holdout_months), window, previous)


def split_dates(first: dt.date, last: dt.date, *, as_of: dt.date | str | None = None, holdout_months: int = 6,
                window_months: int = 6, require_holdout: bool = True) -> Split:
    """The split of data running ``first`` .. ``last``: calibration up to ``as_of``, then the holdout.

    Without ``as_of`` the holdout ends with the last complete month of data (a month is complete
    when the data reaches its last day). Raises :class:`ParameterError` when the data cannot hold
    the requested periods.

    >>> split_dates(dt.date(1997, 1, 1), dt.date(1998, 6, 30)).as_of
    datetime.date(1997, 12, 31)
    """
    if as_of is None:
        last_complete = month_start(last) if last == month_end(last) else add_months(last, -1)
        as_of = add_months(last_complete, -(holdout_months - 1)) - dt.timedelta(days=1)
        if as_of < first:
            months = months_between(first, last) + 1
            raise ParameterError(
                f"the data covers {months} month(s) ({first} .. {last}); a {holdout_months}-month holdout "
                "leaves no calibration data",
                where="holdout_months",
                fix=f"lower holdout_months (at most {max(months - 2, 1)} here) or load more history",
            )
    elif isinstance(as_of, str):
        as_of = dt.date.fromisoformat(as_of)
    if as_of < first:
        raise ParameterError(f"as_of {as_of} is before the first transaction ({first})", where="as_of",
                             fix=f"choose a date between {first} and {last}")
    if as_of >= last:
        raise ParameterError(f"as_of {as_of} leaves no data after it (the data ends {last})", where="as_of",
                             fix=f"choose an earlier as_of (the holdout needs {holdout_months} months after it)")
    split = make_split(first, as_of, holdout_months=holdout_months, window_months=window_months)
    if require_holdout and split.holdout_end > last:
        raise ParameterError(
            f"the holdout {split.holdout_start} .. {split.holdout_end} runs past the end of the data ({last})",
            where="as_of / holdout_months",
            fix="choose an earlier as_of or fewer holdout_months, or leave as_of empty to use the latest "
                "complete months",
        )
    return split
