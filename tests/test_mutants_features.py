"""Feature numbers that mutation testing found unchecked: the Gini coefficient, the holdout purchase
counts and the criterion check on the columns a file has.

Every expected value is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
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
