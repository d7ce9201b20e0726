"""The decisions core: policy, payback, capacity and targets, erosion, returns, stages, actions, mix."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st_

from segkit.config import DATA_DIR
from segkit.decisions import (ACTIONS, ALERT_COLUMNS, DEFAULT_POLICY_YAML, Policy, capacity_check, contact_list,
                              customer_returns, default_policy, erosion_alerts, good_targets, high_maintenance,
                              margin_erosion, payback, relationship_stages, stage_check, stage_transitions, STAGES,
                              tier_change, tier_mix)
from segkit.decisions.actions import _REASONS, DUE_DAYS, _candidates
from segkit.decisions.stages import STAGE_ORDER
from segkit.errors import ConfigError

B2B = DATA_DIR / "synthetic" / "b2b.csv.gz"


def _months(*months: str) -> pd.Series:
    return pd.to_datetime([f"{m}-01" for m in months])


def _history(rows: list[tuple[str, str, float]], margin: list[float] | None = None) -> pd.DataFrame:
    """customer x month rows from (customer, 'YYYY-MM', revenue); one purchase and payment each."""
    frame = pd.DataFrame(rows, columns=["customer_id", "month", "revenue"])
    frame["month"] = pd.to_datetime(frame["month"] + "-01")
    frame["margin"] = margin if margin is not None else frame["revenue"] * 0.3
    return frame.assign(payments=1, purchases=1, units=1.0)


# ================================================================== policy
def test_default_policy_is_the_documented_yaml():
    pol = default_policy()
    raw = yaml.safe_load(DEFAULT_POLICY_YAML)["policy"]
    assert pol["VIP"].capacity == raw["VIP"]["customers_per_manager"] * raw["VIP"]["managers"] == 80
    assert pol["GOOD"].discount_pct == 2.0 and pol["GOOD"].capacity is None
    assert pol["REGULAR"].relationship == "self-service"
    assert list(pol.table()["tier"]) == ["VIP", "GOOD", "REGULAR", "INACTIVE"]


def test_policy_fills_missing_tiers_and_max_customers():
    pol = Policy.from_mapping({"VIP": {"max_customers": 12, "target_threshold": 1000}})
    assert pol["VIP"].capacity == 12 and pol["VIP"].target_threshold == 1000.0
    assert pol["GOOD"].cost_to_serve_per_month == 0.0 and pol["INACTIVE"].relationship == "transactional"
    assert Policy.from_mapping(None)["VIP"].capacity is None


@pytest.mark.parametrize("raw, words", [
    ({"PLATINUM": {}}, ["unknown tier", "'PLATINUM'", "VIP, GOOD"]),
    ({"VIP": {"discount": 5}}, ["unknown policy key", "'discount'", "discount_pct"]),
    ({"VIP": {"cost_to_serve_per_month": -1}}, ["cost_to_serve_per_month", "0 or more", "tier 'VIP'"]),
    ({"VIP": {"discount_pct": 101}}, ["discount_pct", "from 0 to 100"]),
    ({"GOOD": {"discount_pct": "5%"}}, ["discount_pct", "'5%'"]),
    ({"VIP": {"max_customers": 0}}, ["max_customers", "positive whole number"]),
    ({"VIP": {"customers_per_manager": 2.5, "managers": 2}}, ["customers_per_manager", "positive whole"]),
    ({"VIP": {"customers_per_manager": 30, "managers": True}}, ["managers", "positive whole"]),
    ({"VIP": {"customers_per_manager": 30}}, ["both customers_per_manager and managers"]),
    ({"VIP": {"max_customers": 5, "customers_per_manager": 3, "managers": 2}}, ["capacity once"]),
    ({"VIP": {"payment_terms_days": -30}}, ["payment_terms_days", "0 or more"]),
    ({"VIP": {"relationship": "golf"}}, ["relationship type", "dedicated account manager"]),
    ({"VIP": {"investment": 5}}, ["investment must be text"]),
    ({"VIP": "gold"}, ["must be a mapping"]),
    (["VIP"], ["`policy` must map tiers"]),
])
def test_policy_validation_says_what_where_and_fix(raw, words):
    with pytest.raises(ConfigError) as info:
        Policy.from_mapping(raw, where="reports.yml (run 'x'), key 'policy'")
    message = str(info.value)
    assert "Where: reports.yml (run 'x'), key 'policy'" in message and "Fix:" in message
    for word in words:
        assert word in message


# ================================================================== payback
def test_payback_arithmetic_by_hand():
    tiers = pd.DataFrame({"customer_id": list("abcd"), "tier": ["VIP", "VIP", "GOOD", "REGULAR"]})
    window = _history([("a", "2024-05", 600.0), ("a", "2024-06", 400.0), ("b", "2024-06", 500.0),
                       ("c", "2024-06", 200.0)], margin=[200.0, 100.0, 100.0, 50.0])
    holdout = _history([("a", "2024-07", 100.0)], margin=[10.0])
    pol = Policy.from_mapping({"VIP": {"discount_pct": 10, "cost_to_serve_per_month": 20},
                               "GOOD": {"discount_pct": 5, "cost_to_serve_per_month": 5}})
    t = payback(tiers, window, holdout, pol, window_months=3, holdout_months=2, has_cost=True).set_index(
        ["period", "tier"])
    vip = t.loc[("window", "VIP")]
    assert (vip["customers"], vip["revenue"], vip["margin"]) == (2, 1500.0, 400.0)
    assert (vip["discount_given"], vip["cost_to_serve"], vip["policy_cost"]) == (150.0, 120.0, 270.0)
    assert (vip["net_contribution"], vip["revenue_after_policy"]) == (130.0, 1230.0)
    good = t.loc[("window", "GOOD")]
    assert (good["policy_cost"], good["net_contribution"]) == (25.0, 25.0)
    assert t.loc[("window", "REGULAR"), "customers"] == 1 and t.loc[("window", "REGULAR"), "revenue"] == 0.0
    hv = t.loc[("holdout", "VIP")]
    assert (hv["revenue"], hv["cost_to_serve"], hv["policy_cost"], hv["net_contribution"]) == (100.0, 80.0, 90.0, -80.0)
    assert list(t.index.get_level_values("period").unique()) == ["window", "holdout"]


def test_payback_without_cost_has_no_margin_but_revenue_after_policy():
    tiers = pd.DataFrame({"customer_id": ["a"], "tier": ["VIP"]})
    pol = Policy.from_mapping({"VIP": {"discount_pct": 10}})
    t = payback(tiers, _history([("a", "2024-06", 100.0)]), None, pol, window_months=1, has_cost=False)
    assert len(t) == 1 and np.isnan(t.loc[0, "margin"]) and np.isnan(t.loc[0, "net_contribution"])
    assert t.loc[0, "revenue_after_policy"] == 90.0


# ================================================================== capacity and targets
def test_capacity_overflow_lists_the_waiting_vips_by_value_then_id():
    values = pd.DataFrame({"customer_id": list("dcba"), "tier": ["VIP"] * 4, "value": [10.0, 20.0, 20.0, 30.0]})
    c = capacity_check(values, capacity=2)
    assert (c.customers, c.capacity, c.overflow, c.free) == (4, 2, 2, 0)
    assert c.queue[["customer_id", "rank", "status"]].values.tolist() == [["c", 3, "over capacity"],
                                                                          ["d", 4, "over capacity"]]


def test_capacity_free_places_go_to_the_best_good_customers():
    values = pd.DataFrame({"customer_id": ["a", "x", "z", "y", "r"], "tier": ["VIP", "GOOD", "GOOD", "GOOD", "REGULAR"],
                           "value": [50.0, 5.0, 7.0, 7.0, 100.0]})
    c = capacity_check(values, capacity=3)
    assert (c.overflow, c.free) == (0, 2)
    assert c.queue["customer_id"].tolist() == ["y", "z"] and set(c.queue["status"]) == {"next in line"}
    assert capacity_check(values, None).queue.empty and capacity_check(values, 1).queue.empty


def test_good_targets_gap_to_the_latest_vip_threshold():
    mt = pd.DataFrame({"customer_id": ["v1", "v2", "g1", "g2", "v1", "g3"],
                       "month": ["2024-06"] * 4 + ["2024-05", "2024-05"],
                       "value": [100.0, 90.0, 80.0, 50.0, 999.0, 500.0],
                       "monthly_tier": ["VIP", "VIP", "GOOD", "REGULAR", "VIP", "VIP"]})
    tiers = pd.DataFrame({"customer_id": ["v1", "v2", "g1", "g2", "g3"],
                          "tier": ["VIP", "VIP", "GOOD", "GOOD", "GOOD"]})
    t = good_targets(mt, tiers).set_index("customer_id")
    assert set(t["vip_threshold"]) == {90.0} and list(t.index) == ["g1", "g2", "g3"]
    assert t.loc["g1", ["gap", "near_target"]].tolist() == [10.0, True]    # 10 <= 0.25 * 90
    assert t.loc["g2", ["gap", "near_target"]].tolist() == [40.0, False]
    assert t.loc["g3", ["last_value", "gap"]].tolist() == [0.0, 90.0]      # bought nothing in June
    fixed = good_targets(mt, tiers, threshold=200.0).set_index("customer_id")
    assert fixed["gap"].tolist() == [120.0, 150.0, 200.0] and not fixed["near_target"].any()


# ================================================================== erosion
WINDOW = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]


def _erosion_case() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, margins = [], []
    cases = {"down": [30, 30, 30, 20, 20, 20], "flat": [30] * 6, "edge": [30, 30, 30, 25, 25, 25],
             "notvip": [30, 30, 30, 0, 0, 0]}
    for cid, ms in cases.items():
        for month, m in zip(WINDOW, ms):
            rows.append((cid, month, 100.0))
            margins.append(float(m))
    mt = pd.DataFrame({"customer_id": ["down", "flat", "edge", "notvip"],
                       "month": ["2024-03", "2024-06", "2024-05", "2024-06"],
                       "monthly_tier": ["VIP", "VIP", "VIP", "GOOD"]})
    return _history(rows, margins), mt


def test_margin_erosion_flags_the_planted_decline_only():
    monthly, mt = _erosion_case()
    e = margin_erosion(monthly, mt, WINDOW)
    assert e["customer_id"].tolist() == ["down"]  # flat: 0 points; edge: exactly 5 is not "more than 5"
    row = e.iloc[0]
    assert (row["margin_pct_first"], row["margin_pct_second"], row["drop_pp"]) == (30.0, 20.0, 10.0)
    assert row["value_at_risk"] == pytest.approx(0.10 * 300)
    assert row["trend_pp_per_month"] == pytest.approx(-45 / 17.5)  # least squares by hand
    assert (row["last_vip_month"], row["last_payment"]) == ("2024-03", "2024-06")
    alerts = erosion_alerts(e)
    assert list(alerts.columns) == ALERT_COLUMNS and alerts["rule"].tolist() == ["margin_erosion"]
    assert margin_erosion(monthly, mt, WINDOW, threshold_pp=4.9)["customer_id"].tolist() == ["down", "edge"]


def test_margin_erosion_odd_window_leaves_out_the_middle_month():
    monthly, mt = _erosion_case()
    # the 3rd of 5 months is dropped: first half Jan-Feb (30%), second half Apr-May (20%)
    e = margin_erosion(monthly, mt, WINDOW[:5])
    assert e.loc[e["customer_id"] == "down", "drop_pp"].item() == 10.0
    assert e.loc[e["customer_id"] == "down", "value_at_risk"].item() == pytest.approx(20.0)


# ================================================================== high maintenance
def test_customer_returns_and_high_maintenance_by_hand():
    from segkit.data import load_transactions

    frame = pd.DataFrame({"customer_id": ["a", "a", "a", "a", "b", "b", "c", "c", "c", "d"],
                          "date": pd.to_datetime(["2024-01-02"] * 10),
                          "amount": [40.0, 40.0, -20.0, -10.0, 400.0, -10.0, 30.0, 20.0, -2.0, 60.0]})
    r = customer_returns(load_transactions(frame)).set_index("customer_id")
    assert r.loc["a"].tolist() == [2, 2, 80.0, 30.0]
    assert r.loc["c", ["return_lines", "returns_value"]].tolist() == [1, 2.0]
    hm = high_maintenance(r.reset_index())
    # median net revenue of a 50, b 390, c 48, d 60 is 55: a and c are low; c has one return line only
    assert hm["customer_id"].tolist() == ["a"] and hm.loc[0, "return_share"] == 0.375


# ================================================================== stages
def _stage_cases() -> pd.DataFrame:
    monthly = lambda cid, months, rev=100.0: [(cid, m, rev) for m in months]  # noqa: E731
    h2 = [f"2024-{m:02d}" for m in range(7, 13)]
    rows = (monthly("explore", ["2024-10"]) + monthly("explore_edge", ["2024-09"])
            + monthly("quiet", [f"2024-{m:02d}" for m in range(1, 7)])
            + monthly("quarterly", ["2023-12", "2024-03", "2024-06", "2024-09"])
            + monthly("commit", h2) + monthly("young", h2[1:5])
            + [("grow", m, 100.0 if m < "2024-10" else 125.0) for m in h2]
            + [("decline", m, r) for m, r in zip(h2, [100.0, 100.0, 100.0, 50.0, 30.0, 20.0])]
            + monthly("twice", ["2024-11", "2024-12"]))
    return _history(rows)


def test_stages_on_hand_made_histories_with_edges():
    st = relationship_stages(_stage_cases(), "2024-12-31", customers=pd.Series(
        ["explore", "explore_edge", "quiet", "quarterly", "commit", "young", "grow", "decline", "twice", "never"]))
    got = st.set_index("customer_id")["stage"].to_dict()
    assert got == {
        "explore": "exploration",       # one purchase month, 2 months ago (< 3)
        "explore_edge": "dissolution",  # one purchase month exactly 3 months ago: never came back
        "quiet": "dissolution",         # monthly buyer silent for 6 months >= max(3, 3 x 1)
        "quarterly": "commitment",      # silent 3 months = its rhythm (gap 3): not quiet, not compared
        "commit": "commitment",         # tenure exactly 6 months, 6 purchase months, flat spend
        "young": "awareness",           # 4 purchase months Aug-Nov, flat; tenure 5 < 6
        "grow": "expansion",            # 375 = exactly 1.25 x 300
        "decline": "dissolution",       # 100 = exactly 300 / 3
        "twice": "awareness",           # repeat purchase started, nothing to compare
        "never": "dissolution",         # listed but never bought
    }
    assert st.set_index("customer_id").loc["quarterly", "usual_gap"] == 3.0


@settings(max_examples=40, deadline=None)
@given(st_.lists(st_.tuples(st_.sampled_from("abcdef"), st_.integers(0, 14), st_.floats(-50, 500)), max_size=40),
       st_.randoms(use_true_random=False))
def test_stages_one_per_customer_whatever_the_row_order(rows, rnd):
    frame = pd.DataFrame(rows, columns=["customer_id", "age", "revenue"]).drop_duplicates(["customer_id", "age"])
    frame["month"] = [pd.Timestamp("2024-12-01") - pd.DateOffset(months=int(a)) for a in frame["age"]]
    frame["purchases"] = (frame["revenue"] > 0).astype(int)
    ids = pd.Series(list("abcdefg"))
    st = relationship_stages(frame, "2024-12-31", ids)
    assert st["customer_id"].tolist() == list("abcdefg") and set(st["stage"]) <= set(STAGES)
    assert st.loc[6, "stage"] == "dissolution"  # g never bought
    shuffled = frame.sample(frac=1.0, random_state=rnd.randint(0, 999))
    pd.testing.assert_frame_equal(relationship_stages(shuffled, "2024-12-31", ids), st)


@settings(max_examples=40, deadline=None)
@given(st_.lists(st_.tuples(st_.sampled_from("abcd"), st_.integers(0, 8), st_.floats(-5, 50)), min_size=1, max_size=30),
       st_.booleans())
def test_stages_count_a_repeated_month_once(rows, in_order):
    """Months are counted per (customer, month), however often a month repeats: the same counts as the
    table with one row per customer and month, sorted as segkit's or not."""
    frame = pd.DataFrame(rows, columns=["customer_id", "age", "revenue"])
    frame["month"] = [pd.Timestamp("2024-12-01") - pd.DateOffset(months=int(a)) for a in frame["age"]]
    frame["purchases"] = (frame["revenue"] > 0).astype(int)
    if in_order:  # month by month, then customer: the order of segkit's customer-month tables
        frame = frame.sort_values(["month", "customer_id"], kind="stable")
    once = frame.groupby(["customer_id", "month"], as_index=False).agg(revenue=("revenue", "sum"),
                                                                      purchases=("purchases", "max"))
    counts = ["first", "last", "active"]
    got = relationship_stages(frame, "2024-12-31")[["customer_id", *counts]]
    want = relationship_stages(once, "2024-12-31")[["customer_id", *counts]]
    pd.testing.assert_frame_equal(got, want)
    paid = once[once["purchases"] > 0]
    assert got.set_index("customer_id")["active"].to_dict() == paid.groupby("customer_id")["month"].nunique().to_dict()


def test_stage_transitions_and_check():
    before = pd.DataFrame({"customer_id": ["a", "b", "c"], "stage": ["exploration", "awareness", "commitment"]})
    after = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                          "stage": ["awareness", "awareness", "dissolution", "exploration"]})
    m = stage_transitions(before, after)
    assert m.to_numpy().sum() == 4 and m.loc["exploration", "awareness"] == 1 and m.loc["awareness", "awareness"] == 1
    assert m.loc["commitment", "dissolution"] == 1 and m.loc["(new)", "exploration"] == 1
    stages = pd.DataFrame({"customer_id": list("abcdef"),
                           "stage": ["expansion", "commitment", "commitment", "awareness", "dissolution",
                                     "dissolution"]})
    out = pd.DataFrame({"customer_id": list("abcdef"), "bought": [True, True, False, False, False, True]})
    table, ordered = stage_check(stages, out, min_customers=1)
    assert table["stage"].tolist() == ["expansion", "commitment", "awareness", "dissolution"]
    assert table["purchase_rate"].tolist() == [1.0, 0.5, 0.0, 0.5] and ordered is False
    table, ordered = stage_check(stages, out, min_customers=2)  # only commitment and dissolution are checked
    assert ordered is True and table["checked"].tolist() == [False, True, False, True]


@settings(max_examples=80, deadline=None)
@given(st_.lists(st_.tuples(st_.integers(0, 30), st_.sampled_from([*STAGES, None])), min_size=1, max_size=30,
                 unique_by=lambda r: r[0]),
       st_.lists(st_.tuples(st_.integers(0, 30), st_.sampled_from([True, False, None])), max_size=30),
       st_.booleans(), st_.booleans())
def test_stage_check_counts_as_a_left_join_of_the_outcomes(stages, outcomes, text, in_order):
    """The purchase rates equal those of pandas' left merge it replaced, whether the outcomes come sorted
    with each id once (looked up in Arrow) or not (repeated or unsorted ids: the merge itself), with
    customers missing from the outcomes (not bought) and missing outcomes."""
    s = pd.DataFrame({"customer_id": [f"c{i:02d}" for i, _ in stages], "stage": [g for _, g in stages]})
    o = pd.DataFrame({"customer_id": [f"c{i:02d}" for i, _ in outcomes], "bought": [b for _, b in outcomes]},
                     columns=["customer_id", "bought"])
    if in_order:
        o = o.drop_duplicates("customer_id").sort_values("customer_id", kind="stable")
    if text:
        s, o = s.astype({"customer_id": "str"}), o.astype({"customer_id": "str"})
    joined = s.merge(o, on="customer_id", how="left")
    joined["bought"] = joined["bought"].fillna(False).astype(bool)
    expected = joined.groupby("stage").agg(customers=("customer_id", "size"), bought=("bought", "sum"))
    expected = expected.reindex(STAGE_ORDER).dropna().astype({"customers": "int64", "bought": "int64"})
    table, _ = stage_check(s, o, min_customers=1)
    assert table["stage"].tolist() == expected.index.tolist()
    assert table["customers"].tolist() == expected["customers"].tolist()
    assert table["bought"].tolist() == expected["bought"].tolist()


@settings(max_examples=60, deadline=None)
@given(st_.lists(st_.tuples(st_.integers(0, 30), st_.sampled_from([*STAGES, "odd", None])), max_size=30,
                 unique_by=lambda r: r[0]),
       st_.lists(st_.tuples(st_.integers(0, 30), st_.sampled_from([*STAGES, "odd", None])), max_size=30,
                 unique_by=lambda r: r[0]),
       st_.booleans(), st_.booleans())
def test_stage_transitions_count_as_a_join_and_a_crosstab(earlier, later, text, coded):
    """Counted by position and codes: the same table as a left join of the ids and a crosstab, for
    customers new now, gone now, a stage missing (earlier: counted as new; now: not counted) or unknown;
    the stages as text or as categories (with one that no customer has)."""
    before = pd.DataFrame({"customer_id": [f"c{i:02d}" for i, _ in earlier], "stage": [s for _, s in earlier]})
    after = pd.DataFrame({"customer_id": [f"c{i:02d}" for i, _ in later], "stage": [s for _, s in later]})
    if text:
        before, after = before.astype({"customer_id": "str"}), after.astype({"customer_id": "str"})
    if coded:
        before, after = (t.assign(stage=t["stage"].astype("category").cat.add_categories(["unused"]))
                         for t in (before, after))
    joined = after.merge(before, on="customer_id", how="left", suffixes=("", "_before"))
    joined["stage_before"] = joined["stage_before"].astype(object).where(joined["stage_before"].notna(), "(new)")
    want = pd.crosstab(joined["stage_before"], joined["stage"]).reindex(
        index=[*STAGES, "(new)"], columns=STAGES, fill_value=0)
    got = stage_transitions(before, after)
    assert got.index.tolist() == [*STAGES, "(new)"] and got.columns.tolist() == list(STAGES)
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    assert got.to_numpy().dtype == np.int64 and got.index.name == "stage at the earlier cut-off"


# ================================================================== actions and tier_change
def test_tier_change_by_hand():
    now = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e"], "tier": ["VIP", "GOOD", "VIP", "REGULAR", "VIP"]})
    before = pd.DataFrame({"customer_id": ["a", "b", "d", "e"], "tier": ["GOOD", "VIP", "GOOD", "VIP"]})
    assert tier_change(now, before)["tier_change"].tolist() == ["entered VIP", "left VIP", "new", "unchanged",
                                                                "unchanged"]
    assert set(tier_change(now, None)["tier_change"]) == {""}


def test_contact_list_priority_reasons_and_due_dates():
    ids = ["v1", "v2", "g1", "r1", "r2", "n1", "n2", "n3", "x"]
    tiers = pd.DataFrame({"customer_id": ids, "tier": ["VIP", "VIP", "GOOD", "REGULAR", "REGULAR", "REGULAR",
                                                         "REGULAR", "REGULAR", "REGULAR"]})
    stages = pd.DataFrame({"customer_id": ids, "stage": ["dissolution", "commitment", "commitment", "commitment",
                                                          "commitment", "exploration", "awareness", "awareness",
                                                          "dissolution"]})
    monthly = _history([("n1", "2024-12", 10.0), ("n2", "2024-11", 10.0), ("n2", "2024-12", 10.0),
                        ("n3", "2024-12", 20.0), ("x", "2024-12", 5.0), ("x", "2024-01", 5.0)])
    monthly.loc[monthly["customer_id"] == "n3", "payments"] = 2  # two orders in one month
    monthly.loc[monthly["customer_id"] == "x", "payments"] = 3
    erosion = pd.DataFrame({"customer_id": ["v1", "v2"], "value_at_risk": [7.0, 9.0]})
    targets = pd.DataFrame({"customer_id": ["g1"], "gap": [12.5], "near_target": [True]})
    value = pd.Series([1000.0, 800.0, 300.0, 100.0, 100.0, 10.0, 20.0, 20.0, 10.0], index=ids)
    headroom = pd.Series({"r1": 60.0, "r2": 40.0})
    a = contact_list("2024-12-31", tiers, stages, monthly, window_value=value, erosion=erosion, targets=targets,
                     peer_headroom=headroom)
    assert a[["customer_id", "action", "due_by", "value_at_stake"]].values.tolist() == [
        ["v1", "win_back_call", "2025-01-07", 1000.0],
        ["v2", "margin_review", "2025-01-14", 9.0],
        ["g1", "promotion_talk", "2025-01-14", 12.5],
        ["r1", "key_account_approach", "2025-01-30", 60.0],
        ["n2", "satisfaction_check", "2025-01-07", 20.0],
        ["n3", "satisfaction_check", "2025-01-07", 20.0],
        ["n1", "thank_you", "2025-01-03", 10.0],
    ]
    assert a.loc[0, "reason"] == "VIP customer in dissolution (declining or gone quiet); also: margin_review"
    assert a.loc[0, ["tier", "stage"]].tolist() == ["VIP", "dissolution"]
    none = contact_list("2024-12-31", tiers, stages, monthly, window_value=value)
    assert "margin_review" not in set(none["action"]) and none.loc[1, "action"] == "satisfaction_check"


def _contact_list_by_loop(as_of: str, tiers: pd.DataFrame, stages: pd.DataFrame, found: dict) -> list:
    """The contact list's rows the plain way: customer by customer, every action checked in turn."""
    day = dt.date.fromisoformat(as_of)
    tier, stage = tiers.set_index("customer_id")["tier"], stages.set_index("customer_id")["stage"]
    rows = []
    for cid in tiers["customer_id"]:
        applies = [a for a in ACTIONS if a in found and cid in found[a].index]
        if applies:
            reason = _REASONS[applies[0]].format(tier=tier[cid])
            reason += "; also: " + ", ".join(applies[1:]) if len(applies) > 1 else ""
            rows.append([cid, applies[0], reason, (day + dt.timedelta(days=DUE_DAYS[applies[0]])).isoformat(),
                         tier[cid], stage[cid], round(float(found[applies[0]][cid]), 6)])
    return rows


def test_contact_list_matches_the_customer_by_customer_rule_on_many_customers():
    # 3,000 customers, every combination of actions: the vectorised rows equal the loop's, in its order
    rng = np.random.default_rng(5)
    n = 3_000
    ids = [f"c{i:05d}" for i in rng.permutation(n)]
    tiers = pd.DataFrame({"customer_id": ids, "tier": rng.choice(["VIP", "GOOD", "REGULAR", "INACTIVE"], n)})
    stages = pd.DataFrame({"customer_id": ids, "stage": rng.choice(["dissolution", "commitment", "awareness"], n)})
    value = pd.Series(rng.gamma(2.0, 50.0, n) / 7, index=ids)
    months = rng.choice(["2024-10", "2024-11", "2024-12"], n)
    monthly = _history([(c, m, float(v)) for c, m, v in zip(ids, months, value)])
    monthly["payments"] = rng.integers(1, 3, n)
    erosion = pd.DataFrame({"customer_id": rng.choice(ids, 400, replace=False), "value_at_risk": rng.random(400) * 9})
    targets = pd.DataFrame({"customer_id": rng.choice(ids, 300, replace=False), "gap": rng.random(300) * 30,
                            "near_target": rng.random(300) < 0.7})
    headroom = pd.Series(rng.random(n) * 200 - 50, index=ids)
    got = contact_list("2024-12-31", tiers, stages, monthly, window_value=value, erosion=erosion, targets=targets,
                       peer_headroom=headroom)
    base = tiers.set_index("customer_id")[["tier"]].assign(stage=stages.set_index("customer_id")["stage"],
                                                            window_value=value)
    found = _candidates(base, monthly, dt.date(2024, 12, 31), erosion, targets, headroom)
    assert {a for a in found if len(found[a])} == set(ACTIONS)  # every action occurs
    want = pd.DataFrame(_contact_list_by_loop("2024-12-31", tiers, stages, found), columns=got.columns)
    want["_p"] = want["action"].map(ACTIONS.index)
    want = want.sort_values(["_p", "value_at_stake", "customer_id"], ascending=[True, False, True], kind="stable")
    assert got.values.tolist() == want.drop(columns="_p").values.tolist()
    assert got["reason"].str.contains("; also: ").sum() > 100


# ================================================================== tier mix
def test_tier_mix_by_attribute():
    t = pd.DataFrame({"customer_id": list("abcde"), "tier": ["VIP", "GOOD", "VIP", "REGULAR", "VIP"],
                      "revenue": [100.0, 30.0, 50.0, 20.0, 10.0], "size": ["large", "large", "small", "small", None]})
    m = tier_mix(t, "size")
    assert m[["size", "tier", "customers", "revenue"]].values.tolist() == [
        ["(missing)", "VIP", 1, 10.0], ["large", "VIP", 1, 100.0], ["large", "GOOD", 1, 30.0],
        ["small", "VIP", 1, 50.0], ["small", "REGULAR", 1, 20.0]]
    assert m.loc[1, "revenue_share"] == pytest.approx(100 / 130) and m.loc[4, "customer_share"] == 0.5
    with pytest.raises(Exception, match="region"):
        tier_mix(t, "region")


# ================================================================== the bundled b2b data
@pytest.fixture(scope="module")
def b2b():
    from segkit.data import load_transactions
    from segkit.features import customer_features, customer_month, split_periods
    from segkit.schemes.tiers import PercentileTiers

    tx = load_transactions(B2B, {"region": "region", "industry": "industry", "size": "size"})
    split = split_periods(tx, holdout_months=6)
    cm = customer_month(tx, None, split.as_of)
    feats = customer_features(tx, split.as_of)
    fit = PercentileTiers(as_of=split.as_of).fit_monthly(cm, feats, as_of=split.as_of)
    tiers = fit.segment_table().rename(columns={"segment": "tier"})[["customer_id", "tier"]]
    raw = pd.read_csv(B2B, dtype={"customer_id": str}, parse_dates=["date"])
    return dict(tx=tx, split=split, cm=cm, feats=feats, fit=fit, tiers=tiers, raw=raw)


def test_b2b_payback_and_capacity(b2b):
    split, raw, tiers, fit = b2b["split"], b2b["raw"], b2b["tiers"], b2b["fit"]
    win = b2b["cm"][b2b["cm"]["month"] >= pd.Timestamp(split.window_months[0])]
    t = payback(tiers, win, None, default_policy(), window_months=6, has_cost=True).set_index("tier")
    vip_ids = set(tiers.loc[tiers["tier"] == "VIP", "customer_id"])
    in_window = raw[(raw["date"] >= pd.Timestamp(split.window_months[0])) & (raw["date"] <= pd.Timestamp(split.as_of))]
    vip_rows = in_window[in_window["customer_id"].isin(vip_ids)]
    assert t.loc["VIP", "revenue"] == pytest.approx(vip_rows["amount"].sum())
    assert t.loc["VIP", "margin"] == pytest.approx(vip_rows["amount"].sum() - vip_rows["cost"].sum())
    assert t.loc["VIP", "cost_to_serve"] == 40 * 6 * len(vip_ids)
    assert t["customers"].sum() == len(tiers)
    values = tiers.assign(value=tiers["customer_id"].map(fit.window_totals_).fillna(0.0))
    c = capacity_check(values, 80)
    assert c.overflow == len(vip_ids) - 80 > 0 and len(c.queue) == c.overflow
    ranked = values[values["tier"] == "VIP"].sort_values("value", ascending=False)
    assert c.queue["value"].max() <= ranked["value"].iloc[79]
    targets = good_targets(fit.monthly_tiers_, tiers)
    b = fit.boundary_
    assert set(targets["vip_threshold"]) == set(b.loc[(b["month"] == b["month"].max()) & (b["cut"] == "VIP/GOOD"),
                                                      "threshold"])
    assert len(targets) == (tiers["tier"] == "GOOD").sum() and 0 < targets["near_target"].sum() < len(targets)


def test_b2b_erosion_finds_a_planted_vip(b2b):
    cm, fit = b2b["cm"], b2b["fit"]
    truth = pd.read_csv(DATA_DIR / "synthetic" / "b2b_truth.csv", dtype=str, keep_default_na=False)
    eroding = sorted(truth.loc[truth["margin_erosion_from"] != "", "customer_id"])
    found = margin_erosion(cm, fit.monthly_tiers_, fit.window_)
    assert len(eroding) == 5 and sorted(found["customer_id"]) == eroding  # exactly the planted VIPs
    # 3 points a month from 2024-01: the halves of the 2024-01..06 window are ~9 points apart (revenue-weighted)
    assert found["drop_pp"].between(7, 11).all() and (found["trend_pp_per_month"] < -2).all()
    cm = cm[~cm["customer_id"].isin(eroding)]  # the others' margins are flat: nothing to flag without them
    assert margin_erosion(cm, fit.monthly_tiers_, fit.window_).empty
    mt = fit.monthly_tiers_
    steady = set(truth.loc[truth["type"] == "steady_vip", "customer_id"]) - set(eroding)  # buys every month
    vip = mt.loc[(mt["monthly_tier"] == "VIP") & mt["customer_id"].isin(steady), "customer_id"].iloc[0]
    late = (cm["customer_id"] == vip) & (cm["month"] >= pd.Timestamp(fit.window_[3] + "-01"))
    planted = cm.assign(margin=np.where(late, cm["margin"] - 0.2 * cm["revenue"], cm["margin"]))
    e = margin_erosion(planted, fit.monthly_tiers_, fit.window_)
    assert e["customer_id"].tolist() == [vip] and e.loc[0, "drop_pp"] > 5 and e.loc[0, "trend_pp_per_month"] < 0


def test_b2b_returns_stages_actions_and_mix(b2b):
    tx, split, raw, tiers, cm, fit = (b2b[k] for k in ("tx", "split", "raw", "tiers", "cm", "fit"))
    r = customer_returns(tx, None, split.as_of)
    cal = raw[raw["date"] <= pd.Timestamp(split.as_of)]
    assert r["returns_value"].sum() == pytest.approx(-cal.loc[cal["amount"] < 0, "amount"].sum())
    assert r["return_lines"].sum() == (cal["amount"] < 0).sum()
    hm = high_maintenance(r)
    assert (hm["return_share"] >= 0.2).all() and len(hm) < len(r) / 10
    st = relationship_stages(cm, split.as_of, tiers["customer_id"])
    assert len(st) == len(tiers) and set(st["stage"]) == {"exploration", "awareness", "expansion", "commitment",
                                                          "dissolution"}
    from segkit.features import holdout_outcomes

    table, _ = stage_check(st, holdout_outcomes(tx, split, st["customer_id"]))
    rate = table.set_index("stage")["purchase_rate"]
    assert rate["dissolution"] < min(rate["commitment"], rate["expansion"], rate["awareness"])
    acts = contact_list(split.as_of, tiers, st, cm, window_value=fit.window_totals_,
                        targets=good_targets(fit.monthly_tiers_, tiers))
    assert acts["customer_id"].is_unique and set(acts["action"]) <= set(ACTIONS)
    assert set(acts["due_by"]) <= {(split.as_of + dt.timedelta(days=d)).isoformat() for d in (3, 7, 14, 30)}
    wb = acts[acts["action"] == "win_back_call"]
    assert len(wb) > 0 and set(wb["tier"]) <= {"VIP", "GOOD"} and set(wb["stage"]) == {"dissolution"}
    mix = tier_mix(tiers.merge(b2b["feats"][["customer_id", "monetary", "size"]], on="customer_id")
                   .rename(columns={"monetary": "revenue"}), "size")
    assert mix["customers"].sum() == len(b2b["feats"])
    assert np.allclose(mix.groupby("size")["customer_share"].sum(), 1.0)


# ================================================================== docstring examples
@pytest.mark.parametrize("name", ["policy", "payback", "capacity", "erosion", "maintenance", "stages", "actions",
                                  "mix"])
def test_docstring_examples(name):
    import doctest
    import importlib

    module = importlib.import_module("segkit.policy" if name == "policy" else f"segkit.decisions.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def test_run_counts_the_stages_with_its_tables_as_pandas_does(cdnow_analysis):
    """`segkit segment` counts each customer's months for the stages in the engine while the
    transactions are open (now and one month earlier): the stage table equals the pandas stages of
    the run's own customer-month table, and the decisions equal those the pandas count gives."""
    import dataclasses

    from segkit.decisions.run import decide, stage_labels

    a = cdnow_analysis
    customers = a.features["customer_id"]
    pd.testing.assert_frame_equal(a.lifecycle, stage_labels(a.monthly, a.split.as_of, customers), check_exact=True)
    earlier = a.split.shifted(-1).as_of
    known = customers[(a.features["first_purchase"] <= pd.Timestamp(earlier)).to_numpy()]
    want = relationship_stages(a.monthly, earlier, customers=known)[["customer_id", "stage"]]
    got = a.stages_earlier
    assert got["customer_id"].tolist() == customers.tolist()  # every customer, in the features' order
    got = got[got["stage"].notna()].reset_index(drop=True)
    pd.testing.assert_frame_equal(got.astype({"stage": "str"}), want.astype({"stage": "str"}), check_exact=True)
    assert got["stage"].nunique() > 1
    counted, recounted = decide(a), decide(dataclasses.replace(a, stages_earlier=None))
    pd.testing.assert_frame_equal(counted.transitions, recounted.transitions)
    assert counted.transitions.to_numpy().sum() == len(customers)  # every customer now, from a stage or "(new)"


def test_payment_counts_in_the_engine_equal_the_pandas_count(cdnow_tx):
    """The contact list's first- and second-purchase counts: the engine's per-customer totals equal
    the pandas count of the same customer-month table, at month ends and in mid-month, and the
    contact list is the same either way."""
    from segkit.data import load_transactions
    from segkit.datasets import make_transactions
    from segkit.decisions.actions import _payment_counts, payment_counts
    from segkit.features import customer_month, customer_month_table, split_periods

    b2b_frame, _ = make_transactions(n_customers=300, months=18, seed=5)
    for tx in (cdnow_tx, load_transactions(b2b_frame)):
        for as_of in (split_periods(tx, holdout_months=6).as_of, tx.last_date - dt.timedelta(days=40)):
            start = (pd.Timestamp(as_of) - pd.DateOffset(months=8)).date()
            monthly = customer_month(tx, start, as_of)
            got = payment_counts(customer_month_table(tx, start, as_of), as_of)
            want = _payment_counts(monthly, as_of)
            assert got.index.tolist() == sorted(want.index) and len(got) > 0
            assert got["total"].tolist() == want.loc[got.index, "total"].tolist()
            assert got["this_month"].tolist() == want.loc[got.index, "this_month"].tolist()
            assert (got["total"] >= got["this_month"]).all() and set(got["total"]) >= {1, 2}


def test_run_gives_the_contact_list_of_the_pandas_count(cdnow_analysis):
    import dataclasses

    from segkit.decisions.run import decide

    a = cdnow_analysis
    assert a.payment_counts is not None and len(a.payment_counts) > 0
    counted = decide(a).actions
    recounted = decide(dataclasses.replace(a, payment_counts=None, stages_earlier=None)).actions
    pd.testing.assert_frame_equal(counted, recounted)
    assert {"thank_you", "satisfaction_check"} & set(counted["action"])


def test_earlier_stages_leave_later_customers_new_in_the_transitions():
    """Customers who first bought after the earlier cut-off have no stage then (missing, one byte per
    customer): the transitions count them in "(new)", as with the pandas table of known customers only."""
    from segkit.decisions.run import earlier_stages
    from segkit.decisions.stages import _per_customer

    m = _history([("a", "2024-01", 5.0), ("a", "2024-04", 5.0), ("a", "2024-05", 5.0), ("b", "2024-05", 3.0),
                  ("c", "2024-06", 4.0), ("d", "2023-12", 1.0)])
    features = pd.DataFrame({"customer_id": pd.Series(["a", "b", "c", "d"], dtype="str"),
                             "first_purchase": pd.to_datetime(["2024-01-03", "2024-05-09", "2024-06-02", "2023-12-01"])})
    earlier = dt.date(2024, 5, 31)
    got = earlier_stages(features, earlier, _per_customer(m, earlier))
    assert got["customer_id"].tolist() == ["a", "b", "c", "d"] and got["stage"].isna().tolist() == [False, False, True, False]
    known = features["customer_id"][features["first_purchase"] <= pd.Timestamp(earlier)]
    want = relationship_stages(m, earlier, customers=known)
    assert got["stage"].dropna().astype(str).tolist() == want["stage"].tolist()
    now = relationship_stages(m, "2024-06-30", customers=features["customer_id"])
    pd.testing.assert_frame_equal(stage_transitions(got, now), stage_transitions(want, now))
    assert stage_transitions(got, now).loc["(new)"].sum() == 1
