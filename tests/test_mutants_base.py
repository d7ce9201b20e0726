"""Shared scheme helpers that mutation testing found unchecked: ``isin`` on empty and all-missing
inputs, and what each scheme says for a customer without a purchase.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segkit.schemes import KMeansSegmenter, PercentileTiers, PotentialTiers, RFMSegmenter
from segkit.schemes._base import NO_PURCHASE, isin, no_purchase_values, number_text


def test_isin_with_nothing_to_find_or_nothing_to_look_in():
    assert isin(["a", "b"], []).tolist() == [False, False]
    assert isin(pd.Index(["a", "b"]), set()).tolist() == [False, False]
    assert isin([], ["a"]).tolist() == []
    assert isin([None, None], ["a"]).tolist() == [False, False]  # missing ids are never members
    assert isin(["b", None, "a"], pd.Series(["a", "c"])).tolist() == [False, False, True]


def test_no_purchase_values_per_scheme():
    assert no_purchase_values(KMeansSegmenter) == {"segment": NO_PURCHASE, "name": NO_PURCHASE}
    assert no_purchase_values(PotentialTiers()) == {"segment": "INACTIVE"}
    assert no_purchase_values(RFMSegmenter) == {"segment": NO_PURCHASE}
    assert no_purchase_values(object()) == {"segment": "No purchase"}
    # a copy: changing it leaves the scheme's own mapping alone
    values = no_purchase_values(KMeansSegmenter)
    values["segment"] = "x"
    assert KMeansSegmenter.no_purchase["segment"] == NO_PURCHASE
    assert no_purchase_values(PercentileTiers) == {"segment": "INACTIVE"}  # tiers have an INACTIVE tier


def test_isin_missing_values_as_nan_or_none_are_never_members():
    # NaN in an object array used to raise (Arrow read it as a float); None among the members made
    # a missing id a member
    ids = pd.Series(["a", None, np.nan, "b"], dtype=object)
    assert isin(ids, ["a", None, np.nan]).tolist() == [True, False, False, False]
    assert isin(pd.Series(["a", None, "b"], dtype="string"), pd.Series(["b", None], dtype="string")).tolist() == [
        False, False, True]


def test_number_text_of_missing_and_whole_values():
    assert number_text(None) == "-" and number_text(float("nan")) == "-" and number_text(pd.NA) == "-"
    assert number_text(10.0) == "10" and number_text(1234.5) == "1,234.5" and number_text(0.05) == "0.05"


def test_a_pickled_scheme_leaves_its_cached_table_behind_and_rebuilds_it():
    import pickle

    from segkit.schemes import PercentileTiers

    monthly = pd.DataFrame({"customer_id": ["a", "b", "c"], "month": pd.to_datetime(["2024-03-01"] * 3),
                            "revenue": [3.0, 2.0, 1.0], "purchases": [1, 1, 1]})
    t = PercentileTiers(as_of="2024-03-31", window_months=1, dropout_months=1).fit_monthly(monthly)
    table = t.segment_table()
    assert t.__dict__.get("_table_cache")            # built once and kept
    state = t.__getstate__()
    assert "_table_cache" not in state and "_table_cache" in t.__dict__   # the live object keeps it
    assert set(state) == set(t.__dict__) - {"_table_cache"}
    copy = pickle.loads(pickle.dumps(t))
    assert "_table_cache" not in copy.__dict__
    pd.testing.assert_frame_equal(copy.segment_table(), table)
    # a scheme that never built the table pickles too
    fresh = PercentileTiers(window_months=1, dropout_months=1)
    assert "_table_cache" not in fresh.__dict__ and fresh.__getstate__() == fresh.__dict__


def test_profile_of_a_single_customer_gives_it_the_whole_share():
    from segkit.schemes import RFMSegmenter

    f = pd.DataFrame({"customer_id": ["a"], "recency_days": [3], "frequency": [2], "monetary": [10.0]})
    prof = RFMSegmenter().fit_features(f).profile().set_index("segment")
    assert prof.index.name == "segment" and prof.columns[:3].tolist() == ["rank", "customers", "share"]
    assert prof["customers"].sum() == 1 and prof["share"].sum() == 1.0
    seg = RFMSegmenter().fit_features(f).segment_table()["segment"].iloc[0]
    assert prof.loc[seg, ["customers", "share", "recency_days", "frequency", "monetary"]].tolist() == [1, 1.0, 3.0, 2.0, 10.0]


class _Plain:
    """A plug-in scheme's fitted state, set by hand: labels (customer_id -> label) and segments."""

    @staticmethod
    def fitted(labels: pd.Series, segments: list[str]):
        from segkit.schemes._base import SchemeMixin

        class Plain(SchemeMixin):
            pass

        s = Plain()
        s.labels_, s.segments_ = labels, segments
        return s


def test_segment_table_of_unsorted_ids_is_sorted_with_a_fresh_index():
    labels = pd.Series(["low", "high", "low"], index=pd.Index(["c", "a", "b"], name="customer_id"))
    table = _Plain.fitted(labels, ["high", "low"]).segment_table()
    assert table.columns.tolist() == ["customer_id", "segment", "rank"]
    assert table.index.tolist() == [0, 1, 2]
    assert table["customer_id"].tolist() == ["a", "b", "c"]
    assert table["segment"].tolist() == ["high", "low", "low"]
    assert table["rank"].tolist() == [1, 2, 2] and table["rank"].dtype == np.int32  # 4 bytes per customer


def test_segment_table_of_a_label_outside_the_segments_raises_a_value_error():
    import pytest

    from segkit.errors import SegkitError
    from segkit.schemes._base import SegmentLabelError

    labels = pd.Series(["low", "odd", "odd", None], index=pd.Index(["a", "b", "c", "d"]))
    with pytest.raises(SegmentLabelError) as caught:  # no rank for "odd" (nor for a missing label)
        _Plain.fitted(labels, ["high", "low"]).segment_table()
    err = caught.value
    assert isinstance(err, ValueError) and isinstance(err, SegkitError)  # the CLI prints it without a traceback
    assert "labels 3 customer(s)" in err.what and "['high', 'low']" in err.what and "'odd'" in err.what
    assert "segments_" in err.fix


def test_segment_table_is_built_once_and_handed_out_without_copying_its_data():
    labels = pd.Series(["low", "high"], index=pd.Index(["a", "b"]))
    s = _Plain.fitted(labels, ["high", "low"])
    built = []
    build = s._build_segment_table
    s._build_segment_table = lambda: built.append(1) or build()
    first, second = s.segment_table(), s.segment_table()
    assert len(built) == 1 and first is not second
    pd.testing.assert_frame_equal(first, second)
    assert np.shares_memory(first["rank"].to_numpy(), second["rank"].to_numpy())  # a shallow copy
    s.segments_ = ["high", "low"]            # an equal list (a new object): still the same table
    s.segment_table()
    assert len(built) == 1
    s.segments_ = ["low", "high"]            # other segments: built again
    assert s.segment_table()["rank"].tolist() == [1, 2] and len(built) == 2
    s.labels_ = labels.copy()                # a refit (a new labels object): built again
    s.segment_table()
    assert len(built) == 3


def test_isin_of_a_bare_categorical():
    ids = pd.Categorical(["b", None, "a", "b"], categories=["a", "b", "z"])
    assert isin(ids, ["b"]).tolist() == [True, False, False, True]
    assert isin(pd.Index(["a", "b", "z"]), pd.Categorical(["z", "a"], categories=["a", "b", "z"])).tolist() == [
        True, False, True]
    assert isin(pd.Series(ids), pd.Series(pd.Categorical(["a"], categories=["a", "b"]))).tolist() == [
        False, False, True, False]


# ------------------------------------------------------------------ session 7: the remaining survivors
def test_positions_never_match_a_missing_id_to_a_missing_member():
    from segkit.schemes._base import positions

    members = pd.Index(["a", None, "b"], dtype=object)
    assert positions(pd.Index(["b", None, "a", "z"], dtype=object), members).tolist() == [2, -1, 0, -1]
    assert positions(np.array([None, None], dtype=object), members).tolist() == [-1, -1]


def test_positions_of_ids_stored_in_several_arrow_chunks():
    from segkit.schemes._base import positions

    # pandas keeps the text of two concatenated frames as two Arrow chunks
    ids = pd.concat([pd.Series(["b", "x"]), pd.Series(["a", None])], ignore_index=True)
    assert positions(ids, pd.Index(["a", "b"])).tolist() == [1, -1, 0, -1]
    assert positions(ids, pd.Index([], dtype=object)).tolist() == [-1, -1, -1, -1]


def test_a_nan_in_a_plain_list_is_a_missing_value_not_the_text_nan():
    from segkit.schemes._base import positions

    # a list of text and NaN: numpy alone would make NaN the text "nan"
    assert isin(["nan", "a"], ["a", np.nan]).tolist() == [False, True]
    assert isin(["a", np.nan], ["nan", "a"]).tolist() == [True, False]
    assert positions(["nan", "a"], ["a", np.nan]).tolist() == [-1, 0]


def test_profile_keeps_customers_without_features_and_names_the_segment_column():
    # a plug-in scheme whose segments_ is an Index (no name) and whose features lack customer c
    labels = pd.Series(["high", "low", "low"], index=pd.Index(["a", "b", "c"]))
    s = _Plain.fitted(labels, pd.Index(["high", "low", "none"]))
    features = pd.DataFrame({"customer_id": ["b", "a"], "spend": [4.0, 10.0]})
    prof = s._profile(features, ["spend"])
    assert prof.columns.tolist() == ["segment", "rank", "customers", "share", "spend"]
    assert prof["segment"].tolist() == ["high", "low", "none"]
    assert prof["rank"].tolist() == [1, 2, 3] and prof["customers"].tolist() == [1, 2, 0]
    # c is counted (share of 3 customers) though it has no spend: the mean of low is b's 4.0
    assert prof["share"].tolist() == [1 / 3, 2 / 3, 0.0]
    assert prof["spend"].tolist()[:2] == [10.0, 4.0] and pd.isna(prof["spend"].iloc[2])


def test_isin_takes_any_iterable_of_members():
    """The signature promises any iterable: a generator, dict keys, a dict, a frozenset give the same mask."""
    ids = pd.Index(["a", "b", "c", None])
    want = [True, False, True, False]
    for members in (x for x in ["c", "a"]), {"a": 1, "c": 2}.keys(), {"a": 1, "c": 2}, frozenset({"a", "c"}), ("a", "c"):
        assert isin(ids, members).tolist() == want
