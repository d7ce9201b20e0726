"""Calendar edges that mutation testing found unchecked: year boundaries, month ends, a holdout month
that starts on the holdout's last day, and each refusal of ``split_dates`` with its fix.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from segkit import calendar as cal
from segkit.errors import ParameterError


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_add_months_and_month_end_across_year_boundaries():
    assert cal.add_months(d("1997-12-15"), 1) == d("1998-01-01")
    assert cal.add_months(d("1998-01-31"), -1) == d("1997-12-01")
    assert cal.add_months(d("1997-06-30"), 12) == d("1998-06-01")
    assert cal.add_months(d("1997-06-30"), -18) == d("1995-12-01")
    assert cal.add_months(d("1997-06-30"), 0) == d("1997-06-01")
    assert cal.month_end(d("1997-12-01")) == d("1997-12-31")
    assert cal.month_end(d("1997-02-14")) == d("1997-02-28") and cal.month_end(d("2000-02-01")) == d("2000-02-29")
    assert cal.month_start(d("1997-12-31")) == d("1997-12-01")


@pytest.mark.parametrize("day, months, expected", [
    ("1997-02-28", 1, "1997-03-31"),   # a month's last day stays a last day, also moving to a longer month
    ("1997-01-29", 1, "1997-02-28"),   # no 29th in February 1997: the month's end
    ("1997-01-30", 3, "1997-04-30"),   # the 30th exists in April
    ("1997-01-28", 1, "1997-02-28"),   # the same day, which happens to be February's end
    ("1997-05-31", -3, "1997-02-28"),
    ("1996-03-01", -1, "1996-02-01"),
    ("1997-12-15", 2, "1998-02-15"),
])
def test_shift_date_keeps_the_day_or_the_month_end(day, months, expected):
    assert cal.shift_date(d(day), months) == d(expected)


def test_month_index_on_dates_timestamps_and_columns():
    assert cal.month_index(d("1997-01-15")) == 1997 * 12
    assert cal.month_index(pd.Timestamp("1997-12-31")) == 1997 * 12 + 11
    col = pd.Series(["1997-01-01", "1998-03-31"])
    assert cal.month_index(col).tolist() == [1997 * 12, 1998 * 12 + 2]
    assert cal.months_between(d("1997-12-31"), d("1998-01-01")) == 1
    assert cal.months_between(d("1998-01-01"), d("1997-12-31")) == -1


def test_window_month_starts_lengths_and_year_boundary():
    assert cal.window_month_starts(d("1998-01-10"), 1) == [d("1998-01-01")]
    assert cal.window_month_starts(d("1998-02-28"), 3) == [d("1997-12-01"), d("1998-01-01"), d("1998-02-01")]
    assert cal.window_month_starts(d("1998-02-28"), 0) == []


def test_split_layout_and_its_dictionary():
    split = cal.make_split(d("1997-01-01"), d("1997-12-31"), holdout_months=2, window_months=2)
    assert split.calibration_start == d("1997-01-01") and split.calibration_end == d("1997-12-31")
    assert (split.holdout_start, split.holdout_end) == (d("1998-01-01"), d("1998-02-28"))
    assert split.holdout_month_starts == (d("1998-01-01"), d("1998-02-01"))
    assert split.window_months == (d("1997-11-01"), d("1997-12-01"))
    assert split.previous_window_months == (d("1997-09-01"), d("1997-10-01"))
    assert split.to_dict() == {"calibration": {"start": "1997-01-01", "end": "1997-12-31"},
                               "holdout": {"start": "1998-01-01", "end": "1998-02-28"},
                               "window": ["1997-11", "1997-12"]}
    later = split.shifted(2)
    assert (later.calibration_start, later.as_of, later.holdout_end) == (d("1997-01-01"), d("1998-02-28"),
                                                                         d("1998-04-30"))
    assert len(later.window_months) == 2 and len(later.holdout_month_starts) == 2


def test_a_holdout_ending_on_a_months_first_day_includes_that_month():
    # as_of on the 1st: the holdout runs Dec 2 .. Feb 1, touching December, January and February
    split = cal.make_split(d("1997-01-01"), d("1997-12-01"), holdout_months=2, window_months=1)
    assert split.holdout_end == d("1998-02-01")
    assert split.holdout_month_starts == (d("1997-12-01"), d("1998-01-01"), d("1998-02-01"))


def test_split_dates_takes_a_text_as_of_and_the_latest_complete_months():
    assert cal.split_dates(d("1997-01-01"), d("1998-06-30"), as_of="1997-09-30", holdout_months=3).as_of == \
        d("1997-09-30")
    # data ending on the last day of a month: that month is complete and ends the holdout
    auto = cal.split_dates(d("1997-01-01"), d("1998-02-28"), holdout_months=2, window_months=1)
    assert (auto.as_of, auto.holdout_end) == (d("1997-12-31"), d("1998-02-28"))
    # a holdout running past the data is allowed when asked for
    late = cal.split_dates(d("1997-01-01"), d("1998-01-15"), as_of="1997-12-31", holdout_months=6,
                           require_holdout=False)
    assert late.holdout_end == d("1998-06-30")


def test_split_dates_refuses_impossible_periods_and_says_how_to_fix():
    with pytest.raises(ParameterError) as err:
        cal.split_dates(d("1997-01-01"), d("1997-03-31"), holdout_months=3)
    assert err.value.what == ("the data covers 3 month(s) (1997-01-01 .. 1997-03-31); a 3-month holdout leaves "
                              "no calibration data")
    assert err.value.where == "holdout_months"
    assert err.value.fix == "lower holdout_months (at most 1 here) or load more history"
    with pytest.raises(ParameterError) as err:
        cal.split_dates(d("1997-01-01"), d("1998-12-31"), holdout_months=24)
    assert "at most 22 here" in err.value.fix
    # as_of on the first day is allowed; the day before is not
    assert cal.split_dates(d("1997-01-01"), d("1997-12-31"), as_of="1997-01-01", holdout_months=1).as_of == \
        d("1997-01-01")
    with pytest.raises(ParameterError) as err:
        cal.split_dates(d("1997-01-02"), d("1997-12-31"), as_of="1997-01-01")
    assert err.value.where == "as_of" and err.value.fix == "choose a date between 1997-01-02 and 1997-12-31"
    with pytest.raises(ParameterError) as err:
        cal.split_dates(d("1997-01-01"), d("1997-12-31"), as_of="1997-12-31")
    assert err.value.where == "as_of"
    assert err.value.fix == "choose an earlier as_of (the holdout needs 6 months after it)"
    with pytest.raises(ParameterError) as err:
        cal.split_dates(d("1997-01-01"), d("1997-12-31"), as_of="1997-10-31", holdout_months=3)
    assert err.value.what == "the holdout 1997-11-01 .. 1998-01-31 runs past the end of the data (1997-12-31)"
    assert err.value.where == "as_of / holdout_months" and err.value.fix.startswith("choose an earlier as_of")
    # the holdout ending exactly on the data's last day fits
    assert cal.split_dates(d("1997-01-01"), d("1997-12-31"), as_of="1997-09-30", holdout_months=3).holdout_end \
        == d("1997-12-31")


def test_split_dates_defaults_six_month_holdout_and_window():
    split = cal.split_dates(d("1997-01-01"), d("1998-06-30"))
    assert len(split.holdout_month_starts) == 6 and len(split.window_months) == 6
    assert split.window_months[0] == d("1997-07-01")


def test_split_dates_whose_as_of_falls_on_the_first_day():
    # data 2024-01-31 .. 2024-02-29, a 1-month holdout: February is complete, so as_of = 31 January,
    # the first day of data: a one-day calibration, allowed
    split = cal.split_dates(dt.date(2024, 1, 31), dt.date(2024, 2, 29), holdout_months=1, window_months=1)
    assert split.as_of == dt.date(2024, 1, 31) and split.calibration_start == dt.date(2024, 1, 31)
    assert split.holdout_start == dt.date(2024, 2, 1) and split.holdout_end == dt.date(2024, 2, 29)
