"""What the notebooks call: open a run, and turn its numbers into plain-language text and tables.

Notebooks stay thin: each cell calls one function here or in :mod:`segkit.plots`. Text that
depends on the data (every sentence with a number in it) is built here so it can be tested.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from . import compare, formats, i18n, narrative
from .i18n import _, ngettext, segment_label
from .config import RunParams
from .evaluate import SCHEME_NAMES
from .features import gini
from .pipeline import Analysis, load_or_analyze, package_versions
from .notebook_decisions import *  # noqa: F403 - the decisions section's tables
from .notebook_decisions import __all__ as _decisions_all
from .potential import outputs as potential_outputs
from .schemes import registry
from .schemes.overrides import PROSPECT_NOTE

__all__ = ["open_run", "setup", "money", "pct", "text", "coverage_markdown", "_", "segment_label", "headline_html", "reasons_markdown", "scorecard_table", "who_to_call",
           "scheme_order", "ordering_labels", "comparison_table", "backtest_table", "backtest_markdown", "practicality_markdown",
           "verdict_sensitivity_table", "verdict_sensitivity_markdown", "override_markdown",
           "provenance_markdown", "quality_table", "data_summary_markdown", "comparison_extras",
           "overrides_table", "disagreement_table",
           "tier_profile_table", "vip_movements_table", "boundary_table",
           "rfm_cut_points_table", "segment_profile_table", "scheme_sections",
           "potential_fitted", "potential_totals", "holdout_by_frequency", "potential_model_markdown",
           "holdout_purchases_table",
           "p_alive_matrix", "headroom_groups", "headroom_groups_table", "alert_comparison_table", "key_accounts_table",
           "worth_more_markdown", "tier_intro_markdown", "dropout_markdown", "dropouts_markdown", "kmeans_intro_markdown",
           "overrides_markdown", "crosstab_table", "rfm_profile_table", "criteria_overlap_table",
           "share_sensitivity_table", "k_scores_table", "cluster_stability_table", "no_purchase_markdown",
           *_decisions_all]


def open_run(cache_dir: str = "", **parameters: Any) -> Analysis:
    """Validate run parameters and return the run's analysis (computed, or read from ``cache_dir``).

    Changes no process-wide setting (see :func:`setup` for the notebooks' display options).
    """
    params = RunParams.from_mapping(parameters, where="notebook parameters", base_dir=Path.cwd())
    return load_or_analyze(params, cache_dir or None)


def setup(namespace: Mapping[str, Any]) -> Analysis:
    """The notebooks' setup cell: ``analysis = nb.setup(globals())`` after the parameters cell.

    Reads every :class:`RunParams` field the parameters cell defines (and ``cache_dir``) from
    ``namespace``; fields it leaves out keep their defaults. Inside a Jupyter kernel (the notebook's
    own process) it also sets the display options the pages rely on: inline figures, segkit's
    figure style, and whole texts in tables. Anywhere else it changes no global setting.

    Example
    -------
    >>> from segkit.config import CDNOW_PATH
    >>> a = setup({"name": "demo", "data": str(CDNOW_PATH), "cache_dir": ""})  # doctest: +SKIP
    """
    fields = {f.name for f in dataclasses.fields(RunParams)}
    parameters = {k: v for k, v in namespace.items() if k in fields}
    # the page's texts, numbers and figures follow the run's language from here on
    i18n.activate(str(parameters.get("language") or i18n.DEFAULT))
    if _in_kernel():
        _kernel_display_options()
    return open_run(str(namespace.get("cache_dir") or ""), **parameters)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _kernel_display_options() -> None:
    """Display settings of a notebook kernel (process-wide, so only ever called inside one)."""
    from IPython import get_ipython

    from . import plots

    # figures inline even when MPLBACKEND says otherwise (e.g. Agg in CI)
    get_ipython().run_line_magic("matplotlib", "inline")
    plots.set_style()
    # tables show whole texts (override reasons, stage meanings): a cut-off reason is a lost reason
    pd.set_option("display.max_colwidth", None)


# ---------------------------------------------------------------- formatting
def money(x: float, currency: str | None) -> str:
    """Money in text, in the reader's language: whole units, then short thousands and millions
    (``$2,283``, ``91 tis. Kč``; no sign without a currency), see :func:`segkit.formats.money`."""
    return formats.money(x, currency)


def pct(x: float, digits: int = 0) -> str:
    """A share as a percentage in the reader's language (:func:`segkit.formats.pct`)."""
    return formats.pct(x, digits)


def _e(x: Any) -> str:
    return html.escape(str(x))


def _n(x: Any, digits: int = 0) -> str:
    return formats.number(x, digits)


def text(message: str, **values: Any) -> str:
    """A catalogue text in the run's language, with ``values`` filled in (for a notebook's code cells).

    >>> text("{n} customer(s) placed by hand.", n=3)
    '3 customer(s) placed by hand.'
    """
    return _(message).format(**values) if values else _(message)


def _segments(frame: pd.DataFrame) -> pd.DataFrame:
    """A table whose index (and columns) are segment names, with the names in the reader's language."""
    return frame.rename(index=segment_label, columns=segment_label)


# ---------------------------------------------------------------- data profile
def data_summary_markdown(a: Analysis) -> str:
    q = a.quality
    g = gini(a.features["monetary"])
    return _("segkit read **{read} rows** from `{file}` and used **{used}** ({dropped} dropped, reasons below). "
             "They describe **{customers} customers** from {first} to {last}. Calibration runs to **{as_of}**; the "
             "schemes are scored on {start} .. {end}. Revenue is concentrated: the Gini coefficient of customers' "
             "net revenue in calibration is **{gini}** (0 = everyone spends the same, 1 = one customer spends "
             "everything).").format(
        read=_n(q.rows_read), file=Path(a.data["path"]).name, used=_n(q.rows_used), dropped=_n(q.rows_dropped),
        customers=_n(q.customers), first=formats.date(q.first_date), last=formats.date(q.last_date),
        as_of=formats.date(a.split.as_of), start=formats.date(a.split.holdout_start),
        end=formats.date(a.split.holdout_end), gini=formats.decimal(g)) + " " + coverage_markdown(a)


_WHERE = {
    "missing_customer_id": i18n.N_("{share} was in rows without a customer id"),
    "missing_date": i18n.N_("{share} was in rows without a date"),
    "unparseable_date": i18n.N_("{share} was in rows whose date cannot be read"),
    "unparseable_quantity": i18n.N_("{share} was in rows whose quantity cannot be read"),
    "unparseable_cost": i18n.N_("{share} was in rows whose cost cannot be read"),
    "duplicates_dropped": i18n.N_("{share} was in exact duplicate rows dropped"),
    "filtered_out": i18n.N_("{share} was outside the run's filter"),
}


def coverage_markdown(a: Analysis) -> str:
    """How much of the file's money the analysis covers, in the reader's language."""
    q = a.quality
    covered = q.coverage()
    if covered is None:
        return _("The share of the file's net amount the analysis covers is unknown (the amounts sum to 0).")
    parts = [_(_WHERE[key]).format(share=pct(share, 1)) for key in q.dropped if key in _WHERE
             if q.dropped[key] and isinstance(share := q.money(key)[2], float) and round(share, 3)]
    out = _("The analysis covers {share} of the net amount in the file").format(share=pct(covered, 1))
    out += ("; " + ", ".join(parts)) if parts else ""
    unread = q.dropped.get("unparseable_amount", 0)
    if unread:
        out += ngettext("; {n} dropped row whose amount cannot be read is not counted",
                        "; {n} dropped rows whose amount cannot be read are not counted", unread).format(n=_n(unread))
    return out + "."


def quality_table(a: Analysis) -> pd.DataFrame:
    frame = a.quality.to_frame()
    frame["finding"] = frame["finding"].map(lambda v: _(v))
    frame["action"] = frame["action"].map(lambda v: _(v) if isinstance(v, str) and v else v)
    frame["count"] = frame["count"].map(_n)
    frame["share_of_rows"] = frame["share_of_rows"].map(lambda v: "" if pd.isna(v) else pct(v, 2))
    for col in ("customers", "net_amount"):
        frame[col] = frame[col].map(lambda v: _n(v) if isinstance(v, (int, float)) else (_(v) if v else v))
    frame["share_of_net_amount"] = frame["share_of_net_amount"].map(
        lambda v: pct(v, 2) if isinstance(v, float) else (_(v) if v else v))
    return frame.rename(columns={"finding": _("What"), "count": _("Rows"), "share_of_rows": _("Share"),
                                 "customers": _("Customers"), "net_amount": _("Net amount"),
                                 "share_of_net_amount": _("Share of the net amount"), "action": _("Action"),
                                 "examples": _("Examples")})


# ---------------------------------------------------------------- comparison
def scheme_order(a: Analysis) -> list[str]:
    """Scheme names with the recommended one first, then the registry's order."""
    rec = a.scorecard["recommended"]
    return [rec, *(n for n in registry.names() if n in a.schemes and n != rec)]


def _label(name: str, a: Analysis) -> str:
    return narrative.label(name, a.params.window_months)


def ordering_labels(a: Analysis) -> dict[str, str]:
    """Reader names of the schemes (registry labels) and of the simple rankings, for figure legends."""
    return {**{s.name: _(s.label) for s in registry.schemes()},
            **{b: _label(b, a)[:1].upper() + _label(b, a)[1:] for b in compare.BASELINES}}


def headline_html(a: Analysis) -> str:
    """The verdict on one screen: the choice, clear or not, the deciding numbers, the price of boxes."""
    sc, rec = a.scorecard, a.scorecard["recommended"]
    vip, key = a.params.vip_share, compare.share_key(a.params.vip_share)
    comp = sc["schemes"][rec]["comparison"]
    retention = a.recommendation["retention"]
    best_base = retention["best_baseline"]
    kept = retention["kept"][rec]
    n_origins = len(sc["backtest"])
    wins = a.recommendation["decision"]["wins"].get(rec, 0)
    verdict = (_("a clear winner") if sc["clear_winner"] else _("no clear winner: the simplest of the schemes that "
               "cannot be told apart from the best, and not beaten on both measures"))
    measure = narrative.measure_words(sc["outcome"]["measure"])
    months = sc["outcome"]["horizon_months"]
    practical = compare.practicality(a.tables[rec])
    name = _e(_label(rec, a))
    kpis = [
        (pct(comp["capture_at"][key]), ngettext(
            "of next month's {measure} came from the top {share} of customers as {name} orders them",
            "of the next {months} months' {measure} came from the top {share} of customers as {name} orders them",
            months).format(months=months, measure=_e(measure), share=pct(vip), name=name)),
        (formats.decimal(comp["capture_auc"]), _("area score of that ordering (0 = random order, 1 = perfect "
                                                 "foresight)")),
        (_("{wins} of {n}").format(wins=wins, n=n_origins), _("backtest cut-offs at which it scored best")),
        (pct(kept["capture_at"]) if kept["capture_at"] is not None else "–",
         _("of what the best simple ranking ({best}) captures: the price of putting customers in boxes").format(
             best=_e(_label(best_base, a)))),
    ]
    cards = "".join(f'<div class="segkit-kpi"><div class="v">{v}</div><div class="l">{label}</div></div>'
                    for v, label in kpis)
    simple = ""
    if retention["simple_beats_all"]:
        simple = "<p>" + _(
            "<b>A simple ranking beats every scheme:</b> sorting customers by their {best} finds next months' "
            "{measure} better than any set of segments here. {name} keeps {kept} of its top-{share} capture and "
            "{kept_auc} of its area score, in exchange for {n} named groups a team can staff and treat "
            "differently.").format(best=_e(_label(best_base, a)), measure=_e(measure), name=name[:1].upper() + name[1:],
                                   kept=pct(kept["capture_at"] or 0), share=pct(vip),
                                   kept_auc=pct(kept["capture_auc"] or 0), n=practical["n_segments"]) + "</p>"
    title = _("Recommendation: use {name}").format(name=name)
    lead = ngettext(
        "Compared on the same {customers} customers at {n} cut-off and tested on their {measure} in the following "
        "{months} months, {name} is recommended ({verdict}).",
        "Compared on the same {customers} customers at {n} cut-offs and tested on their {measure} in the following "
        "{months} months, {name} is recommended ({verdict}).", n_origins).format(
        customers=_n(len(a.features)), n=n_origins, measure=_e(measure), months=months, name=name,
        verdict=_e(verdict))
    return (f'<div class="segkit-headline"><h2>{title}</h2><p>{lead}</p>{simple}</div>'
            f'<div class="segkit-kpis">{cards}</div>'
            f"<p>{_e(sc['reasons'][0])}</p><p><small>{_e(sc['decision_rule'])}</small></p>")


def reasons_markdown(a: Analysis) -> str:
    return "\n".join(f"- {r}" for r in a.scorecard["reasons"])


def _ci(lo: float, hi: float, fmt: Any) -> str:
    return f" ({fmt(lo)}–{fmt(hi)})"


def comparison_table(a: Analysis) -> pd.DataFrame:
    """Schemes (recommended first) and simple rankings side by side on the deciding measures."""
    sc, key = a.scorecard, compare.share_key(a.params.vip_share)
    shares = list(next(iter(sc["baselines"].values()))["capture_at"]) if sc["baselines"] else [key]
    extras = a.comparison()
    rows = []
    col_ordering, col_area, col_deciding = _("Ordering"), _("Area score"), _("Deciding score")
    col_segments, col_smallest, col_same = _("Segments"), _("Smallest segment"), _("Same segment after refit")
    for name in [*scheme_order(a), *sc["baselines"]]:
        is_scheme = name in sc["schemes"]
        c = sc["schemes"][name]["comparison"] if is_scheme else sc["baselines"][name]
        ci = c.get("ci95", {}) if is_scheme else {}
        row = {col_ordering: ordering_labels(a).get(name, name) + (" ★" if name == sc["recommended"] else "")
               + ("" if is_scheme else " " + _("(simple ranking)"))}
        for s in shares:
            lo_hi = (ci.get("capture_at") or {}).get(s)
            row[_("Top {share} capture").format(share=pct(float(s)))] = pct(c["capture_at"][s], 1) + (
                _ci(*lo_hi, lambda v: pct(v, 1)) if lo_hi else "")
        auc_ci = ci.get("capture_auc")
        d3 = lambda v: formats.decimal(v, 3)  # noqa: E731
        row[col_area] = d3(c["capture_auc"]) + (_ci(*auc_ci, d3) if auc_ci else "")
        row[col_deciding] = d3((c["capture_auc"] + c["capture_at"][key]) / 2)
        if is_scheme:
            pr, st = extras["practicality"][name], extras["stability"][name]
            row[col_segments] = f"{pr['n_segments']}"
            row[col_smallest] = pct(pr["min_segment_share"], 1) + (" ⚠" if pr["small_segments"] else "")
            lo, hi = st["same_segment_ci95"]
            row[col_same] = pct(st["same_segment"], 1) + _ci(lo, hi, lambda v: pct(v, 1))
        else:
            row[col_segments] = row[col_smallest] = row[col_same] = _("– (one per customer)")
        rows.append(row)
    return pd.DataFrame(rows).set_index(col_ordering)


def backtest_table(a: Analysis) -> pd.DataFrame:
    """Each backtest cut-off: the deciding score of every scheme and the winner there."""
    sc, key = a.scorecard, compare.share_key(a.params.vip_share)
    rows = []
    for o in sc["backtest"]:
        row = {_("Cut-off"): formats.date(o["as_of"]),
               _("Scored on"): f"{formats.date(o['holdout']['start'])} .. {formats.date(o['holdout']['end'])}"}
        for name in scheme_order(a):
            c = o["schemes"][name]
            row[_label(name, a)] = formats.decimal((c["capture_auc"] + c["capture_at"][key]) / 2, 3)
        for name, c in o.get("baselines", {}).items():
            row[_("{name} (simple)").format(name=_label(name, a))] = formats.decimal(
                (c["capture_auc"] + c["capture_at"][key]) / 2, 3)
        row[_("Best scheme")] = _label(o["winner"], a)
        rows.append(row)
    return pd.DataFrame(rows).set_index(_("Cut-off"))


def backtest_markdown(a: Analysis) -> str:
    """Which scheme won at each cut-off, and why there are fewer cut-offs than asked for (if so)."""
    winners = [o["winner"] for o in a.scorecard["backtest"]]
    same = len(set(winners)) == 1
    if same and len(winners) > 1:
        name = _label(winners[0], a)
        out = _("{name} scores best at every cut-off.").format(name=name[:1].upper() + name[1:])
    else:
        out = _("The best scheme changes between cut-offs: {list}.").format(list=", ".join(
            _("{name} at {date}").format(name=_label(w, a), date=formats.date(o["as_of"]))
            for w, o in zip(winners, a.scorecard["backtest"])))
    note = (a.scorecard.get("backtest_origins") or {}).get("note")
    return out + (f" {note}" if note else "")


def practicality_markdown(a: Analysis) -> str:
    """Segments a team must handle and how stable they are, scheme by scheme (recommended first)."""
    extras = a.comparison()
    lines = []
    for name in scheme_order(a):
        lines.append(f"- {narrative.practicality_sentence(name, extras['practicality'][name])} "
                     f"{narrative.stability_sentence(name, extras['stability'][name])}")
    return "\n".join(lines)


def verdict_sensitivity_table(a: Analysis) -> pd.DataFrame:
    """The best-scoring scheme under other settings (point estimates at the latest cut-off)."""
    t = a.comparison()["verdict_sensitivity"]["table"]
    what = {"": _("as run"), "vip_share": _("top share"), "criterion": _("measure"), "holdout_months": _("horizon")}
    out = pd.DataFrame({
        _("Changed"): t["changed_key"].map(what),
        _("Top share"): t["vip_share"].map(lambda v: pct(v)),
        _("Measure"): t["criterion"].map(narrative.measure_words),
        _("Horizon (months)"): t["holdout_months"].astype(int),
        _("Best scheme"): t["winner"].map(lambda w: "–" if w is None or pd.isna(w) else _label(str(w), a)),
        _("Same as as run"): t.apply(lambda r: "–" if r["note"] else (_("yes") if r["same_as_base"] else _("no")),
                                     axis=1),
        _("Note"): t["note"].map(lambda n: _("not available: the data end too early") if n else ""),
    })
    return out.set_index(_("Changed"))


def verdict_sensitivity_markdown(a: Analysis) -> str:
    return narrative.winner_moves_sentence(a.comparison()["verdict_sensitivity"], a.params.window_months)


def override_markdown(a: Analysis) -> str:
    """How customers placed by hand reach recommended_segment under the recommended scheme."""
    rec = a.scorecard["recommended"]
    manual = a.assignments[a.assignments["override_tier"].notna() & (a.assignments["override_tier"] != "")]
    mapped = dict(zip(manual["override_tier"], manual["recommended_segment"]))
    return narrative.override_note(rec, len(manual), mapped)


def overrides_markdown(a: Analysis) -> str:
    """The line above the table of customers placed by hand (or that there are none)."""
    n = len(overrides_table(a))
    if not n:
        return _("No manual placements in this run.")
    return ngettext("{n} customer placed by hand.", "{n} customers placed by hand.", n).format(n=n) + " " + \
        override_markdown(a)


def scorecard_table(a: Analysis) -> pd.DataFrame:
    """Supporting figures, one row per scheme: the descriptive metrics with their 95% intervals."""
    rows = []
    for name in scheme_order(a):
        s = a.scorecard["schemes"][name]
        m, ci = s["metrics"], s["ci95"]

        def with_ci(key, fmt):
            v = m[key]
            if v is None:
                return "–"
            lo_hi = ci.get(key)
            return fmt(v) + (_ci(*lo_hi, fmt) if lo_hi else "")

        rows.append({
            _("Scheme"): _(SCHEME_NAMES.get(name, name)) + (" ★" if name == a.scorecard["recommended"] else ""),
            _("Top segment size"): pct(m["top_segment_share"], 1),
            _("Top segment's share of next revenue"): with_ci("top_segment_holdout_revenue_share",
                                                              lambda v: pct(v, 1)),
            _("Lift"): with_ci("top_segment_lift", lambda v: formats.decimal(v, 2)),
            "Spearman": with_ci("holdout_spearman", lambda v: formats.decimal(v, 3)),
            _("AUC (buys again)"): with_ci("holdout_activity_auc", lambda v: formats.decimal(v, 3)),
            _("Stability one month apart (ARI)"): formats.decimal(m["stability_ari"], 2),
        })
    return pd.DataFrame(rows).set_index(_("Scheme"))


def who_to_call(a: Analysis, n: int = 25) -> pd.DataFrame:
    """The VIP dropouts with the most value at risk."""
    al = a.alerts.head(n).drop(columns=["rule"], errors="ignore").copy()
    al["value_at_risk"] = al["value_at_risk"].map(lambda v: money(v, a.params.currency))
    for col in ("last_vip_month", "last_payment"):
        if col in al:
            al[col] = al[col].map(formats.month if col == "last_vip_month" else formats.date)
    if "p_alive" in al:  # the purchase model's view of the same customer (empty when not fitted)
        al["p_alive"] = al["p_alive"].map(lambda v: "" if pd.isna(v) else formats.decimal(v))
    return al.rename(columns={"customer_id": _("Customer"), "last_vip_month": _("Last VIP month"),
                              "last_payment": _("Last payment"), "value_at_risk": _("Value in window"),
                              "p_alive": "P(alive)"}).set_index(_("Customer"))


def dropouts_markdown(a: Analysis) -> str:
    """The line above the list of VIPs who stopped paying."""
    n = len(a.alerts)
    return ngettext("**{n} VIP** stopped paying; together they paid {value} in the window. The 25 largest:",
                    "**{n} VIPs** stopped paying; together they paid {value} in the window. The 25 largest:",
                    n).format(n=_n(n), value=money(a.alerts["value_at_risk"].sum(), a.params.currency))


def comparison_extras(a: Analysis) -> dict[str, Any]:
    """Curves, movement, agreement and sensitivity for the comparison pages (computed by the pipeline)."""
    return a.comparison()


def scheme_sections(a: Analysis) -> list[tuple[str, pd.DataFrame]]:
    """Every registered scheme's segments, in tie-break order: (heading, readable profile table)."""
    return [(_(spec.label), segment_profile_table(a.schemes[spec.name].profile(), a.params.currency))
            for spec in registry.schemes() if spec.name in a.schemes]


def tier_intro_markdown(a: Analysis) -> str:
    """The percentile-tiers page's first line: the criterion, the window and how many customers."""
    t = a.schemes["percentile_tiers"]
    return _("Customers are ranked by **{criterion}** each month of the window {first} .. {last}. Window tiers of "
             "the {n} customers:").format(criterion=narrative.measure_words(a.params.criterion),
                                          first=formats.month(t.window_[0]), last=formats.month(t.window_[-1]),
                                          n=_n(len(a.features)))


def tier_profile_table(a: Analysis) -> pd.DataFrame:
    """Window tiers: customers, shares, window value and average behaviour, readable."""
    cur = a.params.currency
    p = a.schemes["percentile_tiers"].profile()
    crit = narrative.measure_words(a.params.criterion)
    value_label = _("Window {criterion}").format(criterion=crit)
    if a.params.criterion in ("revenue", "margin"):
        value_label = formats.unit(value_label, cur)
    out = pd.DataFrame({
        _("Tier"): p["segment"].map(segment_label), _("Customers"): p["customers"].map(_n),
        _("Share"): p["share"].map(pct),
        value_label: p["window_value"].map(_n),
        _("Share of window {criterion}").format(criterion=crit): p["value_share"].map(pct),
        _("Days since last purchase"): p["recency_days"].map(_n),
        _("Purchases"): p["frequency"].map(lambda v: _n(v, 1)),
        formats.unit(_("Net revenue"), cur): p["monetary"].map(_n),
    })
    return out.set_index(_("Tier"))


def vip_movements_table(a: Analysis) -> pd.DataFrame:
    """VIPs per window month and how many entered and left the list ('–' for the first month)."""
    m = a.schemes["percentile_tiers"].movements_
    out = pd.DataFrame({_("Month"): m["month"].map(formats.month), _("VIPs"): m["vip"].map(_n),
                        _("Entered VIP"): m["entered"].map(lambda v: "–" if pd.isna(v) else _n(v)),
                        _("Left VIP"): m["left"].map(lambda v: "–" if pd.isna(v) else _n(v))})
    return out.set_index(_("Month"))


def dropout_markdown(a: Analysis) -> str:
    """The percentile-tiers page's line above the VIP dropouts."""
    n = len(a.alerts)
    return ngettext("**{n} VIP dropout**, {value} of window value in total. The 25 largest:",
                    "**{n} VIP dropouts**, {value} of window value in total. The 25 largest:", n).format(
        n=_n(n), value=money(a.alerts["value_at_risk"].sum(), a.params.currency))


def boundary_table(a: Analysis) -> pd.DataFrame:
    """Cut points per month: threshold, ties at it and customers within 5% of it."""
    b = a.schemes["percentile_tiers"].boundary_
    if b.empty:
        return pd.DataFrame(columns=[_("Month"), _("Cut")]).set_index(_("Month"))
    out = pd.DataFrame({
        _("Month"): b["month"].map(formats.month), _("Cut"): b["cut"].map(segment_label),
        _("Paying customers"): b["customers"].map(_n),
        _("Above the cut"): b["above_cut"].map(_n), _("Threshold"): b["threshold"].map(lambda v: _n(v, 2)),
        _("Tied at the threshold"): b["tied_at_threshold"],
        _("Tie split by customer id"): b["ties_split_by_customer_id"].map({True: _("yes"), False: _("no")}),
        _("Within 5% of the threshold"): b["within_5pct"],
    })
    return out.set_index(_("Month"))


def rfm_cut_points_table(a: Analysis) -> pd.DataFrame:
    """The value range behind every R, F and M score, and its customers; empty scores say so."""
    cur = a.params.currency
    c = a.schemes["rfm"].cut_points_
    units = {"R": _("days since last purchase"), "F": _("purchases"),
             "M": formats.unit(_("net revenue"), cur)}

    def cell(row) -> str:
        if not row["customers"]:
            return _("no customers (ties moved them to a neighbouring score)")
        digits = 2 if row["dimension"] == "M" else 0
        lo, hi = _n(row["min"], digits), _n(row["max"], digits)
        n = ngettext("{n} customer", "{n} customers", int(row["customers"])).format(n=_n(row["customers"]))
        return f"{lo} ({n})" if lo == hi else _("{low} to {high}").format(low=lo, high=hi) + f" ({n})"

    out = c.assign(text=c.apply(cell, axis=1)).pivot(index="score", columns="dimension", values="text")
    out = out.reindex(columns=["R", "F", "M"]).rename(columns={d: f"{d} ({u})" for d, u in units.items()})
    out.index.name = _("Score")
    return out.sort_index(ascending=False)


def rfm_profile_table(a: Analysis) -> pd.DataFrame:
    """The RFM segments for readers (:func:`segment_profile_table` of the scheme's profile)."""
    return segment_profile_table(a.schemes["rfm"].profile(), a.params.currency)


def segment_profile_table(profile: pd.DataFrame, currency: str | None) -> pd.DataFrame:
    """A scheme's ``profile()`` for readers: plain column names, rounded, '–' for empty segments."""
    names = {"customers": _("Customers"), "share": _("Share"), "recency_days": _("Days since last purchase"),
             "frequency": _("Purchases"), "monetary": formats.unit(_("Net revenue"), currency),
             "avg_order_value": formats.unit(_("Average order"), currency),
             "tenure_days": _("Days since first purchase"),
             "jaccard": _("Stability (Jaccard)"), "description": _("Description"), "cluster": _("Cluster"),
             "window_value": _("Value in the window"), "value_share": _("Share of the window value"),
             "p_alive": "P(alive)", "expected_purchases": _("Expected purchases"),
             "predicted_value": formats.unit(_("Predicted value"), currency)}
    p = profile.set_index("segment").drop(columns=["rank"], errors="ignore")
    out = pd.DataFrame(index=p.index.map(segment_label))
    for col in p.columns:
        v = p[col].to_numpy()
        if col in ("share", "value_share"):
            out[names[col]] = [pct(x, 1) for x in v]
        elif col in ("customers", "cluster"):
            out[names[col]] = [_n(x) for x in v]
        elif pd.api.types.is_numeric_dtype(p[col]):
            digits = 2 if col in ("jaccard", "p_alive") else (1 if col in ("frequency", "expected_purchases") else 0)
            out[names.get(col, col)] = [_n(x, digits) for x in v]
        else:
            out[names.get(col, col)] = [_(x) if isinstance(x, str) and x else "" for x in v]
    out.index.name = _("Segment")
    return out


def kmeans_intro_markdown(a: Analysis) -> str:
    """The k-means page's first line: the range of k tried and the k chosen."""
    k = a.schemes["kmeans"]
    return _("segkit tried k from {low} to {high} on a sample of up to {sample} customers and chose **k = {k}** by "
             "the silhouette score.").format(low=a.params.k_range[0], high=a.params.k_range[1], sample=_n(10_000),
                                             k=k.k_)


def union_vs_period_markdown(a: Analysis, uvp: dict[str, Any]) -> str:
    cur = a.params.currency
    n_not = uvp["dropouts_not_vip_in_period_total"]
    return _("Ranking each month separately and merging the months finds **{union} VIPs**; ranking the {months}-month "
             "total once finds **{period}**. The period total misses **{missed}** customers who were VIP in at least "
             "one month; they went on to spend **{missed_value}** in the holdout. It also raises no alert for the "
             "**{dropouts}** VIPs who stopped paying ({at_risk} of window value); ").format(
        union=_n(uvp["union_vip"]), months=a.params.window_months, period=_n(uvp["period_total_vip"]),
        missed=_n(uvp["missed_by_period_total"]), missed_value=money(uvp["missed_holdout_revenue"], cur),
        dropouts=_n(uvp["dropouts_flagged_by_union"]), at_risk=money(uvp["dropout_value_at_risk"], cur)) + ngettext(
        "{n} of them is not even VIP in the period-total ranking.",
        "{n} of them are not even VIP in the period-total ranking.", n_not).format(n=_n(n_not))


def overrides_table(a: Analysis) -> pd.DataFrame:
    ov = a.overrides
    ov = ov[ov["override_tier"].notna()]
    if "prospect" in ov:  # placed before their first purchase: no computed tier
        # (as text: the tiers may be categories, which take no other value)
        ov = ov.assign(computed_tier=ov["computed_tier"].astype(object).where(~ov["prospect"].astype(bool), PROSPECT_NOTE))
    ov = ov.assign(computed_tier=ov["computed_tier"].map(lambda v: segment_label(v) if isinstance(v, str) else v),
                   override_tier=ov["override_tier"].map(segment_label))
    return ov.rename(columns={"customer_id": _("Customer"), "computed_tier": _("Computed tier"),
                              "override_tier": _("Placed in"), "override_reason": _("Reason")})[
        [_("Customer"), _("Computed tier"), _("Placed in"), _("Reason")]].set_index(_("Customer"))


def disagreement_table(a: Analysis, agree: dict[str, Any]) -> pd.DataFrame:
    """Where two schemes disagree on who is top: customers and their revenue before and after the cut-off."""
    cur = a.params.currency

    def label(text: str) -> str:
        for key, name in SCHEME_NAMES.items():
            text = text.replace(key, _(name))
        return text

    d = agree["top_disagreement"]
    rows = []
    first = _("In the top segment of")
    for r in d.itertuples(index=False):
        both = r.not_top_of == ""
        rows.append({
            first: label(r.top_of),
            _("But not in the top segment of"): _("– (both agree)") if both else label(r.not_top_of),
            _("Customers"): _n(r.customers),
            formats.unit(_("Revenue up to the cut-off"), cur): _n(r.calibration_revenue),
            formats.unit(_("Revenue after the cut-off"), cur): _n(r.holdout_revenue),
        })
    return pd.DataFrame(rows).set_index(first) if rows else pd.DataFrame(columns=[first]).set_index(first)


def crosstab_table(table: pd.DataFrame) -> pd.DataFrame:
    """A crosstab of two schemes' segments with the names in the reader's language: the segments, and the
    axes (the schemes, named by their keys in the crosstab) by the schemes' labels."""
    labels = {s.name: _(s.label) for s in registry.schemes()}
    out = _segments(table)
    return out.rename_axis(index=labels.get(str(table.index.name), table.index.name),
                           columns=labels.get(str(table.columns.name), table.columns.name))


def provenance_markdown(a: Analysis) -> str:
    """Data hash, parameters and package versions: what makes the report reproducible."""
    params = {k: v for k, v in a.params.to_dict().items() if v not in (None, {}, [])}
    lines = [_("- **Data**: `{file}`, SHA-256 `{sha}`, {read} rows read, {used} used, {customers} customers").format(
                 file=Path(a.data["path"]).name, sha=a.data["sha256"], read=_n(a.data["rows_read"]),
                 used=_n(a.data["rows_used"]), customers=_n(a.data["customers"])),
             _("- **Periods**: calibration {start} .. {as_of}, holdout {hstart} .. {hend}").format(
                 start=formats.date(a.split.calibration_start), as_of=formats.date(a.split.as_of),
                 hstart=formats.date(a.split.holdout_start), hend=formats.date(a.split.holdout_end)),
             _("- **Parameters**: ") + ", ".join(f"`{k}={v}`" for k, v in params.items() if k != "data"),
             _("- **Packages**: ") + ", ".join(f"{k} {v}" for k, v in package_versions().items()),
             _("- **Computed**: {when} (UTC)").format(when=a.started)]
    return "\n".join(lines)


# ---------------------------------------------------------------- potential (predicted value)
_RULES = {"vip_dropout": i18n.N_("VIP, no payment in the last months (seed rule)"),
          "p_alive": i18n.N_("VIP or GOOD, P(alive) low or a silence far beyond the usual gap (model)")}


#: why the purchase or value model could not be fitted (segkit.potential.model writes them in English,
#: for run.json and scorecard.json): the English pattern and the catalogue's text with the same fields
_MODEL_REASONS = [
    (r"too few repeat buyers to fit the purchase model: (?P<buyers>\d+) of (?P<customers>\d+) customers "
     r"\((?P<share>[^)]*)\) bought again in calibration; it needs at least (?P<min>\d+) and (?P<min_share>\S+)",
     i18n.N_("too few repeat buyers to fit the purchase model: {buyers} of {customers} customers ({share}) bought "
             "again in calibration; it needs at least {min} and {min_share}")),
    (r"the purchase model's optimiser did not converge \((?P<message>.*)\)",
     i18n.N_("the purchase model's optimiser did not converge ({message})")),
    (r"the purchase model's parameter\(s\) (?P<params>.+) ran to their bounds: the data do not identify "
     r"repeat-buying and dropout",
     i18n.N_("the purchase model's parameter(s) {params} ran to their bounds: the data do not identify repeat-buying "
             "and dropout")),
    (r"too few repeat buyers with a positive (?P<criterion>\w+) per purchase to fit the value model: "
     r"(?P<buyers>\d+); it needs at least (?P<min>\d+)",
     i18n.N_("too few repeat buyers with a positive {criterion} per purchase to fit the value model: {buyers}; it "
             "needs at least {min}")),
    (r"the value model's optimiser did not converge \((?P<message>.*)\)",
     i18n.N_("the value model's optimiser did not converge ({message})")),
    (r"the value model's estimates are degenerate .*",
     i18n.N_("the value model's estimates are degenerate (parameters at their bounds or q <= 1, an infinite mean "
             "value): values per purchase do not fit a gamma mixture")),
    (r"no customer made a purchase up to (?P<as_of>\S+)", i18n.N_("no customer made a purchase up to {as_of}")),
]


def model_reason(reason: str) -> str:
    """Why a model was not fitted, in the reader's language (unknown wording stays as written).

    >>> with i18n.using("cs"):
    ...     model_reason("no customer made a purchase up to 2024-06-30")
    'žádný zákazník nenakoupil do 30. 6. 2024'
    """
    import re

    for pattern, message in _MODEL_REASONS:
        m = re.fullmatch(pattern, reason or "")
        if m:
            fields = dict(m.groupdict())
            if "criterion" in fields:
                fields["criterion"] = narrative.measure_words(fields["criterion"])
            if "as_of" in fields:
                fields["as_of"] = formats.date(fields["as_of"])
            for key in ("buyers", "customers"):
                if key in fields:
                    fields[key] = _n(int(fields[key]))
            return _(message).format(**fields)
    return reason


def _potential(a: Analysis) -> Any:
    return a.schemes.get("potential")


def potential_fitted(a: Analysis) -> bool:
    """Whether the run's purchase model could be fitted (the potential sections have content)."""
    p = _potential(a)
    return p is not None and p.model_.fitted


def potential_totals(a: Analysis) -> dict[str, Any]:
    """Predicted vs actual holdout totals (:func:`segkit.potential.outputs.forecast_totals`)."""
    return potential_outputs.forecast_totals(_potential(a).predictions_, a.holdout_purchases, a.holdout_monthly,
                                             a.params.criterion)


def potential_model_markdown(a: Analysis) -> str:
    """What the model is, what it rests on, and how close it came on the holdout; or why it was not fitted."""
    p = _potential(a)
    if p is None:
        return _("The potential scheme is not part of this run.")
    m = p.model_
    if not m.fitted:
        return _("**The predicted-value model could not be fitted**: {reason}. The potential scheme therefore puts "
                 "all {n} customers in REGULAR (it is scored beside the other schemes but ranks nobody), and "
                 "`p_alive`, `expected_purchases` and `predicted_value` are empty in assignments.csv.").format(
            reason=_e(model_reason(m.reason)), n=_n(m.customers))
    t, cur, crit = potential_totals(a), a.params.currency, a.params.criterion
    diff = t["predicted_purchases"] / t["actual_purchases"] - 1 if t["actual_purchases"] else float("nan")
    d3 = lambda v: formats.decimal(v, 3)  # noqa: E731
    out = _("Fitted on {n} customers, {repeat} of whom bought again in calibration (BG/NBD r = {r}, α = {alpha} per "
            "week, a = {a}, b = {b}). Over the {days} days after the cut-off it predicted **{predicted} purchases**; "
            "the customers made **{actual}** ({diff}).").format(
        n=_n(m.customers), repeat=_n(m.repeat_buyers), r=d3(m.purchases.r), alpha=d3(m.purchases.alpha),
        a=d3(m.purchases.a), b=d3(m.purchases.b), days=p.horizon_days, predicted=_n(t["predicted_purchases"]),
        actual=_n(t["actual_purchases"]), diff=("+" if diff > 0 else "") + pct(diff, 1))
    value = (lambda v: _n(v)) if crit in ("units", "payments") else (lambda v: money(v, cur))
    if m.value_fitted:
        out += " " + _("Predicted {criterion}: **{predicted}**; actual: **{actual}** (Gamma-Gamma p = {p}, q = {q}, "
                       "γ = {gamma}).").format(criterion=narrative.measure_words(crit),
                                               predicted=value(t["predicted_value"]), actual=value(t["actual_value"]),
                                               p=formats.decimal(m.value.p), q=formats.decimal(m.value.q),
                                               gamma=formats.decimal(m.value.gamma))
    else:
        out += " " + _("The value model was not fitted ({reason}); the tiers rank by expected purchases.").format(
            reason=_e(model_reason(m.value_reason)))
    return out


def holdout_by_frequency(a: Analysis) -> pd.DataFrame:
    """``group, customers, predicted, actual`` (:func:`segkit.potential.outputs.holdout_by_frequency`)."""
    return potential_outputs.holdout_by_frequency(_potential(a).predictions_, a.holdout_purchases)


def holdout_purchases_table(a: Analysis) -> pd.DataFrame:
    """Predicted vs actual holdout purchases per customer, by repeat purchases in calibration."""
    t = holdout_by_frequency(a)
    return pd.DataFrame({_("Repeat purchases"): t["group"], _("Customers"): t["customers"].map(_n),
                         _("Predicted"): t["predicted"].map(lambda v: _n(v, 3)),
                         _("Actual"): t["actual"].map(lambda v: _n(v, 3))}).set_index(_("Repeat purchases"))


def p_alive_matrix(a: Analysis) -> pd.DataFrame:
    """Mean P(alive) by repeat purchases x weeks since the last purchase."""
    return potential_outputs.p_alive_matrix(_potential(a).predictions_)


def headroom_groups(a: Analysis) -> pd.DataFrame:
    """Peer groups with their upper quartile and headroom (empty without attribute columns)."""
    return potential_outputs.headroom_by_group(_potential(a).headroom_)


def headroom_groups_table(a: Analysis) -> pd.DataFrame:
    """:func:`headroom_groups` for readers: money formatted, plain column names."""
    t, cur = headroom_groups(a), a.params.currency
    return pd.DataFrame({
        _("Peer group"): t["peer_group"], _("Customers"): t["customers"].map(_n),
        _("Upper quartile in the window"): t["upper_quartile"].map(lambda v: money(v, cur)),
        _("Total headroom"): t["total_headroom"].map(lambda v: money(v, cur)),
        _("Largest headroom"): t["max_headroom"].map(lambda v: money(v, cur))}).set_index(_("Peer group"))


def alert_comparison_table(a: Analysis) -> pd.DataFrame:
    """Of the customers each alert rule flagged: how many bought nothing in the holdout, and their value."""
    cur = a.params.currency
    t = potential_outputs.alert_comparison(a.alert_rows(), a.outcomes)
    return pd.DataFrame({
        _("Rule"): t["rule"].map(lambda r: _(_RULES[r]) if r in _RULES else r), _("Flagged"): t["flagged"].map(_n),
        _("Bought nothing afterwards"): [f"{_n(b)} ({pct(p)})" for b, p in zip(t["bought_nothing"], t["precision"])],
        _("Value in the window"): t["value_at_risk"].map(lambda v: money(v, cur)),
        _("Still bought in the holdout"): t["holdout_revenue"].map(lambda v: money(v, cur))}).set_index(_("Rule"))


def key_accounts_table(a: Analysis, n: int = 10) -> pd.DataFrame:
    """Key-account candidates: the largest peer headroom (else predicted value), then prospects placed by hand."""
    p, cur = _potential(a), a.params.currency
    t = potential_outputs.key_account_candidates(p.predictions_, p.headroom_, a.overrides, n=n)

    def fmt(v: Any) -> str:
        return "" if pd.isna(v) else money(v, cur)

    out = pd.DataFrame({
        _("Customer"): t["customer_id"], _("Why listed"): t["kind"].map(lambda v: _(v) if isinstance(v, str) else v),
        _("Peer group"): t["peer_group"].fillna(""),
        _("Bought in the window"): t["window_value"].map(fmt), _("Headroom"): t["peer_headroom"].map(fmt),
        _("Predicted value"): t["predicted_value"].map(fmt),
        "P(alive)": t["p_alive"].map(lambda v: "" if pd.isna(v) else formats.decimal(v)),
        _("Placed in"): t["override_tier"].map(lambda v: segment_label(v) if isinstance(v, str) else ""),
        _("Reason"): t["override_reason"].fillna("")}).set_index(_("Customer"))
    return out.loc[:, (out != "").any()]  # without attributes the peer columns stay empty: leave them out


def worth_more_markdown(a: Analysis) -> str:
    """The report's "who is worth more tomorrow" lines."""
    p = _potential(a)
    if p is None:
        return _("The potential scheme is not part of this run.")
    lines = [potential_model_markdown(a)]
    ov = a.overrides
    prospects = int(ov["prospect"].astype(bool).sum()) if "prospect" in ov else 0
    if len(p.headroom_):
        lines.append(_("The customers below buy least compared with similar customers (same {columns}): headroom is "
                       "what they would add buying like the upper quartile of their peer group.").format(
            columns=", ".join(c for c in p.headroom_.columns if c not in _HEADROOM_FIXED)))
    elif p.model_.fitted:
        lines.append(_("The data carry no customer attributes (region, industry, …), so the list shows the customers "
                       "with the largest predicted value instead of headroom against peers."))
    if prospects:
        lines.append(ngettext("{n} prospect without a purchase yet was placed by hand and is listed last.",
                              "{n} prospects without a purchase yet were placed by hand and are listed last.",
                              prospects).format(n=_n(prospects)))
    return "\n\n".join(lines)


_HEADROOM_FIXED = ("customer_id", "peer_group", "peer_size", "peer_upper_quartile", "window_value", "peer_headroom")


# ---------------------------------------------------------------- sensitivity and k-means tables
def criteria_overlap_table(a: Analysis) -> pd.DataFrame:
    """Overlap (Jaccard) of the VIP sets chosen by each criterion, criteria named for readers."""
    t = a.comparison()["sensitivity"]["criteria"]
    return t.rename(index=narrative.measure_words, columns=narrative.measure_words).map(
        lambda v: formats.decimal(v, 2))


def share_sensitivity_table(a: Analysis) -> pd.DataFrame:
    """How the VIP set changes with the VIP share."""
    t = a.comparison()["sensitivity"]["shares"]
    return pd.DataFrame({_("VIP share"): t["vip_share"].map(pct), _("VIPs"): t["vip_customers"].map(_n),
                         _("Overlap with the run's VIPs (Jaccard)"): t["jaccard_with_base"].map(
                             lambda v: formats.decimal(v, 3)),
                         _("Run's VIPs kept"): t["kept_from_base"].map(_n)}).set_index(_("VIP share"))


def k_scores_table(a: Analysis) -> pd.DataFrame:
    """The indices of every k tried."""
    t = a.schemes["kmeans"].k_scores_
    d3 = lambda v: formats.decimal(v, 3)  # noqa: E731
    return pd.DataFrame({"k": t["k"], "Silhouette": t["silhouette"].map(d3),
                         "Calinski-Harabasz": t["calinski_harabasz"].map(d3),
                         "Davies-Bouldin": t["davies_bouldin"].map(d3), _("Inertia"): t["inertia"].map(d3)}
                        ).set_index("k")


def cluster_stability_table(a: Analysis) -> pd.DataFrame:
    """Each cluster's stability when refitted on resampled customers."""
    t = a.schemes["kmeans"].stability_
    return pd.DataFrame({_("Cluster"): t["name"].map(segment_label), _("Number"): t["cluster"],
                         _("Stability (Jaccard)"): t["jaccard"].map(lambda v: formats.decimal(v, 3))}
                        ).set_index(_("Cluster"))


# ---------------------------------------------------------------- customers without a purchase
def no_purchase_markdown(a: Analysis) -> str:
    """The report's sentence on the customers seen up to the cut-off without a purchase (returns only).

    They are listed in ``assignments.csv`` (INACTIVE; ``No purchase`` for RFM and k-means) but not
    segmented or scored; ``run.json`` ``population`` gives the same count.

    >>> from types import SimpleNamespace as NS
    >>> import pandas as pd
    >>> a = NS(without_purchase=pd.DataFrame({"returns_value": [4.0, 6.5]}), split=NS(as_of="2024-06-30"),
    ...        params=NS(currency="EUR"), features=pd.DataFrame(index=range(40)))
    >>> no_purchase_markdown(a).split(";")[0]
    '**2 customers** had only returns or no purchase in the calibration period (up to Jun 30, 2024)'
    """
    absent = a.without_purchase if a.without_purchase is not None else pd.DataFrame(columns=["returns_value"])
    n, as_of, bought = len(absent), formats.date(a.split.as_of), _n(len(a.features))
    if n == 0:
        return _("Every customer seen up to {as_of} bought in that period: all {n} are segmented and scored; "
                 "none had only returns.").format(as_of=as_of, n=bought)
    lead = ngettext("**{n} customer** had only returns or no purchase in the calibration period (up to {as_of})",
                    "**{n} customers** had only returns or no purchase in the calibration period (up to {as_of})",
                    n).format(n=_n(n), as_of=as_of)
    return lead + _("; they are listed as INACTIVE in `assignments.csv` (RFM and k-means: \"No purchase\"), with "
                    "returns worth {value}, and are not segmented or scored: the comparison covers the {n} "
                    "customers with a purchase.").format(
        value=money(float(absent["returns_value"].sum()), a.params.currency), n=bought)
