"""Loading and cleaning: DESIGN.md's rules on hand-checked files, loaders, errors, CDNOW counts."""

from __future__ import annotations

import datetime as dt
import gzip
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segkit.config import CDNOW_PATH
from segkit.data import load_transactions
from segkit.errors import DataError

MESSY = """customer_id,date,amount,quantity
 007 ,2024-01-05,10.50,1
007,2024-01-05,10.50,1
008,2024-01-06,-4.00,1
009,2024-01-07,0,1
,2024-01-08,5.00,1
010,,5.00,1
011,2024-13-45,5.00,1
012,2024-02-01,abc,1
013,2024-02-02,7.25,2
"""


def test_cleaning_rules_hand_checked(write_csv):
    tx = load_transactions(write_csv(MESSY), max_bad_share=0.5)
    q = tx.quality
    assert q.rows_read == 9
    assert q.dropped["missing_customer_id"] == 1
    assert q.dropped["missing_date"] == 1
    assert q.dropped["unparseable_date"] == 1
    assert q.dropped["unparseable_amount"] == 1
    assert q.dropped["zero_amount"] == 1
    assert q.kept["returns"] == 1
    assert q.kept["exact_duplicates"] == 1          # ' 007 ' stripped equals '007'
    assert q.rows_used == 4 and q.rows_read == q.rows_used + q.rows_dropped
    rows = tx.to_pandas().sort_values(["customer_id", "amount"])
    assert rows["customer_id"].tolist() == ["007", "007", "008", "013"]  # leading zeros kept
    assert q.customers_nonpositive_net == 1          # 008 only returned goods
    assert "abc" in " ".join(q.examples["unparseable_amount"])


def test_drop_duplicates_and_too_many_bad_values(write_csv):
    tx = load_transactions(write_csv(MESSY), max_bad_share=0.5, drop_duplicates=True)
    assert tx.quality.dropped["duplicates_dropped"] == 1 and tx.quality.rows_used == 3
    with pytest.raises(DataError) as err:
        load_transactions(write_csv(MESSY), max_bad_share=0.01)
    msg = str(err.value)
    assert "'date'" in msg and "2024-13-45" in msg and "max_bad_share" in msg and "tx.csv" in msg


@pytest.mark.parametrize("text,encoding,expected", [
    ("customer_id;date;amount\n1;05.01.2024;1.234,50\n2;06.01.2024;2,5\n", "utf-8", [1234.5, 2.5]),
    ("customer_id,date,amount\n1,01/13/2024,\"1,234.50\"\n2,01/14/2024,2.5\n", "utf-8", [1234.5, 2.5]),
    ("customer_id\tdate\tamount\n1\t20240105\t$10.00\n2\t20240106\t€3\n", "utf-8", [10.0, 3.0]),
    ("\ufeffcustomer_id,date,amount\nJosé,2024-01-05,10\nŽofie,2024-01-06 10:30:00,3\n", "utf-8", [10.0, 3.0]),
    ("customer_id,date,amount\nJosé,2024-01-05,10\nMüller,2024-01-06,3\n", "latin-1", [10.0, 3.0]),
])
def test_layouts_delimiters_and_encodings(write_csv, text, encoding, expected):
    tx = load_transactions(write_csv(text, encoding=encoding))
    got = tx.to_pandas().sort_values("amount", ascending=False)
    assert got["amount"].tolist() == expected
    assert tx.quality.rows_dropped == 0
    if encoding == "latin-1":
        assert "José" in got["customer_id"].tolist()


def test_day_first_dates_are_read_from_the_values(write_csv):
    tx = load_transactions(write_csv("customer_id,date,amount\n1,13/01/2024,1\n2,02/03/2024,1\n"))
    assert sorted(tx.to_pandas()["date"].dt.strftime("%Y-%m-%d")) == ["2024-01-13", "2024-03-02"]


def test_parquet_glob_excel_and_dataframe(tmp_path):
    frame = pd.DataFrame({"cid": ["001", "002", "003"], "day": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-02-01"]),
                          "value": [1.0, 2.0, 3.0]})
    cols = {"customer_id": "cid", "date": "day", "amount": "value"}
    frame.iloc[:2].to_parquet(tmp_path / "a.parquet")
    frame.iloc[2:].to_parquet(tmp_path / "b.parquet")
    frame.to_excel(tmp_path / "x.xlsx", index=False)
    for source in (str(tmp_path / "*.parquet"), tmp_path / "x.xlsx", frame):
        tx = load_transactions(source, cols)
        assert tx.quality.rows_used == 3 and tx.quality.customers == 3, source
        assert sorted(tx.to_pandas()["customer_id"]) == ["001", "002", "003"]


@pytest.mark.parametrize("content,fragment", [
    (b"", "empty"),
    (b"customer_id,date,amount\n", "no rows"),
    (b"\x00\x01\x02\x03binary\x00", "binary"),
    (b"cust,when,value\n1,2024-01-01,5\n", "no 'customer_id' column"),
])
def test_unusable_files_raise_one_clear_error(tmp_path, content, fragment):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=fragment) as err:
        load_transactions(path)
    assert "bad.csv" in str(err.value) and "Fix:" in str(err.value)


def test_misnamed_column_gets_a_suggestion(write_csv):
    with pytest.raises(DataError, match=r"--columns customer_id=CustomerID"):
        load_transactions(write_csv("CustomerID,date,amount\n1,2024-01-01,5\n"), {"customer_id": "CustID"})


def test_truncated_gzip(tmp_path):
    blob = gzip.compress(b"customer_id,date,amount\n" + b"1,2024-01-01,5\n" * 2000)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="cut.csv.gz"):
        load_transactions(path)


def test_filter_on_an_attribute(write_csv):
    text = "customer_id,date,amount,region\n1,2024-01-01,5,EU\n2,2024-01-01,5,US\n3,2024-01-02,5,EU\n"
    tx = load_transactions(write_csv(text), filter={"region": "EU"})
    assert tx.quality.dropped["filtered_out"] == 1 and tx.quality.rows_used == 2
    with pytest.raises(DataError, match="no rows match"):
        load_transactions(write_csv(text), filter={"region": "APAC"})


def test_cdnow_counts_match_an_independent_reading():
    raw = pd.read_csv(CDNOW_PATH, dtype={"customer_id": str})
    tx = load_transactions(CDNOW_PATH)
    q = tx.quality
    assert q.rows_read == len(raw) == 69_659
    assert q.dropped["zero_amount"] == int((raw["amount"] == 0).sum()) == 80
    kept = raw[raw["amount"] != 0]
    assert q.kept["exact_duplicates"] == int(kept.duplicated().sum()) == 255
    assert q.customers == kept["customer_id"].nunique()
    assert raw["customer_id"].nunique() == 23_570
    assert (q.first_date, q.last_date) == ("1997-01-01", "1998-06-30")
    assert tx.to_pandas()["amount"].sum() == pytest.approx(raw["amount"].sum())


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["001", "002", " 003", "", "004"]),
                          st.sampled_from(["2024-01-05", "2024-02-29", "bad", ""]),
                          st.sampled_from(["10", "-3.5", "0", "x", "", "7.25"])), min_size=1, max_size=40))
def test_property_rows_are_conserved(rows):
    text = "customer_id,date,amount\n" + "".join(f"{c},{d},{a}\n" for c, d, a in rows)
    try:
        tx = load_transactions(pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False), max_bad_share=1.0)
    except DataError as exc:
        assert "no usable rows" in str(exc)
        return
    q = tx.quality
    assert q.rows_read == len(rows) == q.rows_used + q.rows_dropped


@pytest.mark.parametrize("where", [0, 150_000])
def test_a_line_break_inside_a_quoted_value_is_read_wherever_it_is(tmp_path, where):
    """The parallel reader refuses such a value (first rows or far past the sample); the serial one reads it."""
    rows = [f"C{i},2024-01-{i % 28 + 1:02d},{i % 97 + 1}\n" for i in range(200_000)]
    rows[where] = '"Acme\nBranch, Inc",2024-02-01,12.5\n'
    path = tmp_path / "multi_line.csv"
    path.write_text("customer_id,date,amount\n" + "".join(rows), encoding="utf-8")
    tx = load_transactions(str(path), today=dt.date(2025, 1, 1))
    assert tx.quality.rows_read == tx.quality.rows_used == 200_000
    ids = tx.con.execute(tx.table.filter(tx.table.amount == 12.5).select("customer_id"))["customer_id"].tolist()
    assert ids == ["Acme\nBranch, Inc"]
