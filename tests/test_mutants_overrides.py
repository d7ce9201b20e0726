"""Overrides cases that mutation testing found unchecked: prospects kept or refused, ids given as
numbers, an empty line that is not a prospect, and the prospect flag of the applied table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segkit.errors import OverridesError
from segkit.schemes.overrides import apply_overrides, load_overrides


def _csv(tmp_path, body: str):
    path = tmp_path / "overrides.csv"
    path.write_text("customer_id,tier,reason\n" + body)
    return path


def test_new_customers_are_kept_and_marked_unless_refused(tmp_path):
    path = _csv(tmp_path, "b,VIP,market leader\na,GOOD,partner\n")
    ov = load_overrides(path, known_customers=["a"])  # allow_prospects defaults to True
    assert ov["customer_id"].tolist() == ["a", "b"]
    assert ov["prospect"].tolist() == [False, True]
    with pytest.raises(OverridesError, match=r"not among the customers with a purchase in calibration: 'b' \(line 2\)"):
        load_overrides(path, known_customers=["a"], allow_prospects=False)
    # without a customer list nobody is a prospect, and refusing prospects refuses nobody
    assert load_overrides(path, allow_prospects=False)["prospect"].tolist() == [False, False]


def test_known_customers_given_as_numbers_are_compared_as_text(tmp_path):
    path = _csv(tmp_path, "7,VIP,partner\n8,GOOD,reference\n")
    ov = load_overrides(path, known_customers=pd.Series([7, 9]))
    assert ov.set_index("customer_id")["prospect"].to_dict() == {"7": False, "8": True}


def test_an_empty_id_is_not_called_a_prospect(tmp_path):
    path = _csv(tmp_path, ",VIP,\n")
    with pytest.raises(OverridesError) as err:
        load_overrides(path, known_customers=["a"])
    message = str(err.value)
    assert "empty customer_id on line(s) 2" in message and "empty reason on line(s) 2" in message
    assert "prospect" not in message


def test_applied_table_flags_only_the_added_customers():
    table = pd.DataFrame({"customer_id": ["a", "c"], "segment": ["GOOD", "REGULAR"], "rank": [2, 3]})
    ov = pd.DataFrame({"customer_id": ["b", "c"], "tier": ["VIP", "VIP"], "reason": ["leader", "partner"]})
    out = apply_overrides(table, ov)
    assert out["customer_id"].tolist() == ["a", "b", "c"]
    assert out["prospect"].tolist() == [False, True, False]
    assert out["tier"].tolist() == ["GOOD", "VIP", "VIP"]
    assert out["computed_tier"].isna().tolist() == [False, True, False]


def test_a_spreadsheet_csv_with_bom_and_spaces_after_commas_reads_cleanly(tmp_path):
    path = tmp_path / "overrides.csv"
    # Excel's "CSV UTF-8" starts with a byte order mark; people type a space after each comma
    path.write_bytes("\ufeffcustomer_id, tier, reason\nc1, vip, \"Müller, reference customer\"\n".encode("utf-8"))
    got = load_overrides(path)
    assert got[["customer_id", "tier", "reason"]].values.tolist() == [["c1", "VIP", "Müller, reference customer"]]


def test_a_missing_column_is_named_with_the_file_and_its_columns(tmp_path):
    path = tmp_path / "overrides.csv"
    path.write_text("customer_id,segment\nc1,VIP\n")
    with pytest.raises(OverridesError) as err:
        load_overrides(path)
    assert "lacks the column(s) tier, reason" in str(err.value)
    assert err.value.where == f"{path}; its columns are customer_id, segment"


def test_empty_reasons_list_their_lines(tmp_path):
    with pytest.raises(OverridesError, match=r"empty reason on line\(s\) 2, 3 \(a prospect"):
        load_overrides(_csv(tmp_path, "c1,VIP,\nc9,GOOD,\n"), known_customers=["c1"])


def test_every_problem_is_listed_with_at_most_ten_lines_each(tmp_path):
    # 12 unknown tiers (lines 2-13), 12 customers listed twice (lines 14-37), 12 empty ids
    # (lines 38-49), 12 customers without purchases (the unknown tiers' ids u00-u11): each
    # list stops at 10, in file order (duplicates in id order)
    rows = [f"u{i:02d},PLATINUM{i:02d},partner" for i in range(12)]
    rows += [f"d{i:02d},VIP,partner" for i in range(12)] * 2
    rows += [",GOOD,partner"] * 12
    path = _csv(tmp_path, "\n".join(rows) + "\n")
    known = [f"d{i:02d}" for i in range(12)]
    with pytest.raises(OverridesError) as err:
        load_overrides(path, known_customers=known, allow_prospects=False)
    message = err.value.what
    empty = ", ".join(str(n) for n in range(38, 48))
    tiers = ", ".join(f"'PLATINUM{i:02d}' (line {i + 2})" for i in range(10))
    twice = ", ".join(f"d{i:02d}" for i in range(10))
    unknown = ", ".join(f"'u{i:02d}' (line {i + 2})" for i in range(10))
    assert message == (
        "the overrides file has "
        f"empty customer_id on line(s) {empty}; "
        f"unknown tier(s) {tiers}; allowed: VIP, GOOD, REGULAR, INACTIVE; "
        f"customer(s) listed twice: {twice}; "
        f"customer id(s) not among the customers with a purchase in calibration: {unknown}")


def test_empty_reasons_of_prospects_say_so_for_ten_lines_at_most(tmp_path):
    path = _csv(tmp_path, "".join(f"p{i:02d},VIP,\n" for i in range(12)))
    with pytest.raises(OverridesError) as err:
        load_overrides(path, known_customers=["a"])
    lines = ", ".join(f"{n} (a prospect: a customer without purchases)" for n in range(2, 12))
    assert err.value.what == f"the overrides file has empty reason on line(s) {lines}"


def test_an_empty_tier_is_empty_not_unknown(tmp_path):
    path = _csv(tmp_path, "a,,partner\nb,GOLD,partner\n")
    with pytest.raises(OverridesError) as err:
        load_overrides(path)
    assert err.value.what == ("the overrides file has empty tier on line(s) 2; "
                              "unknown tier(s) 'GOLD' (line 3); allowed: VIP, GOOD, REGULAR, INACTIVE")


def test_applied_table_columns_and_a_fresh_index():
    table = pd.DataFrame({"customer_id": ["c", "a"], "segment": ["GOOD", "REGULAR"], "rank": [2, 3]})
    ov = pd.DataFrame({"customer_id": ["b"], "tier": ["VIP"], "reason": ["leader"]})
    out = apply_overrides(table, ov)
    assert out.columns.tolist() == ["customer_id", "computed_tier", "override_tier", "override_reason", "prospect",
                                    "tier"]
    assert out.index.tolist() == [0, 1, 2] and out["customer_id"].tolist() == ["a", "b", "c"]


def test_without_overrides_the_two_empty_columns_share_one_buffer_and_stay_independent():
    table = pd.DataFrame({"customer_id": pd.Series(["a", "b", "c"], dtype="str"), "segment": ["VIP", "GOOD", "VIP"],
                          "rank": [1, 2, 1]})
    out = apply_overrides(table, pd.DataFrame(columns=["customer_id", "tier", "reason"]))
    tier, reason = out["override_tier"], out["override_reason"]
    assert tier.isna().all() and reason.isna().all() and tier.dtype == object and reason.dtype == object
    assert np.shares_memory(tier.to_numpy(), reason.to_numpy())  # 8 bytes per customer, not 16
    out.loc[0, "override_reason"] = "written"  # copy-on-write: the other column is untouched
    assert out["override_tier"].isna().all() and out["override_reason"].tolist()[0] == "written"
