"""Feature numbers that mutation testing found unchecked: the Gini coefficient, the holdout purchase
counts and the criterion check on the columns a file has.

Every expected value is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from segkit.calendar import make_split
from segkit.data import load_transactions
from segkit.errors import ParameterError
from segkit.features import available_criteria, criterion_available, gini, holdout_outcomes


def test_gini_by_hand():
    # sorted [0, 0, 0, 10]: cumulative shares 0, 0, 0, 1 sum to 1 -> (4 + 1 - 2 * 1) / 4
    assert gini(np.array([10.0, 0.0, 0.0, 0.0])) == pytest.approx(0.75)
    # [1, 3]: shares 0.25, 1 -> (3 - 2 * 1.25) / 2
    assert gini([3.0, 1.0]) == pytest.approx(0.25)
    # negatives count as 0: [-5, 5] -> [0, 5] -> shares 0, 1 -> (3 - 2) / 2
    assert gini([-5.0, 5.0]) == pytest.approx(0.5)
    assert gini([2.0, 2.0, 2.0]) == pytest.approx(0.0)
    assert gini([]) == 0.0 and gini([0.0, 0.0]) == 0.0


def _tx(tmp_path, header: str, rows: str):
    path = tmp_path / "tx.csv"
    path.write_text(header + "\n" + rows)
    return load_transactions(path)


def test_holdout_purchases_and_bought_by_hand(tmp_path):
    tx = _tx(tmp_path, "customer_id,date,amount",
             "a,2024-01-10,5\n"                                   # calibration only
             "a,2024-02-03,10\na,2024-02-20,20\na,2024-02-21,-4\n"  # 2 purchases, net 26
             "b,2024-02-10,-3\n"                                  # a return only: no purchase
             "c,2024-01-15,8\n")
    split = make_split(dt.date(2024, 1, 1), dt.date(2024, 1, 31), holdout_months=1, window_months=1)
    out = holdout_outcomes(tx, split, customers=["a", "b", "c"]).set_index("customer_id")
    assert out["holdout_purchases"].tolist() == [2, 0, 0]
    assert str(out["holdout_purchases"].dtype) == "int64"
    assert out["holdout_revenue"].tolist() == [26.0, -3.0, 0.0]
    assert out["bought"].tolist() == [True, False, False]


def test_criterion_needs_its_column(tmp_path):
    plain = _tx(tmp_path, "customer_id,date,amount", "a,2024-01-10,5\n")
    for criterion in ("revenue", "payments"):
        criterion_available(plain, criterion)  # need only the required columns
    with pytest.raises(ParameterError, match="'quantity'"):
        criterion_available(plain, "units")
    with pytest.raises(ParameterError, match="'cost'"):
        criterion_available(plain, "margin")
    rich = _tx(tmp_path, "customer_id,date,amount,quantity,cost", "a,2024-01-10,5,2,3\n")
    criterion_available(rich, "units")
    criterion_available(rich, "margin")


def test_available_criteria_follow_the_optional_columns():
    assert available_criteria(set()) == ["revenue", "payments"]
    assert available_criteria({"cost"}) == ["revenue", "payments", "margin"]
    assert available_criteria(frozenset({"quantity", "cost", "order_id"})) == ["revenue", "payments", "units", "margin"]


def test_holdout_counts_small_amounts_and_stops_at_the_holdout_end(tmp_path):
    tx = _tx(tmp_path, "customer_id,date,amount",
             "a,2024-02-05,0.5\n"     # a purchase below one: counts
             "a,2024-02-06,2\n"
             "b,2024-02-07,-1\n"      # a return only
             "b,2024-03-01,40\n"      # after the holdout end (29 Feb): left out
             "c,2024-03-02,7\n")      # only after the holdout: nothing
    split = make_split(dt.date(2024, 1, 1), dt.date(2024, 1, 31), holdout_months=1, window_months=1)
    out = holdout_outcomes(tx, split)
    assert out.columns.tolist() == ["customer_id", "holdout_revenue", "holdout_purchases", "bought"]
    assert out["customer_id"].tolist() == ["a", "b"]
    assert out["holdout_purchases"].tolist() == [2, 0]
    assert out["holdout_revenue"].tolist() == [2.5, -1.0]
    assert out["bought"].tolist() == [True, False]


def test_a_row_of_amount_zero_is_no_purchase(tmp_path):
    # loading drops zero amounts; a table handed over with one (0.5 - 0.5) still counts only amount > 0
    import dataclasses

    tx = _tx(tmp_path, "customer_id,date,amount", "a,2024-02-05,0.5\na,2024-02-06,3.5\n")
    tx = dataclasses.replace(tx, table=tx.table.mutate(amount=tx.table.amount - 0.5))
    split = make_split(dt.date(2024, 1, 1), dt.date(2024, 1, 31), holdout_months=1, window_months=1)
    out = holdout_outcomes(tx, split)
    assert out["holdout_revenue"].tolist() == [3.0] and out["holdout_purchases"].tolist() == [1]


def test_holdout_customers_given_as_numbers_are_matched_as_text(tmp_path):
    tx = _tx(tmp_path, "customer_id,date,amount", "7,2024-02-05,3\n9,2024-02-06,4\n")
    split = make_split(dt.date(2024, 1, 1), dt.date(2024, 1, 31), holdout_months=1, window_months=1)
    out = holdout_outcomes(tx, split, customers=pd.Series([9, 8]))
    assert out.columns.tolist() == ["customer_id", "holdout_revenue", "holdout_purchases", "bought"]
    assert out["customer_id"].tolist() == ["8", "9"]
    assert out["holdout_revenue"].tolist() == [0.0, 4.0] and out["holdout_purchases"].tolist() == [0, 1]


def test_customer_month_by_hand(tmp_path):
    from segkit.features import customer_month

    tx = _tx(tmp_path, "customer_id,date,amount,quantity",
             "z,2023-12-20,9,1\n"     # before start: left out
             "b,2024-01-05,0.5,2\n"   # a purchase under 1
             "a,2024-01-20,4,1\n"
             "b,2024-01-25,0,1\n"     # amount 0: a payment, not a purchase
             "a,2024-02-02,3,3\n"
             "a,2024-02-10,-1,1\n")   # a return
    cm = customer_month(tx, dt.date(2024, 1, 1), dt.date(2024, 2, 28))
    assert cm.columns.tolist() == ["customer_id", "month", "revenue", "payments", "units", "margin", "purchases"]
    assert cm.index.tolist() == [0, 1, 2]
    assert cm["customer_id"].tolist() == ["a", "b", "a"]
    assert cm["month"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")]
    assert cm["purchases"].tolist() == [1, 1, 1]          # b: 0.5 counts, 0 does not; a in February: -1 does not
    assert cm["payments"].tolist() == [1, 1, 1] and cm["revenue"].tolist() == [4.0, 0.5, 2.0]
    assert cm["purchases"].dtype == np.int64 and cm["payments"].dtype == np.int64
    assert cm["units"].dtype == np.float64 and cm["revenue"].dtype == np.float64


def test_split_periods_passes_window_and_holdout_requirement_on(tmp_path):
    from segkit.features import split_periods

    tx = _tx(tmp_path, "customer_id,date,amount", "a,2024-01-05,1\na,2024-06-30,2\n")
    split = split_periods(tx, as_of="2024-03-31", holdout_months=6, window_months=2, require_holdout=False)
    assert split.window_months == (dt.date(2024, 2, 1), dt.date(2024, 3, 1))
    assert split.holdout_end == dt.date(2024, 9, 30)          # past the data: allowed without the requirement
    with pytest.raises(ParameterError):
        split_periods(tx, as_of="2024-03-31", holdout_months=6, window_months=2)


def test_one_holdout_purchase_is_bought(tmp_path):
    tx = _tx(tmp_path, "customer_id,date,amount", "a,2024-01-05,1\na,2024-02-10,7\nb,2024-01-06,3\nb,2024-02-11,-3\n")
    split = make_split(dt.date(2024, 1, 1), dt.date(2024, 1, 31), holdout_months=1, window_months=1)
    out = holdout_outcomes(tx, split, pd.Series(["a", "b"])).set_index("customer_id")
    assert out.loc["a", "holdout_purchases"] == 1 and bool(out.loc["a", "bought"]) is True
    assert out.loc["b", "holdout_purchases"] == 0 and bool(out.loc["b", "bought"]) is False
