"""The loader's typed fast path: taken on clean CSV files, left for the text parser on messy ones,
and the same staged table and quality report either way.

The staged table (every parsed value, drop reason and raw text kept for the examples) is caught
where the loader hands it to the counting, so the comparison covers more than the clean rows.
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import segkit.data.loader as loader
from segkit.config import CDNOW_PATH, PROJECT_ROOT
from segkit.data import load_transactions
from segkit.data.typed import TYPED_READER_ENV, plan_types

SYNTHETIC = PROJECT_ROOT / "data" / "synthetic" / "b2b.csv.gz"
TODAY = dt.date(2026, 1, 1)


def _load(path, monkeypatch, typed: bool, **kw):
    """(Transactions, staged table as a sorted frame, quality report as run.json has it)."""
    staged = {}
    count_rows = loader.count_rows

    def catch(con, stage, *args, **kwargs):
        staged["frame"] = con.execute(stage)
        return count_rows(con, stage, *args, **kwargs)

    monkeypatch.setattr(loader, "count_rows", catch)
    tx = load_transactions(str(path), typed_reader=typed, today=TODAY, **kw)
    frame = staged["frame"]
    frame = frame[sorted(frame.columns)].sort_values(sorted(frame.columns), na_position="first")
    return tx, frame.reset_index(drop=True), tx.quality.to_dict()


def _same_both_ways(path, monkeypatch, **kw) -> str:
    """Load ``path`` on both paths, assert the same staged table, report and clean rows; the reader of the fast try."""
    fast, fast_stage, fast_report = _load(path, monkeypatch, True, **kw)
    text, text_stage, text_report = _load(path, monkeypatch, False, **kw)
    assert text.reader == "text"
    assert fast_report == text_report
    assert str(fast.quality) == str(text.quality)
    pd.testing.assert_frame_equal(fast_stage, text_stage)
    clean = [t.to_pandas().sort_values(list(t.table.columns)).reset_index(drop=True) for t in (fast, text)]
    pd.testing.assert_frame_equal(*clean)
    return fast.reader


def _cdnow_twice(tmp_path: Path, bad_line: int | None = None, value: str = "n/a") -> Path:
    """CDNOW's rows twice (139,318 rows), the amount on data line ``bad_line`` replaced by ``value``."""
    with gzip.open(CDNOW_PATH, "rt", encoding="utf-8") as fh:
        header, *lines = fh.read().splitlines()
    lines = lines + lines
    if bad_line is not None:
        customer, day, units, _ = lines[bad_line].split(",")
        lines[bad_line] = f"{customer},{day},{units},{value}"
    path = tmp_path / "cdnow_twice.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- the bundled data and a mid-file fallback
def test_cdnow_takes_the_fast_path_with_the_same_report(monkeypatch):
    # CDNOW has 80 amounts of exactly 0 ('0.00' in the file): they are dropped, and their examples
    # show the file's text on the fast path too
    assert _same_both_ways(CDNOW_PATH, monkeypatch) == "typed"
    tx = load_transactions(CDNOW_PATH, today=TODAY)
    assert tx.reader == "typed" and tx.quality.dropped["zero_amount"] == 80
    assert all("amount '0.00'" in example for example in tx.quality.examples["zero_amount"])


def test_the_synthetic_file_takes_the_fast_path_with_the_same_report(monkeypatch):
    assert _same_both_ways(SYNTHETIC, monkeypatch) == "typed"


@pytest.mark.slow
def test_a_bad_value_after_the_first_100k_rows_falls_back_mid_file(tmp_path, monkeypatch):
    path = _cdnow_twice(tmp_path, bad_line=120_000, value="12.50 EUR")
    assert _same_both_ways(path, monkeypatch) == "text"
    q = load_transactions(str(path), today=TODAY).quality
    assert q.rows_read == 2 * 69_659 and q.unparseable["amount"] == 0  # read as 12.50: the text parser drops the currency
    assert _same_both_ways(_cdnow_twice(tmp_path, bad_line=120_000, value="n/a"), monkeypatch) == "text"


# ---------------------------------------------------------------- what takes which path
CLEAN = "customer_id,date,amount,quantity\n" + "".join(
    f"C{i % 7},2024-{i % 12 + 1:02d}-{i % 28 + 1:02d},{i * 1.25:.2f},{i % 3 + 1}\n" for i in range(1, 60))


@pytest.mark.parametrize("name,text,reader", [
    ("clean", CLEAN, "typed"),
    ("one-digit months", CLEAN.replace("2024-0", "2024-"), "typed"),
    ("spaces around values", CLEAN.replace(",C", ", C").replace(",1\n", ", 1 \n"), "typed"),
    ("currency signs", CLEAN.replace(",1.25,", ",$1.25,"), "text"),
    ("day-first dates", CLEAN.replace("2024-02-02", "13.01.2024"), "text"),
    ("timestamps", CLEAN.replace("2024-02-02", "2024-02-02 10:15:00"), "text"),
    ("decimal commas", "customer_id;date;amount\n1;2024-01-05;1,5\n2;2024-01-06;2,25\n", "text"),
    ("text in the amount", CLEAN + "C1,2024-03-03,n/a,1\n", "text"),
    ("the word epoch as a date", CLEAN + "C1,epoch,5,1\n", "text"),
    ("a short row and a long one", CLEAN + "C1,2024-03-03\nC2,2024-03-04,5,1,extra\n", "text"),
    ("Windows line ends", CLEAN.replace("\n", "\r\n"), "typed"),
])
def test_which_files_take_the_fast_path(write_csv, monkeypatch, name, text, reader):
    assert _same_both_ways(write_csv(text), monkeypatch, max_bad_share=0.5) == reader


def test_dropped_rows_past_the_sample_are_read_again_from_their_text(tmp_path, monkeypatch):
    """Rows cleaning drops, far past the sampled rows: the fast path keeps their text for the examples."""
    rows = [f"C{i % 500},2024-{i % 12 + 1:02d}-{i % 28 + 1:02d},{i % 97 + 1}.50,{i % 4}\n" for i in range(5_000)]
    rows[3_000] = "C1,2024-03-04,0.00,1\n"          # zero amount, written with decimals
    rows[3_001] = "C2,2024-03-04,-0,1\n"            # zero amount, negative
    rows[3_002] = ',2024-03-05,"12.50",1\n'         # no customer id
    rows[3_003] = "  ,2024-03-05,3.25,1\n"          # an id of spaces
    rows[3_004] = "C3,,4.75,1\n"                    # no date
    rows[3_005] = 'C4,"",4.75,1\n'                  # an empty quoted date
    rows[3_006] = "C5,2024-03-06,NaN,1\n"           # an amount DuckDB reads as NaN: unreadable for segkit
    rows[3_007] = "C6,2024-03-06,5.00,inf\n"        # an infinite quantity
    path = tmp_path / "dropped.csv"
    path.write_text("customer_id,date,amount,quantity\n" + "".join(rows), encoding="utf-8")
    assert _same_both_ways(path, monkeypatch) == "typed"
    q = load_transactions(str(path), today=TODAY).quality
    assert q.dropped["zero_amount"] == 2
    examples = " ".join(q.examples["zero_amount"])
    assert "amount '0.00'" in examples and "amount '-0'" in examples
    assert q.dropped["missing_customer_id"] == 2 and q.dropped["missing_date"] == 2
    assert q.dropped["unparseable_amount"] == 1 and "'NaN'" in q.examples["unparseable_amount"][0]
    assert q.dropped["unparseable_quantity"] == 1 and "'inf'" in q.examples["unparseable_quantity"][0]


def test_a_connection_the_user_passes_keeps_the_fast_path(tmp_path, monkeypatch):
    """In the user's DuckDB database segkit's tables are temporary ones; the dropped rows are replaced there too."""
    import ibis

    con = ibis.duckdb.connect(str(tmp_path / "work.duckdb"))
    tx = load_transactions(CDNOW_PATH, con=con, today=TODAY)
    assert tx.reader == "typed"
    assert tx.quality.to_dict() == load_transactions(CDNOW_PATH, typed_reader=False, today=TODAY).quality.to_dict()
    permanent = con.con.sql("SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()
    assert not [name for (name,) in permanent if name.startswith("segkit_tx_")], "a permanent table was left behind"


def test_the_environment_switches_the_fast_path_off(monkeypatch, write_csv):
    path = write_csv(CLEAN)
    monkeypatch.setenv(TYPED_READER_ENV, "0")
    assert load_transactions(path, today=TODAY).reader == "text"
    assert load_transactions(path, today=TODAY, typed_reader=True).reader == "typed"  # the argument wins
    monkeypatch.setenv(TYPED_READER_ENV, "1")
    assert load_transactions(path, today=TODAY).reader == "typed"


def test_sources_that_are_not_csv_are_read_as_before(tmp_path):
    frame = pd.read_csv(CDNOW_PATH, dtype={"customer_id": str})
    frame.to_parquet(tmp_path / "cdnow.parquet")
    assert load_transactions(frame, today=TODAY).reader == "text"
    assert load_transactions(str(tmp_path / "cdnow.parquet"), today=TODAY).reader == "text"
    assert load_transactions(CDNOW_PATH, engine="polars", today=TODAY).reader == "text"


def test_plan_types_refuses_columns_read_two_ways():
    mapping = {"customer_id": "id", "date": "day", "amount": "net", "region": "net"}
    layouts = {"date": "YYYY-MM-DD", "amount": "plain"}
    assert plan_types(["id", "day", "net"], mapping, layouts, {"date": ["2024-01-05"], "amount": ["1"]}) is None
    mapping = {"customer_id": "id", "date": "day", "amount": "day"}
    assert plan_types(["id", "day"], mapping, layouts, {"date": ["2024-01-05"], "amount": ["2024-01-05"]}) is None


# ---------------------------------------------------------------- any value, both ways
NUMBERS = st.one_of(
    st.decimals(min_value=-10_000, max_value=10_000, places=2, allow_nan=False).map(str),
    # magnitudes of real amounts: the sums are compared in cents, and at 1e16 a cent is below a float's step
    st.floats(min_value=-1e7, max_value=1e7).map(repr),
    st.sampled_from(["0", "0.0", "-0", "+5", ".5", "5.", "1e3", "1E-2", " 7 ", "1_000", "0x10", "12,5", "$3",
                     "", "  ", "nan", "Infinity", "-inf", "1e400", "00012.50", "abc"]),
)
DATES = st.one_of(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)).map(str),
    st.sampled_from(["2024-2-30", "2024-02-29", "2023-02-29", "2024-1-5", " 2024-01-05 ", "2024-01-05 10:00",
                     "2024/01/05", "20240105", "epoch", "infinity", "-infinity", "", "9999-12-31"]),
)


# no shrinking: each example loads a file twice, and shrinking a failure took minutes; the failing
# example is printed as generated
@pytest.mark.slow  # ~3 s per example
@settings(max_examples=15, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["C1", "C2", " C3", "", "C4"]), DATES, NUMBERS, NUMBERS),
                min_size=1, max_size=12))
def test_property_any_value_gives_the_same_report_both_ways(tmp_path, monkeypatch, rows):
    """Tricky values placed after a clean sample: whichever path reads them, the report is the same."""
    head = [f"C{i % 9},2024-01-{i % 28 + 1:02d},{i}.25,{i % 5}" for i in range(2_100)]
    tail = [",".join(f'"{v}"' if "," in v else v for v in row) for row in rows]
    path = tmp_path / "values.csv"
    path.write_text("customer_id,date,amount,cost\n" + "\n".join(head + tail) + "\n", encoding="utf-8")
    _same_both_ways(path, monkeypatch, max_bad_share=1.0)
