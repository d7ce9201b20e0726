"""Numbers stated by hand for the evaluation: bootstrap weights and interval widths, holdout curves,
persistence, agreement, VIP sensitivity; and the percentile tiers' alerts, movements, boundaries
and profile shares."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from segkit.evaluate import (_MAX_BOOT_CUSTOMERS, _Stats, agreement, holdout_curves, persistence, score_scheme,
                             vip_sensitivity)
from segkit.schemes import PercentileTiers

KEYS = ("top_segment_holdout_revenue_share", "top_segment_lift", "holdout_spearman", "holdout_activity_auc",
        "top_segment_share")


# ============================================================== bootstrap
def random_scheme(seed: int, n: int = 60):
    rng = np.random.default_rng(seed)
    rank = rng.integers(1, 4, n)
    revenue = np.where(rng.random(n) < 0.5, 0.0, rng.gamma(2, 20, n).round(0))
    revenue[rng.random(n) < 0.1] = -5.0                      # a few net returns
    bought = (revenue > 0) | (rng.random(n) < 0.1)
    return rank, revenue, bought


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_metrics_equal_the_metrics_of_rows_repeated_by_the_weights(seed):
    rank, revenue, bought = random_scheme(seed)
    w = np.random.default_rng(seed + 100).poisson(1.0, len(rank)).astype(float)
    got = _Stats(rank, revenue, bought).metrics(w[None, :])
    reps = w.astype(int)
    ids = [f"c{i:03d}_{k}" for i in range(len(rank)) for k in range(reps[i])]
    table = pd.DataFrame({"customer_id": ids, "segment": np.repeat(rank, reps).astype(str),
                          "rank": np.repeat(rank, reps)})
    outcomes = pd.DataFrame({"customer_id": ids, "holdout_revenue": np.repeat(revenue, reps),
                             "bought": np.repeat(bought, reps)})
    expected = score_scheme(table, outcomes, n_boot=0)["metrics"]
    for key in KEYS:
        assert got[key][0] == pytest.approx(expected[key], abs=1e-12), key


def test_weights_count_buyers_in_the_auc():
    # weights 3 on the top segment's only buyer: 3 buyers above 1 non-buyer, 1 buyer below it
    rank, bought = np.array([1, 1, 2, 2]), np.array([True, False, True, False])
    stats = _Stats(rank, np.array([5.0, 0.0, 5.0, 0.0]), bought)
    auc = stats.metrics(np.array([[3.0, 1.0, 1.0, 1.0]]))["holdout_activity_auc"][0]
    # buyers: 3 (top) + 1; non-buyers: 1 (top) + 1; pairs won: top buyers beat the lower non-buyer (3),
    # tie with the top non-buyer (3 x 0.5); the low buyer ties with the low non-buyer (0.5)
    assert auc == pytest.approx((3 + 1.5 + 0.5) / (4 * 2))


def share_case(n: int, p: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Everyone spends 1 in the holdout; the top segment holds a share p: its revenue share is a
    proportion whose bootstrap sd is sqrt(p (1 - p) / n)."""
    top = int(round(p * n))
    ids = [f"c{i:07d}" for i in range(n)]
    rank = np.where(np.arange(n) < top, 1, 2)
    table = pd.DataFrame({"customer_id": ids, "segment": np.where(rank == 1, "top", "rest"), "rank": rank})
    outcomes = pd.DataFrame({"customer_id": ids, "holdout_revenue": 1.0, "bought": True})
    return table, outcomes


def test_interval_width_matches_the_known_sampling_sd():
    n, p = 2_000, 0.2
    table, outcomes = share_case(n, p)
    res = score_scheme(table, outcomes, n_boot=2_000, seed=3)
    lo, hi = res["ci95"]["top_segment_holdout_revenue_share"]
    sd = math.sqrt(p * (1 - p) / n)
    assert hi - lo == pytest.approx(2 * 1.96 * sd, rel=0.1)          # a 50% interval is 0.34 of this
    assert lo < p < hi and (lo + hi) / 2 == pytest.approx(p, abs=0.2 * sd)
    assert np.std(res["boot"]["top_segment_holdout_revenue_share"]) == pytest.approx(sd, rel=0.08)


@pytest.mark.slow
def test_bootstrap_above_the_subsample_size_is_narrowed_to_the_full_data():
    n, p = 2 * _MAX_BOOT_CUSTOMERS + 50_000, 0.3
    table, outcomes = share_case(n, p)
    # one customer of the top segment more spends nothing: the full-data estimate is not p exactly
    outcomes.loc[0, "holdout_revenue"] = 0.0
    res = score_scheme(table, outcomes, n_boot=200, seed=1)
    centre = res["metrics"]["top_segment_holdout_revenue_share"]
    assert centre == pytest.approx((p * n - 1) / (n - 1), abs=1e-12)
    boot = res["boot"]["top_segment_holdout_revenue_share"]
    sd = math.sqrt(p * (1 - p) / n)                       # the full data's sd, not the subsample's
    assert np.std(boot) == pytest.approx(sd, rel=0.15)
    assert boot.mean() == pytest.approx(centre, abs=1e-12)   # spread around the full-data estimate
    lo, hi = res["ci95"]["top_segment_holdout_revenue_share"]
    assert hi - lo == pytest.approx(2 * 1.96 * sd, rel=0.2)


# ============================================================== curves, persistence, agreement
def test_holdout_curves_by_hand():
    table = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "segment": ["VIP", "VIP", "REG", "REG"],
                          "rank": [1, 1, 2, 2]})
    hm = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "x"],
                       "month": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-01", "2024-02-01",
                                                "2024-01-01"]),
                       "revenue": [10.0, 20.0, -5.0, 7.0, 99.0], "purchases": [1, 2, 0, 1, 1]})
    got = holdout_curves(table, hm)
    assert got["segment"].tolist() == ["VIP", "VIP", "REG", "REG"]
    assert got["month"].dt.strftime("%Y-%m").tolist() == ["2024-01", "2024-02", "2024-01", "2024-02"]
    assert got["revenue"].tolist() == [10.0, 15.0, 0.0, 7.0]     # b's return counts; x is not evaluated
    assert got["buyers"].tolist() == [1, 1, 0, 1]                # b returned, it did not buy
    assert got["segment_customers"].tolist() == [2, 2, 2, 2]
    assert got["share_buying"].tolist() == [0.5, 0.5, 0.0, 0.5]


def _table(pairs: dict[str, str], ranks: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": list(pairs), "segment": list(pairs.values()),
                         "rank": [ranks[s] for s in pairs.values()]})


def test_persistence_by_hand():
    ranks = {"A": 1, "B": 2}
    before = _table({"x1": "A", "x2": "A", "x3": "A", "x4": "B", "x5": "B", "gone": "B"}, ranks)
    now = _table({"x1": "A", "x2": "B", "x3": "B", "x4": "A", "x5": "B", "newcomer": "A"}, ranks)
    got = persistence(before, now).set_index("segment")
    assert got.loc["A"].tolist() == [3, 1, pytest.approx(1 / 3)]
    assert got.loc["B"].tolist() == [2, 1, 0.5]       # "gone" is not among the customers of both fits


def pair_ari(a: list[str], b: list[str]) -> float:
    """Adjusted Rand index from pair counts (Hubert and Arabie), written out."""
    pairs = list(itertools.combinations(range(len(a)), 2))
    both = sum(a[i] == a[j] and b[i] == b[j] for i, j in pairs)
    in_a = sum(a[i] == a[j] for i, j in pairs)
    in_b = sum(b[i] == b[j] for i, j in pairs)
    expected = in_a * in_b / len(pairs)
    return (both - expected) / ((in_a + in_b) / 2 - expected)


def test_agreement_by_hand():
    t1 = _table({"a": "top", "b": "top", "c": "mid", "d": "mid", "e": "low", "f": "low"},
                {"top": 1, "mid": 2, "low": 3})
    t2 = _table({"a": "V", "b": "G", "c": "V", "d": "G", "e": "R", "f": "R", "z": "R"}, {"V": 1, "G": 2, "R": 3})
    monetary = pd.Series({"a": 100.0, "b": 80.0, "c": 30.0, "d": 20.0, "e": 5.0, "f": 1.0})
    outcomes = pd.DataFrame({"customer_id": list("abcdef"), "holdout_revenue": [50.0, 0, 10, 0, 0, 2]})
    got = agreement({"one": t1, "two": t2}, monetary=monetary, outcomes=outcomes)
    expected = pair_ari(t1["segment"].tolist(), t2["segment"][:6].tolist())   # z is not common
    assert got["ari"].loc["one", "two"] == pytest.approx(expected) and got["ari"].loc["two", "one"] == got["ari"].loc["one", "two"]
    assert got["ari"].loc["one", "one"] == 1.0
    top = got["top_disagreement"].set_index("top_of")
    # top of one: a, b; top of two: a, c
    assert top.loc["one", ["customers", "calibration_revenue", "holdout_revenue"]].tolist() == [1, 80.0, 0.0]
    assert top.loc["two", ["customers", "calibration_revenue", "holdout_revenue"]].tolist() == [1, 30.0, 10.0]
    assert top.loc["one and two", ["customers", "calibration_revenue", "holdout_revenue"]].tolist() == [1, 100.0, 50.0]
    ct = got["crosstabs"][("one", "two")]
    assert ct.loc["top", "V"] == 1 and ct.loc["low", "R"] == 2 and int(ct.to_numpy().sum()) == 6


def test_vip_sensitivity_by_hand():
    sets = {("revenue", 0.2): {"a", "b"}, ("payments", 0.2): {"b", "c"}, ("revenue", 0.1): {"a"},
            ("revenue", 0.3): {"a", "b", "c", "d"}}
    got = vip_sensitivity(lambda c, s: sets[(c, s)], ["revenue", "payments"], [0.1, 0.2, 0.3],
                          base_criterion="revenue")
    assert got["criteria"].loc["revenue", "payments"] == pytest.approx(1 / 3)
    assert got["criteria"].loc["payments", "payments"] == 1.0
    assert got["vip_counts"].to_dict() == {"revenue": 2, "payments": 2}
    shares = got["shares"].set_index("vip_share")
    assert shares["vip_customers"].tolist() == [1, 2, 4]
    assert shares["jaccard_with_base"].tolist() == [0.5, 1.0, 0.5]
    assert shares["kept_from_base"].tolist() == [1, 2, 2]


# ============================================================== percentile tiers
def tiers_monthly() -> pd.DataFrame:
    values = {  # window Jan..Mar 2024; k was the only (VIP) customer of the previous window
        "2023-12": {"k": 500},
        "2024-01": {"a": 100, "b": 90, "c": 50, "d": 46, "e": 30},
        "2024-02": {"b": 200, "c": 60, "d": 60, "e": 10, "f": 5},
        "2024-03": {"c": 80, "d": 70, "e": 60, "f": 50, "g": 48, "h": 30, "i": 20, "j": 10},
    }
    rows = [(c, pd.Timestamp(m + "-01"), float(v), 1) for m, d in values.items() for c, v in d.items()]
    return pd.DataFrame(rows, columns=["customer_id", "month", "revenue", "purchases"])


def fit_tiers(dropout_months: int = 1, customers=None) -> PercentileTiers:
    return PercentileTiers(as_of="2024-03-31", window_months=3, vip_share=0.4, good_share=0.25,
                           dropout_months=dropout_months).fit_monthly(tiers_monthly(), customers)


def test_tiers_labels_and_profile_shares_by_hand():
    t = fit_tiers(customers=pd.Series(list("abcdefghijkz")))
    assert t.labels_.to_dict() == {**dict.fromkeys("abcdef", "VIP"), "g": "GOOD", "k": "GOOD",
                                   **dict.fromkeys("hij", "REGULAR"), "z": "INACTIVE"}
    prof = t.profile().set_index("segment")
    assert prof["customers"].tolist() == [6, 2, 3, 1]
    assert prof["share"].tolist() == [0.5, 2 / 12, 0.25, 1 / 12]
    # window totals: a 100, b 290, c 190, d 176, e 100, f 55 | g 48, k 0 | h 30, i 20, j 10
    assert prof["window_value"].tolist() == [911.0, 48.0, 60.0, 0.0]
    assert prof["value_share"].tolist() == pytest.approx([911 / 1019, 48 / 1019, 60 / 1019, 0.0])


def test_movements_and_boundaries_by_hand():
    t = fit_tiers()
    mv = t.movements_
    assert mv["month"].tolist() == ["2024-01", "2024-02", "2024-03"]
    assert mv["vip"].tolist() == [2, 2, 4]                   # ceil(0.4 x 5), ceil(0.4 x 5), ceil(0.4 x 8)
    assert mv["entered"].tolist()[1:] == [1, 3] and mv["left"].tolist()[1:] == [1, 1]
    assert mv["entered"].isna().tolist()[0] and mv["left"].isna().tolist()[0]
    b = t.boundary_.set_index(["month", "cut"])
    cols = ["customers", "above_cut", "threshold", "tied_at_threshold", "ties_split_by_customer_id", "within_5pct"]
    assert b.loc[("2024-01", "VIP/GOOD"), cols].tolist() == [5, 2, 90.0, 1, False, 1]
    assert b.loc[("2024-01", "GOOD/REGULAR"), cols].tolist() == [5, 3, 50.0, 1, False, 1]  # d's 46 is 8% off
    # February: c and d both spent 60; the VIP/GOOD cut falls between them (c first by id)
    assert b.loc[("2024-02", "VIP/GOOD"), cols].tolist() == [5, 2, 60.0, 2, True, 2]
    assert b.loc[("2024-02", "GOOD/REGULAR"), cols].tolist() == [5, 3, 60.0, 2, False, 2]
    assert b.loc[("2024-03", "VIP/GOOD"), cols].tolist() == [8, 4, 50.0, 1, False, 2]   # g's 48 is within 5%
    assert b.loc[("2024-03", "GOOD/REGULAR"), cols].tolist() == [8, 5, 48.0, 1, False, 2]


def test_alerts_last_payment_value_and_order_by_hand():
    t = fit_tiers(dropout_months=1)
    alerts = t.alerts_
    # VIPs without a payment in March: b (VIP in Jan and Feb, 290 in the window) before a (Jan, 100)
    assert alerts["customer_id"].tolist() == ["b", "a"]
    assert alerts["last_vip_month"].tolist() == ["2024-02", "2024-01"]
    assert alerts["last_payment"].tolist() == ["2024-02", "2024-01"]    # months only, without features
    assert alerts["value_at_risk"].tolist() == [290.0, 100.0]
    features = pd.DataFrame({"customer_id": list("abcdefghij"),
                             "last_purchase": pd.to_datetime(["2024-01-15", "2024-02-20"] + ["2024-03-05"] * 8)})
    with_days = fit_tiers(dropout_months=1, customers=features).alerts_
    assert with_days["last_payment"].tolist() == ["2024-02-20", "2024-01-15"]
    assert fit_tiers(dropout_months=2).alerts_["customer_id"].tolist() == ["a"]   # b paid in February


def test_alerts_last_payment_is_the_last_payment_not_the_last_vip_month():
    rows = [("x", "2024-01-01", 100.0), ("y", "2024-01-01", 10.0), ("x", "2024-02-01", 5.0),
            ("y", "2024-02-01", 50.0), ("y", "2024-03-01", 20.0)]
    monthly = pd.DataFrame([(c, pd.Timestamp(m), v, 1) for c, m, v in rows],
                           columns=["customer_id", "month", "revenue", "purchases"])
    t = PercentileTiers(as_of="2024-03-31", window_months=3, vip_share=0.4, dropout_months=1).fit_monthly(monthly)
    # x was VIP in January, paid a little in February (not as VIP), nothing in March
    assert t.alerts_.to_dict("records") == [{"customer_id": "x", "last_vip_month": "2024-01",
                                             "last_payment": "2024-02", "value_at_risk": 105.0}]
