"""RFM scores in the engine: ``customer_features_table`` + ``RFMSegmenter.score_table`` give what pandas gives.

The engine path (window functions over a feature table) must equal ``RFMSegmenter.fit_features`` on
``customer_features`` for every customer and column: on the bundled data, on hand-checked cases and
on generated frames full of ties; on DuckDB always, on local PySpark and on a throw-away PostgreSQL
server where they can start (skipped with the reason otherwise).
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segkit.config import CDNOW_PATH, PROJECT_ROOT
from segkit.data import load_transactions
from segkit.engines import connect
from segkit.errors import ParameterError
from segkit.features import FEATURE_COLUMNS, customer_features, customer_features_table, split_periods
from segkit.schemes import RFMSegmenter

B2B_PATH = PROJECT_ROOT / "data" / "synthetic" / "b2b.csv.gz"
SCORES = ["customer_id", "rfm_r", "rfm_f", "rfm_m", "rfm_segment"]


def engine_scores(table: ibis.Table, bins: int = 5, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """``score_table`` fetched to pandas, in ``scores_``' order and types."""
    got = RFMSegmenter(bins=bins).score_table(table, keep=keep).to_pandas()
    got["customer_id"] = got["customer_id"].astype(str)
    got["rfm_segment"] = got["rfm_segment"].astype(str)
    for col in ("rfm_r", "rfm_f", "rfm_m"):
        got[col] = got[col].astype("int8")  # scores_ keeps 1..bins (at most 20) in one byte
    return got.sort_values("customer_id", kind="stable").reset_index(drop=True)


def pandas_scores(features: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    expected = RFMSegmenter(bins=bins).fit_features(features).scores_[SCORES].copy()
    expected["rfm_segment"] = expected["rfm_segment"].astype(str)
    return expected.reset_index(drop=True)


@pytest.mark.parametrize("bins", [2, 3, 5])
def test_missing_values_score_one_and_count_among_the_customers(bins):
    """A missing feature (NULL, or NaN inside the engine) scores 1 and counts in n, in both paths: the
    customer keeps its row and the others' scores stay within 1..bins."""
    f = pd.DataFrame({"customer_id": list("abcdefg"), "recency_days": [1, 2, None, 4, 4, 9, None],
                      "frequency": [1, 3, 2, 2, 7, 1, 1], "monetary": [10.0, None, 5.0, 7.0, 7.0, 80.0, 1.0]})
    got = engine_scores(ibis.memtable(f), bins=bins)
    pd.testing.assert_frame_equal(got, pandas_scores(f, bins=bins), check_exact=True)
    assert got["customer_id"].tolist() == list("abcdefg")
    assert got.loc[got["customer_id"].isin(["c", "g"]), "rfm_r"].tolist() == [1, 1]
    assert got[["rfm_r", "rfm_f", "rfm_m"]].isin(range(1, bins + 1)).all().all()
    # five valued recencies of seven customers: a (1 day, the best) ranks 5th -> floor(4 * 3 / 7) + 1 = 2 at 3 bins
    if bins == 3:
        assert got["rfm_r"].tolist() == [2, 2, 1, 1, 1, 1, 1]
    # ties at the best and the worst value beside missing ones: the best tie's rank is its highest
    # among the customers with a value (5 of 7 here), not among all customers
    tied = f.assign(frequency=[1, 7, 2, None, 7, 1, 1], recency_days=[2, 2, None, 9, 4, 9, None])
    pd.testing.assert_frame_equal(engine_scores(ibis.memtable(tied), bins=bins), pandas_scores(tied, bins=bins),
                                  check_exact=True)
    t = ibis.memtable(f.assign(monetary=f["monetary"].fillna(0.0)))
    t = t.mutate(monetary=ibis.cases((t.customer_id == "b", ibis.literal(float("nan"))), else_=t.monetary))
    pd.testing.assert_frame_equal(engine_scores(t, bins=bins), got, check_exact=True)


@pytest.fixture(scope="module")
def b2b_tx():
    return load_transactions(B2B_PATH)


def _as_ofs(tx) -> list[dt.date]:
    return [split_periods(tx, holdout_months=6).as_of, split_periods(tx, holdout_months=9).as_of]


# ------------------------------------------------------------------ the feature table
@pytest.mark.parametrize("data", ["cdnow", "b2b"])
def test_feature_table_finishes_as_pandas_did(data, cdnow_tx, b2b_tx):
    """Day counts and rounded ratios computed in the engine equal pandas' arithmetic bit for bit."""
    tx = cdnow_tx if data == "cdnow" else b2b_tx
    for as_of in _as_ofs(tx):
        f = customer_features(tx, as_of)
        assert list(f.columns) == ["customer_id", *FEATURE_COLUMNS, *tx.attributes]
        as_of_ts = pd.Timestamp(as_of)
        assert (f["recency_days"] == (as_of_ts - f["last_purchase"]).dt.days).all()
        assert (f["tenure_days"] == (as_of_ts - f["first_purchase"]).dt.days).all()
        pd.testing.assert_series_equal(f["avg_order_value"], (f["gross_revenue"] / f["frequency"]).round(6),
                                       check_exact=True, check_names=False)
        pd.testing.assert_series_equal(f["purchases_per_active_month"],
                                       (f["frequency"] / f["active_months"]).round(6), check_exact=True,
                                       check_names=False)


def test_feature_table_rounds_halves_to_even_like_numpy():
    """A quotient whose scaled value is exactly x.5 goes to the even neighbour, as pandas' round does."""
    from segkit.features import _round_half_even

    x = np.array([0.0000025, 0.0000035, 0.0000045, 1.0000005, 35.0554545454, 19.9675, 0.1234565])
    t = ibis.memtable({"x": x})
    got = connect("duckdb").execute(t.select(r=_round_half_even(t.x)))["r"].to_numpy()
    np.testing.assert_array_equal(got, np.round(x, 6))


# ------------------------------------------------------------------ scores on the bundled data
@pytest.mark.parametrize("data", ["cdnow", "b2b"])
def test_engine_scores_equal_fit_features_on_the_bundled_data(data, cdnow_tx, b2b_tx):
    tx = cdnow_tx if data == "cdnow" else b2b_tx
    for as_of in _as_ofs(tx)[:1 if data == "cdnow" else 2]:
        expected = pandas_scores(customer_features(tx, as_of))
        got = engine_scores(customer_features_table(tx, as_of))
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_kept_columns_come_along(cdnow_tx):
    as_of = split_periods(cdnow_tx, holdout_months=6).as_of
    got = engine_scores(customer_features_table(cdnow_tx, as_of), keep=("frequency",))
    f = customer_features(cdnow_tx, as_of)
    assert list(got.columns) == [*SCORES, "frequency"]
    assert got["frequency"].tolist() == f["frequency"].tolist()


# ------------------------------------------------------------------ hand-checked and generated cases
def test_hand_checked_scores():
    """Ten customers, three bins. Frequency 1,1,1,1,2,2,3,3,3,7: the lowest group (4 customers) takes rank 1
    -> F 1; value 2 (ranks 5-6, average 5.5) -> floor(4.5*3/10)+1 = 2; value 3 (ranks 7-9, average 8)
    -> floor(7*3/10)+1 = 3; 7 (highest, alone) rank 10 -> 3. Recency, better when lower, 0 for two
    customers: the best value takes its highest rank 10 -> R 3; 50 for five (the worst): rank 1 -> R 1;
    30, 20, 10 ranks 6, 7, 8 -> 2, 2, 3. Monetary has a negative and a -0.0 equal to 0.0."""
    f = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(10)],
        "recency_days": [0, 0, 10, 20, 30, 50, 50, 50, 50, 50],
        "frequency": [1, 1, 1, 1, 2, 2, 3, 3, 3, 7],
        "monetary": [-5.0, 0.0, -0.0, 1.5, 1.5, 1.5, 2.0, 9.0, 9.0, 100.0],
    })
    expected = {
        "rfm_r": [3, 3, 3, 2, 2, 1, 1, 1, 1, 1],
        "rfm_f": [1, 1, 1, 1, 2, 2, 3, 3, 3, 3],
        # -5 lowest alone: 1; 0.0/-0.0 ranks 2-3 (avg 2.5) -> 1; 1.5 ranks 4-6 (avg 5) -> 2;
        # 2.0 rank 7 -> 2; 9.0 ranks 8-9 (avg 8.5) -> 3; 100 rank 10 -> 3
        "rfm_m": [1, 1, 1, 2, 2, 2, 2, 3, 3, 3],
    }
    got = engine_scores(ibis.memtable(f), bins=3)
    for col, values in expected.items():
        assert got[col].tolist() == values, col
    pd.testing.assert_frame_equal(got, pandas_scores(f, bins=3), check_exact=True)


_VALUES = st.sampled_from([-3.5, -0.0, 0.0, 1.25, 1.25, 7.0, 1e6])


@st.composite
def tied_features(draw):
    """Frames of 1..40 customers whose values come from a handful: many equal groups, often all equal."""
    n = draw(st.integers(1, 40))
    few = draw(st.integers(1, 4))
    recency = draw(st.lists(st.integers(0, few), min_size=n, max_size=n))
    frequency = draw(st.lists(st.integers(1, 1 + few), min_size=n, max_size=n))
    monetary = draw(st.lists(_VALUES if few > 1 else st.just(5.0), min_size=n, max_size=n))
    return pd.DataFrame({"customer_id": [f"x{i:03d}" for i in range(n)], "recency_days": recency,
                         "frequency": frequency, "monetary": monetary})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(features=tied_features(), bins=st.integers(2, 20))
def test_engine_scores_equal_pandas_on_tied_frames(features, bins):
    pd.testing.assert_frame_equal(engine_scores(ibis.memtable(features), bins=bins),
                                  pandas_scores(features, bins=bins), check_exact=True)


@pytest.mark.parametrize("n,bins", [(1, 5), (3, 20), (7, 5), (11, 4), (10, 5)])
def test_sizes_without_ties_and_bins_above_n(n, bins):
    f = pd.DataFrame({"customer_id": [f"k{i:02d}" for i in range(n)], "recency_days": range(n),
                      "frequency": range(1, n + 1), "monetary": np.linspace(-1, 1, n)})
    pd.testing.assert_frame_equal(engine_scores(ibis.memtable(f), bins=bins), pandas_scores(f, bins=bins),
                                  check_exact=True)


def test_all_equal_values_share_one_score():
    f = pd.DataFrame({"customer_id": list("abcde"), "recency_days": 4, "frequency": 2, "monetary": 3.0})
    got = engine_scores(ibis.memtable(f), bins=5)
    assert got[["rfm_r", "rfm_f", "rfm_m"]].nunique().tolist() == [1, 1, 1]
    pd.testing.assert_frame_equal(got, pandas_scores(f, bins=5), check_exact=True)


# ------------------------------------------------------------------ mistakes
@pytest.mark.parametrize("bins", [1, 21, 2.5, "5"])
def test_bad_bins_raise_as_in_fit_features(bins):
    t = ibis.memtable({"customer_id": ["a"], "recency_days": [1], "frequency": [1], "monetary": [1.0]})
    with pytest.raises(ParameterError, match="rfm_bins must be a whole number from 2 to 20"):
        RFMSegmenter(bins=bins).score_table(t)


def test_missing_columns_and_kept_columns_are_named():
    t = ibis.memtable({"customer_id": ["a"], "frequency": [1], "monetary": [1.0]})
    with pytest.raises(ParameterError, match=r"the features lack \['recency_days'\]") as err:
        RFMSegmenter().score_table(t)
    assert err.value.where == "RFMSegmenter.score_table"
    full = t.mutate(recency_days=1)
    with pytest.raises(ParameterError, match=r"the columns to keep \['units'\]"):
        RFMSegmenter().score_table(full, keep=("units",))


def test_polars_backend_says_it_cannot(cdnow_tx):
    tx = load_transactions(CDNOW_PATH, engine="polars")
    with pytest.raises(ParameterError, match="Polars backend lacks") as err:
        RFMSegmenter().score_table(customer_features_table(tx, dt.date(1997, 12, 31)))
    assert "duckdb" in err.value.fix


# ------------------------------------------------------------------ other engines
@pytest.mark.spark
@pytest.mark.slow
def test_pyspark_scores_equal_pandas(cdnow_tx):
    pytest.importorskip("pyspark", reason="PySpark is in the dev extra: pip install -e '.[dev]'")
    as_of = split_periods(cdnow_tx, holdout_months=6).as_of
    tx = load_transactions(CDNOW_PATH, engine="pyspark")
    got = engine_scores(customer_features_table(tx, as_of))
    pd.testing.assert_frame_equal(got, pandas_scores(customer_features(cdnow_tx, as_of)), check_exact=True)


@pytest.mark.slow
@pytest.mark.xdist_group("postgres")
def test_postgres_scores_equal_pandas(cdnow_postgres, cdnow_tx):
    """CDNOW as a finance team's PostgreSQL table (numeric amounts): the same scores as the CSV in pandas."""
    tx = cdnow_postgres()
    as_of = split_periods(cdnow_tx, holdout_months=6).as_of
    try:
        got = engine_scores(customer_features_table(tx, as_of))
        features = customer_features(tx, as_of)  # every column computed in PostgreSQL (integer division!)
    finally:
        tx.close()
    expected = customer_features(cdnow_tx, as_of)
    pd.testing.assert_frame_equal(got, pandas_scores(expected), check_exact=True)
    pd.testing.assert_frame_equal(features, expected, check_exact=False, rtol=0, atol=1e-9)


@pytest.mark.parametrize("bins", [2, 3, 5, 8, 20])
def test_segment_expression_gives_every_cell_its_segment(bins):
    from segkit.schemes.rfm import segment_cells, segment_expression

    cells = segment_cells(None, bins)
    t = ibis.memtable(cells)
    got = t.select(s=segment_expression(cells, t.rfm_r, t.rfm_f, t.rfm_m)).to_pandas()["s"]
    assert got.tolist() == cells["rfm_segment"].tolist()


def test_feature_table_with_named_columns_gives_the_same_values(cdnow_tx, b2b_tx):
    """Only the named columns are computed (DuckDB keeps an unused distinct count otherwise); same values."""
    for tx in (cdnow_tx, b2b_tx):
        as_of = split_periods(tx, holdout_months=6).as_of
        full = customer_features(tx, as_of)
        for names in (("recency_days", "frequency", "monetary"), ("tenure_days", "purchases_per_active_month",
                                                                   *tx.attributes)):
            got = customer_features_table(tx, as_of, columns=names).to_pandas()
            assert list(got.columns) == ["customer_id", *names]
            got = got.sort_values("customer_id", kind="stable").reset_index(drop=True)
            for col in names:
                assert got[col].tolist() == full[col].tolist(), col
    with pytest.raises(ParameterError, match=r"has no column\(s\) \['recency'\]"):
        customer_features_table(cdnow_tx, as_of, columns=("recency",))
