"""Loading and cleaning: the documented rules on hand-checked files, loaders, errors, CDNOW counts."""

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


# ---------------------------------------------------------------- duplicates on the full source row
LINES = """customer_id,date,order_id,quantity,amount,product,description
C1,2024-01-05,INV1,1,9.99,MUG-RED,Red mug
C1,2024-01-05,INV1,1,9.99,MUG-BLUE,Blue mug
C1,2024-01-05,INV1,2,25.00,PLATE,Plate
C2,2024-01-06,INV2,1,12.00,BOWL,Bowl
"""


@pytest.mark.parametrize("drop", [False, True])
def test_product_lines_on_one_invoice_are_not_duplicates(write_csv, drop):
    """Two different products at the same price on one invoice: equal only in the mapped columns."""
    tx = load_transactions(write_csv(LINES), {"order_id": "order_id", "quantity": "quantity"}, drop_duplicates=drop)
    q = tx.quality
    exact = q.dropped["duplicates_dropped"] if drop else q.kept["exact_duplicates"]
    assert exact == 0 and q.kept["same_customer_time_amount"] == 1
    assert q.rows_used == 4 and tx.to_pandas()["amount"].sum() == pytest.approx(9.99 * 2 + 25 + 12)
    assert q.detail["same_customer_time_amount"] == {"customers": 1, "net_amount": 9.99}
    assert "customer C1 on 2024-01-05 amount 9.99: 2 different rows" in q.examples["same_customer_time_amount"]
    assert "Same customer, time and amount (kept)" in str(q)


def test_true_duplicates_are_counted_and_dropped_exactly(write_csv):
    text = LINES + "C1,2024-01-05,INV1,1,9.99,MUG-RED,Red mug\n" * 2 + "C2,2024-01-06,INV2,1,12.00,BOWL,Bowl\n"
    frame = pd.read_csv(io.StringIO(text), dtype=str)
    repeated = frame[frame.duplicated()]                      # pandas: equal in every column
    kept = load_transactions(write_csv(text)).quality
    assert kept.kept["exact_duplicates"] == len(repeated) == 3
    assert kept.kept["same_customer_time_amount"] == 1       # the blue mug beside the red ones
    assert kept.detail["exact_duplicates"] == {"customers": 2, "net_amount": round(repeated["amount"].astype(float).sum(), 2)}
    tx = load_transactions(write_csv(text), drop_duplicates=True)
    q = tx.quality
    assert q.dropped["duplicates_dropped"] == 3 and q.rows_used == len(frame) - 3
    assert sorted(tx.to_pandas()["amount"]) == sorted(frame.drop_duplicates()["amount"].astype(float))
    assert q.net_amount_used == pytest.approx(kept.net_amount_used - repeated["amount"].astype(float).sum())


@pytest.mark.parametrize("extra", ["", "C1,2024-01-05,INV1,1,9.99,MUG-RED,Red mug\n" * 2
                                   + "C2,2024-01-06,INV2,1,12.00,BOWL,\nC2,2024-01-06,INV2,1,12.00,BOWL,\n"
                                   + "C3,2024-01-07,INV3,-1,-0.5,,\nC3,2024-01-07,INV3,-1,-0.5,,\n"])
def test_duplicate_counts_by_hash_equal_grouping_every_row(write_csv, monkeypatch, extra):
    """DuckDB's counts group only the rows whose hash of mapped values repeats: the quality report
    equals the one from grouping every row by its values (the path of the other engines), with no
    duplicate at all, with exact duplicates, alike rows, empty unmapped values and returns, and
    with a hash under which every row collides (exact whatever the hash)."""
    import ibis

    import segkit.data.counting as counting

    path = write_csv(LINES + "C4,2024-02-01,INV4,3,30.00,CUP,Cup\n" + extra)
    by_hash = load_transactions(path).quality.to_dict()
    monkeypatch.setattr(counting, "engine_name", lambda con: "grouping")  # every row grouped
    grouped = load_transactions(path).quality.to_dict()
    monkeypatch.undo()
    monkeypatch.setattr(counting, "_key_hash", lambda t: ibis.literal(7, "uint64"))  # every hash repeats
    colliding = load_transactions(path).quality.to_dict()
    assert by_hash == grouped == colliding
    assert by_hash["kept"]["exact_duplicates"] == (4 if extra else 0)


def test_duplicate_examples_are_the_first_five_rows_by_customer_date_and_amount(write_csv):
    """Seven customers with repeated rows (one with three repeated rows, ids out of order in the file):
    the examples are the first five repeated rows by customer, date and amount, recounted in pandas;
    the same for rows equal only in the mapped columns (a note tells them apart)."""
    lines = ["customer_id,date,amount,note"]
    for c in ["c7", "c3", "c9", "c1", "c5", "c2", "c8"]:
        lines += [f"{c},2024-02-0{len(c)},5.00,x"] * 2                  # exact duplicate
    lines += ["c1,2024-01-03,7.50,x"] * 3 + ["c1,2024-01-02,9.00,x"] * 2  # c1: three repeated rows
    lines += [f"{c},2024-03-01,4.00,{n}" for c in ["c6", "c4", "c0", "c2", "c9", "c1"] for n in "ab"]
    frame = pd.read_csv(io.StringIO("\n".join(lines) + "\n"), dtype=str)
    q = load_transactions(write_csv("\n".join(lines) + "\n")).quality

    def first_five(groups: pd.DataFrame, count: str) -> list[tuple]:
        g = groups[groups[count] > 1].assign(day=pd.to_datetime(groups["date"]), value=groups["amount"].astype(float))
        g = g.sort_values(["customer_id", "day", "value", count])[:5]
        return list(g[["customer_id", "date", "value", count]].itertuples(index=False, name=None))

    exact = frame.groupby(["customer_id", "date", "amount", "note"]).size().rename("n").reset_index()
    want = first_five(exact, "n")
    assert [f"customer {c} on {d} amount {v:g} x{n}" for c, d, v, n in want] == q.examples["exact_duplicates"]
    assert want[0][:2] == ("c1", "2024-01-02") and len({w[0] for w in want}) == 3
    alike = exact.groupby(["customer_id", "date", "amount"]).size().rename("k").reset_index()
    want = first_five(alike, "k")
    assert [f"customer {c} on {d} amount {v:g}: {k} different rows" for c, d, v, k in want] == \
        q.examples["same_customer_time_amount"]


def test_exact_duplicates_compare_mapped_columns_as_read(write_csv):
    """Spaces around an id and '10.50' vs '10.5' are the same value once read; an unmapped column still counts."""
    text = "customer_id,date,amount,note\n 007 ,2024-01-05,10.50,a\n007,2024-01-05,10.5,a\n007,2024-01-05,10.5,b\n"
    q = load_transactions(write_csv(text)).quality
    assert q.kept["exact_duplicates"] == 1 and q.kept["same_customer_time_amount"] == 1


# ---------------------------------------------------------------- money behind every drop
MONEY = """customer_id;date;amount;product
A1;05.01.2024;100,00;x
;05.01.2024;40,00;x
;06.01.2024;10,00;y
A2;;25,50;x
A3;07.01.2024;n/a;x
A4;08.01.2024;0,00;x
A5;09.01.2024;-20,00;x
A1;10.01.2024;50,00;x
"""


def test_money_behind_every_drop(write_csv):
    q = load_transactions(write_csv(MONEY), max_bad_share=0.5).quality
    total = 100 + 40 + 10 + 25.5 + 0 - 20 + 50            # every readable amount in the file
    assert q.net_amount_read == pytest.approx(total) and q.net_amount_used == pytest.approx(130)
    assert q.coverage() == pytest.approx(130 / total, abs=1e-6)
    assert q.detail["missing_customer_id"] == {"customers": None, "net_amount": 50.0}
    assert q.detail["missing_date"] == {"customers": 1, "net_amount": 25.5}
    assert q.money("unparseable_amount") == (1, "unknown", "unknown")
    assert q.money("missing_customer_id") == ("unknown", 50.0, round(50 / total, 6))
    issues = q.to_dict()
    assert issues["dropped_detail"]["missing_customer_id"] == {
        "rows": 2, "customers": "unknown", "net_amount": 50.0, "share_of_net_amount": round(50 / total, 6)}
    assert issues["dropped_detail"]["unparseable_amount"]["net_amount"] == "unknown"
    assert issues["coverage"] == round(130 / total, 6)
    # what was read, plus what was dropped where readable, is the whole file
    dropped = [q.detail[key]["net_amount"] for key in q.dropped if q.detail[key]["net_amount"] is not None]
    assert q.net_amount_used + sum(dropped) == pytest.approx(total)
    sentence = q.coverage_sentence()
    assert sentence == (f"The analysis covers {130 / total:.1%} of the net amount in the file; "
                        f"{50 / total:.1%} was in rows without a customer id, {25.5 / total:.1%} in rows "
                        "without a date; 1 dropped row whose amount cannot be read is not counted.")
    text = str(q)
    assert "unknown" in text and "net amount read" in text and f"{130 / total:.1%}" in text
    frame = q.to_frame().set_index("finding")
    assert frame.loc["Missing customer id", "net_amount"] == 50.0
    assert frame.loc["Amount that cannot be read (or empty)", "net_amount"] == "unknown"


def test_money_outside_the_filter(write_csv):
    text = "customer_id,date,amount,region\n1,2024-01-01,5,EU\n2,2024-01-01,7,US\n3,2024-01-02,8,US\n"
    q = load_transactions(write_csv(text), filter={"region": "EU"}).quality
    assert q.detail["filtered_out"] == {"customers": 2, "net_amount": 15.0}
    assert q.coverage() == pytest.approx(0.25)
    assert "15.0%" not in q.coverage_sentence() and "75.0% was outside the run's filter" in q.coverage_sentence()


def _sales(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({"customer_id": [f"c{i % 7}" for i in range(n)],
                         "date": [f"2024-{1 + i % 12:02d}-{1 + i % 27:02d}" for i in range(n)],
                         "amount": [f"{v:.2f}" for v in rng.uniform(-20, 300, n).round(2)]})


def test_a_spreadsheets_totals_row_is_dropped_and_named_in_a_warning():
    sales = _sales()
    total = f"{pd.to_numeric(sales['amount']).sum():.2f}"
    q = load_transactions(pd.concat([sales, pd.DataFrame([{"customer_id": "Total", "date": "", "amount": total}])],
                                    ignore_index=True)).quality
    assert q.dropped["missing_date"] == 1 and q.rows_used == 40
    [warning] = [w for w in q.warnings if "totals" in w]
    assert warning.startswith("the 1 dropped row without a date holds ") and f"{float(total):,.2f}" in warning
    assert "it looks like a spreadsheet's totals row" in warning and warning in str(q)
    # the same row without a customer id (a date on it): named for that reason
    q = load_transactions(pd.concat([sales, pd.DataFrame([{"customer_id": "", "date": "2024-12-31",
                                                            "amount": total}])], ignore_index=True)).quality
    assert [w for w in q.warnings if "totals" in w][0].startswith("the 1 dropped row without a customer id holds ")


def test_subtotal_rows_are_named_and_dropped_rows_holding_other_money_are_not():
    sales = _sales()
    amounts = pd.to_numeric(sales["amount"])
    subtotals = pd.DataFrame({"customer_id": sorted(sales["customer_id"].unique()), "date": "",
                              "amount": [f"{amounts[sales['customer_id'] == c].sum():.2f}"
                                         for c in sorted(sales["customer_id"].unique())]})
    q = load_transactions(pd.concat([sales, subtotals], ignore_index=True)).quality
    assert q.dropped["missing_date"] == 7
    assert any(w.startswith("the 7 dropped rows without a date hold ") and "subtotal rows" in w for w in q.warnings)
    # undated rows that do not add up to the rest (a cent off beyond the allowance) are only counted
    off = f"{amounts.sum() + 0.05:.2f}"
    q = load_transactions(pd.concat([sales, pd.DataFrame([{"customer_id": "x", "date": "", "amount": off}])],
                                    ignore_index=True)).quality
    assert q.dropped["missing_date"] == 1 and not [w for w in q.warnings if "totals" in w]
    q = load_transactions(sales).quality
    assert not [w for w in q.warnings if "totals" in w]
