"""Numbers stated by hand: RFM scores and named segments, every feature column,
k-means names against their clusters. Each test would fail on a plausible wrong implementation
(a flipped sign, swapped axes, a comparison off by one boundary)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from segkit.config import CDNOW_PATH
from segkit.data import load_transactions
from segkit.features import FEATURE_COLUMNS, customer_features, customer_month
from segkit.schemes import KMeansSegmenter, RFMSegmenter


# ============================================================== RFM
def rfm_frame() -> pd.DataFrame:
    """Ten customers, no ties: with 5 bins every score holds exactly two customers.

    ``champ`` bought most recently, most often, for the most money; ``lost`` is the opposite;
    ``gone_big`` bought often and a lot but long ago; ``fresh`` bought yesterday, once, little.
    """
    rows = [  # id, recency_days, frequency, monetary
        ("champ", 1, 20, 900.0), ("fresh", 2, 1, 10.0), ("c3", 3, 8, 300.0), ("c4", 4, 7, 250.0),
        ("c5", 5, 6, 200.0), ("c6", 6, 5, 150.0), ("c7", 7, 4, 100.0), ("c8", 8, 3, 50.0),
        ("gone_big", 90, 15, 800.0), ("lost", 100, 2, 20.0),
    ]
    return pd.DataFrame(rows, columns=["customer_id", "recency_days", "frequency", "monetary"])


def test_rfm_scores_and_named_segments_by_hand():
    s = RFMSegmenter(bins=5).fit_features(rfm_frame()).scores_.set_index("customer_id")
    # recent customers get a HIGH R (recency_days ascending -> R descending)
    assert s.loc["champ", ["rfm_r", "rfm_f", "rfm_m"]].tolist() == [5, 5, 5]
    assert s.loc["fresh", ["rfm_r", "rfm_f", "rfm_m"]].tolist() == [5, 1, 1]
    assert s.loc["gone_big", ["rfm_r", "rfm_f", "rfm_m"]].tolist() == [1, 5, 5]
    assert s.loc["lost", ["rfm_r", "rfm_f", "rfm_m"]].tolist() == [1, 1, 1]
    assert s["rfm_r"].tolist() == [4, 4, 3, 3, 2, 2, 5, 5, 1, 1]  # c3..c8, champ, fresh, gone_big, lost
    # the segment map's axes: r = recency (rows), fm = mean of F and M (columns)
    assert s.loc["champ", "rfm_segment"] == "Champions"
    assert s.loc["lost", "rfm_segment"] == "Lost"
    assert s.loc["gone_big", "rfm_segment"] == "Can't Lose Them"
    assert s.loc["fresh", "rfm_segment"] == "New"
    assert s.loc[["c3", "c4", "c5", "c7"], "rfm_segment"].tolist() == ["Champions", "Champions",
                                                                       "Potential Loyalists", "Need Attention"]


def test_rfm_profile_shares_and_means_by_hand():
    prof = RFMSegmenter(bins=5).fit_features(rfm_frame()).profile().set_index("segment")
    counts = {"Champions": 3, "Potential Loyalists": 2, "Need Attention": 2, "New": 1, "Can't Lose Them": 1,
              "Lost": 1}
    assert prof.loc[prof["customers"] > 0, "customers"].to_dict() == counts
    assert prof.loc[list(counts), "share"].tolist() == [0.3, 0.2, 0.2, 0.1, 0.1, 0.1]
    assert prof.loc["Champions", "recency_days"] == pytest.approx(8 / 3)       # champ 1, c3 3, c4 4 days
    assert prof.loc["Champions", "monetary"] == pytest.approx((900 + 300 + 250) / 3)
    assert prof["rank"].tolist() == list(range(1, 12)) and prof.loc["Loyal", "customers"] == 0


def test_segment_map_cells_by_coordinates():
    cells = RFMSegmenter(bins=5).fit_features(rfm_frame()).cells_.set_index(["rfm_r", "rfm_f", "rfm_m"])["rfm_segment"]
    assert cells[(5, 5, 5)] == cells[(4, 4, 4)] == "Champions"
    assert cells[(1, 5, 5)] == cells[(1, 4, 4)] == "Can't Lose Them"
    assert cells[(1, 1, 1)] == cells[(1, 2, 1)] == "Lost"
    assert cells[(5, 1, 1)] == "New" and cells[(3, 5, 5)] == "Loyal" and cells[(2, 5, 5)] == "At Risk"
    assert cells[(2, 1, 1)] == "About to Sleep" and cells[(1, 3, 2)] == "Hibernating"


def tie_rule_scores(values: pd.Series, bins: int) -> pd.Series:
    """The documented tie rule with plain pandas: equal values share one rank; the worst value's
    group takes its lowest rank, the best value's group its highest, any other group its mean."""
    n = len(values)
    counts = values.value_counts().sort_index()           # ascending = worst first (higher is better)
    before = counts.cumsum() - counts
    rank = before + (counts + 1) / 2
    rank.iloc[0] = before.iloc[0] + 1                     # worst group: lowest rank
    rank.iloc[-1] = before.iloc[-1] + counts.iloc[-1]     # best group: highest rank
    if len(counts) == 1:
        rank.iloc[0] = before.iloc[0] + (counts.iloc[0] + 1) / 2
    score = ((rank - 1) * bins / n).apply(np.floor).astype(int) + 1
    return values.map(score.clip(1, bins))


@pytest.mark.slow
def test_cdnow_rfm_r_and_f_recomputed_from_the_raw_csv(cdnow_tx):
    as_of = dt.date(1997, 12, 31)
    raw = pd.read_csv(CDNOW_PATH, dtype={"customer_id": str}, parse_dates=["date"])
    bought = raw[(raw["date"] <= pd.Timestamp(as_of)) & (raw["amount"] > 0)]
    per = bought.groupby("customer_id").agg(last=("date", "max"), days=("date", "nunique"))
    recency = (pd.Timestamp(as_of) - per["last"]).dt.days
    expected_r = tie_rule_scores(-recency, 5)  # fewer days since the last purchase is better
    expected_f = tie_rule_scores(per["days"], 5)
    got = RFMSegmenter(bins=5).fit_features(customer_features(cdnow_tx, as_of)).scores_.set_index("customer_id")
    assert len(got) == len(per) == 23_502
    pd.testing.assert_series_equal(got["rfm_r"].sort_index(), expected_r.sort_index().rename("rfm_r"),
                                   check_names=False, check_index_type=False, check_dtype=False)
    pd.testing.assert_series_equal(got["rfm_f"].sort_index(), expected_f.sort_index().rename("rfm_f"),
                                   check_names=False, check_index_type=False, check_dtype=False)
    # the one-time buyers (the worst F group) all get F = 1; the most recent day gets R = 5
    assert set(got.loc[per.index[per["days"] == 1], "rfm_f"]) == {1}
    assert set(got.loc[recency.index[recency == recency.min()], "rfm_r"]) == {5}


# ============================================================== features
MESSY = """customer_id,date,amount,quantity,cost,order_id
a,2024-01-05,100.00,2,60,o1
a,2024-01-05,50.00,1,30,o2
a,2024-01-05,25.00,1,15,o2
a,2024-01-20,-40.00,1,24,r1
a,2024-03-02,0.00,1,0,o3
a,2024-03-10,80.00,3,50,o4
a,2024-05-01,200.00,4,120,o5
b,2024-02-14,30.00,1,20,o6
b,2024-02-14,30.00,1,20,o7
b,2024-04-01,-30.00,-1,-20,r2
c,2024-03-31,0.00,2,0,o8
c,2024-02-01,-15.00,1,9,r3
d,2024-03-15,12.50,1,7,
d,2024-03-15,7.50,1,4,
d,2024-01-31,5.00,2,3,o9
"""


def _messy(tmp_path) -> tuple[pd.DataFrame, object]:
    path = tmp_path / "messy.csv"
    path.write_text(MESSY)
    frame = pd.read_csv(path, dtype={"customer_id": str, "order_id": str}, parse_dates=["date"])
    # cleaning drops rows whose amount is exactly 0 (reported as "Amount exactly 0")
    return frame[frame["amount"] != 0].reset_index(drop=True), load_transactions(path)


def reference_features(d: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    d = d[d["date"] <= pd.Timestamp(as_of)].copy()
    back = d["amount"] < 0
    d["units"] = np.where(back, -d["quantity"].abs(), d["quantity"].abs())
    d["netcost"] = np.where(back, -d["cost"].abs(), d["cost"].abs())
    d["month"] = d["date"].dt.to_period("M")
    p = d[d["amount"] > 0]
    g, gp = d.groupby("customer_id"), p.groupby("customer_id")
    out = pd.DataFrame({"first_purchase": gp["date"].min(), "last_purchase": gp["date"].max(),
                        "frequency": gp["order_id"].nunique()})
    out["recency_days"] = (pd.Timestamp(as_of) - out["last_purchase"]).dt.days
    out["monetary"] = g["amount"].sum()
    out["gross_revenue"] = gp["amount"].sum()
    out["returns_value"] = -d[d["amount"] <= 0].groupby("customer_id")["amount"].sum()
    out["units"] = g["units"].sum()
    out["margin"] = out["monetary"] - g["netcost"].sum()
    out["tenure_days"] = (pd.Timestamp(as_of) - out["first_purchase"]).dt.days
    out["active_months"] = gp["month"].nunique()
    out = out.dropna(subset=["first_purchase"]).fillna({"returns_value": 0.0})
    out["avg_order_value"] = out["gross_revenue"] / out["frequency"]
    out["purchases_per_active_month"] = out["frequency"] / out["active_months"]
    return out[list(FEATURE_COLUMNS)].sort_index()


def _numbers(col: pd.Series) -> np.ndarray:
    """Dates as days since 1970 (pandas may hold them in ns or us), anything else as float."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return (col - pd.Timestamp("1970-01-01")).dt.days.to_numpy(float)
    return col.to_numpy(float)


def test_every_feature_column_on_a_messy_file_equals_plain_pandas(tmp_path):
    frame, tx = _messy(tmp_path)
    as_of = dt.date(2024, 4, 30)
    got = customer_features(tx, as_of).set_index("customer_id")
    assert list(got.columns) == list(FEATURE_COLUMNS)
    ref = reference_features(frame, as_of)
    assert list(got.index) == list(ref.index) == ["a", "b", "d"]  # c never bought (return and a zero only)
    for col in FEATURE_COLUMNS:
        np.testing.assert_allclose(_numbers(got[col]), _numbers(ref[col]), atol=1e-9, err_msg=col)
    # hand-checked values for a: orders o1, o2, o4 (o3 is a zero, r1 a return); months Jan and Mar
    a = got.loc["a"]
    assert (a["frequency"], a["active_months"], a["gross_revenue"], a["returns_value"]) == (3, 2, 255.0, 40.0)
    assert (a["monetary"], a["units"], a["margin"]) == (215.0, 6.0, 215.0 - (60 + 30 + 15 - 24 + 50))
    assert (a["tenure_days"], a["recency_days"]) == (116, 51)  # from 2024-01-05 and 2024-03-10 to 2024-04-30
    # d has purchases without order_id on one day: rows without an order are not distinct orders
    # (its months still count: a purchase is a purchase, with or without an order number)
    assert got.loc["d", "frequency"] == 1 and got.loc["d", "active_months"] == 2
    assert got.loc["b", "returns_value"] == 30.0 and got.loc["b", "units"] == 1.0


def test_every_customer_month_column_equals_plain_pandas(tmp_path):
    frame, tx = _messy(tmp_path)
    got = customer_month(tx).set_index(["customer_id", "month"]).sort_index()
    d = frame.assign(month=frame["date"].dt.to_period("M").dt.to_timestamp())
    back = d["amount"] < 0
    d["units"] = np.where(back, -d["quantity"].abs(), d["quantity"].abs())
    d["netcost"] = np.where(back, -d["cost"].abs(), d["cost"].abs())
    d["purchase"] = (d["amount"] > 0).astype(int)
    d["paid_order"] = d["order_id"].where(d["amount"] > 0)
    g = d.groupby(["customer_id", "month"])
    ref = pd.DataFrame({"revenue": g["amount"].sum(), "payments": g["paid_order"].nunique(),
                        "units": g["units"].sum(), "purchases": g["purchase"].sum()})
    ref["margin"] = ref["revenue"] - g["netcost"].sum()
    assert list(got.index) == list(ref.index)
    for col in ("revenue", "payments", "units", "margin", "purchases"):
        np.testing.assert_allclose(got[col].to_numpy(float), ref[col].to_numpy(float), atol=1e-9, err_msg=col)
    # a return-only month gets a row with no purchase
    assert got.loc[("c", pd.Timestamp("2024-02-01")), ["revenue", "purchases", "payments"]].tolist() == [-15, 0, 0]
    assert got.loc[("a", pd.Timestamp("2024-01-01")), ["revenue", "payments", "purchases"]].tolist() == [135, 2, 3]


def test_features_without_order_id_count_distinct_purchase_days(tmp_path):
    path = tmp_path / "days.csv"
    path.write_text("customer_id,date,amount\nx,2024-01-05,10\nx,2024-01-05,20\nx,2024-01-09,-5\n"
                    "x,2024-02-01,0\nx,2024-02-03,7\n")
    got = customer_features(load_transactions(path), dt.date(2024, 2, 29)).iloc[0]
    assert (got["frequency"], got["active_months"], got["tenure_days"], got["recency_days"]) == (2, 2, 55, 26)
    assert (got["gross_revenue"], got["returns_value"], got["monetary"]) == (37.0, 5.0, 32.0)
    assert got["avg_order_value"] == 18.5 and got["purchases_per_active_month"] == 1.0
    month = customer_month(load_transactions(path)).set_index("month")
    assert month["payments"].tolist() == [2, 1] and month["purchases"].tolist() == [2, 1]


# ============================================================== k-means names
def three_groups(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 200
    groups = [  # recency range, frequency range, monetary range
        ((1, 20), (8, 15), (500, 1000)),
        ((100, 150), (2, 4), (80, 150)),
        ((300, 400), (1, 1), (10, 30)),
    ]
    parts = []
    for i, (rec, freq, mon) in enumerate(groups):
        parts.append(pd.DataFrame({
            "customer_id": [f"g{i}_{j:03d}" for j in range(n)],
            "recency_days": rng.integers(rec[0], rec[1] + 1, n),
            "frequency": rng.integers(freq[0], freq[1] + 1, n),
            "monetary": rng.uniform(*mon, n).round(2)}))
    return pd.concat(parts, ignore_index=True)


def test_kmeans_names_describe_their_clusters():
    f = three_groups()
    km = KMeansSegmenter(k_range=(3, 3), random_state=0, n_stability=1).fit_features(f)
    prof = km.profile().set_index("cluster")
    assert prof.loc[0, "segment"] == "recent, frequent, high spend"
    assert prof.loc[1, "segment"] == "fading, occasional, mid spend"
    assert prof.loc[2, "segment"] == "lapsed, one-time, low spend"
    # and the names follow the profiles: the lowest mean recency is the "recent" one, etc.
    assert prof["recency_days"].idxmin() == 0 and prof["recency_days"].idxmax() == 2
    assert prof["frequency"].idxmax() == 0 and prof.loc[2, "frequency"] == 1.0
    assert prof["monetary"].is_monotonic_decreasing
    assert prof["customers"].tolist() == [200, 200, 200] and prof["share"].round(6).tolist() == [0.333333] * 3
    table = km.segment_table().set_index("customer_id")
    assert (table.loc[[f"g2_{j:03d}" for j in range(200)], "segment"] == "lapsed, one-time, low spend").all()


def test_rfm_bins_at_their_limits_and_empty_input():
    from segkit.errors import ParameterError
    from segkit.schemes.rfm import rfm_scores

    two = RFMSegmenter(bins=2).fit_features(rfm_frame()).scores_.set_index("customer_id")
    assert two.loc["champ", ["rfm_r", "rfm_f", "rfm_m"]].tolist() == [2, 2, 2]
    assert two.loc["lost", ["rfm_r", "rfm_f", "rfm_m"]].tolist() == [1, 1, 1]
    # 20 bins, 10 customers: the most recent has rank 10, score floor(9 x 20 / 10) + 1 = 19
    assert RFMSegmenter(bins=20).fit_features(rfm_frame()).scores_["rfm_r"].max() == 19
    for bad in (1, 21, 2.5):
        with pytest.raises(ParameterError):
            RFMSegmenter(bins=bad).fit_features(rfm_frame())
    empty = rfm_scores(pd.Series([], dtype=float), 5)
    assert empty.dtype == np.int64 and empty.shape == (0,)
