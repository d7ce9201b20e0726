"""Percentile-tier numbers that mutation testing found unchecked: the ABC variant's cut points, the
VIP table, the thresholds line, the run parameters reaching the scheme and the customers given to
``fit``; ``exact_ceil``'s precision, ids that are not text, the window totals, the dropout alerts,
the VIP movements and the boundary counts. Every expected value is worked out by hand from the rule
in ``segkit.schemes.tiers``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from segkit.calendar import make_split
from segkit.config import RunParams
from segkit.errors import ParameterError
from segkit.schemes import PercentileTiers
from segkit.schemes.registry import SchemeInputs


def three_months() -> pd.DataFrame:
    """Window Jan..Mar 2024, ten paying customers (vip_share 0.4, good_share 0.25 below).

    Jan: a 100, b 90 VIP (ceil(0.4 x 5) = 2); c 50 GOOD (ceil(0.25 x 3) = 1); d, e REGULAR.
    Feb: b 200, c 60 VIP (c before d by id); d 60 GOOD; e, f REGULAR.
    Mar: c, d, e, f VIP (ceil(0.4 x 8) = 4); g GOOD (ceil(0.25 x 4) = 1); h, i, j REGULAR.
    """
    values = {
        "2024-01": {"a": 100, "b": 90, "c": 50, "d": 46, "e": 30},
        "2024-02": {"b": 200, "c": 60, "d": 60, "e": 10, "f": 5},
        "2024-03": {"c": 80, "d": 70, "e": 60, "f": 50, "g": 48, "h": 30, "i": 20, "j": 10},
    }
    rows = [(c, pd.Timestamp(m + "-01"), float(v), 1) for m, d in values.items() for c, v in d.items()]
    return pd.DataFrame(rows, columns=["customer_id", "month", "revenue", "purchases"])


def fitted(**kw) -> PercentileTiers:
    args = dict(as_of="2024-03-31", window_months=3, vip_share=0.4, good_share=0.25, dropout_months=1)
    return PercentileTiers(**{**args, **kw}).fit_monthly(three_months())


def test_vip_table_shows_every_months_tier_of_each_vip():
    table = fitted().vip_table()
    assert table.index.tolist() == list("abcdef") and table.columns.tolist() == ["2024-01", "2024-02", "2024-03"]
    assert table.to_dict("index") == {
        "a": {"2024-01": "VIP", "2024-02": "", "2024-03": ""},
        "b": {"2024-01": "VIP", "2024-02": "VIP", "2024-03": ""},
        "c": {"2024-01": "GOOD", "2024-02": "VIP", "2024-03": "VIP"},
        "d": {"2024-01": "REGULAR", "2024-02": "GOOD", "2024-03": "VIP"},
        "e": {"2024-01": "REGULAR", "2024-02": "REGULAR", "2024-03": "VIP"},
        "f": {"2024-01": "", "2024-02": "REGULAR", "2024-03": "VIP"},
    }


def test_vip_table_keeps_window_months_without_any_payment():
    # April is in a four-month window ending in April but nobody paid then: an empty column
    table = fitted(as_of="2024-04-30", window_months=4).vip_table()
    assert table.columns.tolist() == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert set(table["2024-04"]) == {""}


def test_describe_gives_each_months_thresholds():
    assert fitted().describe() == [
        "percentile_tiers thresholds (revenue, value of the last customer above the cut): "
        "2024-01 VIP >= 90, GOOD >= 50; 2024-02 VIP >= 60, GOOD >= 60; 2024-03 VIP >= 50, GOOD >= 48"]
    # two payers: one VIP, one GOOD, nobody REGULAR, so there is no GOOD/REGULAR cut
    two = pd.DataFrame({"customer_id": ["x", "y"], "month": pd.Timestamp("2024-06-01"), "payments": [3.5, 1.0]})
    t = PercentileTiers(criterion="payments", as_of="2024-06-30", window_months=1, vip_share=0.4,
                        good_share=0.25, dropout_months=1).fit_monthly(two)
    assert t.labels_.to_dict() == {"x": "VIP", "y": "GOOD"}
    assert t.describe() == ["percentile_tiers thresholds (payments, value of the last customer above the cut): "
                            "2024-06 VIP >= 3.5, GOOD >= -"]
    one = PercentileTiers(as_of="2024-06-30", window_months=1, dropout_months=1).fit_monthly(
        pd.DataFrame({"customer_id": ["x"], "month": pd.Timestamp("2024-06-01"), "revenue": [5.0]}))
    assert one.describe() == []  # one payer: VIP, no cut to describe


def one_month(values: dict[str, float], purchases: dict[str, int] | None = None) -> pd.DataFrame:
    purchases = purchases or {}
    return pd.DataFrame({"customer_id": list(values), "month": pd.Timestamp("2024-06-01"),
                         "revenue": [float(v) for v in values.values()],
                         "purchases": [purchases.get(c, 1) for c in values]})


def abc(values, shares=(0.8, 0.1, 0.1), customers=None, purchases=None) -> dict[str, str]:
    t = PercentileTiers(as_of="2024-06-30", window_months=1, dropout_months=1, variant="abc", abc_shares=shares)
    return t.fit_monthly(one_month(values, purchases), customers).labels_.to_dict()


def test_abc_cuts_at_the_cumulative_share_held_by_customers_ranked_above():
    # shares held above each customer: p 0, q 0.8, r 0.9 -> A (VIP), B (GOOD), C (REGULAR)
    got = abc({"p": 80, "q": 10, "r": 10, "s": 0}, customers=pd.Series(list("pqrsz")))
    # s paid (a purchase) for nothing: REGULAR; z never paid in the window: INACTIVE
    assert got == {"p": "VIP", "q": "GOOD", "r": "REGULAR", "s": "REGULAR", "z": "INACTIVE"}
    # the classic 80/15/5: 60 holds 0 above, 25 holds 0.6, 10 holds 0.85, 5 holds 0.95
    assert abc({"a": 60, "b": 25, "c": 10, "d": 5}, shares=(0.8, 0.15, 0.05)) == {
        "a": "VIP", "b": "VIP", "c": "GOOD", "d": "REGULAR"}


def test_abc_counts_a_value_below_one_and_labels_a_zero_month_by_its_payment():
    assert abc({"u": 0.5}) == {"u": "VIP"}
    assert abc({"u": 0.5, "v": 0.0}, purchases={"v": 0}, customers=pd.Series(["u", "v"])) == {
        "u": "VIP", "v": "INACTIVE"}


def test_period_total_ranks_the_window_total_once():
    t = fitted(variant="period_total")
    # window totals: b 290, c 190, d 176, a 100, e 100, f 55, g 48, h 30, i 20, j 10 (n = 10)
    # VIP ceil(0.4 x 10) = 4: b, c, d, a (a before e by id); GOOD ceil(0.25 x 6) = 2: e, f
    assert t.labels_.to_dict() == {**dict.fromkeys("abcd", "VIP"), **dict.fromkeys("ef", "GOOD"),
                                   **dict.fromkeys("ghij", "REGULAR")}
    assert t.alerts_.empty and list(t.alerts_.columns) == ["customer_id", "last_vip_month", "last_payment",
                                                            "value_at_risk"]


def test_an_unknown_variant_or_criterion_is_refused_with_the_fix():
    with pytest.raises(ParameterError) as err:
        fitted(variant="pareto")
    assert err.value.where == "variant" and err.value.fix == "use one of monthly_union, period_total, abc"
    with pytest.raises(ParameterError) as err:
        fitted(criterion="margin")
    assert err.value.what == "the customer x month table lacks ['margin']"
    assert err.value.where == "PercentileTiers.fit" and "(revenue, payments, units or margin)" in err.value.fix
    with pytest.raises(ParameterError) as err:
        PercentileTiers(window_months=1, dropout_months=1).fit_monthly(three_months().iloc[:0])
    assert err.value.where == "PercentileTiers.fit" and err.value.fix == "check the calibration period"


def test_without_as_of_the_window_ends_with_the_last_month_in_the_data():
    t = PercentileTiers(window_months=2, dropout_months=1).fit_monthly(three_months())
    assert t.as_of_ == dt.date(2024, 3, 31) and t.window_ == ["2024-02", "2024-03"]


def test_the_run_parameters_reach_the_scheme_and_fit_labels_the_features_customers():
    params = RunParams.from_mapping({"name": "x", "data": "x.csv", "criterion": "payments", "window_months": 3,
                                     "vip_share": 0.3, "good_share": 0.1, "dropout_months": 1})
    t = PercentileTiers.from_params(params)
    assert (t.criterion, t.window_months, t.vip_share, t.good_share, t.dropout_months) == (
        "payments", 3, 0.3, 0.1, 1)
    monthly = three_months().assign(payments=lambda d: d["revenue"])
    features = pd.DataFrame({"customer_id": list("abcdefghijz"),
                             "last_purchase": pd.to_datetime(["2024-01-20"] + ["2024-03-10"] * 10)})
    split = make_split(dt.date(2024, 1, 1), dt.date(2024, 3, 31), holdout_months=3, window_months=3)
    t.fit(SchemeInputs(features=features, monthly=monthly, split=split, params=params))
    assert t.labels_["z"] == "INACTIVE"          # a customer of the features without a payment
    alerts = t.alerts_.set_index("customer_id")
    assert alerts.loc["a", "last_payment"] == "2024-01-20"    # the day, from the features' last_purchase


def test_profile_with_features_adds_average_behaviour_per_tier():
    features = pd.DataFrame({"customer_id": list("abcdefghij"), "recency_days": range(10),
                             "frequency": [4] * 6 + [1] * 4, "monetary": [100.0] * 10})
    t = PercentileTiers(as_of="2024-03-31", window_months=3, vip_share=0.4, good_share=0.25,
                        dropout_months=1).fit_monthly(three_months(), features)
    prof = t.profile().set_index("segment")
    assert list(prof.columns) == ["rank", "customers", "share", "window_value", "value_share", "recency_days",
                                  "frequency", "monetary"]
    assert prof.loc["VIP", "recency_days"] == 2.5 and prof.loc["VIP", "frequency"] == 4.0   # a..f
    assert prof.loc["REGULAR", "recency_days"] == 8.0                                    # h, i, j


def test_alerts_order_ties_by_id_and_count_a_free_purchase_as_a_payment():
    # x and y are VIPs in January (two payers, vip_share 0.5) with the same value and no payment later;
    # z pays in February; w's February purchase was free (revenue 0, one purchase): still a payment
    rows = [("x", "2024-01-01", 50.0, 1), ("y", "2024-01-01", 50.0, 1), ("w", "2024-01-01", 10.0, 1),
            ("z", "2024-02-01", 5.0, 1), ("w", "2024-02-01", 0.0, 1)]
    monthly = pd.DataFrame(rows, columns=["customer_id", "month", "revenue", "purchases"])
    monthly["month"] = pd.to_datetime(monthly["month"])
    t = PercentileTiers(as_of="2024-02-29", window_months=2, vip_share=0.5, good_share=0.5,
                        dropout_months=1).fit_monthly(monthly)
    assert t.monthly_tiers_.query("month == '2024-01'")["monthly_tier"].tolist() == ["GOOD", "VIP", "VIP"]
    assert t.alerts_["customer_id"].tolist() == ["x", "y"]          # equal value at risk: by id
    assert t.alerts_["value_at_risk"].tolist() == [50.0, 50.0]
    # a one-month window (February): z is the only VIP, and it paid: no alert
    quiet = PercentileTiers(as_of="2024-02-29", window_months=1, dropout_months=1).fit_monthly(monthly)
    assert quiet.alerts_.empty
    assert list(quiet.alerts_.columns) == ["customer_id", "last_vip_month", "last_payment", "value_at_risk"]


def test_a_free_purchase_keeps_a_vip_from_the_dropout_list():
    rows = [("v", "2024-01-01", 80.0, 1), ("r", "2024-01-01", 10.0, 1), ("v", "2024-02-01", 0.0, 1),
            ("r", "2024-02-01", 10.0, 1)]
    monthly = pd.DataFrame(rows, columns=["customer_id", "month", "revenue", "purchases"])
    monthly["month"] = pd.to_datetime(monthly["month"])
    t = PercentileTiers(as_of="2024-02-29", window_months=2, vip_share=0.5, dropout_months=1).fit_monthly(monthly)
    assert t.labels_["v"] == "VIP" and t.alerts_.empty


def test_period_total_labels_customers_without_payments_inactive():
    t = PercentileTiers(as_of="2024-03-31", window_months=3, vip_share=0.4, good_share=0.25, dropout_months=1,
                        variant="period_total").fit_monthly(three_months(), pd.Series(["a", "z"]))
    assert t.labels_.to_dict() == {"a": "VIP", "z": "INACTIVE"}


def test_the_default_window_is_six_months_and_a_cut_off_on_a_first_day_keeps_that_month():
    t = PercentileTiers(dropout_months=1).fit_monthly(three_months())
    assert t.window_ == ["2023-10", "2023-11", "2023-12", "2024-01", "2024-02", "2024-03"]
    # as_of 1 March: the March rows (months are keyed by their first day) are inside calibration
    march = PercentileTiers(as_of="2024-03-01", window_months=1, dropout_months=1).fit_monthly(three_months())
    assert march.window_ == ["2024-03"] and march.labels_["j"] == "REGULAR"


def test_profile_of_tiers_with_an_empty_tier_and_small_values():
    # one month, two payers with 0.25 and 0.5: VIP b, GOOD a, nobody REGULAR or INACTIVE; the
    # window total (0.75) is below 1, so the value shares divide by it, not by 1
    monthly = pd.DataFrame({"customer_id": ["a", "b"], "month": pd.to_datetime(["2024-03-01"] * 2),
                            "revenue": [0.25, 0.5], "purchases": [1, 1]})
    t = PercentileTiers(as_of="2024-03-31", window_months=1, vip_share=0.5, good_share=0.5,
                        dropout_months=1).fit_monthly(monthly)
    prof = t.profile()
    assert prof.columns.tolist() == ["segment", "rank", "customers", "share", "window_value", "value_share"]
    assert prof["segment"].tolist() == ["VIP", "GOOD", "REGULAR", "INACTIVE"]
    assert prof["rank"].tolist() == [1, 2, 3, 4]
    assert prof["customers"].dtype == "int64" and prof["customers"].tolist() == [1, 1, 0, 0]
    assert prof["window_value"].tolist() == [0.5, 0.25, 0.0, 0.0]
    assert prof["value_share"].tolist() == pytest.approx([2 / 3, 1 / 3, 0.0, 0.0])
    # a single customer is the whole book
    one = PercentileTiers(as_of="2024-03-31", window_months=1, dropout_months=1).fit_monthly(monthly.iloc[:1])
    assert one.profile()["share"].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_abc_breaks_ties_across_a_cut_by_customer_id():
    # twenty values of 1, 2 or 3 (many ties, some across a cut), re-counted in plain Python: rank by
    # value descending, ties by id; A while the share held above is below 80%, B below 95%
    v = [3, 2, 2, 1, 1, 1, 1, 1, 1, 3, 2, 3, 2, 2, 3, 3, 2, 2, 2, 3]
    values = {f"c{i:02d}": float(x) for i, x in enumerate(v)}
    order = sorted(values, key=lambda c: (-values[c], c))
    total, above, expected = sum(v), 0.0, {}
    for c in order:
        share = above / total
        expected[c] = "VIP" if share < 0.8 - 1e-9 else "GOOD" if share < 0.95 - 1e-9 else "REGULAR"
        above += values[c]
    assert abc(values, shares=(0.8, 0.15, 0.05)) == expected
    # the A/B cut falls inside the 2s (c18, the last 2 by id, is B) and the B/C cut inside the 1s
    assert [c for c in order if expected[c] == "GOOD"] == ["c18", "c03", "c04", "c05", "c06"]
    assert [c for c in order if expected[c] == "REGULAR"] == ["c07", "c08"]


def test_abc_cuts_exactly_at_a_share_minus_the_tolerance():
    # the customers above hold exactly a - 1e-9 (then a + b - 1e-9) of the value: that is not below
    # the cut, so the next customer falls into the next class
    a = 0.8 - 1e-9
    got = abc({"p": a, "q": 1 - a}, shares=(0.8, 0.1, 0.1))
    assert got == {"p": "VIP", "q": "GOOD"}
    ab = 0.9 - 1e-9
    got = abc({"p": ab, "q": 1 - ab}, shares=(0.8, 0.1, 0.1))
    assert got == {"p": "VIP", "q": "REGULAR"}


def test_sorted_ids_of_unsorted_missing_and_repeated_ids():
    from segkit.schemes.tiers import _sorted_ids

    assert _sorted_ids(pd.Series(["a", None, "b"])).tolist() == ["a", "b"]     # sorted around a missing id
    assert _sorted_ids(pd.Series(["a", "b", None])).tolist() == ["a", "b"]
    assert _sorted_ids(pd.Series(["b", "a"])).tolist() == ["a", "b"]
    assert _sorted_ids(pd.Series(["a", "a", "b"])).tolist() == ["a", "b"]
    assert _sorted_ids(pd.Series(["a", "c"])).tolist() == ["a", "c"] and _sorted_ids(pd.Series(["z"])).tolist() == ["z"]


# ---------------------------------------------------------------- exact_ceil, ids, window totals


def test_exact_ceil_reads_the_share_to_nine_decimals_and_gives_python_ints():
    from segkit.schemes.tiers import exact_ceil

    assert exact_ceil(0.123, 1000) == 123          # 123/1000 exactly, not a nearby fraction such as 8/65
    # nine decimals: 4e-10 of one customer is 0 customers; 0.5000000001 of two is 1 (0.5 x 2)
    assert exact_ceil(4e-10, 1) == 0 and exact_ceil(0.5000000001, 2) == 1
    got = exact_ceil(0.2, 15)
    assert got == 3 and type(got) is int           # a count, not a 0-d array
    # counts given as 32-bit integers are widened first: 123456789 x 2,000,000 does not fit 32 bits
    many = exact_ceil(0.123456789, np.array([100, 2_000_000], dtype=np.int32))
    assert many.tolist() == [13, 246914] and many.dtype == np.int64   # ceil(12.35), ceil(246913.578)


def test_ids_held_as_arrow_integers_are_sorted_as_numbers():
    # one row each, 10 before 9: sorted as text ("10" < "9") they would look sorted already
    monthly = pd.DataFrame({"customer_id": pd.Series([10, 9], dtype=pd.ArrowDtype(pa.int64())),
                            "month": pd.Timestamp("2024-06-01"), "revenue": [50.0, 5.0], "purchases": [1, 1]})
    t = PercentileTiers(as_of="2024-06-30", window_months=1, vip_share=0.5, good_share=0.5,
                        dropout_months=1).fit_monthly(monthly)
    assert t.labels_.index.tolist() == [9, 10] and t.labels_.tolist() == ["GOOD", "VIP"]


def test_ids_too_long_for_64_bit_integers_are_labelled():
    # twenty-two-digit numbers held as Python ints (object column): Arrow cannot hold them as
    # integers, so they are sorted the pandas way
    big, bigger = 2**70, 2**71
    monthly = pd.DataFrame({"customer_id": pd.Series([big, bigger], dtype=object), "month": pd.Timestamp("2024-06-01"),
                            "revenue": [5.0, 3.0], "purchases": [1, 1]})
    t = PercentileTiers(as_of="2024-06-30", window_months=1, vip_share=0.5, good_share=0.5,
                        dropout_months=1).fit_monthly(monthly)
    assert t.labels_.to_dict() == {big: "VIP", bigger: "GOOD"}


def test_window_totals_are_by_id_in_id_order_and_named_value():
    # b's rows come first; a has 7 in February, b 5 + 1
    rows = [("b", "2024-01-01", 5.0, 1), ("a", "2024-02-01", 7.0, 1), ("b", "2024-02-01", 1.0, 1)]
    monthly = pd.DataFrame(rows, columns=["customer_id", "month", "revenue", "purchases"])
    monthly["month"] = pd.to_datetime(monthly["month"])
    t = PercentileTiers(as_of="2024-02-29", window_months=2, dropout_months=1).fit_monthly(monthly)
    totals = t.window_totals_
    assert totals.index.tolist() == ["a", "b"] and totals.tolist() == [7.0, 6.0]
    assert totals.name == "value" and totals.index.name == "customer_id"


# ---------------------------------------------------------------- alerts, movements, boundaries


def dropout_months() -> pd.DataFrame:
    """x VIP in January (50.0000004, vip_share 0.5 of two payers), then in February only a return
    (revenue -5, no purchase); y GOOD in January and the only payer (VIP) in February."""
    rows = [("x", "2024-01-01", 50.0000004, 1), ("y", "2024-01-01", 10.0, 1), ("x", "2024-02-01", -5.0, 0),
            ("y", "2024-02-01", 10.0, 1)]
    monthly = pd.DataFrame(rows, columns=["customer_id", "month", "revenue", "purchases"])
    return monthly.assign(month=pd.to_datetime(monthly["month"]))


def dropout_tiers(**kw) -> PercentileTiers:
    return PercentileTiers(**{"as_of": "2024-02-29", "window_months": 2, "vip_share": 0.5, "good_share": 0.5,
                              "dropout_months": 1, **kw})


def test_a_month_of_returns_only_is_no_payment_for_the_dropout_list():
    t = dropout_tiers().fit_monthly(dropout_months())
    # x's last payment is January's (the February row has no purchase); the value at risk is the
    # window's 50.0000004 - 5 rounded to six decimals
    assert t.alerts_.to_dict("records") == [
        {"customer_id": "x", "last_vip_month": "2024-01", "last_payment": "2024-01", "value_at_risk": 45.0}]


def test_alerts_last_payment_is_the_day_of_the_features_last_purchase():
    features = pd.DataFrame({"customer_id": ["x", "y"],
                             "last_purchase": [pd.Timestamp("2024-01-20 15:30"), pd.Timestamp("2024-02-11")]})
    t = dropout_tiers().fit_monthly(dropout_months(), features)
    assert t.alerts_["last_payment"].tolist() == ["2024-01-20"]          # the day, without the time
    # only the flagged customers' dates are read: y's text in another form does not matter
    text = features.assign(last_purchase=["2024-01-20 15:30", "2024-02-11"])
    t = dropout_tiers().fit_monthly(dropout_months(), text)
    assert t.alerts_["last_payment"].tolist() == ["2024-01-20"]


def test_an_empty_alerts_table_has_the_column_types_of_a_full_one():
    full = dropout_tiers().fit_monthly(dropout_months()).alerts_
    empty = dropout_tiers(window_months=1).fit_monthly(dropout_months()).alerts_   # February: y paid
    assert empty.empty and len(full) == 1
    assert [str(d) for d in empty.dtypes] == [str(d) for d in full.dtypes] == ["str", "str", "str", "float64"]


def test_movements_count_the_vips_entering_and_leaving():
    # January: a, b VIP (ceil(0.4 x 5) = 2); February: c, d VIP, a and b fall to REGULAR
    rows = [(c, "2024-01-01", v) for c, v in zip("abcde", [100.0, 90, 10, 5, 1])] + \
           [(c, "2024-02-01", v) for c, v in zip("cdabe", [100.0, 90, 10, 5, 1])]
    monthly = pd.DataFrame(rows, columns=["customer_id", "month", "revenue"])
    monthly["month"] = pd.to_datetime(monthly["month"])
    t = PercentileTiers(as_of="2024-02-29", window_months=2, vip_share=0.4, dropout_months=1).fit_monthly(monthly)
    m = t.movements_
    assert m["month"].tolist() == ["2024-01", "2024-02"] and m["vip"].tolist() == [2, 2]
    assert m["entered"].tolist()[1:] == [2] and m["left"].tolist()[1:] == [2]
    assert m[["entered", "left"]].iloc[0].isna().all()


def test_without_a_vip_share_the_good_cut_is_still_described():
    # vip_share 0: no VIP; GOOD ceil(0.4 x 5) = 2 (a 50, b 40), so the only cut is GOOD/REGULAR at 40
    t = PercentileTiers(as_of="2024-06-30", window_months=1, vip_share=0.0, good_share=0.4,
                        dropout_months=1).fit_monthly(one_month({"a": 50, "b": 40, "c": 30, "d": 20, "e": 10}))
    assert t.labels_.tolist() == ["GOOD", "GOOD", "REGULAR", "REGULAR", "REGULAR"]
    assert t.boundary_.to_dict("records") == [
        {"month": "2024-06", "cut": "GOOD/REGULAR", "customers": 5, "above_cut": 2, "threshold": 40.0,
         "tied_at_threshold": 1, "ties_split_by_customer_id": False, "within_5pct": 1}]


def test_within_5pct_counts_a_value_exactly_five_percent_from_the_threshold():
    # VIP a 105, b 100 (threshold 100): 105 and 95 are 5 away, exactly 5% of 100; 50 is not near
    t = PercentileTiers(as_of="2024-06-30", window_months=1, vip_share=0.4, good_share=0.25,
                        dropout_months=1).fit_monthly(one_month({"a": 105, "b": 100, "c": 95, "d": 50, "e": 10}))
    b = t.boundary_.set_index("cut")
    assert b.loc["VIP/GOOD", "threshold"] == 100.0 and b.loc["VIP/GOOD", "within_5pct"] == 3
    # GOOD ceil(0.25 x 3) = 1 (c): threshold 95, 5% is 4.75, and 100 is 5 away
    assert b.loc["GOOD/REGULAR", "threshold"] == 95.0 and b.loc["GOOD/REGULAR", "within_5pct"] == 1


# ---------------------------------------------------------------- period_total, fit_monthly


def test_period_total_in_a_one_month_window_with_values_below_one_and_a_free_purchase():
    # totals p 0.75, q 0.5, r 0.25 are ranked (n = 3): VIP ceil(0.4 x 3) = 2, GOOD ceil(0.25 x 1) = 1;
    # s bought for nothing (total 0): REGULAR; z never paid: INACTIVE
    t = PercentileTiers(as_of="2024-06-30", window_months=1, vip_share=0.4, good_share=0.25, dropout_months=1,
                        variant="period_total")
    t.fit_monthly(one_month({"p": 0.75, "q": 0.5, "r": 0.25, "s": 0}), pd.Series(list("pqrsz")))
    assert t.labels_.to_dict() == {"p": "VIP", "q": "VIP", "r": "GOOD", "s": "REGULAR", "z": "INACTIVE"}


def test_monthly_tiers_table_has_four_columns_and_a_fresh_index():
    mt = fitted().monthly_tiers_
    assert mt.columns.tolist() == ["customer_id", "month", "value", "monthly_tier"]
    assert mt.index.tolist() == list(range(18))
    assert mt[["customer_id", "month"]].iloc[[0, 5, 17]].to_numpy().tolist() == [
        ["a", "2024-01"], ["b", "2024-02"], ["j", "2024-03"]]


def test_months_given_as_text_rank_as_the_same_months():
    monthly = three_months().assign(month=lambda d: d["month"].dt.strftime("%Y-%m-%d"))
    t = PercentileTiers(as_of="2024-03-31", window_months=3, vip_share=0.4, good_share=0.25,
                        dropout_months=1).fit_monthly(monthly)
    # VIP in some month: a, b (January), c (February), d, e, f (March); g GOOD in March
    assert t.labels_.to_dict() == {**dict.fromkeys("abcdef", "VIP"), "g": "GOOD", **dict.fromkeys("hij", "REGULAR")}


def test_window_totals_add_the_months_oldest_first_whatever_the_row_order():
    """0.1 + 1.8 - 2.5 by Kahan's steps, oldest month first, is -0.5999999999999999 (the engine's
    float) for sorted and reversed rows; pandas 3.1's group sum gave -0.6 for sorted rows only."""
    rows = pd.DataFrame({"customer_id": ["k", "k", "k", "z"],
                         "month": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-03-01"]),
                         "revenue": [0.1, 1.8, -2.5, 7.0], "purchases": [1, 1, 0, 1]})
    for monthly in (rows, rows.iloc[::-1].reset_index(drop=True)):
        tiers = PercentileTiers(as_of="2024-03-31", window_months=3, variant="period_total").fit_monthly(monthly)
        assert tiers.window_totals_.to_dict() == {"k": -0.5999999999999999, "z": 7.0}
