"""One feature layer, several engines: DuckDB, Polars and PySpark give identical results.

The same messy file (returns, missing ids, zero amounts, unreadable values, exact duplicates, product lines, ties,
ids with spaces and leading zeros) is loaded on every engine, in two layouts (comma + ISO dates +
plain amounts; semicolon + day-first dates + decimal-comma amounts). The data-quality report, the
per-customer features, the customer x month table (every criterion), the holdout outcomes and the
monthly tier rankings must be the same as DuckDB's, value for value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segkit.data import load_transactions
from segkit.datasets import make_transactions
from segkit.features import customer_features, customer_month, holdout_outcomes, split_periods
from segkit.schemes import PercentileTiers

CRITERIA = ("revenue", "payments", "units", "margin")
COLUMNS = {"customer_id": "customer_id", "date": "date", "amount": "amount", "quantity": "quantity",
           "cost": "cost", "order_id": "order_id", "region": "region"}


def messy_frame(seed: int = 7) -> pd.DataFrame:
    """Synthetic transactions with every kind of mess the cleaning rules name."""
    tx, _ = make_transactions(n_customers=240, months=14, seed=seed, return_rate=0.05)
    df = tx[["customer_id", "date", "order_id", "quantity", "amount", "cost", "region"]].copy()
    df["customer_id"] = df["customer_id"].str.replace("C", "0", regex=False)  # leading zeros
    rng = np.random.default_rng(seed)
    n = len(df)
    pick = rng.permutation(n)
    df.loc[pick[:15], "customer_id"] = None                      # missing ids
    df.loc[pick[15:30], "amount"] = 0.0                          # zero amounts
    df.loc[pick[30:40], "customer_id"] = "  " + df.loc[pick[30:40], "customer_id"] + " "  # spaces around
    df = df.astype({"date": "datetime64[ns]"})
    df["product"] = rng.choice(["MUG", "CUP", "PLATE"], size=n)  # a column segkit is not told about
    ties = pd.DataFrame({                                        # equal monthly values: ties by customer_id
        "customer_id": [f"9{i:03d}" for i in range(6)], "date": pd.Timestamp("2023-10-15"),  # in the window
        "order_id": range(10**6, 10**6 + 6), "quantity": 2, "amount": 777.25, "cost": 400.0, "region": "EU",
        "product": "MUG"})
    dups = df.iloc[pick[40:55]]                                  # exact duplicate rows
    lines = df.iloc[pick[55:65]].assign(product="BOWL")          # another product line, same price, same order
    return (pd.concat([df, ties, dups, lines], ignore_index=True).sample(frac=1, random_state=seed)
            .reset_index(drop=True))


def write_layout(df: pd.DataFrame, path, layout: str) -> None:
    out = df.copy()
    if layout == "plain":
        out["date"] = out["date"].dt.strftime("%Y-%m-%d")
        amounts = out["amount"].map(lambda v: f"{v:.2f}")
        sep = ","
    else:
        out["date"] = out["date"].dt.strftime("%d.%m.%Y")
        amounts = out["amount"].map(lambda v: f"{v:.2f}".replace(".", ","))
        out["cost"] = out["cost"].map(lambda v: f"{v:.2f}".replace(".", ","))
        sep = ";"
    out["amount"] = amounts.astype(object)
    bad = out.index[out["customer_id"].notna() & (df["amount"] != 0)][7:12]  # rows nothing else drops
    out.loc[bad[:2], "amount"] = "n/a"                           # unreadable amounts
    out.loc[bad[2:4], "date"] = "31.02.2024" if layout != "plain" else "2024-02-31"  # not a calendar day
    out.loc[bad[4], "date"] = ""                                 # missing date
    out.to_csv(path, sep=sep, index=False)


def outcome(engine: str, path) -> dict:
    return outcome_of(load_transactions(path, COLUMNS, max_bad_share=0.05, engine=engine))


def outcome_of(tx) -> dict:
    """The quality report, split, features, customer-month table, holdout and monthly tiers of loaded data."""
    split = split_periods(tx, holdout_months=3, window_months=3)
    features = customer_features(tx, split.as_of)
    result = {
        "quality": tx.quality.to_dict(),
        "split": split.to_dict(),
        "features": features,
        "customer_month": customer_month(tx, None, split.as_of),
        "holdout": holdout_outcomes(tx, split, features["customer_id"]),
    }
    cm = result["customer_month"]
    for criterion in CRITERIA:
        tiers = PercentileTiers(criterion=criterion, as_of=split.as_of, window_months=3).fit_monthly(cm)
        result[f"monthly_tiers_{criterion}"] = tiers.monthly_tiers_.reset_index(drop=True)
        result[f"tiers_{criterion}"] = tiers.labels_.sort_index()
    return result


@pytest.fixture(scope="module", params=["plain", "decimal-comma"])
def messy_file(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("engines") / f"messy-{request.param}.csv"
    write_layout(messy_frame(), path, request.param)
    return path


@pytest.fixture(scope="module")
def duckdb_outcome(messy_file):
    return outcome("duckdb", messy_file)


def assert_same(got: dict, expected: dict, engine: str) -> None:
    assert got["quality"] == expected["quality"], f"{engine}: data-quality report differs"
    assert got["split"] == expected["split"]
    for key, frame in expected.items():
        if isinstance(frame, pd.DataFrame):
            pd.testing.assert_frame_equal(got[key], frame, check_exact=False, rtol=0, atol=1e-9,
                                          obj=f"{engine} {key}")
        elif isinstance(frame, pd.Series):
            pd.testing.assert_series_equal(got[key], frame, obj=f"{engine} {key}")


def test_the_messy_file_exercises_every_rule(duckdb_outcome):
    q = duckdb_outcome["quality"]
    assert q["dropped"]["missing_customer_id"] == 15 and q["dropped"]["zero_amount"] >= 15
    assert q["dropped"]["unparseable_amount"] == 2 and q["dropped"]["unparseable_date"] == 2
    assert q["dropped"]["missing_date"] == 1
    assert q["kept"]["returns"] > 0 and q["kept"]["exact_duplicates"] >= 10
    assert q["kept"]["same_customer_time_amount"] >= 8          # the planted product lines, never duplicates
    assert q["dropped_detail"]["missing_customer_id"]["net_amount"] != 0
    assert q["rows_read"] == q["rows_used"] + q["rows_dropped"]
    ranked = duckdb_outcome["monthly_tiers_revenue"]
    tied = ranked[ranked["customer_id"].str.startswith("9")]
    assert len(tied) == 6 and tied["value"].nunique() == 1       # the planted tie reaches the ranking
    assert set(duckdb_outcome["tiers_revenue"]) >= {"VIP", "GOOD", "REGULAR"}


def test_polars_gives_identical_results(messy_file, duckdb_outcome):
    assert_same(outcome("polars", messy_file), duckdb_outcome, "polars")


@pytest.mark.spark
@pytest.mark.slow
def test_pyspark_gives_identical_results(messy_file, duckdb_outcome):
    pytest.importorskip("pyspark", reason="PySpark is in the dev extra: pip install -e '.[dev]'")
    assert_same(outcome("pyspark", messy_file), duckdb_outcome, "pyspark")


def test_an_ibis_table_is_worked_on_with_its_own_connection(tmp_path):
    import ibis

    con = ibis.polars.connect()
    table = con.read_csv(str(_small_csv(tmp_path)))
    tx = load_transactions(table)
    assert tx.con is con and tx.engine == "polars"
    assert tx.quality.rows_read == 4 and tx.quality.rows_used == 3 and tx.quality.customers == 2


def _small_csv(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("customer_id,date,amount\n001,2024-01-05,10\n002,2024-01-06,5\n002,2024-02-01,0\n"
                    "001,2024-02-03,-2.5\n")
    return path


def test_validate_prints_the_same_report_on_every_engine(messy_file, capsys):
    from segkit.cli import main

    printed = {}
    for engine in ("duckdb", "polars"):
        assert main(["validate", str(messy_file), "--max-bad-share", "0.05", "--engine", engine]) == 0
        printed[engine] = capsys.readouterr().out
    assert printed["polars"] == printed["duckdb"] and "Exact duplicate row" in printed["duckdb"]
    assert main(["validate", str(messy_file), "--engine", "spark"]) == 2
    assert "unknown engine 'spark'" in capsys.readouterr().err


def test_duckdb_spills_to_a_private_folder_under_a_memory_limit(monkeypatch, tmp_path):
    from segkit.engines import connect

    monkeypatch.setenv("SEGKIT_MEMORY_LIMIT", "64MB")
    con = connect("duckdb")
    folder, limit = con.con.sql("SELECT current_setting('temp_directory'), current_setting('memory_limit')").fetchall()[0]
    assert "segkit-duckdb-" in folder and limit.replace(" ", "").upper().startswith(("61", "64"))
    tx = load_transactions(_small_csv(tmp_path), con=con)
    assert tx.quality.rows_used == 3


def test_duckdb_takes_40_percent_of_ram_unless_told_otherwise(monkeypatch):
    import os

    from segkit.engines import connect

    monkeypatch.delenv("SEGKIT_MEMORY_LIMIT", raising=False)
    limit = connect("duckdb").con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]  # '8.9 GiB'
    value, unit = limit.split()
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert abs(float(value) * {"MiB": 2**20, "GiB": 2**30}[unit] / ram - 0.4) < 0.01, limit


def test_analyze_frees_the_engine_it_opened_and_keeps_one_it_was_given():
    from segkit.config import CDNOW_PATH, RunParams
    from segkit.pipeline import analyze

    params = RunParams.from_mapping({"name": "x", "data": str(CDNOW_PATH)})
    given = load_transactions(CDNOW_PATH)
    analyze(params, tx=given, n_boot=0)
    assert len(given.to_pandas()) == given.quality.rows_used  # the caller's table still works
    given.close()
    with pytest.raises(Exception):
        given.to_pandas()  # closed: DuckDB's memory is back
    import ibis

    caller = load_transactions(CDNOW_PATH, con=ibis.duckdb.connect())  # the user's own connection
    caller.close()
    assert len(caller.to_pandas()) == caller.quality.rows_used  # segkit never closes what it did not open


def test_a_table_in_a_database_gives_the_same_run_as_its_csv(tmp_path):
    """A warehouse table named by a connection URL: `segment` and `run` read it where it is, same results."""
    import json

    import duckdb

    from segkit.cli import main
    from tests.test_cli import small_csv, tiny_notebooks

    csv = small_csv(tmp_path / "small.csv", customers=300)
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA finance")
        con.execute(f"CREATE TABLE finance.sales AS SELECT customer_id AS cust, date AS day, amount AS net, quantity "
                    f"FROM read_csv('{csv}', types={{'customer_id': 'VARCHAR'}})")
    url = f"duckdb:///{db}"
    common = ["--holdout-months", "3", "--k-range", "2", "4"]
    assert main(["segment", str(csv), "--out", str(tmp_path / "from_csv"), *common]) == 0
    assert main(["segment", url, "--table", "finance.sales", "--out", str(tmp_path / "from_db"), *common,
                 "--columns", "customer_id=cust", "date=day", "amount=net"]) == 0
    for name in ("assignments.csv", "tiers_monthly.csv", "alerts.csv"):
        assert (tmp_path / "from_csv" / name).read_bytes() == (tmp_path / "from_db" / name).read_bytes(), name
    info = json.loads((tmp_path / "from_db" / "run.json").read_text())
    assert info["data"]["path"] == f"{url}, table finance.sales" and info["parameters"]["table"] == "finance.sales"
    assert info["data"]["rows_read"] == json.loads((tmp_path / "from_csv" / "run.json").read_text())["data"]["rows_read"]
    # the database is only read: no table is left behind
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall() == [
            ("finance.sales",)]
    config = tmp_path / "reports.yml"
    config.write_text(f"out: {tmp_path / 'out'}\nruns:\n  - name: warehouse\n    data: {url}\n    table: finance.sales\n"
                      "    columns: {customer_id: cust, date: day, amount: net}\n    holdout_months: 3\n"
                      "    k_range: [2, 4]\n")
    assert main(["run", str(config), "--notebooks", str(tiny_notebooks(tmp_path / "nbs"))]) == 0
    assert (tmp_path / "out" / "warehouse" / "assignments.csv").read_bytes() == \
        (tmp_path / "from_csv" / "assignments.csv").read_bytes()


def _tables(con) -> list[str]:
    """The names of the tables in the connection (Ibis 12's list_tables fails on DuckDB 2.0)."""
    return [row[0] for row in con.con.sql("SELECT table_name FROM duckdb_tables()").fetchall()]


def _table_bytes(con) -> int:
    """What DuckDB's in-memory tables hold, as it counts them."""
    return con.con.sql("SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'").fetchall()[0][0]


def _staged_like_rows():
    import ibis

    return ibis.memtable(pd.DataFrame({"customer_id": [f"C{i % 20_000:06d}" for i in range(300_000)],
                                       "amount": np.arange(300_000, dtype="float64") / 7,
                                       "_raw": pd.Series([None] * 300_000, dtype="string")}))


def test_segkit_duckdb_compresses_its_tables_once_they_hold_a_share_of_the_memory_limit(monkeypatch):
    """A staged table is mostly NULL helper text: compressed it takes a fraction of the plain database's bytes."""
    import ibis

    from segkit import engines

    monkeypatch.setenv("SEGKIT_MEMORY_LIMIT", "32MB")  # 30.5 MiB: compress past 3.8 MiB of tables
    rows = _staged_like_rows()
    sizes, frames = {}, {}
    for label, con in (("segkit", engines.connect("duckdb")), ("plain", ibis.duckdb.connect())):
        before = _table_bytes(con)
        table = engines.materialize(con, rows)
        sizes[label] = _table_bytes(con) - before
        frames[label] = engines.fetch(con, table.order_by("amount"))
    assert engines._threshold(engines.connect("duckdb")) == int(30.5 * 2**20 / 8)
    assert sizes["plain"] > 4 * 2**20, sizes  # past the threshold: 8.7 MB with DuckDB 2.0
    assert sizes["segkit"] < sizes["plain"] / 2, sizes  # 3.4 vs 8.7 MB with DuckDB 2.0
    pd.testing.assert_frame_equal(frames["segkit"], frames["plain"])  # the same rows either way


def test_segkit_duckdb_leaves_tables_far_below_its_memory_limit_as_written(monkeypatch):
    """Compressing costs seconds per 10M rows: tables below an eighth of the limit are not worth it."""
    import ibis

    from segkit import engines

    monkeypatch.setenv("SEGKIT_MEMORY_LIMIT", "1GB")  # 953.6 MiB: compress past 119 MiB
    rows = _staged_like_rows()
    sizes = {}
    for label, con in (("segkit", engines.connect("duckdb")), ("plain", ibis.duckdb.connect())):
        before = _table_bytes(con)
        engines.materialize(con, rows)
        sizes[label] = _table_bytes(con) - before
    assert sizes["segkit"] == pytest.approx(sizes["plain"], rel=0.05), sizes
    # the next table that takes them past the threshold compresses them all
    con = engines.connect("duckdb")
    table = engines.materialize(con, rows)
    setattr(con, engines._COMPRESS_ABOVE_MARK, _table_bytes(con) + 1)
    engines.materialize(con, rows.mutate(amount=rows.amount + 1))
    assert _table_bytes(con) < sizes["plain"], _table_bytes(con)  # two tables in less than one plain one
    assert engines.fetch(con, table.count().as_table()).iloc[0, 0] == 300_000


def test_an_older_duckdb_without_compressed_memory_keeps_the_plain_database():
    from segkit import engines

    class Refusing:
        def raw_sql(self, sql):
            raise RuntimeError("Parser Error: syntax error at or near \"COMPRESS\"")

    con = Refusing()
    engines._compressed_memory(con)
    assert not getattr(con, engines._COMPRESSED_MARK, False)


def test_forget_drops_what_materialize_made_and_nothing_else():
    import ibis

    from segkit import engines

    con = engines.connect("duckdb")
    con.raw_sql("CREATE TABLE mine AS SELECT 'C' || i AS customer_id, i::DOUBLE AS x FROM range(50000) r(i)")
    mine = con.table("mine")
    made = engines.materialize(con, mine.filter(mine.x > 10), lasting=False)
    assert made.op().name in _tables(con)
    held = _table_bytes(con)
    engines.forget(con, made)
    assert made.op().name not in _tables(con) and _table_bytes(con) < held
    engines.forget(con, mine)  # not segkit's: left alone
    assert "mine" in _tables(con)


@pytest.mark.parametrize("engine", ["default", "duckdb", "polars"])
def test_drop_memtables_lets_the_engine_go_of_the_frame_behind_a_memtable(engine):
    """Ibis keeps a memtable registered with the back-end that ran it until Python exits, and the
    engine keeps the frame's arrays alive: dropped, they are freed, and the table still runs."""
    import gc
    import weakref

    import ibis

    from segkit.engines import connect, drop_memtables

    con = None if engine == "default" else connect(engine)
    values = np.arange(200_000, dtype=np.int64)
    alive = weakref.ref(values)
    t = ibis.memtable(pd.DataFrame({"a": values}, copy=False))
    del values
    run = (lambda e: e.execute()) if con is None else con.execute
    assert int(run(t.a.sum())) == 199_999 * 100_000
    gc.collect()
    assert alive() is not None  # held by the engine's registration (and the memtable)
    drop_memtables(t.a.sum(), con=con)
    assert int(run(t.a.max())) == 199_999  # registered again when run again
    drop_memtables(t, con=con)
    del t, run
    gc.collect()
    assert alive() is None


def test_a_potential_fit_leaves_no_memtable_registered(cdnow_analysis):
    """Each predicted-value fit (the run's, the month earlier, every earlier cut-off) made memtables
    of its summary that the engine held to the end of the run (0.15 GB per fit at 3.37M customers)."""
    import ibis

    from segkit.schemes import PotentialTiers, SchemeInputs

    a = cdnow_analysis
    backend = ibis.get_backend()  # where memtables alone run (DuckDB): each registered one is a view

    def views() -> set[str]:
        return {r[0] for r in backend.con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}

    before = views()
    inputs = SchemeInputs(features=a.features, monthly=a.monthly, split=a.split, params=a.params,
                          potential=a.potential_summary)
    fitted = PotentialTiers.from_params(a.params).fit(inputs)
    assert fitted.model_.fitted and len(fitted.predictions_) == len(a.features)
    assert views() <= before


def test_loading_keeps_one_table_in_the_engine(tmp_path):
    """The per-customer counts of the duplicate check are dropped once the quality report has them."""
    from segkit.engines import connect

    con = connect("duckdb")
    tx = load_transactions(_small_csv(tmp_path), con=con)
    assert len([t for t in _tables(con) if t.startswith("segkit_tx_")]) == 1
    assert tx.quality.rows_used == 3 and len(tx.to_pandas()) == 3


def test_duckdb_kahan_macro_gives_the_portable_steps_bit_for_bit(monkeypatch):
    """On DuckDB compensated_sum folds a row's values in one macro; the GROUP BY steps (every other
    engine) and pandas' ordered_sums give the same float, NULLs skipped, for awkward values."""
    import ibis

    from segkit import engines

    rng = np.random.default_rng(11)
    n, cols = 3000, [f"m{i}" for i in range(6)]
    values = rng.choice([0.1, 0.2, 0.3, 1e16, -1e16, 2.5, -0.6, 1 / 3, 1e-9], size=(n, 6)) * rng.integers(1, 4, (n, 6))
    values[rng.random((n, 6)) < 0.3] = np.nan  # months without a row
    frame = pd.DataFrame(values, columns=cols).assign(k=[f"c{i:05d}" for i in range(n)])
    table = ibis.memtable(frame)
    fast = engines.compensated_sum(table, "k", cols).order_by("k").to_pandas()
    assert "SEGKIT_KAHAN_SUM" in str(ibis.to_sql(engines.compensated_sum(table, "k", cols)))
    monkeypatch.setattr(engines, "kahan_sum", lambda t, columns: None)  # the portable steps
    steps = engines.compensated_sum(table, "k", cols).order_by("k").to_pandas()
    assert list(fast.columns) == list(steps.columns)
    np.testing.assert_array_equal(fast["_sum"].to_numpy(), steps["_sum"].to_numpy())
    long = frame.melt(id_vars="k", var_name="month", value_name="v").dropna()
    ref = engines.ordered_sums(long["k"].to_numpy(), long["month"].str[1:].astype(int).to_numpy(), long["v"].to_numpy())
    got = fast.set_index("k")["_sum"]
    np.testing.assert_array_equal(got.loc[ref.index].to_numpy(), ref.to_numpy())
    assert (got.drop(ref.index) == 0.0).all()  # no value at all: 0
    plain = frame[cols].sum(axis=1, skipna=True).to_numpy()
    assert (fast["_sum"].to_numpy() != plain).any()  # the compensation changes some sums: a real check


def test_compress_tables_keeps_a_run_s_tables_compressed_past_the_bytes_it_is_given(monkeypatch):
    """`segkit segment` holds its DuckDB tables beside the per-customer frames: past a few MB they are
    compressed (the rows they hold unchanged), and so is every lasting table written after."""
    import ibis

    from segkit import engines

    monkeypatch.setenv("SEGKIT_MEMORY_LIMIT", "1GB")  # on its own: compress past 119 MiB
    rows = _staged_like_rows()
    con = engines.connect("duckdb")
    table = engines.materialize(con, rows)
    written = _table_bytes(con)
    before = engines.fetch(con, table.order_by("amount"))
    engines.compress_tables(con, above=written + 1)  # not past it: left as written
    assert _table_bytes(con) == written
    engines.compress_tables(con, above=1 << 20)
    assert engines._threshold(con) == 1 << 20
    assert _table_bytes(con) < written / 2, (_table_bytes(con), written)
    pd.testing.assert_frame_equal(engines.fetch(con, table.order_by("amount")), before)
    compressed = _table_bytes(con)
    engines.materialize(con, rows.mutate(amount=rows.amount + 1))  # the next lasting table: compressed too
    assert _table_bytes(con) - compressed < written / 2, (_table_bytes(con), compressed, written)
    engines.compress_tables(con, above=1 << 40)  # never raises the connection's threshold
    assert engines._threshold(con) == 1 << 20
    # a DuckDB segkit did not open (the user's) and other engines: left alone
    plain = ibis.duckdb.connect()
    engines.materialize(plain, rows)
    plain_bytes = _table_bytes(plain)
    engines.compress_tables(plain, above=0)
    assert _table_bytes(plain) == plain_bytes
    engines.compress_tables(engines.connect("polars"), above=0)


def test_a_run_publishes_the_same_tables_with_its_duckdb_tables_compressed(monkeypatch):
    """The storage of the transactions in DuckDB is not a number of the run: compressed or as written,
    the same assignments, monthly tiers, alerts and scorecard (the bundled B2B file with overrides)."""
    from segkit import engines
    from segkit.config import PROJECT_ROOT, RunParams
    from segkit.pipeline import analyze

    path = PROJECT_ROOT / "data" / "synthetic" / "b2b.csv.gz"
    columns = {k: k for k in ("customer_id", "date", "amount", "quantity", "cost", "order_id", "region")}
    params = RunParams(data=str(path), name="t", columns=columns, strategy="dividends",
                       overrides=str(PROJECT_ROOT / "data" / "synthetic" / "overrides.csv"))
    runs, stored = {}, {}
    for label, above in (("as written", 1 << 40), ("compressed", 0)):
        monkeypatch.setattr(engines, "RUN_COMPRESS_ABOVE", above)
        tx = load_transactions(path, columns)
        written = _table_bytes(tx.con)
        runs[label] = analyze(params, tx=tx, n_boot=50)
        stored[label] = _table_bytes(tx.con) / written
    assert stored["as written"] == pytest.approx(1.0, abs=0.01), stored
    assert stored["compressed"] < 0.7, stored
    a, b = runs["as written"], runs["compressed"]
    for name in ("assignments", "tiers_monthly", "alerts", "features", "monthly"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)
    assert a.scorecard == b.scorecard
