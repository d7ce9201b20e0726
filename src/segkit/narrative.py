"""The verdict in words: plain sentences a manager can check, built from :mod:`segkit.compare`'s numbers.

Nothing here computes a statistic; every number in a sentence is one the comparison returned
(rounded for reading), so a reader can find it again in ``scorecard.json``.

Example
-------
>>> r = {"capture_at": {"0.1": 0.49, "0.2": 0.624, "0.4": 0.864}, "capture_auc": 0.658,
...      "ci95": {"capture_auc": [0.638, 0.676]}}
>>> print(scheme_sentence("percentile_tiers", r, 0.2, measure="revenue", horizon_months=6))
... # doctest: +NORMALIZE_WHITESPACE
Ordering customers by percentile tiers, the top 20% held 62% of the next 6 months' revenue
(area score 0.66, 95% interval 0.64 to 0.68; 0 = random order, 1 = perfect foresight).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import formats
from .compare import share_key
from .i18n import N_, _, ngettext

__all__ = ["label", "decision_rule", "scheme_sentence", "baseline_sentence", "verdict_reasons",
           "stability_sentence", "practicality_sentence", "sensitivity_sentence", "backtest_note", "override_note",
           "measure_words", "winner_moves_sentence"]

_NAMES = {"percentile_tiers": N_("percentile tiers"), "rfm": "RFM", "kmeans": "k-means",
          "potential": N_("potential"), "recency": N_("last-purchase date")}
_MEASURES = {"revenue": N_("revenue"), "units": N_("units bought"), "margin": N_("margin"), "payments": N_("payments")}


def label(name: str, window_months: int = 6) -> str:
    """A scheme's or a baseline's name for readers (``past_value`` -> "last-6-month value")."""
    if name == "past_value":
        return _("last-{months}-month value").format(months=window_months)
    return _(_NAMES[name]) if name in _NAMES else name.replace("_", " ")


def measure_words(measure: str) -> str:
    """The run's measure for readers ("units" -> "units bought")."""
    return _(_MEASURES[measure]) if measure in _MEASURES else measure


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _pct(x: float | None) -> str:
    return formats.pct(x)


def _d(x: float, digits: int = 2) -> str:
    return formats.decimal(x, digits)


def _list(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else _("{first} and {last}").format(first=", ".join(items[:-1]),
                                                                          last=items[-1])


def decision_rule(vip_share: float, tolerance: float, simplicity: Sequence[str]) -> str:
    """The rule of :func:`segkit.compare.verdict` in one sentence (``scorecard.json`` ``decision_rule``)."""
    order = ", ".join(label(n) for n in simplicity)
    return _("Each scheme is scored by the average of its area score (capture_auc) and the share of the outcome "
             "held by its top {share}; a scheme is a clear winner only when it scores best at every backtest "
             "cut-off and its lead over every other scheme, pooled over the cut-offs, has a 95% bootstrap interval "
             "above zero; otherwise the simplest scheme statistically tied with the best ({order}) is recommended, "
             "skipping any scheme another beats on both measures by more than {tolerance} at the latest cut-off, "
             "and segment size plays no part.").format(share=_pct(vip_share), order=order,
                                                         tolerance=formats.number(tolerance, 2))


def _horizon(months: int, measure: str) -> str:
    return ngettext("the next month's {measure}", "the next {n} months' {measure}", int(months)).format(
        n=int(months), measure=measure_words(measure))


def scheme_sentence(name: str, result: Mapping[str, Any], vip_share: float, *, measure: str,
                    horizon_months: int, window_months: int = 6) -> str:
    """How much of the holdout outcome a ranking's top ``vip_share`` held, and its area score."""
    at = result["capture_at"][share_key(vip_share)]
    ci = (result.get("ci95") or {}).get("capture_auc")
    interval = _(", 95% interval {low} to {high}").format(low=_d(ci[0]), high=_d(ci[1])) if ci else ""
    return _("Ordering customers by {name}, the top {share} held {held} of {horizon} (area score {auc}{interval}; "
             "0 = random order, 1 = perfect foresight).").format(
        name=label(name, window_months), share=_pct(vip_share), held=_pct(at),
        horizon=_horizon(horizon_months, measure), auc=_d(result["capture_auc"]), interval=interval)


def baseline_sentence(scheme: str, results: Mapping[str, Mapping[str, Any]], retention: Mapping[str, Any],
                      vip_share: float, *, window_months: int = 6) -> str:
    """How much of the best simple ranking ``scheme`` keeps (capture at ``vip_share`` and area score)."""
    best = retention["best_baseline"]
    kept = retention["kept"][scheme]
    held = results[best]["capture_at"][share_key(vip_share)]
    if kept["capture_at"] is None or kept["capture_auc"] is None:
        return _("The best simple ranking ({best}) held {held}; it does no better than a random order, so there is "
                 "nothing of it for {scheme} to keep.").format(best=label(best, window_months), held=_pct(held),
                                                              scheme=label(scheme))
    return _("The best simple ranking ({best}) held {held}: {scheme} keeps {kept} of it, and {kept_auc} of its area "
             "score.").format(best=label(best, window_months), held=_pct(held), scheme=label(scheme),
                              kept=_pct(kept["capture_at"]), kept_auc=_pct(kept["capture_auc"]))


def _lead(decision: Mapping[str, Any], other: str) -> str:
    a = decision["advantage"][other]
    ci = a["ci95"]
    interval = (_(" (95% interval {low} to {high})").format(low=_d(ci[0], 3), high=_d(ci[1], 3)) if ci
                else _(" (no bootstrap interval)"))
    return _("{name} by {lead}").format(name=label(other), lead=_d(a["estimate"], 3)) + interval


def _first_reason(decision: Mapping[str, Any], vip_share: float) -> str:
    chosen, best, rule = decision["recommended"], decision["best"], decision["rule"]
    n = len(decision["origin_winners"])
    cutoffs = (ngettext("the only cut-off", "all {n} backtest cut-offs", n).format(n=n))
    score = _("the average of area score and top-{share} capture").format(share=_pct(vip_share))
    others = [o for o in decision["schemes"] if o != best]
    if rule == "clear_winner":
        pooled = _(" when pooled over the cut-offs") if n > 1 else ""
        return _("{name} is the clear winner: best at {cutoffs} on {score}, ahead of {leads}{pooled}.").format(
            name=_cap(label(chosen)), cutoffs=cutoffs, score=score,
            leads=_list([_lead(decision, o) for o in others]), pooled=pooled)
    if rule == "best_not_clear":
        lost = n - decision["wins"][best]
        why = (_("it was beaten at {lost} of {n} cut-offs").format(lost=lost, n=n) if lost else
               _("its lead over {others} is within chance").format(
                   others=_list([label(t) for t in decision["tied_with_best"]])))
        return _("No clear winner: {name} scores best on {score} overall, but {why}; it is recommended.").format(
            name=label(chosen), score=score, why=why)
    if rule == "simplest_of_tied":
        return _("No clear winner: {best} scores highest on {score} ({best_score} against {chosen_score}), but its "
                 "lead over {lead} is within chance, so the simpler {chosen} is recommended.").format(
            best=label(best), score=score, best_score=_d(decision["pooled"][best], 3),
            chosen_score=_d(decision["pooled"][chosen], 3), lead=_lead(decision, chosen), chosen=label(chosen))
    return _("No clear winner, and every scheme tied with the best is beaten on both measures at the latest "
             "cut-off, so {chosen}, the best at the latest cut-off, is recommended.").format(chosen=label(chosen))


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
        out.append(_("The simpler {name} was passed over: {others} beats it at the latest cut-off on both measures "
                     "by more than {tolerance}.").format(
            name=label(n), others=_list([label(m) for m in decision["dominated"][n]]),
            tolerance=formats.number(decision["tolerance"], 2)))
    for n in [chosen, *[s for s in decision["schemes"] if s != chosen]]:
        out.append(scheme_sentence(n, main[n], vip, measure=measure, horizon_months=horizon_months,
                                   window_months=window_months))
    if retention is not None:
        out.append(baseline_sentence(chosen, main, retention, vip, window_months=window_months))
        if retention["simple_beats_all"]:
            out.append(_("A simple ranking beats every scheme: sorting customers by their {best} finds the valuable "
                         "ones better than any set of segments here. Segments trade some of that accuracy for groups "
                         "a team can name, staff and treat differently.").format(
                best=label(retention["best_baseline"], window_months)))
    return out


def stability_sentence(name: str, stability: Mapping[str, Any]) -> str:
    """How many customers stay in the same segment when the scheme is refitted on resampled customers."""
    lo, hi = stability["same_segment_ci95"]
    return _("Refitted on {n} resampled sets of customers, {name} keeps {same} of customers in the same segment "
             "(95% interval {low} to {high}; adjusted Rand index {ari}, 1 = identical).").format(
        n=stability["n_resamples"], name=label(name), same=_pct(stability["same_segment"]), low=_pct(lo),
        high=_pct(hi), ari=_d(stability["ari"]))


def practicality_sentence(name: str, practical: Mapping[str, Any]) -> str:
    """Number of segments and the smallest one, flagging segments under 1% of customers."""
    n = practical["n_segments"]
    text = ngettext("{name} has {n} segment; the smallest ({smallest}) holds {share} of customers",
                    "{name} has {n} segments; the smallest ({smallest}) holds {share} of customers", n).format(
        name=_cap(label(name)), n=n, smallest=_(practical["smallest_segment"]),
        share=formats.pct(practical["min_segment_share"], 1))
    small = practical["small_segments"]
    if small:
        return text + ngettext(", and {names} is under 1%: too small to staff.",
                               ", and {names} are under 1%: too small to staff.", len(small)).format(
            names=_list([_(s) for s in small]))
    return text + "."


def sensitivity_sentence(sensitivity: Mapping[str, Any]) -> str:
    """Whether the recommended scheme changes under other settings, and under which."""
    table = sensitivity["table"]
    base = label(str(sensitivity["base_winner"]))
    if not sensitivity["changed"]:
        return _("The recommendation ({base}) holds under every other setting tried.").format(base=base)
    moved = table[~table["same_as_base"]]
    parts = [_("with {key} {value} it is {name}").format(key=r.changed_key, value=getattr(r, r.changed_key),
                                                          name=label(str(r.winner)))
             for r in moved.itertuples()]
    return _("The recommendation moves with the settings: {base} at the base setting, but {parts}.").format(
        base=base, parts=_list(parts))


def backtest_note(info: Mapping[str, Any], *, step_months: int = 3) -> str:
    """Why the backtest has fewer cut-offs than asked for (empty when it has them all).

    >>> backtest_note({"requested": 3, "used": 2, "limit": "history", "first_month": "1997-01-01"})
    ... # doctest: +NORMALIZE_WHITESPACE
    'The backtest uses 2 of the 3 cut-offs asked for (backtest_origins): the data start in January 1997, and a
    cut-off 6 months before the latest would leave its tier window without data.'
    """
    if info["used"] >= info["requested"]:
        return ""
    months = step_months * info["used"]
    head = _("The backtest uses {used} of the {requested} cut-offs asked for (backtest_origins): ").format(
        used=info["used"], requested=info["requested"])
    if info.get("limit") == "customers":
        return head + _("a cut-off {months} months before the latest has too few buying customers to fit every "
                        "scheme.").format(months=months)
    return head + _("the data start in {month}, and a cut-off {months} months before the latest would leave its "
                    "tier window without data.").format(month=formats.month(info["first_month"]), months=months)


def override_note(recommended: str, n_overrides: int, mapped: Mapping[str, str] | None = None) -> str:
    """How customers placed by hand reach ``recommended_segment`` when ``recommended`` wins."""
    if not n_overrides:
        return ""
    if recommended == "percentile_tiers":
        return ngettext("{n} customer placed by hand keeps their tier in recommended_segment.",
                        "{n} customers placed by hand keep their tier in recommended_segment.",
                        n_overrides).format(n=n_overrides)
    pairs = ", ".join(_("{tier} as {segment}").format(tier=_(tier), segment=f"'{_(seg)}'")
                      for tier, seg in (mapped or {}).items())
    text = ngettext(
        "{n} customer placed by hand in a tier gets the segment of {name} with the same rank in "
        "recommended_segment (VIP rank 1, GOOD 2, REGULAR 3, INACTIVE 4; the nearest rank when {name} has no "
        "segment of that rank)",
        "{n} customers placed by hand in a tier get the segment of {name} with the same rank in "
        "recommended_segment (VIP rank 1, GOOD 2, REGULAR 3, INACTIVE 4; the nearest rank when {name} has no "
        "segment of that rank)", n_overrides).format(n=n_overrides, name=label(recommended))
    return text + (f": {pairs}." if pairs else ".")


_SETTING_WORDS = {"vip_share": N_("a top share of {v}"), "criterion": N_("{m} as the measure"),
                  "holdout_months": N_("a {v}-month horizon")}


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
        return _("The best-scoring scheme ({base}) stays the same under every other setting tried.").format(base=base)
    parts = []
    for r in sensitivity["table"][~sensitivity["table"]["same_as_base"]].to_dict("records"):
        key = r["changed_key"]
        value = _pct(r[key]) if key == "vip_share" else r[key]
        words = (_(_SETTING_WORDS[key]) if key in _SETTING_WORDS else key + " {v}").format(
            v=value, m=measure_words(str(r[key])))
        parts.append(_("{name} with {setting}").format(name=label(str(r["winner"]), window_months), setting=words))
    return _("The best-scoring scheme changes with the settings: {base} as run, but {parts}.").format(
        base=base, parts=_list(parts))
