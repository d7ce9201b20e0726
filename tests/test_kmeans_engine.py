"""k-means assignment in the engine: ``KMeansSegmenter.assign_table`` labels customers where the data lives.

A model fitted in Python (on all customers or a sample) assigns every customer of a feature table to
its nearest centre as an Ibis expression. It must give the fit's own clusters and names for the
customers it was fitted on, and the nearest centre computed independently in numpy for any other
customer: clipped negatives, extra features, missing values, exact ties (the lower number wins);
on DuckDB and Polars (fast), on CDNOW and the B2B generator with several k, in PostgreSQL 15 and
on local PySpark (slow).
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from segkit import engines
from segkit.config import CDNOW_PATH
from segkit.data import load_transactions
from segkit.datasets import make_transactions
from segkit.errors import ParameterError
from segkit.features import customer_features, customer_features_table, split_periods
from segkit.schemes import KMeansSegmenter
from segkit.schemes._base import NotFittedError

BASE = ["recency_days", "frequency", "monetary"]


def nearest(km: KMeansSegmenter, f: pd.DataFrame) -> np.ndarray:
    """The nearest centre of each row of ``f``, recomputed here from the fitted scaler and centres."""
    raw = [np.log1p(np.clip(f[c].to_numpy(float), 0, None)) for c in BASE]
    raw += [f[c].to_numpy(float) for c in km.extra_features]
    z = (np.column_stack(raw) - km.scaler_.mean_) / km.scaler_.scale_
    z = np.where(np.isnan(z), 0.0, z)
    d = ((z[:, None, :] - km.centers_[None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=1)


def assigned(km: KMeansSegmenter, f: pd.DataFrame, engine: str = "duckdb") -> pd.DataFrame:
    table = ibis.memtable(f) if engine == "duckdb" else engines.connect(engine).create_table("features", f)
    return km.assign_table(table).to_pandas().sort_values("customer_id", kind="stable").reset_index(drop=True)


def groups(n: int = 24, seed: int = 3) -> pd.DataFrame:
    """Three clear behaviour groups: recent frequent big spenders, occasional mid, lapsed one-timers."""
    rng = np.random.default_rng(seed)
    g = np.arange(n) % 3
    return pd.DataFrame({
        "customer_id": [f"c{i:03d}" for i in range(n)],
        "recency_days": np.choose(g, [rng.integers(1, 20, n), rng.integers(60, 120, n), rng.integers(300, 500, n)]),
        "frequency": np.choose(g, [rng.integers(8, 15, n), rng.integers(3, 6, n), np.ones(n, dtype=int)]),
        "monetary": np.choose(g, [rng.uniform(800, 1500, n), rng.uniform(150, 300, n), rng.uniform(10, 40, n)]),
        "avg_order_value": rng.uniform(10, 100, n)})


@pytest.fixture(scope="module")
def fitted() -> tuple[KMeansSegmenter, pd.DataFrame]:
    f = groups()
    return KMeansSegmenter(k_range=(3, 3), n_stability=0, random_state=1).fit_features(f), f


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_fitted_customers_get_their_clusters_and_names(fitted, engine):
    km, f = fitted
    got = assigned(km, f, engine)
    assert got["customer_id"].tolist() == sorted(f["customer_id"])
    assert got["cluster"].tolist() == km.clusters_.loc[got["customer_id"]].tolist()
    assert got["segment"].tolist() == km.labels_.loc[got["customer_id"]].tolist()
    assert got["cluster"].value_counts().tolist() == [8, 8, 8]


def test_new_customers_go_to_the_nearest_centre(fitted):
    """Customers the model never saw, negative net revenue (clipped to 0) and points between groups."""
    km, _ = fitted
    new = groups(60, seed=9)
    new["recency_days"] = np.linspace(0, 600, 60).round()
    new.loc[:4, "monetary"] = [-50.0, 0.0, -0.01, 5e5, 1e-9]
    got = assigned(km, new)
    want = nearest(km, new.sort_values("customer_id").reset_index(drop=True))
    assert got["cluster"].tolist() == want.tolist()
    assert set(got["cluster"]) == {0, 1, 2}
    assert got["segment"].tolist() == [km.names_[c] for c in want]


def test_a_model_fitted_on_a_sample_labels_everyone():
    everyone = groups(90, seed=4)
    km = KMeansSegmenter(k_range=(3, 3), n_stability=0, random_state=2).fit_features(everyone.iloc[::3])
    got = assigned(km, everyone)
    assert len(got) == 90
    assert got["cluster"].tolist() == nearest(km, everyone).tolist()


def test_extra_features_and_missing_values(fitted):
    f = groups()
    km = KMeansSegmenter(k_range=(3, 3), n_stability=0, random_state=1,
                         extra_features=("avg_order_value",)).fit_features(f)
    probe = f.assign(avg_order_value=f["avg_order_value"].where(f.index % 4 != 0))  # NULL: the mean (0 scaled)
    got = assigned(km, probe)
    assert got["cluster"].tolist() == nearest(km, probe).tolist()
    assert assigned(km, f)["cluster"].tolist() == km.clusters_.loc[sorted(f["customer_id"])].tolist()
    # a NaN inside the engine (not a NULL: a Parquet file can hold one) is taken as 0 scaled too
    t = ibis.memtable(f)
    t = t.mutate(avg_order_value=ibis.cases((t.customer_id.isin(["c000", "c004"]), ibis.literal(float("nan"))),
                                            else_=t.avg_order_value))
    got = km.assign_table(t).order_by("customer_id").to_pandas()
    probe = f.assign(avg_order_value=f["avg_order_value"].mask(f["customer_id"].isin(["c000", "c004"])))
    assert got["cluster"].tolist() == nearest(km, probe).tolist()
    assert nearest(km, probe).tolist() != nearest(km, f.assign(avg_order_value=f["avg_order_value"].mask(
        f["customer_id"].isin(["c000", "c004"]), 1e6))).tolist()  # the rows matter: a huge value moves them


def test_values_below_one_are_transformed_as_in_the_fit():
    """Recency 0 (bought on the cut-off day), fractions of a purchase or a currency unit, negatives:
    log of 1 + the value clipped at 0, not at any other floor (a model of small values shows it)."""
    rng = np.random.default_rng(5)
    small = pd.DataFrame({"customer_id": [f"s{i:03d}" for i in range(200)], "recency_days": rng.integers(0, 3, 200),
                          "frequency": rng.uniform(0, 2.5, 200), "monetary": rng.uniform(-1, 2.5, 200)})
    km = KMeansSegmenter(k_range=(4, 4), n_stability=0, random_state=3).fit_features(small)
    got = assigned(km, small)
    assert got["cluster"].tolist() == nearest(km, small).tolist()
    assert got["cluster"].tolist() == km.clusters_.loc[got["customer_id"]].tolist()


def test_a_missing_extra_feature_sits_at_its_mean():
    """Identical recency, frequency and monetary; the extra feature splits 8 to 2 (10-12 and 90: scaled
    about -0.5 and +2). A missing value is the mean (0 scaled): nearer the 10s than the 90s."""
    f = pd.DataFrame({"customer_id": [f"e{i}" for i in range(10)], "recency_days": 30, "frequency": 2,
                      "monetary": 100.0, "avg_order_value": [10.0] * 7 + [12.0, 90.0, 90.0]})
    km = KMeansSegmenter(k_range=(2, 2), n_stability=0, random_state=0,
                         extra_features=("avg_order_value",)).fit_features(f)
    probe = f.assign(avg_order_value=[None, np.nan] + [10.0] * 5 + [12.0, 90.0, 90.0])
    got = assigned(km, probe)
    tens = km.clusters_.loc["e2"]
    assert got["cluster"].tolist()[:2] == [tens, tens] and got["cluster"].tolist() == nearest(km, probe).tolist()
    t = ibis.memtable(f)  # NaN made in the engine
    t = t.mutate(avg_order_value=ibis.cases((t.customer_id == "e9", ibis.literal(float("nan"))),
                                            else_=t.avg_order_value))
    assert km.assign_table(t).filter(t.customer_id == "e9").to_pandas()["cluster"].tolist() == [tens]


def test_every_cluster_gets_its_name():
    km = KMeansSegmenter(k_range=(4, 4), n_stability=0, random_state=2).fit_features(groups(40, seed=8))
    got = assigned(km, groups(40, seed=8))
    assert set(got["cluster"]) == {0, 1, 2, 3}
    assert got["segment"].tolist() == [km.names_[c] for c in got["cluster"]]
    assert got["segment"].notna().all()


def test_equal_distances_go_to_the_lower_cluster(fitted):
    km, f = fitted
    twin = KMeansSegmenter(k_range=(3, 3), n_stability=0, random_state=1).fit_features(f)
    c = twin.centers_
    twin.centers_ = np.array([c[2], c[1], c[2]])  # clusters 0 and 2 at the same place
    got = assigned(twin, f)
    far = km.clusters_.loc[got["customer_id"]].to_numpy() == 2
    assert far.any() and (got["cluster"].to_numpy()[far] == 0).all()
    twin.centers_ = np.array([c[0], c[1], c[1]])  # 1 and 2 tied: 1
    got = assigned(twin, f)
    assert (got["cluster"].to_numpy()[km.clusters_.loc[got["customer_id"]].to_numpy() == 2] == 1).all()


def test_numeric_ids_come_back_as_text(fitted):
    km, f = fitted
    got = assigned(km, f.assign(customer_id=range(100, 124)))
    assert got["customer_id"].tolist() == [str(i) for i in range(100, 124)]
    assert got["cluster"].tolist() == nearest(km, f).tolist()


def test_mistakes_say_what_to_pass(fitted):
    km, f = fitted
    with pytest.raises(ParameterError, match=r"lacks \['monetary'\]") as err:
        km.assign_table(ibis.memtable(f.drop(columns="monetary")))
    assert err.value.where == "KMeansSegmenter.assign_table"
    with pytest.raises(NotFittedError):
        KMeansSegmenter().assign_table(ibis.memtable(f))


# ------------------------------------------------------------------ real data (slow)
@pytest.fixture(scope="module")
def b2b_tx():
    frame, _ = make_transactions(n_customers=3000, months=24, seed=5)
    return load_transactions(frame)


@pytest.mark.slow
@pytest.mark.parametrize("k", [2, 5, 8])
def test_real_books_keep_the_fits_clusters(cdnow_tx, b2b_tx, k):
    """CDNOW (23,502 customers) and 2,838 B2B customers with two extra features: every customer's
    cluster from the engine equals the fit's, at k = 2, 5 and 8."""
    for tx, extra in ((cdnow_tx, ()), (b2b_tx, ("avg_order_value", "active_months"))):
        as_of = split_periods(tx, holdout_months=6).as_of
        km = KMeansSegmenter(k_range=(k, k), n_stability=0, extra_features=extra).fit_features(
            customer_features(tx, as_of))
        got = km.assign_table(customer_features_table(tx, as_of)).to_pandas().set_index("customer_id")
        assert len(got) == len(km.clusters_)
        assert (got["cluster"] == km.clusters_.reindex(got.index)).all()
        assert (got["segment"] == km.labels_.reindex(got.index)).all()


@pytest.mark.slow
@pytest.mark.xdist_group("postgres")
def test_postgres_assignment_equals_the_fit(cdnow_postgres, cdnow_tx):
    tx = cdnow_postgres()
    as_of = split_periods(cdnow_tx, holdout_months=6).as_of
    km = KMeansSegmenter(k_range=(5, 5), n_stability=0).fit_features(customer_features(cdnow_tx, as_of))
    try:
        got = km.assign_table(customer_features_table(tx, as_of)).to_pandas().set_index("customer_id")
    finally:
        tx.close()
    assert len(got) == len(km.clusters_) and (got["cluster"] == km.clusters_.reindex(got.index)).all()


@pytest.mark.spark
@pytest.mark.slow
def test_pyspark_assignment_equals_the_fit(cdnow_tx):
    pytest.importorskip("pyspark", reason="PySpark is in the dev extra: pip install -e '.[dev]'")
    as_of = split_periods(cdnow_tx, holdout_months=6).as_of
    km = KMeansSegmenter(k_range=(5, 5), n_stability=0).fit_features(customer_features(cdnow_tx, as_of))
    tx = load_transactions(CDNOW_PATH, engine="pyspark")
    got = km.assign_table(customer_features_table(tx, as_of)).to_pandas().set_index("customer_id")
    assert len(got) == len(km.clusters_) and (got["cluster"] == km.clusters_.reindex(got.index)).all()
