"""The verdict in words: plain sentences a manager can check, built from :mod:`segkit.compare`'s numbers.

Nothing here computes a statistic; every number in a sentence is one the comparison returned
(rounded for reading), so a reader can find it again in ``scorecard.json``.

Example
-------
>>> r = {"capture_at": {"0.1": 0.49, "0.2": 0.624, "0.4": 0.864}, "capture_auc": 0.658,
...      "ci95": {"capture_auc": [0.638, 0.676]}}
>>> print(scheme_sentence("percentile_tiers", r, 0.2, measure="revenue", horizon_months=6))
... # doctest: +NORMALIZE_WHITESPACE
Ordering customers by percentile tiers, the top 20% held 62% of the next six months' revenue
(area score 0.66, 95% interval 0.64 to 0.68; 0 = random order, 1 = perfect foresight).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .compare import share_key

__all__ = ["label", "decision_rule", "scheme_sentence", "baseline_sentence", "verdict_reasons",
           "stability_sentence", "practicality_sentence", "sensitivity_sentence", "backtest_note", "override_note",
           "measure_words", "winner_moves_sentence"]

_NAMES = {"percentile_tiers": "percentile tiers", "rfm": "RFM", "kmeans": "k-means",
          "recency": "last-purchase date"}
_MEASURES = {"revenue": "revenue", "units": "units bought", "margin": "margin", "payments": "payments"}
_NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine",
            10: "ten", 11: "eleven", 12: "twelve"}


def label(name: str, window_months: int = 6) -> str:
    """A scheme's or a baseline's name for readers (``past_value`` -> "last-6-month value")."""
    if name == "past_value":
        return f"last-{window_months}-month value"
    return _NAMES.get(name, name.replace("_", " "))


def measure_words(measure: str) -> str:
    """The run's measure for readers ("units" -> "units bought")."""
    return _MEASURES.get(measure, measure)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _horizon(months: int) -> str:
    word = _NUMBERS.get(int(months), str(months))
    return "next month's" if months == 1 else f"next {word} months'"


def _list(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def decision_rule(vip_share: float, tolerance: float, simplicity: Sequence[str]) -> str:
    """The rule of :func:`segkit.compare.verdict` in one sentence (``scorecard.json`` ``decision_rule``)."""
    order = ", ".join(label(n) for n in simplicity)
    return (f"Each scheme is scored by the average of its area score (capture_auc) and the share of the outcome "
            f"held by its top {_pct(vip_share)}; a scheme is a clear winner only when it scores best at every "
            "backtest cut-off and its lead over every other scheme, pooled over the cut-offs, has a 95% bootstrap "
            "interval above zero; otherwise the simplest scheme statistically tied with the best "
            f"({order}) is recommended, skipping any scheme another beats on both measures by more than "
            f"{tolerance:g} at the latest cut-off, and segment size plays no part.")


def scheme_sentence(name: str, result: Mapping[str, Any], vip_share: float, *, measure: str,
                    horizon_months: int, window_months: int = 6) -> str:
    """How much of the holdout outcome a ranking's top ``vip_share`` held, and its area score."""
    at = result["capture_at"][share_key(vip_share)]
    ci = (result.get("ci95") or {}).get("capture_auc")
    interval = f", 95% interval {ci[0]:.2f} to {ci[1]:.2f}" if ci else ""
    return (f"Ordering customers by {label(name, window_months)}, the top {_pct(vip_share)} held {_pct(at)} of the "
            f"{_horizon(horizon_months)} {_MEASURES.get(measure, measure)} (area score {result['capture_auc']:.2f}"
            f"{interval}; 0 = random order, 1 = perfect foresight).")


def baseline_sentence(scheme: str, results: Mapping[str, Mapping[str, Any]], retention: Mapping[str, Any],
                      vip_share: float, *, window_months: int = 6) -> str:
    """How much of the best simple ranking ``scheme`` keeps (capture at ``vip_share`` and area score)."""
    best = retention["best_baseline"]
    kept = retention["kept"][scheme]
    held = results[best]["capture_at"][share_key(vip_share)]
    if kept["capture_at"] is None or kept["capture_auc"] is None:
        return (f"The best simple ranking ({label(best, window_months)}) held {_pct(held)}; it does no better than a "
                f"random order, so there is nothing of it for {label(scheme)} to keep.")
    return (f"The best simple ranking ({label(best, window_months)}) held {_pct(held)}: {label(scheme)} keeps "
            f"{_pct(kept['capture_at'])} of it, and {_pct(kept['capture_auc'])} of its area score.")


def _lead(decision: Mapping[str, Any], other: str) -> str:
    a = decision["advantage"][other]
    ci = a["ci95"]
    interval = f" (95% interval {ci[0]:.3f} to {ci[1]:.3f})" if ci else " (no bootstrap interval)"
    return f"{label(other)} by {a['estimate']:.3f}{interval}"


def _first_reason(decision: Mapping[str, Any], vip_share: float) -> str:
    chosen, best, rule = decision["recommended"], decision["best"], decision["rule"]
    n = len(decision["origin_winners"])
    cutoffs = f"all {n} backtest cut-offs" if n > 1 else "the only cut-off"
    score = f"the average of area score and top-{_pct(vip_share)} capture"
    others = [o for o in decision["schemes"] if o != best]
    if rule == "clear_winner":
        pooled = " when pooled over the cut-offs" if n > 1 else ""
        return (f"{_cap(label(chosen))} is the clear winner: best at {cutoffs} on {score}, ahead of "
                f"{_list([_lead(decision, o) for o in others])}{pooled}.")
    if rule == "best_not_clear":
        lost = n - decision["wins"][best]
        why = (f"it was beaten at {lost} of {n} cut-offs" if lost else
               f"its lead over {_list([label(t) for t in decision['tied_with_best']])} is within chance")
        return f"No clear winner: {label(chosen)} scores best on {score} overall, but {why}; it is recommended."
    if rule == "simplest_of_tied":
        return (f"No clear winner: {label(best)} scores highest on {score} ({decision['pooled'][best]:.3f} against "
                f"{decision['pooled'][chosen]:.3f}), but its lead over {_lead(decision, chosen)} is within chance, "
                f"so the simpler {label(chosen)} is recommended.")
    return (f"No clear winner, and every scheme tied with the best is beaten on both measures at the latest "
            f"cut-off, so {label(chosen)}, the best at the latest cut-off, is recommended.")


def verdict_reasons(decision: Mapping[str, Any], main: Mapping[str, Mapping[str, Any]],
                    retention: Mapping[str, Any] | None, *, measure: str, horizon_months: int,
                    window_months: int = 6) -> list[str]:
    """The reasons for the verdict, most important first, as sentences a manager can check.

    ``decision``: :func:`segkit.compare.verdict`; ``main``: :func:`segkit.compare.compare_rankings`
    at the main cut-off; ``retention``: :func:`segkit.compare.baseline_retention` (or None).
    """
    vip = decision["vip_share"]
    chosen = decision["recommended"]
    out = [_first_reason(decision, vip)]
    skipped = [n for n in decision["schemes"] if decision["dominated"][n]
               and decision["schemes"].index(n) < decision["schemes"].index(chosen)]
    for n in skipped:
        out.append(f"The simpler {label(n)} was passed over: {_list([label(m) for m in decision['dominated'][n]])} "
                   f"beats it at the latest cut-off on both measures by more than {decision['tolerance']:g}.")
    for n in [chosen, *[s for s in decision["schemes"] if s != chosen]]:
        out.append(scheme_sentence(n, main[n], vip, measure=measure, horizon_months=horizon_months,
                                   window_months=window_months))
    if retention is not None:
        out.append(baseline_sentence(chosen, main, retention, vip, window_months=window_months))
        if retention["simple_beats_all"]:
            out.append(f"A simple ranking beats every scheme: sorting customers by their "
                       f"{label(retention['best_baseline'], window_months)} finds the valuable ones better than any "
                       "set of segments here. Segments trade some of that accuracy for groups a team can name, "
                       "staff and treat differently.")
    return out


def stability_sentence(name: str, stability: Mapping[str, Any]) -> str:
    """How many customers stay in the same segment when the scheme is refitted on resampled customers."""
    lo, hi = stability["same_segment_ci95"]
    return (f"Refitted on {stability['n_resamples']} resampled sets of customers, {label(name)} keeps "
            f"{_pct(stability['same_segment'])} of customers in the same segment (95% interval {_pct(lo)} to "
            f"{_pct(hi)}; adjusted Rand index {stability['ari']:.2f}, 1 = identical).")


def practicality_sentence(name: str, practical: Mapping[str, Any]) -> str:
    """Number of segments and the smallest one, flagging segments under 1% of customers."""
    text = (f"{_cap(label(name))} has {practical['n_segments']} segments; the smallest "
            f"({practical['smallest_segment']}) holds {100 * practical['min_segment_share']:.1f}% of customers")
    small = practical["small_segments"]
    if small:
        return text + f", and {_list(small)} {'is' if len(small) == 1 else 'are'} under 1%: too small to staff."
    return text + "."


def sensitivity_sentence(sensitivity: Mapping[str, Any]) -> str:
    """Whether the recommended scheme changes under other settings, and under which."""
    table = sensitivity["table"]
    base = label(str(sensitivity["base_winner"]))
    if not sensitivity["changed"]:
        return f"The recommendation ({base}) holds under every other setting tried."
    moved = table[~table["same_as_base"]]
    parts = [f"with {r.changed_key} {getattr(r, r.changed_key)} it is {label(str(r.winner))}"
             for r in moved.itertuples()]
    return f"The recommendation moves with the settings: {base} at the base setting, but {_list(parts)}."


def backtest_note(info: Mapping[str, Any], *, step_months: int = 3) -> str:
    """Why the backtest has fewer cut-offs than asked for (empty when it has them all).

    >>> backtest_note({"requested": 3, "used": 2, "limit": "history", "first_month": "1997-01-01"})
    ... # doctest: +NORMALIZE_WHITESPACE
    'The backtest uses 2 of the 3 cut-offs asked for (backtest_origins): the data start in 1997-01, and a cut-off 6
    months before the latest would leave its tier window without data.'
    """
    if info["used"] >= info["requested"]:
        return ""
    months = step_months * info["used"]
    head = f"The backtest uses {info['used']} of the {info['requested']} cut-offs asked for (backtest_origins): "
    if info.get("limit") == "customers":
        return head + f"a cut-off {months} months before the latest has too few buying customers to fit every scheme."
    return head + (f"the data start in {info['first_month'][:7]}, and a cut-off {months} months before the latest "
                   "would leave its tier window without data.")


def override_note(recommended: str, n_overrides: int, mapped: Mapping[str, str] | None = None) -> str:
    """How customers placed by hand reach ``recommended_segment`` when ``recommended`` wins."""
    if not n_overrides:
        return ""
    if recommended == "percentile_tiers":
        return (f"{n_overrides} customer(s) placed by hand keep their tier in recommended_segment.")
    pairs = ", ".join(f"{tier} as {seg!r}" for tier, seg in (mapped or {}).items())
    return (f"{n_overrides} customer(s) placed by hand in a tier get the segment of {label(recommended)} with the same "
            "rank in recommended_segment (VIP rank 1, GOOD 2, REGULAR 3, INACTIVE 4; the nearest rank when "
            f"{label(recommended)} has no segment of that rank)" + (f": {pairs}." if pairs else "."))


_SETTING_WORDS = {"vip_share": "a top share of {v:.0%}", "criterion": "{m} as the measure",
                  "holdout_months": "a {v}-month horizon"}


def winner_moves_sentence(sensitivity: Mapping[str, Any], window_months: int = 6) -> str:
    """Whether the best-scoring scheme changes when one setting changes, in plain words.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"changed_key": ["", "vip_share"], "vip_share": [0.2, 0.3], "winner": ["rfm", "kmeans"],
    ...                   "same_as_base": [True, False]})
    >>> winner_moves_sentence({"table": t, "base_winner": "rfm", "changed": True})
    'The best-scoring scheme changes with the settings: RFM as run, but k-means with a top share of 30%.'
    """
    base = label(str(sensitivity["base_winner"]), window_months)
    if not sensitivity["changed"]:
        return f"The best-scoring scheme ({base}) stays the same under every other setting tried."
    parts = []
    for r in sensitivity["table"][~sensitivity["table"]["same_as_base"]].to_dict("records"):
        key = r["changed_key"]
        words = _SETTING_WORDS.get(key, key + " {v}").format(v=r[key], m=measure_words(str(r[key])))
        parts.append(f"{label(str(r['winner']), window_months)} with {words}")
    return f"The best-scoring scheme changes with the settings: {base} as run, but {_list(parts)}."
