"""Every customer seen up to as_of is in assignments.csv, customers with returns only included.

A real retail file had customers whose only calibration rows were returns (they bought before the
file starts); they were missing from assignments.csv. Now they are listed (INACTIVE tiers, ``No
purchase`` for RFM and k-means, stage dissolution), not segmented or scored, and counted
(``run.json`` ``population``, ``segkit segment``, the management report). Expected values are
computed here from the raw rows with pandas, never read back from segkit.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from segkit import notebook as nb
from segkit.cli import main
from segkit.config import CDNOW_PATH, PROJECT_ROOT, RunParams
from segkit.data import load_transactions
from segkit.features import split_periods
from segkit import formats
from segkit.pipeline import analyze, without_purchase

AS_OF = "2023-12-31"
#: customers of the hand-made file whose calibration rows are returns only
RETURNS_ONLY = ["007", "P1", "R1"]
NO_SCORE = ["rfm_r", "rfm_f", "rfm_m", "kmeans_cluster", "p_alive", "expected_purchases", "predicted_value",
            "peer_headroom", "tier_change"]


def hand_made() -> pd.DataFrame:
    """24 ordinary customers over 2023-01 .. 2024-06 and the cases that used to go missing."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(1, 25):
        p = 0.15 + 0.7 * (i % 6) / 6
        for m in pd.date_range("2023-01-01", "2024-06-01", freq="MS"):
            if rng.random() < p:
                day = (m + pd.Timedelta(days=int(rng.integers(0, 27)))).date().isoformat()
                rows.append((f"C{i:02d}", day, round(float(rng.gamma(2.0, 10 + 5 * (i % 4))), 2)))
    rows += [("C01", "2023-01-02", 15.0), ("C02", "2024-06-30", 12.0),  # the data span both periods
             ("R1", "2023-04-10", -20.0), ("R1", "2023-10-05", -5.0), ("R1", "2024-02-01", 30.0),  # returns, then buys
             ("007", "2023-08-15", -12.5),                       # returns only; leading zeros kept
             ("P1", "2023-11-11", -8.0),                         # returns only, placed by hand
             ("E1", "2023-02-03", 50.0), ("E1", "2023-03-07", 40.0),  # bought only before the tiers' window
             ("N1", "2023-09-01", 10.0), ("N1", "2023-10-01", -30.0),  # net negative
             ("Z1", "2023-05-05", 0.0),                          # amount 0 only: dropped by cleaning, not seen
             ("H1", "2024-03-03", 25.0)]                         # first seen after as_of
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"])


def seen_and_buyers(raw: pd.DataFrame, as_of: str) -> tuple[set[str], set[str]]:
    """Customers with a row kept by cleaning (amount not 0) up to as_of, and those with a purchase."""
    cal = raw[(pd.to_datetime(raw["date"]) <= pd.Timestamp(as_of)) & (raw["amount"] != 0)]
    return set(cal["customer_id"]), set(cal.loc[cal["amount"] > 0, "customer_id"])


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    """`segkit segment` on the hand-made file, with one override for a returns-only customer and a prospect."""
    root = tmp_path_factory.mktemp("inactive")
    raw = hand_made()
    raw.to_csv(root / "tx.csv", index=False)
    (root / "overrides.csv").write_text("customer_id,tier,reason\nP1,VIP,reference account\nNEW,GOOD,pilot\n")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["segment", str(root / "tx.csv"), "--out", str(root / "out"), "--as-of", AS_OF,
                     "--k-range", "2", "3", "--overrides", str(root / "overrides.csv"), "--currency", "EUR"])
    assert code == 0
    read = lambda name: pd.read_csv(root / "out" / name, dtype=str, keep_default_na=False)  # noqa: E731
    return {"raw": raw, "out": root / "out", "printed": printed.getvalue(), "assignments": read("assignments.csv"),
            "alerts": read("alerts.csv"), "actions": read("actions.csv"), "monthly": read("tiers_monthly.csv"),
            "run": json.loads((root / "out" / "run.json").read_text())}


def test_every_customer_seen_up_to_as_of_is_listed_exactly_once(segmented):
    a = segmented["assignments"]
    seen, buyers = seen_and_buyers(segmented["raw"], AS_OF)
    assert a["customer_id"].is_unique
    assert set(a["customer_id"]) == seen | {"NEW"}  # NEW: a prospect placed by hand, never seen
    assert sorted(seen - buyers) == RETURNS_ONLY
    assert not {"Z1", "H1"} & set(a["customer_id"])


def test_customers_with_returns_only_get_the_documented_values(segmented):
    a = segmented["assignments"].set_index("customer_id")
    rec = json.loads((segmented["out"] / "scorecard.json").read_text())["recommended"]
    expected_rec = {"percentile_tiers": "INACTIVE", "potential": "INACTIVE"}.get(rec, "No purchase")
    for cid in RETURNS_ONLY:
        row = a.loc[cid]
        assert (row["percentile_tier"], row["potential_tier"]) == ("INACTIVE", "INACTIVE")
        assert (row["rfm_segment"], row["kmeans_name"]) == ("No purchase", "No purchase")
        assert (row[NO_SCORE] == "").all(), row[NO_SCORE]
        assert row["lifecycle_stage"] == "dissolution"
    assert a.loc["R1", "recommended_segment"] == a.loc["007", "recommended_segment"] == expected_rec
    # placed by hand: listed once, with its override mapped as for any customer (VIP = rank 1)
    assert (a.loc["P1", "override_tier"], a.loc["P1", "override_reason"]) == ("VIP", "reference account")
    rank_one = {"percentile_tiers": "VIP", "potential": "VIP"}.get(rec)
    if rank_one:
        assert a.loc["P1", "recommended_segment"] == rank_one
    # the other edge cases bought up to as_of: segmented and scored like everyone
    for cid in ("E1", "N1"):
        assert a.loc[cid, "rfm_r"].isdigit() and a.loc[cid, "kmeans_cluster"].isdigit()
        assert a.loc[cid, "rfm_segment"] != "No purchase" and a.loc[cid, "percentile_tier"] in {"VIP", "GOOD",
                                                                                                  "REGULAR", "INACTIVE"}
    assert a.loc["E1", "lifecycle_stage"] == "dissolution"  # one purchase month, long ago
    assert a.loc["N1", "rfm_m"] == "1"  # net -20: the lowest monetary score
    assert ".0" not in (segmented["out"] / "assignments.csv").read_text().split("\n", 2)[1]  # integers stay integers


def test_the_count_is_in_run_json_and_the_segment_summary(segmented):
    seen, buyers = seen_and_buyers(segmented["raw"], AS_OF)
    assert segmented["run"]["population"] == {"assignments": len(seen) + 1, "evaluated": len(buyers),
                                              "without_purchase": len(seen - buyers), "prospects": 1}
    assert f"without a purchase up to {AS_OF}: 3 customer(s) with returns only" in segmented["printed"]
    # the closing line counts the customers segmented: not the returns-only ones, not the prospect
    assert f": {len(buyers)} customers segmented;" in segmented["printed"], segmented["printed"]


def test_alerts_actions_and_monthly_tiers_agree_with_assignments(segmented):
    a = segmented["assignments"].set_index("customer_id")
    for name in ("alerts", "actions", "monthly"):
        assert not set(segmented[name]["customer_id"]) & set(RETURNS_ONLY), name
        assert set(segmented[name]["customer_id"]) <= set(a.index), name
    act = segmented["actions"].set_index("customer_id")
    assert (act["tier"] == a.loc[act.index, "percentile_tier"]).all()
    assert (act["stage"] == a.loc[act.index, "lifecycle_stage"]).all()
    vip = segmented["alerts"].loc[segmented["alerts"]["rule"] == "vip_dropout", "customer_id"]
    assert (a.loc[vip, "percentile_tier"] == "VIP").all()


def _params(**extra) -> RunParams:
    return RunParams.from_mapping({"name": "inactive", "data": "tx.csv", "as_of": AS_OF, "k_range": [2, 3],
                                   "currency": "EUR", **extra})


@pytest.fixture(scope="module")
def analysed():
    return analyze(_params(), tx=load_transactions(hand_made()), n_boot=100)


def test_customers_without_a_purchase_leave_every_score_and_the_verdict_unchanged(analysed):
    """All schemes and baselines are scored on the same customers: the run equals one on the same file
    without the returns-only customers' calibration rows (R1's later purchase stays)."""
    raw = hand_made()
    gone = raw["customer_id"].isin(RETURNS_ONLY) & (pd.to_datetime(raw["date"]) <= pd.Timestamp(AS_OF))
    with_them = analysed
    without = analyze(_params(), tx=load_transactions(raw[~gone]), n_boot=100)
    assert with_them.population()["without_purchase"] == 3 and without.population()["without_purchase"] == 0
    # the label columns stay categories with the appended customers' labels among them
    assert with_them.assignments["percentile_tier"].dtype == "category"
    assert "INACTIVE" in set(with_them.assignments["percentile_tier"][with_them.assignments["customer_id"].isin(RETURNS_ONLY)])
    assert json.dumps(with_them.scorecard, sort_keys=True) == json.dumps(without.scorecard, sort_keys=True)
    evaluated = with_them.assignments[~with_them.assignments["customer_id"].isin(RETURNS_ONLY)]
    # (a subset of the rows: its categories may include labels only the left-out customers hold)
    pd.testing.assert_frame_equal(evaluated.reset_index(drop=True), without.assignments, check_dtype=False,
                                  check_categorical=False)
    pd.testing.assert_frame_equal(with_them.decisions.actions, without.decisions.actions)


def test_a_return_sold_at_a_loss_holds_no_monthly_tier_nor_a_vip_alert():
    """With the margin criterion a return whose cost exceeds its amount has a positive margin; it used to
    take a monthly VIP place and raise a VIP dropout alert for a customer missing from assignments.csv."""
    raw = hand_made().assign(cost=lambda d: (d["amount"].abs() * 0.6).round(2))
    raw.loc[len(raw)] = ["M1", "2023-09-09", -10.0, 500.0]
    a = analyze(_params(criterion="margin"), tx=load_transactions(raw), n_boot=50)
    assert "M1" not in set(a.tiers_monthly["customer_id"]) | set(a.alert_rows()["customer_id"])
    row = a.assignments.set_index("customer_id").loc["M1"]
    assert (row["percentile_tier"], row["rfm_segment"], row["lifecycle_stage"]) == ("INACTIVE", "No purchase",
                                                                                    "dissolution")


@pytest.mark.parametrize("winner, expected", [("percentile_tiers", "INACTIVE"), ("rfm", "No purchase"),
                                              ("kmeans", "No purchase"), (None, "")])
def test_recommended_segment_of_a_customer_without_purchase_follows_the_winner(winner, expected):
    from segkit.pipeline import _assignments
    from segkit.schemes import registry

    if set(registry.names()) != {"percentile_tiers", "rfm", "kmeans", "potential"}:
        pytest.skip("the constructed case covers the built-in schemes")
    ids = ["a", "b"]
    tables = {
        "percentile_tiers": pd.DataFrame({"customer_id": ids, "segment": ["VIP", "GOOD"], "rank": [1, 2]}),
        "rfm": pd.DataFrame({"customer_id": ids, "segment": ["Champions", "Lost"], "rank": [1, 11],
                             "rfm_r": [5, 1], "rfm_f": [5, 1], "rfm_m": [5, 1]}),
        "kmeans": pd.DataFrame({"customer_id": ids, "segment": ["hi", "lo"], "rank": [1, 2], "cluster": [0, 1],
                                "name": ["hi", "lo"]}),
        "potential": pd.DataFrame({"customer_id": ids, "segment": ["VIP", "REGULAR"], "rank": [1, 3],
                                   "p_alive": [0.9, 0.7], "expected_purchases": [2.0, 1.0],
                                   "predicted_value": [50.0, 9.0], "peer_headroom": [np.nan, np.nan]}),
    }
    stages = pd.DataFrame({"customer_id": ["a", "b", "r"], "lifecycle_stage": ["commitment", "awareness",
                                                                                "dissolution"]})
    applied = pd.DataFrame({"customer_id": ["a", "b", "r"], "override_tier": [np.nan, np.nan, np.nan],
                            "override_reason": [np.nan, np.nan, np.nan], "prospect": [False, False, True]})
    out = _assignments(stages, applied, tables, {"recommended": winner},
                       pd.DataFrame({"customer_id": ["r"], "return_lines": [1], "returns_value": [4.0]}))
    assert out["customer_id"].tolist() == ["a", "b", "r"]  # listed once, not again as a prospect
    r = out.set_index("customer_id").loc["r"]
    assert r["recommended_segment"] == expected
    assert r[["rfm_r", "kmeans_cluster", "p_alive"]].isna().all()
    assert str(out["rfm_r"].dtype) == "Int64" and out["p_alive"].dtype == "float64"


def test_without_purchase_counts_match_pandas_on_the_bundled_synthetic_file():
    """The file as shipped: every customer with a return bought earlier in it (count 0)."""
    path = PROJECT_ROOT / "data" / "synthetic" / "b2b.csv.gz"
    tx = load_transactions(path)
    as_of = split_periods(tx, holdout_months=6).as_of
    raw = pd.read_csv(path, dtype={"customer_id": str})
    seen, buyers = seen_and_buyers(raw, str(as_of))
    assert len(seen - buyers) == 0 and without_purchase(tx, as_of).empty


@pytest.mark.slow
def test_a_synthetic_file_cut_after_some_purchases_lists_its_returns_only_customers():
    """The real-file case on the bundled synthetic data: an export starting 2023-10-01 holds returns of
    orders placed before it."""
    raw = pd.read_csv(PROJECT_ROOT / "data" / "synthetic" / "b2b.csv.gz", dtype={"customer_id": str})
    raw = raw[raw["date"] >= "2023-10-01"]
    a = analyze(RunParams.from_mapping({"name": "cut", "data": "b2b.csv", "criterion": "margin",
                                        "backtest_origins": 1}), tx=load_transactions(raw), n_boot=50)
    seen, buyers = seen_and_buyers(raw, str(a.split.as_of))
    assert set(a.assignments["customer_id"]) == seen and a.assignments["customer_id"].is_unique
    assert a.population() == {"assignments": len(seen), "evaluated": len(buyers),
                              "without_purchase": len(seen - buyers), "prospects": 0}
    assert len(seen - buyers) == 1  # C001810: a return on 2023-10-02 of an order from September
    listed = a.assignments.set_index("customer_id").loc[sorted(seen - buyers)]
    assert (listed["percentile_tier"] == "INACTIVE").all() and (listed["rfm_segment"] == "No purchase").all()
    assert nb.no_purchase_markdown(a).startswith("**1 customer** had only returns or no purchase")


def test_cdnow_has_no_customer_without_a_purchase(cdnow_analysis):
    """CDNOW has no returns: everyone seen up to as_of bought (rows with amount 0 are dropped)."""
    raw = pd.read_csv(CDNOW_PATH, dtype={"customer_id": str})
    seen, buyers = seen_and_buyers(raw, str(cdnow_analysis.split.as_of))
    assert seen == buyers == set(cdnow_analysis.assignments["customer_id"]) and len(seen) == 23_502
    assert cdnow_analysis.population()["without_purchase"] == 0
    assert "none had only returns" in nb.no_purchase_markdown(cdnow_analysis)


def test_the_report_sentence_gives_the_count_and_the_money(analysed):
    raw, a = hand_made(), analysed
    text = nb.no_purchase_markdown(a)
    returned = -raw.loc[raw["customer_id"].isin(RETURNS_ONLY) & (raw["date"] <= AS_OF), "amount"].sum()
    # dates are written the reader's way (segkit.formats): "Dec 31, 2023" in English
    assert text.startswith(f"**3 customers** had only returns or no purchase in the calibration period (up to "
                           f"{formats.date(AS_OF)}); "
                           "they are listed as INACTIVE")
    assert nb.money(returned, "EUR") in text and f"the {len(a.features):,} customers with a purchase" in text


def test_the_management_report_calls_the_sentence():
    cells = json.loads((PROJECT_ROOT / "notebooks" / "05_compare.ipynb").read_text())["cells"]
    assert any("nb.no_purchase_markdown(analysis)" in "".join(c["source"]) for c in cells if c["cell_type"] == "code")


@pytest.mark.slow
def test_the_published_report_states_the_count(published_run):
    html = (published_run / "report.html").read_text(encoding="utf-8")
    assert "Every customer seen up to Dec 31, 1997 bought in that period" in html and "none had only returns" in html
