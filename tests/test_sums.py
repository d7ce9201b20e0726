"""Fixed-order compensated sums: ``engines.ordered_sums`` (pandas side) equals ``engines.compensated_sum``
(engine side) and a plain-Python Kahan loop, whatever the row order.

Why it matters: the stages and the percentile tiers compare sums against thresholds, and the pandas
fit must give the engine's float. pandas' own group sum is no fixed reference (pandas 3.1 adds a
sorted group with numpy's ``add.reduceat`` and an unsorted one with Kahan steps).
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segkit.engines import compensated_sum, ordered_sums
from segkit.errors import ParameterError


def kahan(values: list[float]) -> float:
    """The reference: left to right, y = v - c; t = s + y; c = (t - s) - y; s = t; NaN skipped."""
    s = c = 0.0
    for v in values:
        if v != v:
            continue
        y = v - c
        t = s + y
        c = (t - s) - y
        s = t
    return s


def test_values_are_added_in_order_not_in_row_order():
    # 0.1 + 1.8 - 2.5: Kahan steps give -0.5999999999999999, the correctly rounded sum is -0.6
    rows = pd.DataFrame({"k": ["a", "b", "a", "a"], "o": [3, 1, 1, 2], "v": [-2.5, 7.0, 0.1, 1.8]})
    for perm in ([0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]):
        got = ordered_sums(rows["k"].iloc[perm], rows["o"].iloc[perm], rows["v"].iloc[perm])
        assert got.index.tolist() == ["a", "b"]
        assert got.tolist() == [-0.5999999999999999, 7.0]
    assert kahan([0.1, 1.8, -2.5]) == -0.5999999999999999


def test_compensation_carries_what_a_plain_sum_loses():
    got = ordered_sums(["k"] * 4, [0, 1, 2, 3], [0.3, 0.1, 0.2, 0.3])   # plain: 0.9000000000000001
    assert got.tolist() == [0.9] and sum([0.3, 0.1, 0.2, 0.3]) == 0.9000000000000001
    big = ordered_sums(["k"] * 4, [0, 1, 2, 3], [1e16, 1.0, 1.0, 1.0])  # plain: 1e16 (each 1.0 lost)
    assert big.tolist() == [1e16 + 4]


def test_missing_values_are_skipped_and_equal_rows_keep_their_row_order():
    got = ordered_sums([2, 1, 2, 2], [5, 5, 5, 6], [0.5, np.nan, np.nan, 1.25])
    assert got.index.tolist() == [1, 2] and got.tolist() == [0.0, 1.75]
    # equal key and order: added in row order (1e16, 1, -1e16 gives 1 by Kahan; -1e16 first gives 1 too)
    assert ordered_sums(["k"] * 3, [0, 0, 0], [1e16, 1.0, -1e16]).tolist() == [kahan([1e16, 1.0, -1e16])]


def test_dates_order_the_months():
    months = pd.to_datetime(["2024-03-01", "2024-01-01", "2024-02-01"])
    got = ordered_sums(["k"] * 3, months, [-2.5, 0.1, 1.8])
    assert got.tolist() == [kahan([0.1, 1.8, -2.5])]


def test_no_rows_give_no_sums_and_ragged_columns_are_refused():
    assert ordered_sums([], [], []).empty
    with pytest.raises(ParameterError, match="2 keys, 2 orders and 1 values") as err:
        ordered_sums(["a", "b"], [1, 2], [1.0])
    assert err.value.where == "ordered_sums"


VALUES = st.sampled_from([-2.5, 0.0, 0.1, 0.2, 0.3, 0.6, 1.0, 1.8, 3.0, 7.25, 1e16, -1e16, float("nan")])


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from("abcd"), st.integers(0, 5), VALUES), max_size=24,
                     unique_by=lambda r: (r[0], r[1])), seed=st.integers(0, 2**32 - 1))
def test_pandas_and_engine_sums_equal_the_reference(rows, seed):
    """Shuffled rows (one per key and month): ordered_sums, compensated_sum on DuckDB and the plain loop agree."""
    order = np.random.default_rng(seed).permutation(len(rows))
    shuffled = [rows[i] for i in order]
    got = ordered_sums([r[0] for r in shuffled], [r[1] for r in shuffled], [r[2] for r in shuffled])
    want = {k: kahan([v for kk, _, v in sorted(rows, key=lambda r: r[1]) if kk == k]) for k in sorted({r[0] for r in rows})}
    assert got.to_dict() == want
    if rows:
        wide = pd.DataFrame(rows, columns=["k", "m", "v"]).pivot(index="k", columns="m", values="v")
        wide.columns = [f"m{c}" for c in wide.columns]
        table = ibis.memtable(wide.reset_index())
        engine = compensated_sum(table, "k", list(wide.columns)).to_pandas().set_index("k")["_sum"]
        assert engine.sort_index().to_dict() == want
