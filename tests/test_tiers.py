"""Percentile tiers: every documented rule on small hand-checked cases, plus properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segkit.config import RunParams
from segkit.errors import ConfigError, ParameterError
from segkit.schemes import PercentileTiers, exact_ceil


def monthly(rows):
    """rows: (customer, 'YYYY-MM', value) -> a customer x month table."""
    df = pd.DataFrame(rows, columns=["customer_id", "month", "revenue"])
    df["month"] = pd.to_datetime(df["month"] + "-01")
    df["purchases"] = (df["revenue"] > 0).astype(int)
    return df


def test_exact_ceil_is_exact_where_floats_are_not():
    assert math.ceil((0.1 + 0.2) * 10) == 4  # the floating-point trap the rule must avoid
    assert exact_ceil(0.1 + 0.2, 10) == 3
    assert exact_ceil(0.2, 15) == 3
    assert exact_ceil(0.2, 16) == 4
    assert exact_ceil(0.1, 30) == 3
    assert exact_ceil(0.2, 1) == 1
    assert exact_ceil(0.3, np.array([10, 11, 0])).tolist() == [3, 4, 0]


def test_twenty_percent_of_fifteen_is_three_vip_and_then_good_of_the_rest():
    rows = [(f"c{i:02d}", "2024-06", float(100 - i)) for i in range(15)]
    t = PercentileTiers(as_of="2024-06-30", window_months=1, dropout_months=1).fit_monthly(monthly(rows))
    mt = t.monthly_tiers_.set_index("customer_id")["monthly_tier"]
    assert (mt == "VIP").sum() == 3            # ceil(0.2 * 15) = 3
    assert (mt == "GOOD").sum() == 3           # ceil(0.2 * 12) = 3 (2.4 -> 3)
    assert (mt == "REGULAR").sum() == 9
    assert mt[["c00", "c01", "c02"]].eq("VIP").all()
    assert mt[["c03", "c04", "c05"]].eq("GOOD").all()


def test_ties_are_broken_by_customer_id_ascending():
    rows = [("b", "2024-06", 50.0), ("a", "2024-06", 50.0), ("c", "2024-06", 10.0), ("d", "2024-06", 5.0),
            ("e", "2024-06", 1.0)]
    t = PercentileTiers(as_of="2024-06-30", window_months=1, dropout_months=1).fit_monthly(monthly(rows))
    mt = t.monthly_tiers_.set_index("customer_id")["monthly_tier"]
    assert mt["a"] == "VIP" and mt["b"] == "GOOD"  # one VIP of 5; 'a' < 'b'
    boundary = t.boundary_.set_index("cut").loc["VIP/GOOD"]
    assert boundary["tied_at_threshold"] == 2 and bool(boundary["ties_split_by_customer_id"])


def test_zero_and_negative_values_are_not_ranked():
    rows = [("a", "2024-06", 10.0), ("b", "2024-06", 0.0), ("c", "2024-06", -5.0)]
    t = PercentileTiers(as_of="2024-06-30", window_months=1, dropout_months=1).fit_monthly(monthly(rows))
    assert t.monthly_tiers_["customer_id"].tolist() == ["a"]


def test_window_tier_union_former_vip_demotion_and_inactive():
    rows = [
        # previous window (Jan-Mar), window (Apr-Jun), 3-month windows
        ("former", "2024-01", 1000.0),                     # VIP in the previous window only
        ("vip_once", "2024-05", 900.0),                    # VIP in one window month
        ("steady", "2024-04", 100.0), ("steady", "2024-05", 100.0), ("steady", "2024-06", 100.0),
        *[(f"s{i}", m, 1.0) for i in range(8) for m in ("2024-01", "2024-04", "2024-05", "2024-06")],
        ("gone", "2024-01", 0.5),                          # paid only in the previous window, never VIP
    ]
    t = PercentileTiers(as_of="2024-06-30", window_months=3, dropout_months=1).fit_monthly(monthly(rows))
    tier = t.labels_
    assert tier["vip_once"] == "VIP"
    assert tier["former"] == "GOOD"        # former VIP demoted, not dropped
    assert tier["gone"] == "INACTIVE"
    assert tier["steady"] == "VIP"
    assert set(t.segments_) == {"VIP", "GOOD", "REGULAR", "INACTIVE"}
    table = t.segment_table()
    assert table["rank"].tolist() == table["segment"].map({"VIP": 1, "GOOD": 2, "REGULAR": 3, "INACTIVE": 4}).tolist()
    assert table["customer_id"].is_monotonic_increasing


def test_dropout_alert_timing_and_value_at_risk():
    rows = [("big", "2024-04", 500.0), ("big", "2024-05", 400.0),       # VIP, silent in June
            ("late", "2024-04", 450.0), ("late", "2024-06", 10.0),       # VIP, paid in June: no alert
            *[(f"s{i}", m, 5.0) for i in range(8) for m in ("2024-04", "2024-05", "2024-06")]]
    t = PercentileTiers(as_of="2024-06-30", window_months=3, dropout_months=1).fit_monthly(monthly(rows))
    alerts = t.alerts_.set_index("customer_id")
    assert list(alerts.index) == ["big"]
    assert alerts.loc["big", "last_vip_month"] == "2024-05"
    assert alerts.loc["big", "value_at_risk"] == pytest.approx(900.0)
    two = PercentileTiers(as_of="2024-06-30", window_months=3, dropout_months=2).fit_monthly(monthly(rows))
    assert two.alerts_.empty  # 'big' paid in May, inside the last two months


def test_period_total_misses_the_one_month_big_buyer():
    # spike: 150 in April only; four regulars pay 60-63 every month (180-189 over the window)
    rows = [("spike", "2024-04", 150.0),
            *[(f"r{i}", m, 60.0 + i) for i in range(4) for m in ("2024-04", "2024-05", "2024-06")]]
    union = PercentileTiers(as_of="2024-06-30", window_months=3).fit_monthly(monthly(rows))
    total = PercentileTiers(as_of="2024-06-30", window_months=3, variant="period_total").fit_monthly(monthly(rows))
    assert union.labels_["spike"] == "VIP"            # the top of April (1 VIP of 5)
    assert total.labels_["spike"] == "REGULAR"        # last of 5 totals: ceil(.2*5)=1 VIP, ceil(.2*4)=1 GOOD
    assert total.labels_["r3"] == "VIP" and total.labels_["r2"] == "GOOD"
    assert total.alerts_.empty                          # the period total never flags dropouts
    assert union.alerts_["customer_id"].tolist() == ["spike"]


def test_abc_classes_follow_cumulative_share():
    rows = [("a", "2024-06", 80.0), ("b", "2024-06", 15.0), ("c", "2024-06", 5.0)]
    t = PercentileTiers(as_of="2024-06-30", window_months=1, dropout_months=1, variant="abc").fit_monthly(monthly(rows))
    assert t.labels_.to_dict() == {"a": "VIP", "b": "GOOD", "c": "REGULAR"}


def test_bad_parameters_raise_clear_errors():
    """Shares and criteria are checked once, where parameters come in (RunParams); the estimator
    still refuses a table without the criterion's column."""
    with pytest.raises(ConfigError, match="vip_share"):
        RunParams.from_mapping({"name": "t", "data": "x.csv", "vip_share": 1.5})
    with pytest.raises(ConfigError, match="criterion"):
        RunParams.from_mapping({"name": "t", "data": "x.csv", "criterion": "profit"})
    with pytest.raises(ConfigError, match="dropout_months"):
        RunParams.from_mapping({"name": "t", "data": "x.csv", "dropout_months": 7, "window_months": 6})
    m = monthly([("a", "2024-06", 1.0)])
    with pytest.raises(ParameterError, match="criterion"):
        PercentileTiers(criterion="profit").fit_monthly(m)
    with pytest.raises(ParameterError, match="lacks"):
        PercentileTiers(criterion="units").fit_monthly(m)


def test_the_run_parameters_build_the_tiers_and_fit_reads_the_cut_off_from_the_split():
    from segkit.calendar import make_split
    from segkit.schemes import SchemeInputs

    rows = [("a", "2024-05", 50.0), ("b", "2024-05", 40.0), ("c", "2024-06", 30.0), ("d", "2024-07", 99.0)]
    params = RunParams.from_mapping({"name": "t", "data": "x.csv", "window_months": 2, "vip_share": 0.5,
                                     "dropout_months": 1})
    split = make_split(pd.Timestamp("2024-01-01").date(), pd.Timestamp("2024-06-30").date(), holdout_months=1,
                       window_months=2)
    t = PercentileTiers.from_params(params).fit(SchemeInputs(features=None, monthly=monthly(rows), split=split,
                                                             params=params))
    # July is after the cut-off: d is not a customer yet; in May a is VIP (1 of 2), in June c (1 of 1)
    assert t.labels_.to_dict() == {"a": "VIP", "b": "GOOD", "c": "VIP"}
    assert t.window_ == ["2024-05", "2024-06"]
    assert t.alerts_["customer_id"].tolist() == ["a"]  # VIP in May, nothing in June


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=60),
       vip=st.sampled_from([0.1, 0.2, 0.25, 0.3]), good=st.sampled_from([0.1, 0.2, 0.5]))
def test_property_monthly_counts_follow_the_exact_rule(values, vip, good):
    rows = [(f"c{i:03d}", "2024-06", float(v)) for i, v in enumerate(values)]
    t = PercentileTiers(as_of="2024-06-30", window_months=1, dropout_months=1, vip_share=vip, good_share=good).fit_monthly(monthly(rows))
    mt = t.monthly_tiers_
    n = sum(v > 0 for v in values)
    from fractions import Fraction
    exp_vip = -(-Fraction(str(vip)) * n // 1) if n else 0
    exp_good = -(-Fraction(str(good)) * (n - exp_vip) // 1) if n else 0
    assert (mt["monthly_tier"] == "VIP").sum() == exp_vip
    assert (mt["monthly_tier"] == "GOOD").sum() == exp_good
    # sorted by value descending, ties by id: every VIP value >= every GOOD value >= every REGULAR value
    order = {"VIP": 0, "GOOD": 1, "REGULAR": 2}
    ranked = mt.assign(o=mt["monthly_tier"].map(order)).sort_values(["o"])
    assert ranked.groupby("o")["value"].min().is_monotonic_decreasing or len(ranked) < 2
    # each customer exactly one window tier; row order does not matter
    shuffled = monthly(rows).sample(frac=1, random_state=1)
    again = PercentileTiers(as_of="2024-06-30", window_months=1, dropout_months=1, vip_share=vip, good_share=good).fit_monthly(shuffled)
    pd.testing.assert_series_equal(t.labels_.sort_index(), again.labels_.sort_index())


def test_cdnow_window_tiers_match_an_independent_pandas_computation(cdnow_analysis, capsys):
    """The documented rule computed from the raw CSV with plain pandas and integer arithmetic."""
    from segkit.config import CDNOW_PATH
    from segkit.pipeline import segment_summary

    raw = pd.read_csv(CDNOW_PATH, dtype={"customer_id": str}, parse_dates=["date"])
    raw = raw[raw["amount"] != 0]
    raw["month"] = raw["date"].dt.strftime("%Y-%m")
    monthly_rev = raw.groupby(["customer_id", "month"])["amount"].sum().reset_index()

    def vip_good(months):
        vip, good = set(), set()
        for m in months:
            d = monthly_rev[(monthly_rev["month"] == m) & (monthly_rev["amount"] > 0)]
            d = d.sort_values(["amount", "customer_id"], ascending=[False, True])
            n = len(d)
            n_vip = (n * 2 + 9) // 10                 # ceil(0.2 n) in integers
            n_good = ((n - n_vip) * 2 + 9) // 10
            ids = d["customer_id"].tolist()
            vip |= set(ids[:n_vip])
            good |= set(ids[n_vip:n_vip + n_good])
        return vip, good

    window = [f"1997-{m:02d}" for m in range(7, 13)]
    vip, good = vip_good(window)
    former, _ = vip_good([f"1997-{m:02d}" for m in range(1, 7)])
    paid = set(raw[(raw["month"].isin(window)) & (raw["amount"] > 0)]["customer_id"])
    a = cdnow_analysis.assignments.set_index("customer_id")["percentile_tier"]
    expected = pd.Series("INACTIVE", index=a.index)
    expected[expected.index.isin(paid)] = "REGULAR"
    expected[expected.index.isin(good | former)] = "GOOD"
    expected[expected.index.isin(vip)] = "VIP"
    assert (a == expected).all()
    assert a.value_counts()["VIP"] == len(vip & set(a.index))
    summary = segment_summary(cdnow_analysis)
    print(summary)  # visible with -s: sizes and cut points of every scheme
    assert f"VIP {len(vip):,}" in summary and "kmeans k=" in summary and "rfm M (monetary)" in summary


def test_isin_matches_python_membership_for_text_categorical_and_missing_ids():
    from segkit.schemes._base import isin

    ids = ["b", "a", None, "c", "a"]
    members = ["a", "z"]
    expected = [False, True, False, False, True]
    text = pd.Series(ids, dtype="str")
    cat = pd.Series(pd.Categorical(ids, categories=["a", "b", "c", "d"]))
    for left in (text, cat, pd.Index(ids, dtype=object)):
        for right in (members, set(members), pd.Series(members, dtype="str"),
                      pd.Series(pd.Categorical(members + ["a"], categories=["a", "d", "z"]))):
            assert isin(left, right).tolist() == expected, (left.dtype, type(right))
    assert isin(cat, pd.Series(pd.Categorical([], categories=["a"]))).tolist() == [False] * 5
    assert isin(pd.Series([], dtype="str"), members).tolist() == []


def test_positions_finds_each_id_once_and_marks_the_rest():
    from segkit.schemes._base import positions

    members = pd.Index(["a", "c", "b"])
    ids = ["b", "z", None, "a", "b"]
    for left in (pd.Series(ids, dtype="str"), pd.Index(ids, dtype=object),
                 pd.Series(pd.Categorical(ids, categories=["a", "b", "z", "y"]))):
        assert positions(left, members).tolist() == [2, -1, -1, 0, 2], left.dtype
    assert positions(pd.Series([], dtype="str"), members).tolist() == []


@settings(max_examples=40, deadline=None)
@given(cells=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(["2024-01", "2024-02", "2024-04", "2024-05",
                                                                     "2024-06"]),
                                st.sampled_from([-5.0, 0.0, 1.0, 2.0, 7.0])), min_size=1, max_size=50),
       chosen=st.sets(st.integers(0, 13), min_size=1))
def test_property_listed_customers_get_the_tiers_of_their_own_rows(cells, chosen):
    """Fitting with a customer list (ids looked up in the list) equals fitting on those customers'
    rows alone; listed customers without rows are INACTIVE. Values repeat: ties are broken by id."""
    frame = monthly([(f"c{c:02d}", m, v) for c, m, v in cells]).drop_duplicates(["customer_id", "month"])
    listed = pd.Series(sorted(f"c{c:02d}" for c in chosen))
    kw = dict(as_of="2024-06-30", window_months=3, dropout_months=1)
    with_list = PercentileTiers(**kw).fit_monthly(frame, customers=listed)
    own = frame[frame["customer_id"].isin(set(listed))]
    assert with_list.labels_.index.tolist() == listed.tolist()
    if own.empty:
        assert set(with_list.labels_) == {"INACTIVE"}
        return
    alone = PercentileTiers(**kw).fit_monthly(own)
    expected = alone.labels_.astype(str).reindex(listed).fillna("INACTIVE")  # labels_ are categories
    assert with_list.labels_.tolist() == expected.tolist()
    pd.testing.assert_frame_equal(with_list.monthly_tiers_, alone.monthly_tiers_)
    pd.testing.assert_frame_equal(with_list.alerts_, alone.alerts_)
    pd.testing.assert_frame_equal(with_list.movements_, alone.movements_)
    # the rule itself, by hand: VIP in a window month; else GOOD there or VIP in the previous window
    def tiers_in(months):
        out = {}
        for month, g in own[own["month"].isin(pd.to_datetime([m + "-01" for m in months]))].groupby("month"):
            paying = g[g["revenue"] > 0].sort_values(["revenue", "customer_id"], ascending=[False, True])
            n = len(paying)
            vip = exact_ceil(0.2, n)
            good = exact_ceil(0.2, n - vip)
            for pos, cid in enumerate(paying["customer_id"]):
                out.setdefault(cid, set()).add("VIP" if pos < vip else "GOOD" if pos < vip + good else "REGULAR")
        return out
    now, before = tiers_in(["2024-04", "2024-05", "2024-06"]), tiers_in(["2024-01", "2024-02", "2024-03"])
    for cid, label in with_list.labels_.items():
        here = now.get(cid, set())
        hand = ("VIP" if "VIP" in here else "GOOD" if "GOOD" in here or "VIP" in before.get(cid, set())
                else "REGULAR" if here else "INACTIVE")
        assert label == hand, (cid, here, before.get(cid))


def test_sorted_ids_takes_sorted_distinct_text_as_is_and_sorts_everything_else():
    from segkit.schemes.tiers import _sorted_ids

    cases = [(["a", "b", "c"], ["a", "b", "c"]), (["a", "a", "b"], ["a", "b"]), (["b", "a"], ["a", "b"]),
             (["a", None, "b"], ["a", "b"]), (["B", "a", "É", "e"], ["B", "a", "e", "É"]), ([], [])]
    for values, expected in cases:
        for dtype in ("str", object):
            got = _sorted_ids(pd.Series(values, dtype=dtype))
            assert got.tolist() == expected and got.name == "customer_id", (values, dtype)
    assert _sorted_ids(pd.Series([3, 1, 3])).tolist() == [1, 3]  # not text: sorted the pandas way


@pytest.mark.parametrize("variant", ["monthly_union", "period_total", "abc"])
def test_segments_only_refit_gives_the_same_segments_and_skips_the_report_tables(cdnow_tx, variant):
    """A refit read for its segment table only (earlier cut-offs, stability) labels every customer
    as the full fit does, without building the monthly tiers, alerts, movements and boundaries."""
    import datetime as dt

    from segkit.features import customer_features, customer_month

    as_of = dt.date(1997, 12, 31)
    features = customer_features(cdnow_tx, as_of)
    monthly = customer_month(cdnow_tx, None, as_of)
    full = PercentileTiers(variant=variant).fit_monthly(monthly, features, as_of=as_of)
    lean = PercentileTiers(variant=variant).fit_monthly(monthly, features, as_of=as_of, segments_only=True)
    pd.testing.assert_frame_equal(lean.segment_table(), full.segment_table())
    assert full.monthly_tiers_ is not None and len(full.alerts_.columns) and len(full.boundary_)
    assert lean.monthly_tiers_ is None and lean.alerts_ is None and lean.movements_ is None and lean.boundary_ is None
    assert lean.describe() == [] and full.describe()
    with pytest.raises(AttributeError, match="segments_only"):  # segkit's NotFittedError, with the fix
        lean.vip_table()
