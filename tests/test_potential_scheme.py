"""The potential scheme in the product: tiers by predicted value, assignments, scorecard, alerts, prospects.

Tier rules are checked on hand-made predictions; the bundled CDNOW run is checked against figures
computed another way (holdout purchase days counted straight from the transactions, the scheme's
metrics recomputed with the scoring function); a marketplace where almost everyone buys once
goes through ``segkit segment`` and must say the model was not fitted, with the counts.
"""

from __future__ import annotations

import datetime as dt
import json

import ibis
import numpy as np
import pandas as pd
import pytest

from segkit.cli import main
from segkit.config import RunParams
from segkit.evaluate import score_scheme
from segkit.pipeline import analyze, assignment_columns
from segkit.potential import outputs
from segkit.schemes import PotentialTiers, exact_ceil
from segkit.schemes.overrides import load_overrides
from segkit.schemes.potential import INACTIVE_P_ALIVE



# ------------------------------------------------------------------ tier rules, by hand
def _pred(values, alive, ids=None):
    ids = ids or [f"c{i:02d}" for i in range(len(values))]
    return pd.DataFrame({"customer_id": ids, "predicted_value": values, "p_alive": alive,
                         "expected_purchases": np.ones(len(values))})


def test_tiers_take_the_percentile_shares_with_exact_ceiling():
    # 15 customers, 20% VIP = exactly 3 (not 4 as floating point would give), 20% of the 12 others: 3 GOOD
    pred = _pred(list(range(15, 0, -1)), [1.0] * 15)
    labels = PotentialTiers.labels_from(pred, 0.2, 0.2)
    assert (labels == "VIP").sum() == exact_ceil(0.2, 15) == 3
    assert labels[["c00", "c01", "c02"]].eq("VIP").all() and labels[["c03", "c04", "c05"]].eq("GOOD").all()
    assert labels.iloc[6:].eq("REGULAR").all()


def test_ties_break_by_customer_id_and_low_p_alive_is_inactive():
    pred = _pred([5.0, 5.0, 5.0, 1.0], [1.0, 1.0, INACTIVE_P_ALIVE - 0.01, 1.0], ids=["b", "a", "c", "d"])
    labels = PotentialTiers.labels_from(pred, 0.25, 0.3)  # 1 VIP of 4, ceil(0.3 * 3) = 1 GOOD
    # 'c' has the same value but is probably gone; of the tied 'a' and 'b', 'a' comes first
    assert labels.to_dict() == {"a": "VIP", "b": "GOOD", "c": "INACTIVE", "d": "REGULAR"}


def test_not_fitted_model_leaves_everyone_regular_and_no_value_model_ranks_by_purchases():
    pred = _pred([np.nan] * 3, [np.nan] * 3)
    assert set(PotentialTiers.labels_from(pred, 0.2, 0.2)) == {"REGULAR"}
    pred = pd.DataFrame({"customer_id": ["a", "b", "c"], "predicted_value": [np.nan] * 3,
                         "p_alive": [0.9, 0.9, 0.9], "expected_purchases": [0.1, 3.0, 1.0]})
    assert PotentialTiers.labels_from(pred, 0.3, 0.5).to_dict() == {"a": "REGULAR", "b": "VIP", "c": "GOOD"}


def test_alert_comparison_counts_by_hand():
    alerts = pd.DataFrame({"customer_id": ["a", "b", "b", "c"], "rule": ["vip_dropout", "vip_dropout", "p_alive",
                                                                         "p_alive"], "value_at_risk": [1.0, 2, 2, 4]})
    outcomes = pd.DataFrame({"customer_id": ["a", "b", "c"], "bought": [True, False, False],
                             "holdout_revenue": [9.0, 0.0, 0.0]})
    table = outputs.alert_comparison(alerts, outcomes).set_index("rule")
    assert table.loc["vip_dropout"].to_dict() == {"flagged": 2, "bought_nothing": 1, "precision": 0.5,
                                                  "value_at_risk": 3.0, "holdout_revenue": 9.0}
    assert table.loc["p_alive", "bought_nothing"] == 2 and table.loc["p_alive", "value_at_risk"] == 6.0


# ------------------------------------------------------------------ the bundled CDNOW run
def test_cdnow_holdout_purchases_predicted_within_ten_percent(cdnow_analysis, cdnow_tx):
    a = cdnow_analysis
    pred = a.schemes["potential"].predictions_
    assert a.scorecard["models"]["potential"]["fitted"] and a.scorecard["models"]["potential"]["value_fitted"]
    s = a.split
    t = cdnow_tx.table
    # purchase days in the holdout of the customers evaluated, counted straight from the transactions
    hold = t.filter(t.amount > 0, t.date >= s.holdout_start, t.date <= s.holdout_end).select("customer_id", "date")
    days = hold.distinct().group_by("customer_id").aggregate(n=ibis._.count()).to_pandas()
    actual = int(days[days["customer_id"].isin(set(a.features["customer_id"]))]["n"].sum())
    predicted = float(pred["expected_purchases"].sum())
    totals = outputs.forecast_totals(pred, a.holdout_purchases, a.holdout_monthly, "revenue")
    assert totals["actual_purchases"] == actual == 12265
    assert totals["actual_value"] == pytest.approx(a.outcomes["holdout_revenue"].sum())
    assert abs(predicted / actual - 1) < 0.10, (predicted, actual)
    by_group = outputs.holdout_by_frequency(pred, a.holdout_purchases)
    assert (by_group["customers"] * by_group["actual"]).sum() == pytest.approx(actual)
    assert (by_group["customers"] * by_group["predicted"]).sum() == pytest.approx(predicted)


def test_potential_is_scored_beside_the_others_by_the_same_code(cdnow_analysis):
    a = cdnow_analysis
    assert list(a.scorecard["schemes"]) == ["percentile_tiers", "rfm", "kmeans", "potential"]
    table = a.schemes["potential"].segment_table()
    again = score_scheme(table, a.outcomes, a.previous_tables["potential"], n_boot=0)
    published = a.scorecard["schemes"]["potential"]["metrics"]  # rounded to 6 decimals
    assert again["metrics"] == {k: pytest.approx(v, abs=1e-6) for k, v in published.items()}
    counts = table["segment"].value_counts()
    n = len(table)
    assert counts["VIP"] == exact_ceil(a.params.vip_share, n)
    assert counts["GOOD"] == exact_ceil(a.params.good_share, n - counts["VIP"])
    pred = a.schemes["potential"].predictions_.set_index("customer_id")
    inactive = table.set_index("customer_id")["segment"] == "INACTIVE"
    assert (pred.loc[inactive[inactive].index, "p_alive"] < INACTIVE_P_ALIVE).all()
    assert (pred.loc[inactive[~inactive].index, "p_alive"] >= INACTIVE_P_ALIVE).all()
    # the stability refit one month earlier ran on its own cut-off
    assert 0.5 < a.scorecard["schemes"]["potential"]["metrics"]["stability_ari"] < 1


def test_reshared_equals_a_fit_with_those_shares(cdnow_analysis):
    """The settings table re-tiers the run's fit for another vip_share instead of refitting: same tiers."""
    from segkit.backtest import Origin, _reused

    a = cdnow_analysis
    fitted = a.schemes["potential"]
    changed = a.params.replace(vip_share=0.1)
    origin = Origin(a.split, a.features, a.monthly, a.holdout_monthly, a.potential_summary)
    refit = PotentialTiers.from_params(changed).fit(origin.inputs(changed))
    reused = _reused(PotentialTiers, fitted, a.params, changed)
    assert reused is not fitted and reused.vip_share == 0.1
    pd.testing.assert_frame_equal(reused.segment_table(), refit.segment_table())
    assert (reused.labels_ == "VIP").sum() < (fitted.labels_ == "VIP").sum()  # the run's fit is left as it was
    assert _reused(PotentialTiers, fitted, a.params, a.params) is fitted
    assert _reused(PotentialTiers, fitted, a.params, a.params.replace(criterion="units")) is None


def test_cdnow_run_files_carry_the_new_columns(cdnow_analysis, tmp_path):
    from segkit.pipeline import write_run_files

    a = cdnow_analysis
    write_run_files(a, tmp_path)
    assign = pd.read_csv(tmp_path / "assignments.csv", dtype={"customer_id": str})
    cols = list(assign.columns)
    assert cols == assignment_columns()
    assert cols[cols.index("recommended_segment") + 1:][:5] == ["potential_tier", "p_alive", "expected_purchases",
                                                                 "predicted_value", "peer_headroom"]
    assert assign["peer_headroom"].isna().all()  # CDNOW has no attribute columns
    pred = a.schemes["potential"].predictions_
    assert np.allclose(assign["predicted_value"], pred["predicted_value"])
    alerts = pd.read_csv(tmp_path / "alerts.csv", dtype={"customer_id": str})
    assert list(alerts.columns) == ["customer_id", "last_vip_month", "last_payment", "value_at_risk", "rule", "p_alive"]
    seed = alerts[alerts["rule"] == "vip_dropout"]
    assert len(seed) == len(a.schemes["percentile_tiers"].alerts_) == 583
    model_rows = alerts[alerts["rule"] == "p_alive"]
    tiers = a.schemes["percentile_tiers"].labels_
    assert len(model_rows) > 0 and set(model_rows["customer_id"].map(tiers)) <= {"VIP", "GOOD"}
    gap = pred.set_index("customer_id").loc[model_rows["customer_id"]]
    late = (gap["age_days"] - gap["span_days"]) > 3 * (gap["span_days"] / gap["x"]).clip(lower=1)
    assert ((gap["p_alive"] < 0.5) | (late & (gap["x"] >= 2))).all()
    card = json.loads((tmp_path / "scorecard.json").read_text())
    model = card["models"]["potential"]
    assert model["customers"] == 23502 and model["repeat_buyers"] == 10487
    assert set(model["purchases"]) == {"r", "alpha", "a", "b"}
    assert model["diagnostics"]["purchases"]["log_likelihood"] < 0 and model["diagnostics"]["purchases"]["converged"]


# ------------------------------------------------------------------ a marketplace: almost everyone buys once
def _marketplace(path, n: int = 600, repeaters: int = 5):
    rng = np.random.default_rng(3)
    rows = []
    for i in range(n):
        day = dt.date(2024, 1, 1) + dt.timedelta(days=int(rng.integers(0, 540)))
        rows.append((f"m{i:04d}", day.isoformat(), float(rng.integers(5, 90))))
        if i < repeaters:
            rows.append((f"m{i:04d}", (day + dt.timedelta(days=9)).isoformat(), 20.0))
    pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).to_csv(path, index=False)
    return path


def test_marketplace_file_says_the_model_was_not_fitted(tmp_path, capsys):
    data = _marketplace(tmp_path / "market.csv")
    out = tmp_path / "out"
    code = main(["segment", str(data), "--out", str(out), "--holdout-months", "3", "--k-range", "2", "3"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    card = json.loads((out / "scorecard.json").read_text())
    model = card["models"]["potential"]
    assert model["fitted"] is False and "too few repeat buyers" in model["reason"]
    assert f"{model['repeat_buyers']} of {model['customers']} customers" in model["reason"]
    assert "potential: model not fitted (too few repeat buyers" in printed.out
    assert [s["label"] for s in card["schemes"]["potential"]["segments"]] == ["REGULAR"]
    assign = pd.read_csv(out / "assignments.csv")
    assert (assign["potential_tier"] == "REGULAR").all() and assign["p_alive"].isna().all()
    # the report's statement (what 05_compare and 06_potential show)
    from segkit import notebook as nb

    a = analyze(RunParams.from_mapping({"name": "m", "data": str(data), "holdout_months": 3, "k_range": [2, 3]}),
                n_boot=0)
    text = nb.worth_more_markdown(a)
    assert text.startswith("**The predicted-value model could not be fitted**: too few repeat buyers")
    assert f"puts all {model['customers']:,} customers in REGULAR" in text and not nb.potential_fitted(a)
    assert nb.alert_comparison_table(a).index.tolist()[0].startswith("VIP, no payment")


# ------------------------------------------------------------------ prospects and peer headroom
def _b2b(path):
    rng = np.random.default_rng(11)
    rows = []
    for i in range(120):
        region = "north" if i % 2 else "south"
        scale = 200.0 if region == "north" else 20.0
        for m in range(1, 19):
            if rng.random() < 0.6:
                month = dt.date(2023 + (m - 1) // 12, (m - 1) % 12 + 1, 12)
                rows.append((f"b{i:03d}", month.isoformat(), round(scale * rng.uniform(0.5, 1.5), 2), region))
    pd.DataFrame(rows, columns=["customer_id", "date", "amount", "region"]).to_csv(path, index=False)
    return path


def test_prospects_and_peer_headroom_in_a_run(tmp_path):
    data = _b2b(tmp_path / "b2b.csv")
    ov = tmp_path / "ov.csv"
    ov.write_text("customer_id,tier,reason\nLEADER,VIP,market leader: a reference\nb001,GOOD,partner\n")
    params = RunParams.from_mapping({"name": "b2b", "data": str(data), "holdout_months": 3, "k_range": [2, 3],
                                     "overrides": str(ov), "columns": {"region": "region"}})
    a = analyze(params, n_boot=0)
    rows = a.assignments.set_index("customer_id")
    leader = rows.loc["LEADER"]
    assert leader["recommended_segment"] == "VIP" and leader["override_reason"] == "market leader: a reference"
    assert pd.isna(leader["percentile_tier"]) and pd.isna(leader["potential_tier"]) and pd.isna(leader["p_alive"])
    assert a.overrides.set_index("customer_id")["prospect"].to_dict() == {**{c: False for c in a.features[
        "customer_id"]}, "LEADER": True}
    keys = outputs.key_account_candidates(a.schemes["potential"].predictions_, a.schemes["potential"].headroom_,
                                          a.overrides)
    assert keys.iloc[-1]["customer_id"] == "LEADER" and keys.iloc[-1]["kind"] == "prospect (no purchase yet)"
    # headroom by hand: the region's upper quartile of window value minus the customer's own
    head = a.schemes["potential"].headroom_.set_index("customer_id")
    window = [pd.Timestamp(m) for m in a.split.window_months]
    m = a.monthly[a.monthly["month"].isin(window)].groupby("customer_id")["revenue"].sum()
    value = a.features.set_index("customer_id")["region"].to_frame().assign(v=lambda f: m.reindex(f.index).fillna(0))
    north = value[value["region"] == "north"]["v"]
    q = float(np.quantile(north, 0.75))
    c = north.index[np.argmin(north.to_numpy())]
    assert head.loc[c, "peer_group"] == "region=north"
    assert head.loc[c, "peer_headroom"] == pytest.approx(max(q - north[c], 0.0), abs=1e-6)
    assert rows.loc[c, "peer_headroom"] == pytest.approx(head.loc[c, "peer_headroom"])
    # the run decides before it makes its assignments, reading the potential segment table's headroom:
    # the same contact list as deciding from the finished assignments (prospect and override rows included)
    from segkit.decisions.run import decide

    again = decide(a)
    pd.testing.assert_frame_equal(again.actions, a.decisions.actions)
    assert (a.decisions.actions["action"] == "key_account_approach").sum() > 10  # headroom at work


def test_overrides_accept_prospects_but_not_without_a_reason(tmp_path):
    path = tmp_path / "ov.csv"
    path.write_text("customer_id,tier,reason\n007,VIP,known\nNEW,GOOD,reference\n")
    ov = load_overrides(path, known_customers=["007"])
    assert ov.set_index("customer_id")["prospect"].to_dict() == {"007": False, "NEW": True}
    path.write_text("customer_id,tier,reason\nNEW,GOOD,\n")
    with pytest.raises(Exception) as err:
        load_overrides(path, known_customers=["007"])
    assert "line(s) 2 (a prospect" in str(err.value)


def test_docstring_examples():
    import doctest

    from segkit.potential import model
    from segkit.schemes import potential

    for module in (outputs, potential, model):
        assert doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


@pytest.mark.parametrize("rows", [[2, 0, 3, 1], [3, 1, 0], [1, 1, 3, 0, 2], []])
def test_predictions_return_to_the_summary_order(rows):
    """The engine's rows, in any order, go back to their summary rows with the summary's ids: by
    position when each summary row came back once, sorted by ``_row`` otherwise (a row missing or twice)."""
    from segkit.schemes.potential import _in_summary_order

    ids = pd.Series(["a", "b", "c", "d"], dtype="str")
    summary = pd.DataFrame({"customer_id": ids, "x": [0, 1, 2, 3], "span_days": [0, 10, 20, 30],
                            "age_days": [40, 50, 60, 70], "repeat_value": [np.nan, 1.5, 2.5, 3.5]})
    pred = pd.DataFrame({"p_alive": [0.1 * (r + 1) for r in rows], "_row": np.array(rows, dtype=np.int64)})
    out = _in_summary_order(pred, summary, ids)
    want = sorted(rows)
    assert list(out.columns) == ["customer_id", "x", "span_days", "age_days", "repeat_value", "p_alive"]
    assert out["customer_id"].dtype == "str" and out["customer_id"].tolist() == [ids[r] for r in want]
    assert out["p_alive"].tolist() == [0.1 * (r + 1) for r in want]
    # the summary's own columns follow their rows, with their types
    pd.testing.assert_frame_equal(out[["x", "span_days", "age_days", "repeat_value"]],
                                  summary.iloc[want, 1:].reset_index(drop=True))


def test_predictions_are_the_same_whatever_the_summary_order(cdnow_analysis):
    """A summary listing every customer in the features' order gives its predictions without the lookup
    (no copy); in any other order the lookup places them: the same predictions either way."""
    import dataclasses

    from segkit.backtest import Origin
    from segkit.engines import same_text

    a = cdnow_analysis
    inputs = Origin(a.split, a.features, a.monthly, a.holdout_monthly, a.potential_summary).inputs(a.params)
    assert same_text(inputs.potential["customer_id"], inputs.features["customer_id"])  # the path without a lookup
    straight = PotentialTiers.from_params(a.params).fit(inputs)
    shuffled = inputs.potential.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = PotentialTiers.from_params(a.params).fit(dataclasses.replace(inputs, potential=shuffled))
    pd.testing.assert_frame_equal(again.predictions_, straight.predictions_)
    pd.testing.assert_series_equal(again.labels_, straight.labels_)
