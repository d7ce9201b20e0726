"""RFM numbers that mutation testing found unchecked: the cut-point and bin-size tables, the summary
lines, region boundaries of a segment map, and the errors of a malformed map.

Every expected value below is worked out by hand from the module's rule (see ``segkit.schemes.rfm``):
score = floor((rank - 1) * bins / n) + 1, the worst tied group takes its lowest rank, the best tied
group its highest, any other tied group its average rank.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segkit.errors import ParameterError, SegkitError
from segkit.schemes import RFMSegmenter, load_segment_map
from segkit.schemes.rfm import rfm_scores


def six_customers() -> pd.DataFrame:
    """Six customers, three bins (ideal size 2), ties in every dimension and an empty M score."""
    return pd.DataFrame({
        "customer_id": list("abcdef"),
        "recency_days": [1, 2, 2, 10, 30, 30],       # R: ranks 6, 4.5, 4.5, 3, 1, 1 -> 3, 2, 2, 2, 1, 1
        "frequency": [1, 1, 1, 2, 3, 5],             # F: ranks 1, 1, 1, 4, 5, 6 -> 1, 1, 1, 2, 3, 3
        "monetary": [10.5, 10.5, 10.5, 10.5, 10.5, 1234.5],  # M: five worst share rank 1 -> score 2 empty
    })


@pytest.fixture()
def fitted() -> RFMSegmenter:
    # per test, not per module: mutmut maps a function to the tests that call it, and a fixture
    # cached for the module is only called by the first of them
    return RFMSegmenter(bins=3).fit_features(six_customers())


def test_scores_and_segments_of_six_customers_by_hand(fitted):
    s = fitted.scores_.set_index("customer_id")
    assert s["rfm_r"].tolist() == [3, 2, 2, 2, 1, 1]
    assert s["rfm_f"].tolist() == [1, 1, 1, 2, 3, 3]
    assert s["rfm_m"].tolist() == [1, 1, 1, 1, 1, 3]
    # r = (R - 1) / 2, fm = (F + M - 2) / 4 with three bins
    assert s["rfm_segment"].tolist() == ["New", "Promising", "Promising", "Potential Loyalists", "At Risk",
                                         "Can't Lose Them"]
    table = fitted.segment_table().set_index("customer_id")
    assert table.loc["f", ["rfm_r", "rfm_f", "rfm_m"]].tolist() == [1, 3, 3]
    assert table.loc["a", "rank"] == 4 and table.loc["f", "rank"] == 8  # New is 4th in the map, Can't Lose 8th


def test_cut_points_give_each_scores_value_range(fitted):
    cuts = fitted.cut_points_
    assert list(cuts.columns) == ["dimension", "feature", "score", "customers", "min", "max"]
    expected = pd.DataFrame({
        "dimension": list("RRRFFFMMM"),
        "feature": ["recency_days"] * 3 + ["frequency"] * 3 + ["monetary"] * 3,
        "score": [1, 2, 3] * 3,
        "customers": [2, 3, 1, 3, 1, 2, 5, 0, 1],
        "min": [30.0, 2.0, 1.0, 1.0, 2.0, 3.0, 10.5, None, 1234.5],
        "max": [30.0, 10.0, 1.0, 1.0, 2.0, 5.0, 10.5, None, 1234.5],
    })
    pd.testing.assert_frame_equal(cuts, expected, check_dtype=False)


def test_bin_sizes_show_how_ties_moved_customers(fitted):
    sizes = fitted.bin_sizes_
    assert list(sizes.columns) == ["dimension", "score", "customers", "ideal", "difference"]
    assert sizes["dimension"].tolist() == list("RRRFFFMMM")
    assert sizes["customers"].tolist() == [2, 3, 1, 3, 1, 2, 5, 0, 1]
    assert sizes["ideal"].tolist() == [2.0] * 9
    assert sizes["difference"].tolist() == [0.0, 1.0, -1.0, 1.0, -1.0, 0.0, 3.0, -2.0, -1.0]
    # seven customers in three bins: ideal 2.3, differences rounded to one decimal
    seven = pd.DataFrame({"customer_id": list("abcdefg"), "recency_days": range(7), "frequency": range(7),
                          "monetary": range(7)})
    s7 = RFMSegmenter(bins=3).fit_features(seven).bin_sizes_.query("dimension == 'F'")
    assert s7["customers"].tolist() == [3, 2, 2]  # ranks 1..7: floor(0, 3/7, .., 18/7) + 1
    assert s7["ideal"].tolist() == [2.3] * 3 and s7["difference"].tolist() == [0.7, -0.3, -0.3]


def test_describe_lists_each_scores_range_and_marks_empty_ones(fitted):
    assert fitted.describe() == [
        "rfm R (recency_days): 1: 30..30 (2), 2: 2..10 (3), 3: 1..1 (1)",
        "rfm F (frequency): 1: 1..1 (3), 2: 2..2 (1), 3: 3..5 (2)",
        "rfm M (monetary): 1: 10.5..10.5 (5), 2: empty, 3: 1,234.5..1,234.5 (1)",
    ]


def test_profile_carries_each_segments_description(fitted):
    prof = fitted.profile().set_index("segment")
    assert prof.loc["Promising", "customers"] == 2 and prof.loc["Promising", "share"] == pytest.approx(2 / 6)
    assert prof.loc["Promising", "description"] == "fairly recent, few purchases, low spend so far"
    assert prof.loc["Promising", "frequency"] == 1.0 and prof.loc["At Risk", "recency_days"] == 30.0
    assert fitted.descriptions_["Lost"] == "lowest recency, frequency and spend"


def test_ties_at_the_worst_and_best_value_and_in_between():
    # the worst tied group takes its lowest rank, the best its highest, the middle group its average
    assert rfm_scores([1, 1, 2, 2, 3, 3], 3).tolist() == [1, 1, 2, 2, 3, 3]      # ranks 1, 3.5, 6
    assert rfm_scores([1, 2, 2, 2, 2, 3], 2).tolist() == [1, 1, 1, 1, 1, 2]      # floor(2.5 * 2 / 6) + 1 = 1
    assert rfm_scores([1, 3, 3, 3, 3, 3], 3).tolist() == [1, 3, 3, 3, 3, 3]      # best group: rank 6, not 4
    assert rfm_scores([1, 1, 1, 1, 1, 3], 3).tolist() == [1, 1, 1, 1, 1, 3]      # worst group: rank 1, not 3
    assert rfm_scores([5, 5, 5, 5], 4).tolist() == [2, 2, 2, 2]                  # all tied: average rank 2.5
    assert rfm_scores([2.0, 1.0], 2, higher_is_better=False).tolist() == [1, 2]
    assert rfm_scores(np.array([7.0]), 5).tolist() == [1]                        # one customer: rank 1


def _map(tmp_path, text: str, name: str = "map.yml"):
    path = tmp_path / name
    path.write_text(text)
    return load_segment_map(path)


def test_region_bounds_include_the_low_end_and_one(tmp_path):
    # three bins: r is 0, 0.5 or 1; 0.5 belongs to the upper region only, 1 is inside [0.5, 1]
    smap = _map(tmp_path, "segments:\n  - name: Up\n    regions: [{r: [0.5, 1], fm: [0, 1]}]\n"
                          "  - name: Down\n    regions: [{r: [0, 0.5], fm: [0, 1]}]\n")
    cells = smap.cells(3).set_index(["rfm_r", "rfm_f", "rfm_m"])["rfm_segment"]
    assert len(cells) == 27
    assert cells[(1, 3, 3)] == "Down" and cells[(2, 1, 1)] == "Up" and cells[(3, 3, 3)] == "Up"
    assert (cells.groupby(level="rfm_r").nunique() == 1).all()
    assert smap.names == ["Up", "Down"] and smap.source == str(tmp_path / "map.yml")


def test_a_map_with_a_gap_counts_and_names_the_missing_cells(tmp_path):
    smap = _map(tmp_path, "segments:\n  - name: Up\n    regions: [{r: [0.5, 1], fm: [0, 1]}]\n")
    with pytest.raises(SegkitError) as err:
        smap.cells(3)
    e = err.value
    assert e.what == ("9 score cell(s) (R, F, M) belong to no segment, e.g. "
                      "[(1, 1, 1), (1, 1, 2), (1, 1, 3), (1, 2, 1), (1, 2, 2), (1, 2, 3)]")
    assert e.where == f"RFM segment map {tmp_path / 'map.yml'} with 3 bins"
    assert e.fix == "adjust the regions so that they cover the (r, fm) square exactly once"


def test_a_map_with_an_overlap_names_the_cells_and_both_segments(tmp_path):
    smap = _map(tmp_path, "segments:\n  - name: All\n    regions: [{r: [0, 1], fm: [0, 1]}]\n"
                          "  - name: Top\n    regions: [{r: [0.9, 1], fm: [0.9, 1]}]\n"
                          "  - name: Up\n    regions: [{r: [0.5, 1], fm: [0.5, 1]}]\n")
    with pytest.raises(SegkitError) as err:
        smap.cells(2)
    # two bins: r in {0, 1}, fm in {0, 0.5, 1}; cells with r = 1 and fm >= 0.5 are claimed twice or more
    assert err.value.what == ("3 cell(s) belong to several segments, e.g. (2, 1, 2): All, Up; "
                              "(2, 2, 1): All, Up; (2, 2, 2): All, Top, Up")
    # a gap and an overlap at once: both parts, joined by "and"
    both = _map(tmp_path, "segments:\n  - name: A\n    regions: [{r: [0.5, 1], fm: [0, 1]}]\n"
                          "  - name: B\n    regions: [{r: [0.5, 1], fm: [0.9, 1]}]\n", "both.yml")
    with pytest.raises(SegkitError) as err:
        both.cells(2)
    assert err.value.what.startswith("4 score cell(s) (R, F, M) belong to no segment, e.g. [(1, 1, 1), ")
    assert " and 1 cell(s) belong to several segments, e.g. (2, 2, 2): A, B" in err.value.what


MALFORMED = {
    "no name": "segments:\n  - regions: [{r: [0, 1], fm: [0, 1]}]\n",
    "name not text": "segments:\n  - name: 5\n    regions: [{r: [0, 1], fm: [0, 1]}]\n",
    "regions not a list": "segments:\n  - name: A\n    regions: {r: [0, 1], fm: [0, 1]}\n",
    "region not a mapping": "segments:\n  - name: A\n    regions: [[0, 1]]\n",
    "region without fm": "segments:\n  - name: A\n    regions: [{r: [0, 1]}]\n",
    "bound not a list": "segments:\n  - name: A\n    regions: [{r: 1, fm: [0, 1]}]\n",
    "three bounds": "segments:\n  - name: A\n    regions: [{r: [0, 0.5, 1], fm: [0, 1]}]\n",
    "below zero": "segments:\n  - name: A\n    regions: [{r: [-0.5, 1], fm: [0, 1]}]\n",
    "above one": "segments:\n  - name: A\n    regions: [{r: [0, 1], fm: [0, 1.5]}]\n",
    "empty interval": "segments:\n  - name: A\n    regions: [{r: [0.5, 0.5], fm: [0, 1]}]\n",
    "reversed fm": "segments:\n  - name: A\n    regions: [{r: [0, 1], fm: [1, 0]}]\n",
    "segment not a mapping": "segments:\n  - A\n",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_segment_names_its_number(tmp_path, case):
    text = "segments:\n  - name: Fine\n    regions: [{r: [0, 1], fm: [0, 1]}]\n" + MALFORMED[case].split("\n", 1)[1]
    with pytest.raises(SegkitError) as err:
        _map(tmp_path, text)
    assert err.value.what == "segment #2 is malformed"
    assert err.value.where == str(tmp_path / "map.yml")
    assert "bounds between 0 and 1" in err.value.fix and "regions: [{r: [low, high], fm: [low, high]}]" in err.value.fix


def test_bounds_exactly_zero_and_one_are_accepted(tmp_path):
    smap = _map(tmp_path, "segments:\n  - name: A\n    regions: [{r: [0, 1], fm: [0.0, 1.0]}]\n")
    assert set(smap.cells(2)["rfm_segment"]) == {"A"}


@pytest.mark.parametrize("text, what, fix", [
    ("segments: [\n", "the RFM segment map is not valid YAML", "check indentation and brackets"),
    ("segments: []\n", "the RFM segment map has no `segments:` list", "start from segkit's rfm_segments.yml"),
    ("- name: A\n", "the RFM segment map has no `segments:` list", "start from segkit's rfm_segments.yml"),
    ("segments: {name: A}\n", "the RFM segment map has no `segments:` list", "start from segkit's rfm_segments.yml"),
    ("segments:\n  - name: A\n    regions: [{r: [0, 1], fm: [0, 1]}]\n  - name: A\n    regions: []\n",
     "segment name 'A' is used twice", "give each segment a unique name"),
])
def test_unreadable_maps_say_what_and_how_to_fix(tmp_path, text, what, fix):
    with pytest.raises(SegkitError) as err:
        _map(tmp_path, text)
    assert (err.value.what, err.value.where, err.value.fix) == (what, str(tmp_path / "map.yml"), fix)


def test_a_missing_map_file_and_the_default_maps_source(tmp_path):
    with pytest.raises(SegkitError) as err:
        load_segment_map(tmp_path / "nope.yml")
    assert err.value.where == str(tmp_path / "nope.yml")
    assert err.value.fix == "check the path, or leave it out to use the default map"
    default = load_segment_map()
    assert default.source == "segkit default (rfm_segments.yml)" and default.names[0] == "Champions"
    assert len(default.names) == 11


@pytest.mark.parametrize("bins", [1, 21, 5.0, "5"])
def test_bins_outside_two_to_twenty_are_refused(bins):
    with pytest.raises(ParameterError) as err:
        RFMSegmenter(bins=bins).fit_features(six_customers())
    assert err.value.where == "rfm_bins" and err.value.fix == "use e.g. 5"


def test_missing_columns_and_no_customers_are_refused():
    with pytest.raises(ParameterError) as err:
        RFMSegmenter().fit_features(six_customers().drop(columns=["monetary", "frequency"]))
    assert err.value.what == "the features lack ['frequency', 'monetary']"
    assert err.value.where == "RFMSegmenter.fit" and err.value.fix == "pass segkit.features.customer_features(...)"
    with pytest.raises(ParameterError) as err:
        RFMSegmenter().fit_features(six_customers().iloc[:0])
    assert err.value.where == "RFMSegmenter.fit" and err.value.fix == "check the calibration period"


def test_from_params_takes_the_runs_bins():
    from segkit.config import RunParams

    params = RunParams.from_mapping({"name": "x", "data": "x.csv", "rfm_bins": 4})
    scheme = RFMSegmenter.from_params(params)
    assert scheme.bins == 4 and scheme.segment_map is None


def test_fit_scores_the_features_of_the_inputs_with_five_bins_by_default():
    import datetime as dt

    from segkit.calendar import make_split
    from segkit.config import RunParams
    from segkit.schemes.registry import SchemeInputs

    features = pd.DataFrame({"customer_id": [f"c{i}" for i in range(10)], "recency_days": range(10),
                             "frequency": range(1, 11), "monetary": range(10, 20)})
    split = make_split(dt.date(2024, 1, 1), dt.date(2024, 6, 30), holdout_months=3, window_months=2)
    params = RunParams.from_mapping({"name": "x", "data": "x.csv"})
    scheme = RFMSegmenter().fit(SchemeInputs(features=features, monthly=pd.DataFrame(), split=split, params=params))
    assert scheme.scores_["rfm_f"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]   # five bins of two


def test_segment_table_matches_scores_to_numeric_customer_ids():
    # ids 2 and 10: the scores are sorted as numbers, the segment table as text ("10" before "2")
    f = pd.DataFrame({"customer_id": [2, 10], "recency_days": [1, 50], "frequency": [9, 1], "monetary": [90.0, 5.0]})
    table = RFMSegmenter(bins=2).fit_features(f).segment_table()
    assert table["customer_id"].tolist() == ["10", "2"]
    assert table[["rfm_r", "rfm_f", "rfm_m"]].to_numpy().tolist() == [[1, 1, 1], [2, 2, 2]]
    assert table["segment"].tolist() == ["Lost", "Champions"]


def test_segment_table_shares_the_scores_only_when_they_list_the_same_customers(fitted):
    """The scores in the table's order are taken as they are (and stay the scheme's own when the table
    is changed: copy-on-write); in another order they are looked up by id: the same table."""
    import copy

    table = fitted.segment_table()
    other = copy.copy(fitted)
    other.scores_ = fitted.scores_.iloc[::-1].reset_index(drop=True)  # the same scores, reversed
    other._table_cache = {}
    pd.testing.assert_frame_equal(other.segment_table(), table)
    assert table[["rfm_r", "rfm_f", "rfm_m"]].to_numpy().tolist() == \
        fitted.scores_[["rfm_r", "rfm_f", "rfm_m"]].to_numpy().tolist()
    table.loc[0, "rfm_r"] = 99
    assert fitted.scores_.loc[0, "rfm_r"] == 3 and fitted.segment_table().loc[0, "rfm_r"] == 3


def test_a_custom_segment_map_names_the_segments(tmp_path):
    path = tmp_path / "two.yml"
    path.write_text("segments:\n  - name: Recent\n    description: bought lately\n"
                    "    regions: [{r: [0.5, 1], fm: [0, 1]}]\n"
                    "  - name: Earlier\n    regions: [{r: [0, 0.5], fm: [0, 1]}]\n")
    scheme = RFMSegmenter(bins=3, segment_map=path).fit_features(six_customers())
    assert scheme.segments_ == ["Recent", "Earlier"]
    assert scheme.scores_["rfm_segment"].tolist() == ["Recent", "Recent", "Recent", "Recent", "Earlier", "Earlier"]
    assert scheme.descriptions_ == {"Recent": "bought lately", "Earlier": ""}


def test_twenty_bins_the_most_allowed_are_accepted(tmp_path):
    # one segment keeps the 8,000 score cells of 20 bins quick to check
    path = tmp_path / "one.yml"
    path.write_text("segments:\n  - name: All\n    regions: [{r: [0, 1], fm: [0, 1]}]\n")
    f = pd.DataFrame({"customer_id": [f"c{i:02d}" for i in range(40)], "recency_days": range(40),
                      "frequency": range(1, 41), "monetary": range(40)})
    scores = RFMSegmenter(bins=20, segment_map=path).fit_features(f).scores_
    assert scores["rfm_f"].tolist() == [s for s in range(1, 21) for _ in range(2)]


def test_no_customers_give_no_scores_as_whole_numbers():
    empty = rfm_scores(pd.Series([], dtype=float), 5)
    assert empty.dtype == np.int64 and empty.tolist() == []


def test_tie_aware_score_of_ties_at_either_end_by_hand():
    import ibis

    from segkit.schemes.rfm import tie_aware_score

    # n = 5, 5 bins: score = (2r - 2) * 5 // 10 + 1, 2r = 2 x the rank used
    t = ibis.memtable({"low": [0, 1, 2, 0], "ties": [4, 4, 1, 5], "n": [5, 5, 5, 5]})
    got = t.select(s=tie_aware_score(t.low, t.ties, t.n, 5)).to_pandas()["s"].tolist()
    # lowest tie: rank 1 -> 1; highest tie: rank 5 -> 5; alone: rank 3 -> 3; everyone tied: the
    # average 3 -> 3
    assert got == [1, 5, 3, 3]


def test_score_columns_count_minus_zero_as_zero():
    import ibis

    from segkit.schemes.rfm import score_columns

    t = ibis.memtable({"customer_id": ["a", "b", "c", "d"], "recency_days": [1, 2, 3, 4],
                       "frequency": [1, 1, 1, 1], "monetary": [0.0, -0.0, 5.0, 6.0]})
    s = score_columns(t, 4).to_pandas().set_index("customer_id").sort_index()
    # a and b tie on 0: ranks 1-2 (the lowest tie: rank 1) -> 1; c rank 3 -> 3, d rank 4 -> 4
    assert s["rfm_m"].tolist() == [1, 1, 3, 4]


# ------------------------------------------------------------------ session 7: the remaining survivors
ACCENTED_MAP = ("segments:\n  - name: Clientes fiéis\n    description: compram há muito\n"
                "    regions: [{r: [0, 1], fm: [0, 1]}]\n")


def _latin1_locale(monkeypatch):
    """open() as on a machine whose locale encoding is Latin-1: what it uses when no encoding is given."""
    import io

    monkeypatch.setattr(io, "text_encoding", lambda encoding, stacklevel=2: encoding or "latin-1")


def test_a_segment_map_path_that_is_not_a_file_is_refused_where_it_is_used(tmp_path):
    from segkit.schemes.rfm import segment_cells

    gone = tmp_path / "gone.yml"
    # not the default map in its place: the missing file is named
    with pytest.raises(SegkitError) as err:
        RFMSegmenter(bins=3, segment_map=gone).fit_features(six_customers())
    assert err.value.where == str(gone)
    assert err.value.what == f"the RFM segment map {str(gone)!r} does not exist"
    with pytest.raises(SegkitError) as err:
        segment_cells(str(tmp_path), 3)   # a folder is not a map file either
    assert err.value.where == str(tmp_path)


def test_a_map_with_accents_reads_the_same_whatever_the_locale(tmp_path, monkeypatch):
    path = tmp_path / "accents.yml"
    path.write_text(ACCENTED_MAP, encoding="utf-8")
    _latin1_locale(monkeypatch)
    smap = load_segment_map(path)
    assert smap.names == ["Clientes fiéis"]          # read as Latin-1: "Clientes fiÃ©is"
    assert smap.segments[0]["description"] == "compram há muito"


def test_the_default_map_is_read_as_utf8_whatever_the_locale(tmp_path, monkeypatch):
    # the shipped map is plain ASCII today; one with an accent in it must still read right
    import types

    from segkit.schemes import rfm

    (tmp_path / rfm.DEFAULT_MAP).write_text(ACCENTED_MAP, encoding="utf-8")
    asked = []
    shipped = types.SimpleNamespace(files=lambda package: asked.append(package) or tmp_path)
    monkeypatch.setattr(rfm, "resources", shipped)
    _latin1_locale(monkeypatch)
    smap = load_segment_map()
    assert asked == ["segkit.schemes"]
    assert smap.names == ["Clientes fiéis"] and smap.source == "segkit default (rfm_segments.yml)"


def test_unsigned_day_counts_are_scored_as_numbers():
    # recency in an unsigned column: 0 days is the best value, not a number that wraps when negated
    days = np.array([0, 1, 2, 30], dtype=np.uint32)
    assert rfm_scores(days, 4, higher_is_better=False).tolist() == [4, 3, 2, 1]
    # two bins: ranks 4, 3, 2, 1 -> floor(3 * 2 / 4) + 1 = 2, 2, 1, 1
    assert rfm_scores(pd.Series(days.astype(np.uint64)), 2, higher_is_better=False).tolist() == [2, 2, 1, 1]


def test_a_missing_value_takes_the_lowest_score_within_the_bins():
    # NaN has no rank; the score is clipped to 1..bins, so it lands on 1 (the others: ranks 1, 2, 3 of
    # n = 4 with three bins -> floor(0), floor(0.75), floor(1.5) + 1 = 1, 1, 2)
    with np.errstate(invalid="ignore"):
        got = rfm_scores(np.array([np.nan, 1.0, 2.0, 3.0]), 3)
    assert got.tolist() == [1, 1, 1, 2]


def _cases(cells: pd.DataFrame, rows: dict) -> list:
    import ibis

    from segkit.schemes.rfm import segment_expression

    t = ibis.memtable(rows)
    return t.select(s=segment_expression(cells, t.r, t.f, t.m)).to_pandas()["s"].tolist()


def test_segment_expression_of_a_segment_in_two_separate_runs():
    # R 1: F + M = 2 and 4 are A, 3 is B; R 2: one segment C over 2..4. A's values 2 and 4 are two
    # runs, not one run over 3
    cells = pd.DataFrame({"rfm_r": [1, 1, 1, 1, 2, 2, 2, 2], "rfm_f": [1, 1, 2, 2] * 2, "rfm_m": [1, 2, 1, 2] * 2,
                          "rfm_segment": ["A", "B", "B", "A", "C", "C", "C", "C"]})
    rows = {"r": [1, 1, 1, 1, 2, 2, 3], "f": [1, 2, 1, 2, 1, 2, 1], "m": [1, 1, 2, 2, 1, 2, 1]}
    got = _cases(cells, rows)
    assert got[:6] == ["A", "B", "B", "A", "C", "C"] and pd.isna(got[6])   # R 3 is in no cell: empty


def test_segment_expression_refuses_cells_that_give_one_r_and_fm_two_segments():
    import ibis

    from segkit.schemes.rfm import segment_expression

    # (1, 1, 2) and (1, 2, 1) share R 1 and F + M 3 but not the segment: not a segment map's cells
    cells = pd.DataFrame({"rfm_r": [1, 1, 1, 1], "rfm_f": [1, 1, 2, 2], "rfm_m": [1, 2, 1, 2],
                          "rfm_segment": ["A", "B", "C", "C"]})
    t = ibis.memtable({"r": [1], "f": [1], "m": [1]})
    with pytest.raises(SegkitError) as err:
        segment_expression(cells, t.r, t.f, t.m)
    assert err.value.what == "the cell table gives one R and F + M several segments"
    assert err.value.where == "RFM segment cells" and err.value.fix == "build the cells with SegmentMap.cells"


def test_cells_come_in_r_f_m_order_and_a_gap_is_listed_in_that_order(tmp_path):
    smap = _map(tmp_path, "segments:\n  - name: High\n    regions: [{r: [0, 1], fm: [0.5, 1]}]\n"
                          "  - name: Low\n    regions: [{r: [0, 1], fm: [0, 0.5]}]\n")
    cells = smap.cells(3)
    assert cells[["rfm_r", "rfm_f", "rfm_m"]].to_numpy().tolist() == [
        [r, f, m] for r in (1, 2, 3) for f in (1, 2, 3) for m in (1, 2, 3)]
    # three bins: fm = (F + M - 2) / 4 < 0.5 for F + M < 4; the gap's first six cells in R, F, M order
    gap = _map(tmp_path, "segments:\n  - name: High\n    regions: [{r: [0, 1], fm: [0.5, 1]}]\n", "gap.yml")
    with pytest.raises(SegkitError) as err:
        gap.cells(3)
    assert err.value.what == ("9 score cell(s) (R, F, M) belong to no segment, e.g. "
                              "[(1, 1, 1), (1, 1, 2), (1, 2, 1), (2, 1, 1), (2, 1, 2), (2, 2, 1)]")


def test_an_overlap_names_four_cells_at_most(tmp_path):
    # two bins: r = 1 for R 2; both segments claim every cell with R 2 (four of them) and R 1 ones
    smap = _map(tmp_path, "segments:\n  - name: All\n    regions: [{r: [0, 1], fm: [0, 1]}]\n"
                          "  - name: Some\n    regions: [{r: [0, 1], fm: [0, 0.6]}]\n")
    with pytest.raises(SegkitError) as err:
        smap.cells(2)
    # fm < 0.6: F + M = 2 or 3 (fm 0, 0.5), three cells per R -> six claimed twice, four named
    assert err.value.what == ("6 cell(s) belong to several segments, e.g. (1, 1, 1): All, Some; "
                              "(1, 1, 2): All, Some; (1, 2, 1): All, Some; (2, 1, 1): All, Some")
