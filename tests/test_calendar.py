"""One calendar for features, tiers and stages; explanations tied to the rules; no refits in the notebooks."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from segkit import calendar as cal


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_month_arithmetic_on_hand_checked_dates():
    assert cal.month_start(d("1997-02-17")) == d("1997-02-01")
    assert cal.add_months(d("1997-11-30"), 3) == d("1998-02-01")
    assert cal.add_months(d("1997-01-15"), -1) == d("1996-12-01")
    assert cal.month_end(d("1996-02-03")) == d("1996-02-29")  # leap year
    assert cal.shift_date(d("1997-12-31"), -1) == d("1997-11-30")  # a month end stays a month end
    assert cal.shift_date(d("1997-03-30"), -1) == d("1997-02-28")  # no Feb 30th: clamp to the end
    assert cal.shift_date(d("1997-03-15"), 2) == d("1997-05-15")
    assert cal.months_between(d("1997-11-30"), d("1998-01-01")) == 2
    s = pd.Series(pd.to_datetime(["1997-12-01", "1998-01-31"]))
    assert (cal.months_between(s, d("1998-02-10")).tolist()) == [2, 1]


def test_split_and_windows():
    split = cal.split_dates(d("1997-01-01"), d("1998-06-30"), holdout_months=6, window_months=3)
    assert (split.as_of, split.holdout_start, split.holdout_end) == (d("1997-12-31"), d("1998-01-01"),
                                                                      d("1998-06-30"))
    assert split.window_months == (d("1997-10-01"), d("1997-11-01"), d("1997-12-01"))
    assert split.previous_window_months == (d("1997-07-01"), d("1997-08-01"), d("1997-09-01"))
    assert len(split.holdout_month_starts) == 6
    earlier = split.shifted(-1)
    assert earlier.as_of == d("1997-11-30") and earlier.holdout_end == d("1998-05-31")
    # the last month is incomplete (data ends on the 20th): the holdout ends with the month before
    assert cal.split_dates(d("1997-01-01"), d("1998-06-20"), holdout_months=6).as_of == d("1997-11-30")


def test_the_stage_explanations_follow_the_stage_rules():
    """Each sentence's numbers are the rule's thresholds: a customer at each edge lands where it says."""
    from segkit.decisions import stages as st
    from segkit.notebook import STAGE_MEANING

    assert list(STAGE_MEANING) == st.STAGES
    assert f"less than {st.EXPLORATION_MONTHS} months ago" in STAGE_MEANING["exploration"]
    assert f"at least {st.GROWTH_RATIO:g}x" in STAGE_MEANING["expansion"]
    assert f"at least {st.QUIET_MIN_MONTHS} months" in STAGE_MEANING["dissolution"]
    assert f"{st.COMMITMENT_TENURE_MONTHS} months ago" in STAGE_MEANING["commitment"]
    as_of = d("1998-12-31")
    rows = [("trial", pd.Timestamp(cal.add_months(as_of, -(st.EXPLORATION_MONTHS - 1))), 10.0, 1),
            ("gone", pd.Timestamp(cal.add_months(as_of, -st.EXPLORATION_MONTHS)), 10.0, 1)]
    m = pd.DataFrame(rows, columns=["customer_id", "month", "revenue", "purchases"])
    stages = st.relationship_stages(m, as_of).set_index("customer_id")["stage"].to_dict()
    assert stages == {"trial": "exploration", "gone": "dissolution"}


def test_the_notebooks_read_the_comparison_the_pipeline_computed(cdnow_analysis, monkeypatch):
    """The tiers' sensitivity refits run once per analysis (saved with it), never in the notebook layer."""
    from segkit import notebook as nb
    from segkit.schemes import PercentileTiers

    calls = []
    real = PercentileTiers.fit_monthly
    monkeypatch.setattr(PercentileTiers, "fit_monthly", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    cdnow_analysis.extras = None
    first = nb.comparison_extras(cdnow_analysis)
    fits = len(calls)
    from segkit.features import available_criteria
    from segkit.pipeline import SENSITIVITY_SHARES

    # one fit per criterion, one per other VIP share, one period total (8), plus the refits of the
    # "does the verdict move?" settings; a second call computes nothing
    assert fits >= len(available_criteria(cdnow_analysis.data["has"])) + len(SENSITIVITY_SHARES) - 1 + 1 == 8
    assert nb.comparison_extras(cdnow_analysis) is first and len(calls) == fits
    # the sensitivity table matches a direct fit at another share
    t = real(PercentileTiers(vip_share=0.1, window_months=6, dropout_months=2), cdnow_analysis.monthly,
             customers=cdnow_analysis.features, as_of=cdnow_analysis.split.as_of)
    row = first["sensitivity"]["shares"].set_index("vip_share").loc[0.1]
    assert row["vip_customers"] == int((t.labels_ == "VIP").sum())
