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
