"""Decisions through a whole run: payback by hand, planted margin erosion, tier_change, actions.csv."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from segkit.config import RunParams
from segkit.pipeline import analyze, write_run_files
from tests.test_cli import small_csv

POLICY = {"VIP": {"discount_pct": 10, "cost_to_serve_per_month": 5, "relationship": "dedicated account manager",
                  "max_customers": 10},
          "GOOD": {"discount_pct": 2, "cost_to_serve_per_month": 1.5}}
#: customers whose margin falls from 40% to 10% over the second half of the window
ERODING = 3


def _with_cost(path: Path) -> tuple[Path, list[str]]:
    """The small file with a cost of 60% of the amount, and margin erosion planted in 3 top customers."""
    raw = pd.read_csv(small_csv(path), dtype={"customer_id": str}, parse_dates=["date"])
    raw["cost"] = (raw["amount"] * 0.6).round(2)
    window = raw[(raw["date"] >= "2023-09-01") & (raw["date"] <= "2024-02-29")]
    # regular buyers in both halves of the window, the biggest first: VIPs in most months
    halves = window.assign(late=window["date"] >= "2023-12-01").groupby("customer_id")["late"].agg(["min", "max"])
    both = halves[(~halves["min"]) & halves["max"]].index
    spend = window[window["customer_id"].isin(both)].groupby("customer_id")["amount"].sum()
    planted = sorted(spend.sort_values(ascending=False).index[:ERODING])
    late = raw["customer_id"].isin(planted) & raw["date"].between("2023-12-01", "2024-02-29")
    raw.loc[late, "cost"] = (raw.loc[late, "amount"] * 0.9).round(2)
    raw["date"] = raw["date"].dt.strftime("%Y-%m-%d")
    raw.to_csv(path, index=False)
    return path, planted


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("decisions")
    data, planted = _with_cost(folder / "small.csv")
    params = RunParams.from_mapping({"name": "small", "data": str(data), "holdout_months": 3, "k_range": [2, 3],
                                     "columns": {"cost": "cost"}, "policy": POLICY})
    a = analyze(params, n_boot=20)
    files = write_run_files(a, folder / "out")
    raw = pd.read_csv(data, dtype={"customer_id": str}, parse_dates=["date"])
    return dict(a=a, raw=raw, planted=planted, out=folder / "out", files=files, folder=folder, data=data)


def _period(raw: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    return raw[(raw["date"] >= start) & (raw["date"] <= end)]


def test_payback_equals_the_raw_rows_by_hand(run):
    a, raw = run["a"], run["raw"]
    assert a.split.as_of.isoformat() == "2024-02-29"
    tiers = a.assignments.set_index("customer_id")["percentile_tier"]
    pay = a.decisions.payback.set_index(["period", "tier"])
    for period, (start, end), months in (("window", ("2023-09-01", "2024-02-29"), 6),
                                         ("holdout", ("2024-03-01", "2024-05-31"), 3)):
        rows = _period(raw, start, end)
        for tier, pct, serve in (("VIP", 10, 5.0), ("GOOD", 2, 1.5), ("REGULAR", 0, 0.0)):
            ids = set(tiers[tiers == tier].index)
            mine = rows[rows["customer_id"].isin(ids)]
            revenue, margin = mine["amount"].sum(), (mine["amount"] - mine["cost"]).sum()
            row = pay.loc[(period, tier)]
            assert row["customers"] == len(ids)
            assert row["revenue"] == pytest.approx(revenue, abs=1e-6)
            assert row["margin"] == pytest.approx(margin, abs=1e-6)
            assert row["discount_given"] == pytest.approx(pct / 100 * revenue, abs=1e-6)
            assert row["cost_to_serve"] == pytest.approx(serve * len(ids) * months)
            assert row["net_contribution"] == pytest.approx(
                margin - pct / 100 * revenue - serve * len(ids) * months, abs=1e-6)
    assert pay.loc[("window", "VIP"), "relationship"] == "dedicated account manager"
    assert a.decisions.missing == ["no customer attribute (region, industry, size) is mapped: tiers by customer "
                                   "type are not shown"]


def test_capacity_check_lists_the_vips_beyond_the_capacity(run):
    a, raw = run["a"], run["raw"]
    vips = a.assignments.loc[a.assignments["percentile_tier"] == "VIP", "customer_id"]
    value = _period(raw, "2023-09-01", "2024-02-29").groupby("customer_id")["amount"].sum().reindex(vips).fillna(0)
    order = value.reset_index().sort_values(["amount", "customer_id"], ascending=[False, True])["customer_id"]
    cap = a.decisions.capacity
    assert cap.capacity == 10 and cap.customers == len(vips) and cap.overflow == len(vips) - 10 > 0
    assert cap.queue["customer_id"].tolist() == order.iloc[10:].tolist()


def test_planted_margin_erosion_is_flagged_in_alerts_and_actions(run):
    alerts = pd.read_csv(run["out"] / "alerts.csv", dtype={"customer_id": str}, keep_default_na=False)
    assert list(alerts.columns) == ["customer_id", "last_vip_month", "last_payment", "value_at_risk", "rule",
                                    "p_alive"]
    eroded = alerts[alerts["rule"] == "margin_erosion"]
    assert sorted(eroded["customer_id"]) == run["planted"]
    assert set(alerts["rule"]) <= {"vip_dropout", "p_alive", "margin_erosion"} and "vip_dropout" in set(alerts["rule"])
    # margin 40% -> 10%: the drop is 30 points, the value at risk 30% of the second half's revenue
    e = run["a"].decisions.erosion.set_index("customer_id")
    second = _period(run["raw"], "2023-12-01", "2024-02-29").groupby("customer_id")["amount"].sum()
    for cid in run["planted"]:
        assert e.loc[cid, "drop_pp"] == pytest.approx(30.0, abs=0.1)
        assert e.loc[cid, "value_at_risk"] == pytest.approx(e.loc[cid, "drop_pp"] / 100 * second[cid], abs=1e-6)
    actions = pd.read_csv(run["out"] / "actions.csv", dtype={"customer_id": str}, keep_default_na=False)
    flagged = actions[actions["customer_id"].isin(run["planted"])]
    assert len(flagged) == ERODING
    assert all(a == "margin_review" or "margin_review" in r for a, r in zip(flagged["action"], flagged["reason"]))


def test_actions_csv_shape_and_rules(run):
    a = run["a"]
    actions = pd.read_csv(run["out"] / "actions.csv", dtype={"customer_id": str}, keep_default_na=False)
    assert list(actions.columns) == ["customer_id", "action", "reason", "due_by", "tier", "stage", "value_at_stake"]
    assert actions["customer_id"].is_unique and len(actions) > 0
    assert set(actions["action"]) <= {"win_back_call", "margin_review", "promotion_talk", "key_account_approach",
                                      "satisfaction_check", "thank_you"}
    win_back = actions[actions["action"] == "win_back_call"]
    assert set(win_back["tier"]) <= {"VIP", "GOOD"} and set(win_back["stage"]) == {"dissolution"}
    # a thank-you goes to customers whose first purchase ever fell in the cut-off's month
    first = run["raw"][run["raw"]["amount"] > 0].groupby("customer_id")["date"].min()
    thanked = actions.loc[actions["action"] == "thank_you", "customer_id"]
    assert ((first[thanked] >= "2024-02-01") & (first[thanked] <= "2024-02-29")).all()
    stages = a.assignments.set_index("customer_id")["lifecycle_stage"]
    assert (actions["stage"].to_numpy() == stages[actions["customer_id"]].to_numpy()).all()
    assert set(stages) <= {"exploration", "awareness", "expansion", "commitment", "dissolution"}


def test_tier_change_against_a_run_one_month_earlier(run):
    a = run["a"]
    earlier = analyze(a.params.replace(as_of="2024-01-31"), n_boot=20)
    now = a.assignments.set_index("customer_id")
    before = earlier.assignments.set_index("customer_id")["percentile_tier"]
    was = before.reindex(now.index)
    expected = pd.Series("unchanged", index=now.index)
    expected[(now["percentile_tier"] == "VIP") & (was != "VIP")] = "entered VIP"
    expected[(now["percentile_tier"] != "VIP") & (was == "VIP")] = "left VIP"
    expected[was.isna()] = "new"
    assert list(a.assignments.columns)[-1] == "tier_change"
    assert (now["tier_change"] == expected).all()
    assert {"unchanged", "left VIP"} <= set(expected)  # this file has no VIP entering in its last month


def test_actions_csv_is_formula_safe(run, tmp_path):
    a = run["a"]
    actions = a.decisions.actions.copy()
    actions.loc[0, "customer_id"], actions.loc[0, "reason"] = "=HYPERLINK(\"x\")", "@SUM(A1)"
    write_run_files(dataclasses.replace(a, decisions=dataclasses.replace(a.decisions, actions=actions)), tmp_path)
    got = pd.read_csv(tmp_path / "actions.csv", dtype=str, keep_default_na=False)
    assert got.loc[0, "customer_id"] == "'=HYPERLINK(\"x\")" and got.loc[0, "reason"] == "'@SUM(A1)"


def test_a_run_without_policy_or_cost_works_and_says_what_it_left_out(run, tmp_path):
    plain = tmp_path / "plain.csv"
    run["raw"].drop(columns="cost").assign(date=run["raw"]["date"].dt.strftime("%Y-%m-%d")).to_csv(plain, index=False)
    params = RunParams.from_mapping({"name": "plain", "data": str(plain), "holdout_months": 3,
                                     "k_range": [2, 3]})
    a = analyze(params, n_boot=20)
    d = a.decisions
    assert d.payback is None and d.payback_recommended is None and d.capacity is None and d.erosion is None
    assert any("no `policy` is set" in m for m in d.missing)
    assert any("no cost column" in m and "margin erosion" in m for m in d.missing)
    assert len(d.actions) > 0 and not d.stage_check.empty
    names = {p.name for p in write_run_files(a, tmp_path / "out")}
    assert "actions.csv" in names
    alerts = pd.read_csv(tmp_path / "out" / "alerts.csv", keep_default_na=False)
    assert "margin_erosion" not in set(alerts["rule"]) and "vip_dropout" in set(alerts["rule"])  # no cost: no erosion rule


def test_policy_from_a_yaml_file_relative_to_the_config(tmp_path):
    (tmp_path / "policy.yml").write_text("policy:\n  VIP: {discount_pct: 5, customers_per_manager: 40, managers: 2}\n")
    p = RunParams.from_mapping({"name": "x", "data": "d.csv", "policy": "policy.yml"}, base_dir=tmp_path)
    assert p.policy == {"VIP": {"discount_pct": 5, "customers_per_manager": 40, "managers": 2}}
    assert p.to_dict()["policy"] == p.policy and RunParams.from_mapping(p.to_dict()) == p


def test_report_text_answers_the_payback_question_and_names_what_is_missing(run, tmp_path):
    from segkit import notebook as nb

    a = run["a"]
    vip = a.decisions.payback.set_index(["period", "tier"]).loc[("holdout", "VIP")]
    text = nb.payback_markdown(a)
    verdict = "pays for itself" if vip["net_contribution"] > 0 else "does **not** pay for itself"
    assert f"In the holdout (3 months) the VIP treatment {verdict}" in text
    net = round(vip["net_contribution"])
    assert f"**{net:,}**" in text and "USD" not in text and "$" not in text  # the run names no currency: no sign
    assert nb.capacity_markdown(a).startswith(f"**{a.decisions.capacity.customers:,} VIPs** for **10 places**")
    counts = nb.actions_counts_table(a)
    assert counts["Customers"].sum() == len(a.decisions.actions)
    erosion_text, erosion = nb.erosion_table(a)
    assert erosion_text.startswith(f"**{ERODING:,} VIPs**") and sorted(erosion.index) == run["planted"]
    assert "no customer attribute" in nb.decisions_missing_markdown(a)
    check_text, _ = nb.stage_check_markdown(a)
    assert ("mean something" in check_text) == a.decisions.stages_ordered


def test_stage_transitions_count_as_new_only_customers_who_first_bought_after_the_earlier_cut_off(run):
    a, raw = run["a"], run["raw"]
    first = raw[raw["amount"] > 0].groupby("customer_id")["date"].min()
    first = first[first <= "2024-02-29"]
    t = a.decisions.transitions
    assert t.loc["(new)"].sum() == (first > "2024-01-31").sum()
    assert t.to_numpy().sum() == len(a.assignments) == len(first)
