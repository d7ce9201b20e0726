"""The potential scheme's fit that mutation testing found unchecked (the product tests fit it on
all of CDNOW, too slow per mutant): peer headroom by hand, a refit without it, tiers after a fitted
model with unequal VIP and GOOD shares, ``describe`` when only the purchase model fits, and
``labels_from`` on predictions without ``p_alive``.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from segkit.calendar import make_split
from segkit.potential.bench import simulate_summaries
from segkit.potential.bgnbd import BGNBDParams
from segkit.schemes import PotentialTiers
from segkit.schemes.potential import PREDICTION_COLUMNS, window_values
from segkit.schemes.registry import SchemeInputs

# calibration up to 2024-06-30, tier window May and June, holdout July to September (92 days)
SPLIT = make_split(dt.date(2024, 1, 1), dt.date(2024, 6, 30), holdout_months=3, window_months=2)


def four_customers(reference=None) -> SchemeInputs:
    """Nobody bought twice (the model cannot be fitted); a region column; window values 0, 10, 20, 30."""
    ids = ["a", "b", "c", "d"]
    summary = pd.DataFrame({"customer_id": ids + ["z"], "x": 0, "span_days": 0, "age_days": [90, 80, 70, 60, 50],
                            "repeat_value": np.nan})  # z is not evaluated (not among the features)
    features = pd.DataFrame({"customer_id": ids, "region": ["north", "north", "south", "south"]})
    monthly = pd.DataFrame({"customer_id": ["a", "b", "c", "c", "d"],
                            "month": pd.to_datetime(["2024-04-01", "2024-05-01", "2024-05-01", "2024-06-01",
                                                     "2024-06-01"]),
                            "revenue": [5.0, 10.0, 5.0, 15.0, 30.0]})  # a's April is outside the window
    return SchemeInputs(features=features, monthly=monthly, split=SPLIT,
                        params=SimpleNamespace(criterion="revenue"), reference=reference, potential=summary)


def test_headroom_by_hand_and_everyone_regular_without_a_model():
    s = PotentialTiers().fit(four_customers())
    assert s.horizon_days == 92 and not s.model_.fitted
    assert s.describe()[0].startswith("potential: model not fitted (too few repeat buyers")
    assert s.labels_.to_dict() == dict.fromkeys("abcd", "REGULAR")
    h = s.headroom_
    assert list(h.columns) == ["customer_id", "region", "peer_group", "peer_size", "peer_upper_quartile",
                               "window_value", "peer_headroom"]
    assert h["customer_id"].tolist() == ["a", "b", "c", "d"]
    assert h["window_value"].tolist() == [0.0, 10.0, 20.0, 30.0]
    # both regions hold fewer than 20 customers: the peers are everyone; upper quartile of 0, 10, 20, 30
    # at position 0.75 * 3 = 2.25 -> 20 + 0.25 * 10 = 22.5; headroom = 22.5 - own value, at least 0
    assert h["peer_group"].tolist() == ["everyone"] * 4 and h["peer_size"].tolist() == [4] * 4
    assert h["peer_upper_quartile"].tolist() == [22.5] * 4
    assert h["peer_headroom"].tolist() == [22.5, 12.5, 2.5, 0.0]
    pred = s.predictions_
    assert pred["customer_id"].tolist() == ["a", "b", "c", "d"]
    assert pred["peer_headroom"].tolist() == [22.5, 12.5, 2.5, 0.0] and pred["p_alive"].isna().all()
    assert s.segment_table()["peer_headroom"].tolist() == [22.5, 12.5, 2.5, 0.0]


def test_a_refit_against_the_main_fit_leaves_headroom_out():
    main = PotentialTiers().fit(four_customers())
    refit = PotentialTiers().fit(four_customers(reference=main))
    assert len(refit.headroom_) == 0 and "peer_headroom" in refit.headroom_.columns
    assert refit.predictions_["peer_headroom"].isna().all()
    assert refit.labels_.to_dict() == main.labels_.to_dict()


@pytest.fixture()
def simulated() -> SchemeInputs:
    """400 simulated customers (enough repeat buyers to fit BG/NBD), no value per purchase, no attributes."""
    s = simulate_summaries(400, BGNBDParams(0.25, 4.0, 0.8, 2.5), max_age_days=180, seed=1)
    s.insert(0, "customer_id", [f"c{i:03d}" for i in range(len(s))])
    s["repeat_value"] = np.nan  # the value model cannot be fitted: tiers rank by expected purchases
    return SchemeInputs(features=s[["customer_id"]], monthly=pd.DataFrame(), split=SPLIT,
                        params=SimpleNamespace(criterion="revenue"), potential=s)


def test_tiers_after_a_fitted_model_take_the_vip_and_good_shares(simulated):
    s = PotentialTiers(vip_share=0.1, good_share=0.3).fit(simulated)
    assert s.model_.fitted and not s.model_.value_fitted
    pred = s.predictions_.set_index("customer_id")
    labels = s.labels_
    inactive = pred["p_alive"] < 0.5
    assert (labels[inactive[inactive].index] == "INACTIVE").all()
    active = int((~inactive).sum())
    assert active >= 40 + 108  # the shares below are not cut short by the INACTIVE customers
    # 10% of 400 = 40 VIP; 30% of the 360 others = 108 GOOD; the rest of the active customers REGULAR
    counts = labels.value_counts()
    assert (counts["VIP"], counts["GOOD"], counts["REGULAR"]) == (40, 108, active - 148)
    # ranked by expected purchases: every VIP expects at least as many as any GOOD, and so on
    ep = pred["expected_purchases"]
    assert ep[labels == "VIP"].min() >= ep[labels == "GOOD"].max() >= ep[labels == "REGULAR"].max()
    line = s.describe()[0]
    assert line.startswith("potential: BG/NBD r=") and "horizon 92 days" in line
    assert line.endswith("ranked by expected purchases") and "value model not fitted (too few" in line


def test_labels_without_a_p_alive_column_are_all_regular():
    pred = pd.DataFrame({"customer_id": ["b", "a"], "predicted_value": [1.0, 2.0]})
    labels = PotentialTiers.labels_from(pred, 0.5, 0.5)
    assert labels.to_dict() == {"a": "REGULAR", "b": "REGULAR"} and labels.index.name == "customer_id"
    with_alive = PotentialTiers.labels_from(pred.assign(p_alive=1.0, expected_purchases=1.0), 0.5, 0.5)
    assert with_alive.to_dict() == {"a": "VIP", "b": "GOOD"} and with_alive.index.name == "customer_id"


def test_profile_counts_shares_and_mean_predictions_per_tier(simulated):
    s = PotentialTiers(vip_share=0.1, good_share=0.3).fit(simulated)
    prof = s.profile().set_index("segment")
    assert prof.index.tolist() == s.segments_ and prof["rank"].tolist() == list(range(1, len(s.segments_) + 1))
    pred = s.predictions_.set_index("customer_id")
    tier = s.labels_.reindex(pred.index)
    for name in s.segments_:
        members = pred[tier == name]
        assert prof.loc[name, "customers"] == len(members)
        assert prof.loc[name, "share"] == pytest.approx(len(members) / 400)
        for col in ("p_alive", "expected_purchases"):
            assert prof.loc[name, col] == pytest.approx(members[col].mean(), nan_ok=True)
    assert prof["predicted_value"].isna().all()  # the value model was not fitted


def test_describe_states_both_models_when_the_value_model_fits(simulated):
    s = simulated.potential.copy()
    rng = np.random.default_rng(3)
    s["repeat_value"] = np.where(s["x"] > 0, rng.gamma(4.0, 10.0, len(s)).round(2), np.nan)
    fitted = PotentialTiers().fit(SchemeInputs(features=simulated.features, monthly=simulated.monthly,
                                               split=SPLIT, params=simulated.params, potential=s))
    m = fitted.model_
    assert m.fitted and m.value_fitted
    p, v = m.purchases, m.value
    assert fitted.describe() == [
        f"potential: BG/NBD r={p.r:.3f} alpha={p.alpha:.3f} a={p.a:.3f} b={p.b:.3f} "
        f"({m.repeat_buyers:,} repeat buyers of {m.customers:,}); horizon 92 days"
        f"; Gamma-Gamma p={v.p:.2f} q={v.q:.2f} gamma={v.gamma:.2f}"]


def test_from_params_takes_the_run_shares_and_criterion():
    params = SimpleNamespace(criterion="margin", vip_share=0.15, good_share=0.35)
    s = PotentialTiers.from_params(params)
    assert (s.criterion, s.vip_share, s.good_share) == ("margin", 0.15, 0.35)


def test_reshared_equals_a_fit_with_those_shares_and_leaves_the_fit_alone(simulated):
    fitted = PotentialTiers(vip_share=0.2, good_share=0.2).fit(simulated)
    before = fitted.labels_.copy()
    reused = fitted.reshared(0.1, 0.3)
    refit = PotentialTiers(vip_share=0.1, good_share=0.3).fit(simulated)
    assert reused is not fitted and (reused.vip_share, reused.good_share) == (0.1, 0.3)
    pd.testing.assert_series_equal(reused.labels_, refit.labels_)
    pd.testing.assert_frame_equal(reused.segment_table(), refit.segment_table())
    pd.testing.assert_series_equal(fitted.labels_, before)
    assert (fitted.vip_share, fitted.good_share) == (0.2, 0.2)
    assert (reused.labels_ == "VIP").sum() == 40 and (fitted.labels_ == "VIP").sum() == 80
    with pytest.raises(Exception, match="fit"):
        PotentialTiers().reshared(0.1, 0.3)   # nothing to re-tier before a fit


def test_reshared_keeps_the_fit_s_own_p_alive_threshold(simulated):
    strict = PotentialTiers(inactive_p_alive=0.9).fit(simulated)
    reused = strict.reshared(0.1, 0.3)
    refit = PotentialTiers(vip_share=0.1, good_share=0.3, inactive_p_alive=0.9).fit(simulated)
    pd.testing.assert_series_equal(reused.labels_, refit.labels_)
    assert (reused.labels_ == "INACTIVE").sum() > (PotentialTiers().fit(simulated).labels_ == "INACTIVE").sum()


def test_defaults_and_the_p_alive_threshold_refused_outside_zero_to_one():
    from segkit.errors import ParameterError
    s = PotentialTiers()
    assert (s.criterion, s.vip_share, s.good_share) == ("revenue", 0.2, 0.2)
    assert (s.inactive_p_alive, s.time_unit_days) == (0.5, 7.0)
    for bad in (0, 0.0, 1, 1.0, 1.5, -0.1):
        with pytest.raises(ParameterError, match="inactive_p_alive must lie in"):
            PotentialTiers(inactive_p_alive=bad)
    assert PotentialTiers(inactive_p_alive=0.01).inactive_p_alive == 0.01
    assert PotentialTiers(inactive_p_alive=0.99).inactive_p_alive == 0.99


def test_window_values_are_named_after_the_criterion():
    inputs = four_customers()
    v = window_values(inputs.monthly, inputs.split.window_months, "revenue", pd.Series(["d", "a", "c", "q"]))
    assert v.name == "revenue" and v.tolist() == [30.0, 0.0, 20.0, 0.0]


def test_headroom_rounded_to_six_decimals_on_text_ids_of_any_type():
    inputs = four_customers()
    monthly = inputs.monthly.assign(revenue=[5.0, 10.0, 5.0, 15.0, 30.1234567])  # d's June: 7 decimals
    features = inputs.features.assign(customer_id=pd.Series([1, "b", "c", "d"], dtype=object))  # a number id
    s = PotentialTiers().fit(SchemeInputs(features=features, monthly=monthly, split=SPLIT, params=inputs.params,
                                          potential=inputs.potential))
    h = s.headroom_
    assert h["customer_id"].tolist() == ["1", "b", "c", "d"] and h["customer_id"].dtype == "str"
    assert h["window_value"].tolist() == [0.0, 10.0, 20.0, 30.1234567]
    # upper quartile of 0, 10, 20, 30.1234567 at position 2.25: 20 + 0.25 * 10.1234567 = 22.530864175
    q = 20 + 0.25 * 10.1234567
    assert h["peer_headroom"].tolist() == [round(q, 6), round(q - 10, 6), round(q - 20, 6), 0.0]
    assert h["peer_headroom"].tolist() == [22.530864, 12.530864, 2.530864, 0.0]
    assert s.predictions_["peer_headroom"].tolist() == [22.530864, 12.530864, 2.530864, 0.0]


def test_an_empty_headroom_still_names_its_columns():
    main = PotentialTiers().fit(four_customers())
    refit = PotentialTiers().fit(four_customers(reference=main))
    assert list(refit.headroom_.columns) == ["customer_id", "peer_group", "peer_size", "peer_upper_quartile",
                                             "window_value", "peer_headroom"]


def test_fit_outputs_columns_rounding_threshold_and_customers_without_a_summary(simulated):
    features = pd.concat([simulated.features, pd.DataFrame({"customer_id": ["new"]})], ignore_index=True)
    inputs = SchemeInputs(features=features, monthly=simulated.monthly, split=SPLIT,
                          params=SimpleNamespace(criterion="margin"), potential=simulated.potential)
    s = PotentialTiers(criterion="margin", inactive_p_alive=0.8, time_unit_days=14.0).fit(inputs)
    m = s.model_
    assert (m.criterion, m.as_of, m.time_unit_days, m.fitted) == ("margin", dt.date(2024, 6, 30), 14.0, True)
    pred = s.predictions_
    assert list(pred.columns) == ["customer_id", "x", "span_days", "age_days", "repeat_value", "p_alive",
                                  "expected_purchases", "expected_value", "predicted_value", "peer_headroom"]
    assert pred.index.tolist() == list(range(401)) and pred["customer_id"].is_monotonic_increasing
    assert pred["customer_id"].iloc[-1] == "new" and pred.iloc[-1, 1:].isna().all()  # not in the summary
    assert pred["customer_id"].dtype == "str"
    for col in ("p_alive", "expected_purchases"):
        values = pred[col].dropna()
        assert values.dtype == "float64" and (values == values.round(6)).all()
        assert not (values == values.round(5)).all()  # the sixth decimal is kept
    # INACTIVE below the scheme's own threshold 0.8 (the customer without a summary is REGULAR)
    alive = pred.set_index("customer_id")["p_alive"]
    inactive = s.labels_[s.labels_ == "INACTIVE"].index
    assert sorted(inactive) == sorted(alive[alive < 0.8].index)
    assert (alive < 0.8).sum() > (alive < 0.5).sum() and s.labels_["new"] == "REGULAR"


def test_a_refit_starts_from_the_main_fit_of_the_same_criterion(simulated):
    main = PotentialTiers().fit(simulated)
    cold = main.model_.diagnostics["purchases"]["iterations"]

    def refit(reference, criterion="revenue"):
        inputs = SchemeInputs(features=simulated.features, monthly=simulated.monthly, split=SPLIT,
                              params=simulated.params, reference=reference, potential=simulated.potential)
        return PotentialTiers(criterion=criterion).fit(inputs).model_.diagnostics["purchases"]["iterations"]

    assert refit(main) < cold  # started at the optimum: fewer steps
    assert refit(main, criterion="margin") == cold  # another criterion: not a start
    assert refit(SimpleNamespace()) == cold  # a reference of another scheme: not a start


def test_segment_table_built_once_and_for_labels_of_some_customers_only(simulated):
    s = PotentialTiers(vip_share=0.1, good_share=0.3).fit(simulated)
    first, again = s.segment_table(), s.segment_table()
    pd.testing.assert_frame_equal(first, again)
    assert list(first.columns) == ["customer_id", "segment", "rank", *PREDICTION_COLUMNS]
    s.labels_ = s.labels_.iloc[::-2]  # every other customer, in reverse
    part = s.segment_table()
    assert part["customer_id"].tolist() == sorted(s.labels_.index)
    pred = s.predictions_.set_index("customer_id")
    for col in PREDICTION_COLUMNS:
        expected = pred.loc[part["customer_id"], col].to_numpy()
        np.testing.assert_array_equal(part[col].to_numpy(), expected)
    assert part["p_alive"].notna().all()


def test_labels_from_at_the_threshold_with_gaps_and_text_objects():
    pred = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "p_alive": pd.Series([0.5, 0.9, 0.9, 0.2], dtype=object),
                         "predicted_value": pd.Series([0.4, None, 0.3, 0.1], dtype=object)})
    labels = PotentialTiers.labels_from(pred, 0.25, 0.3)
    # a at exactly 0.5 stays active; b's empty value ranks as 0, below a and c; d INACTIVE
    assert labels.to_dict() == {"a": "VIP", "b": "REGULAR", "c": "GOOD", "d": "INACTIVE"}
    # text labels kept as categories of text (one byte per customer), the labels that occur
    assert isinstance(labels.dtype, pd.CategoricalDtype) and labels.cat.categories.tolist() == sorted(labels)
    none = PotentialTiers.labels_from(pred.drop(columns="p_alive"), 0.25, 0.3)
    assert isinstance(none.dtype, pd.CategoricalDtype) and none.cat.categories.tolist() == ["REGULAR"]
    assert set(none) == {"REGULAR"}


def test_labels_from_ranks_a_missing_predicted_value_as_zero():
    import numpy as np

    pred = pd.DataFrame({"customer_id": ["a", "b", "c"], "p_alive": [1.0, 1.0, 1.0],
                         "predicted_value": [np.nan, 5.0, -1.0], "expected_purchases": [1.0, 1.0, 1.0]})
    # 3 customers: VIP ceil(0.3 * 3) = 1 (b, 5), GOOD ceil(0.5 * 2) = 1: a (missing -> 0) before c (-1)
    labels = PotentialTiers.labels_from(pred, 0.3, 0.5)
    assert labels.to_dict() == {"a": "GOOD", "b": "VIP", "c": "REGULAR"}


def test_labels_from_ranks_unsigned_counts_as_numbers():
    # expected purchases as an unsigned count (no predicted value): 0 is the lowest, not a number that
    # wraps when negated. Four active customers: VIP ceil(0.25 * 4) = 1 (b, 3), GOOD ceil(0.25 * 3) = 1 (d, 2)
    pred = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "p_alive": [0.9] * 4,
                         "expected_purchases": np.array([0, 3, 1, 2], dtype=np.uint32),
                         "predicted_value": [np.nan] * 4})
    labels = PotentialTiers.labels_from(pred, 0.25, 0.25)
    assert labels.to_dict() == {"a": "REGULAR", "b": "VIP", "c": "REGULAR", "d": "GOOD"}
