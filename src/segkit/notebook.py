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

from . import compare, narrative
from .config import RunParams
from .evaluate import SCHEME_NAMES
from .features import gini
from .pipeline import Analysis, load_or_analyze, package_versions
from .notebook_decisions import *  # noqa: F403 - the decisions section's tables
from .notebook_decisions import __all__ as _decisions_all
from .potential import outputs as potential_outputs
from .schemes import registry
from .schemes.overrides import PROSPECT_NOTE

__all__ = ["open_run", "setup", "money", "pct", "headline_html", "reasons_markdown", "scorecard_table", "who_to_call",
           "scheme_order", "ordering_labels", "comparison_table", "backtest_table", "backtest_markdown", "practicality_markdown",
           "verdict_sensitivity_table", "verdict_sensitivity_markdown", "override_markdown",
           "provenance_markdown", "quality_table", "data_summary_markdown", "comparison_extras",
           "overrides_table", "disagreement_table",
           "tier_profile_table", "vip_movements_table", "boundary_table",
           "rfm_cut_points_table", "segment_profile_table", "scheme_sections",
           "potential_fitted", "potential_totals", "holdout_by_frequency", "potential_model_markdown",
           "holdout_purchases_table",
           "p_alive_matrix", "headroom_groups", "headroom_groups_table", "alert_comparison_table", "key_accounts_table",
           "worth_more_markdown", "no_purchase_markdown", *_decisions_all]


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
def money(x: float, currency: str) -> str:
    """Money in text: two decimals for millions, thousands from 10,000, separators (``91k USD``)."""
    from .plots import compact_money  # matplotlib is imported only where figures are drawn

    return compact_money(x, currency, millions_digits=2, thousands_from=1e4, separators=",")


def pct(x: float, digits: int = 0) -> str:
    return f"{100 * x:.{digits}f}%"


def _e(x: Any) -> str:
    return html.escape(str(x))


# ---------------------------------------------------------------- data profile
def data_summary_markdown(a: Analysis) -> str:
    q = a.quality
    g = gini(a.features["monetary"])
    return (f"segkit read **{q.rows_read:,} rows** from `{Path(a.data['path']).name}` and used **{q.rows_used:,}** "
            f"({q.rows_dropped:,} dropped, reasons below). They describe **{q.customers:,} customers** from "
            f"{q.first_date} to {q.last_date}. Calibration runs to **{a.split.as_of}**; the schemes are scored on "
            f"{a.split.holdout_start} .. {a.split.holdout_end}. Revenue is concentrated: the Gini coefficient of "
            f"customers' net revenue in calibration is **{g:.2f}** (0 = everyone spends the same, 1 = one customer "
            f"spends everything). {q.coverage_sentence()}")


def quality_table(a: Analysis) -> pd.DataFrame:
    frame = a.quality.to_frame()
    frame["share_of_rows"] = frame["share_of_rows"].map(lambda v: "" if pd.isna(v) else pct(v, 2))
    return frame.rename(columns={"finding": "What", "count": "Rows", "share_of_rows": "Share", "action": "Action",
                                 "examples": "Examples"})


# ---------------------------------------------------------------- comparison
def scheme_order(a: Analysis) -> list[str]:
    """Scheme names with the recommended one first, then the registry's order."""
    rec = a.scorecard["recommended"]
    return [rec, *(n for n in registry.names() if n in a.schemes and n != rec)]


def _label(name: str, a: Analysis) -> str:
    return narrative.label(name, a.params.window_months)


def ordering_labels(a: Analysis) -> dict[str, str]:
    """Reader names of the schemes (registry labels) and of the simple rankings, for figure legends."""
    return {**{s.name: s.label for s in registry.schemes()},
            **{b: _label(b, a).capitalize() for b in compare.BASELINES}}


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
    verdict = ("a clear winner" if sc["clear_winner"] else "no clear winner: the simplest of the schemes that "
               "cannot be told apart from the best, and not beaten on both measures")
    measure = narrative.measure_words(sc["outcome"]["measure"])
    months = sc["outcome"]["horizon_months"]
    practical = compare.practicality(a.tables[rec])
    kpis = [
        (pct(comp["capture_at"][key]), f"of the next {months} months' {_e(measure)} came from the top {pct(vip)} "
         f"of customers as {_e(_label(rec, a))} orders them"),
        (f"{comp['capture_auc']:.2f}", "area score of that ordering (0 = random order, 1 = perfect foresight)"),
        (f"{wins} of {n_origins}", "backtest cut-offs at which it scored best"),
        (pct(kept["capture_at"]) if kept["capture_at"] is not None else "–",
         f"of what the best simple ranking ({_e(_label(best_base, a))}) captures: the price of putting customers "
         "in boxes"),
    ]
    cards = "".join(f'<div class="segkit-kpi"><div class="v">{v}</div><div class="l">{label}</div></div>'
                    for v, label in kpis)
    simple = ""
    if retention["simple_beats_all"]:
        simple = (f"<p><b>A simple ranking beats every scheme:</b> sorting customers by their "
                  f"{_e(_label(best_base, a))} finds next months' {_e(measure)} better than any set of segments "
                  f"here. {_e(_label(rec, a)).capitalize()} keeps {pct(kept['capture_at'] or 0)} of its top-"
                  f"{pct(vip)} capture and {pct(kept['capture_auc'] or 0)} of its area score, in exchange for "
                  f"{practical['n_segments']} named groups a team can staff and treat differently.</p>")
    return (f'<div class="segkit-headline"><h2>Recommendation: use {_e(_label(rec, a))}</h2>'
            f"<p>Compared on the same {len(a.features):,} customers at {n_origins} cut-off(s) and tested on their "
            f"{_e(measure)} in the following {months} months, {_e(_label(rec, a))} is recommended "
            f"({_e(verdict)}).</p>{simple}</div><div class=\"segkit-kpis\">{cards}</div>"
            f"<p>{_e(sc['reasons'][0])}</p><p><small>{_e(sc['decision_rule'])}</small></p>")


def reasons_markdown(a: Analysis) -> str:
    return "\n".join(f"- {r}" for r in a.scorecard["reasons"])


def comparison_table(a: Analysis) -> pd.DataFrame:
    """Schemes (recommended first) and simple rankings side by side on the deciding measures."""
    sc, key = a.scorecard, compare.share_key(a.params.vip_share)
    shares = list(next(iter(sc["baselines"].values()))["capture_at"]) if sc["baselines"] else [key]
    extras = a.comparison()
    rows = []
    for name in [*scheme_order(a), *sc["baselines"]]:
        is_scheme = name in sc["schemes"]
        c = sc["schemes"][name]["comparison"] if is_scheme else sc["baselines"][name]
        ci = c.get("ci95", {}) if is_scheme else {}
        row = {"Ordering": ordering_labels(a).get(name, name) + (" ★" if name == sc["recommended"] else "")
               + ("" if is_scheme else " (simple ranking)")}
        for s in shares:
            lo_hi = (ci.get("capture_at") or {}).get(s)
            row[f"Top {pct(float(s))} capture"] = pct(c["capture_at"][s], 1) + (
                f" ({pct(lo_hi[0], 1)}–{pct(lo_hi[1], 1)})" if lo_hi else "")
        auc_ci = ci.get("capture_auc")
        row["Area score"] = f"{c['capture_auc']:.3f}" + (f" ({auc_ci[0]:.3f}–{auc_ci[1]:.3f})" if auc_ci else "")
        row["Deciding score"] = f"{(c['capture_auc'] + c['capture_at'][key]) / 2:.3f}"
        if is_scheme:
            pr, st = extras["practicality"][name], extras["stability"][name]
            row["Segments"] = f"{pr['n_segments']}"
            row["Smallest segment"] = pct(pr["min_segment_share"], 1) + (" ⚠" if pr["small_segments"] else "")
            lo, hi = st["same_segment_ci95"]
            row["Same segment after refit"] = f"{pct(st['same_segment'], 1)} ({pct(lo, 1)}–{pct(hi, 1)})"
        else:
            row["Segments"] = row["Smallest segment"] = row["Same segment after refit"] = "– (one per customer)"
        rows.append(row)
    return pd.DataFrame(rows).set_index("Ordering")


def backtest_table(a: Analysis) -> pd.DataFrame:
    """Each backtest cut-off: the deciding score of every scheme and the winner there."""
    sc, key = a.scorecard, compare.share_key(a.params.vip_share)
    rows = []
    for o in sc["backtest"]:
        row = {"Cut-off": o["as_of"], "Scored on": f"{o['holdout']['start']} .. {o['holdout']['end']}"}
        for name in scheme_order(a):
            c = o["schemes"][name]
            row[_label(name, a)] = f"{(c['capture_auc'] + c['capture_at'][key]) / 2:.3f}"
        for name, c in o.get("baselines", {}).items():
            row[_label(name, a) + " (simple)"] = f"{(c['capture_auc'] + c['capture_at'][key]) / 2:.3f}"
        row["Best scheme"] = _label(o["winner"], a)
        rows.append(row)
    return pd.DataFrame(rows).set_index("Cut-off")


def backtest_markdown(a: Analysis) -> str:
    """Which scheme won at each cut-off, and why there are fewer cut-offs than asked for (if so)."""
    winners = [o["winner"] for o in a.scorecard["backtest"]]
    same = len(set(winners)) == 1
    text = (f"{_label(winners[0], a).capitalize()} scores best at every cut-off." if same and len(winners) > 1
            else "The best scheme changes between cut-offs: "
            + ", ".join(f"{_label(w, a)} at {o['as_of']}" for w, o in zip(winners, a.scorecard["backtest"])) + ".")
    note = (a.scorecard.get("backtest_origins") or {}).get("note")
    return text + (f" {note}" if note else "")


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
    what = {"": "as run", "vip_share": "top share", "criterion": "measure", "holdout_months": "horizon"}
    out = pd.DataFrame({
        "Changed": t["changed_key"].map(what),
        "Top share": t["vip_share"].map(lambda v: pct(v)),
        "Measure": t["criterion"].map(narrative.measure_words),
        "Horizon (months)": t["holdout_months"].astype(int),
        "Best scheme": t["winner"].map(lambda w: "–" if w is None or pd.isna(w) else _label(str(w), a)),
        "Same as as run": t.apply(lambda r: "–" if r["note"] else ("yes" if r["same_as_base"] else "no"), axis=1),
        "Note": t["note"].map(lambda n: "not available: the data end too early" if n else ""),
    })
    return out.set_index("Changed")


def verdict_sensitivity_markdown(a: Analysis) -> str:
    return narrative.winner_moves_sentence(a.comparison()["verdict_sensitivity"], a.params.window_months)


def override_markdown(a: Analysis) -> str:
    """How customers placed by hand reach recommended_segment under the recommended scheme."""
    rec = a.scorecard["recommended"]
    manual = a.assignments[a.assignments["override_tier"].notna() & (a.assignments["override_tier"] != "")]
    mapped = dict(zip(manual["override_tier"], manual["recommended_segment"]))
    return narrative.override_note(rec, len(manual), mapped)


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
            return fmt(v) + (f" ({fmt(lo_hi[0])}–{fmt(lo_hi[1])})" if lo_hi else "")

        rows.append({
            "Scheme": SCHEME_NAMES.get(name, name) + (" ★" if name == a.scorecard["recommended"] else ""),
            "Top segment size": pct(m["top_segment_share"], 1),
            "Top segment's share of next revenue": with_ci("top_segment_holdout_revenue_share", lambda v: pct(v, 1)),
            "Lift": with_ci("top_segment_lift", lambda v: f"{v:.2f}"),
            "Spearman": with_ci("holdout_spearman", lambda v: f"{v:.3f}"),
            "AUC (buys again)": with_ci("holdout_activity_auc", lambda v: f"{v:.3f}"),
            "Stability one month apart (ARI)": "–" if m["stability_ari"] is None else f"{m['stability_ari']:.2f}",
        })
    return pd.DataFrame(rows).set_index("Scheme")


def who_to_call(a: Analysis, n: int = 25) -> pd.DataFrame:
    """The VIP dropouts with the most value at risk."""
    al = a.alerts.head(n).drop(columns=["rule"], errors="ignore").copy()
    al["value_at_risk"] = al["value_at_risk"].map(lambda v: money(v, a.params.currency))
    if "p_alive" in al:  # the purchase model's view of the same customer (empty when not fitted)
        al["p_alive"] = al["p_alive"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
    return al.rename(columns={"customer_id": "Customer", "last_vip_month": "Last VIP month",
                              "last_payment": "Last payment", "value_at_risk": "Value in window",
                              "p_alive": "P(alive)"}).set_index("Customer")


def comparison_extras(a: Analysis) -> dict[str, Any]:
    """Curves, movement, agreement and sensitivity for the comparison pages (computed by the pipeline)."""
    return a.comparison()


def scheme_sections(a: Analysis) -> list[tuple[str, pd.DataFrame]]:
    """Every registered scheme's segments, in tie-break order: (heading, readable profile table)."""
    return [(spec.label, segment_profile_table(a.schemes[spec.name].profile(), a.params.currency))
            for spec in registry.schemes() if spec.name in a.schemes]


def tier_profile_table(a: Analysis) -> pd.DataFrame:
    """Window tiers: customers, shares, window value and average behaviour, readable."""
    cur = a.params.currency
    p = a.schemes["percentile_tiers"].profile()
    crit = a.params.criterion
    value_label = f"Window {crit} ({cur})" if crit in ("revenue", "margin") else f"Window {crit}"
    out = pd.DataFrame({
        "Tier": p["segment"], "Customers": p["customers"].map("{:,}".format), "Share": p["share"].map(pct),
        value_label: p["window_value"].map("{:,.0f}".format), f"Share of window {crit}": p["value_share"].map(pct),
        "Days since last purchase": p["recency_days"].map("{:,.0f}".format),
        "Purchases": p["frequency"].map("{:,.1f}".format),
        f"Net revenue ({cur})": p["monetary"].map("{:,.0f}".format),
    })
    return out.set_index("Tier")


def vip_movements_table(a: Analysis) -> pd.DataFrame:
    """VIPs per window month and how many entered and left the list ('–' for the first month)."""
    m = a.schemes["percentile_tiers"].movements_
    out = pd.DataFrame({"Month": m["month"], "VIPs": m["vip"].map("{:,}".format),
                        "Entered VIP": m["entered"].map(lambda v: "–" if pd.isna(v) else f"{int(v):,}"),
                        "Left VIP": m["left"].map(lambda v: "–" if pd.isna(v) else f"{int(v):,}")})
    return out.set_index("Month")


def boundary_table(a: Analysis) -> pd.DataFrame:
    """Cut points per month: threshold, ties at it and customers within 5% of it."""
    b = a.schemes["percentile_tiers"].boundary_
    if b.empty:
        return pd.DataFrame(columns=["Month", "Cut"]).set_index("Month")
    out = pd.DataFrame({
        "Month": b["month"], "Cut": b["cut"], "Paying customers": b["customers"].map("{:,}".format),
        "Above the cut": b["above_cut"].map("{:,}".format), "Threshold": b["threshold"].map("{:,.2f}".format),
        "Tied at the threshold": b["tied_at_threshold"],
        "Tie split by customer id": b["ties_split_by_customer_id"].map({True: "yes", False: "no"}),
        "Within 5% of the threshold": b["within_5pct"],
    })
    return out.set_index("Month")


def rfm_cut_points_table(a: Analysis) -> pd.DataFrame:
    """The value range behind every R, F and M score, and its customers; empty scores say so."""
    cur = a.params.currency
    c = a.schemes["rfm"].cut_points_
    units = {"R": "days since last purchase", "F": "purchases", "M": f"net revenue, {cur}"}

    def cell(row) -> str:
        if not row["customers"]:
            return "no customers (ties moved them to a neighbouring score)"
        fmt = "{:,.2f}" if row["dimension"] == "M" else "{:,.0f}"
        lo, hi = fmt.format(row["min"]), fmt.format(row["max"])
        return f"{lo} ({row['customers']:,} customers)" if lo == hi else f"{lo} to {hi} ({row['customers']:,} customers)"

    out = c.assign(text=c.apply(cell, axis=1)).pivot(index="score", columns="dimension", values="text")
    out = out.reindex(columns=["R", "F", "M"]).rename(columns={d: f"{d} ({u})" for d, u in units.items()})
    out.index.name = "Score"
    return out.sort_index(ascending=False)


def segment_profile_table(profile: pd.DataFrame, currency: str) -> pd.DataFrame:
    """A scheme's ``profile()`` for readers: plain column names, rounded, '–' for empty segments."""
    names = {"customers": "Customers", "share": "Share", "recency_days": "Days since last purchase",
             "frequency": "Purchases", "monetary": f"Net revenue ({currency})",
             "avg_order_value": f"Average order ({currency})", "tenure_days": "Days since first purchase",
             "jaccard": "Stability (Jaccard)", "description": "Description", "cluster": "Cluster",
             "window_value": "Value in the window", "value_share": "Share of the window value",
             "p_alive": "P(alive)", "expected_purchases": "Expected purchases",
             "predicted_value": f"Predicted value ({currency})"}
    p = profile.set_index("segment").drop(columns=["rank"], errors="ignore")
    out = pd.DataFrame(index=p.index)
    for col in p.columns:
        v = p[col]
        if col in ("share", "value_share"):
            out[names[col]] = v.map(lambda x: "–" if pd.isna(x) else pct(x, 1))
        elif col in ("customers", "cluster"):
            out[names[col]] = v.map(lambda x: "–" if pd.isna(x) else f"{int(x):,}")
        elif pd.api.types.is_numeric_dtype(v):
            digits = 2 if col in ("jaccard", "p_alive") else (1 if col in ("frequency", "expected_purchases") else 0)
            out[names.get(col, col)] = v.map(lambda x, d=digits: "–" if pd.isna(x) else f"{x:,.{d}f}")
        else:
            out[names.get(col, col)] = v.fillna("")
    out.index.name = "Segment"
    return out


def union_vs_period_markdown(a: Analysis, uvp: dict[str, Any]) -> str:
    cur = a.params.currency
    return (f"Ranking each month separately and merging the months finds **{uvp['union_vip']:,} VIPs**; ranking the "
            f"{a.params.window_months}-month total once finds **{uvp['period_total_vip']:,}**. The period total misses "
            f"**{uvp['missed_by_period_total']:,}** customers who were VIP in at least one month; they went on to spend "
            f"**{money(uvp['missed_holdout_revenue'], cur)}** in the holdout. It also raises no alert for the "
            f"**{uvp['dropouts_flagged_by_union']:,}** VIPs who stopped paying ({money(uvp['dropout_value_at_risk'], cur)} "
            f"of window value); {uvp['dropouts_not_vip_in_period_total']:,} of them "
            f"{'is' if uvp['dropouts_not_vip_in_period_total'] == 1 else 'are'} not even VIP in the period-total "
            "ranking.")


def overrides_table(a: Analysis) -> pd.DataFrame:
    ov = a.overrides
    ov = ov[ov["override_tier"].notna()]
    if "prospect" in ov:  # placed before their first purchase: no computed tier
        ov = ov.assign(computed_tier=ov["computed_tier"].where(~ov["prospect"].astype(bool), PROSPECT_NOTE))
    return ov.rename(columns={"customer_id": "Customer", "computed_tier": "Computed tier",
                              "override_tier": "Placed in", "override_reason": "Reason"})[
        ["Customer", "Computed tier", "Placed in", "Reason"]].set_index("Customer")


def disagreement_table(a: Analysis, agree: dict[str, Any]) -> pd.DataFrame:
    """Where two schemes disagree on who is top: customers and their revenue before and after the cut-off."""
    cur = a.params.currency

    def label(text: str) -> str:
        for key, name in SCHEME_NAMES.items():
            text = text.replace(key, name)
        return text

    d = agree["top_disagreement"]
    rows = []
    for r in d.itertuples(index=False):
        both = r.not_top_of == ""
        rows.append({
            "In the top segment of": label(r.top_of),
            "But not in the top segment of": "– (both agree)" if both else label(r.not_top_of),
            "Customers": f"{r.customers:,}",
            f"Revenue up to the cut-off ({cur})": f"{r.calibration_revenue:,.0f}",
            f"Revenue after the cut-off ({cur})": f"{r.holdout_revenue:,.0f}",
        })
    return pd.DataFrame(rows).set_index("In the top segment of")


def provenance_markdown(a: Analysis) -> str:
    """Data hash, parameters and package versions: what makes the report reproducible."""
    params = {k: v for k, v in a.params.to_dict().items() if v not in (None, {}, [])}
    lines = [f"- **Data**: `{Path(a.data['path']).name}`, SHA-256 `{a.data['sha256']}`, "
             f"{a.data['rows_read']:,} rows read, {a.data['rows_used']:,} used, {a.data['customers']:,} customers",
             f"- **Periods**: calibration {a.split.calibration_start} .. {a.split.as_of}, holdout "
             f"{a.split.holdout_start} .. {a.split.holdout_end}",
             "- **Parameters**: " + ", ".join(f"`{k}={v}`" for k, v in params.items() if k != "data"),
             "- **Packages**: " + ", ".join(f"{k} {v}" for k, v in package_versions().items()),
             f"- **Computed**: {a.started} (UTC)"]
    return "\n".join(lines)


# ---------------------------------------------------------------- potential (predicted value)
_RULES = {"vip_dropout": "VIP, no payment in the last months (seed rule)",
          "p_alive": "VIP or GOOD, P(alive) low or a silence far beyond the usual gap (model)"}


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
        return "The potential scheme is not part of this run."
    m = p.model_
    if not m.fitted:
        return (f"**The predicted-value model could not be fitted**: {_e(m.reason)}. The potential scheme therefore "
                f"puts all {m.customers:,} customers in REGULAR (it is scored beside the other schemes but ranks "
                "nobody), and `p_alive`, `expected_purchases` and `predicted_value` are empty in assignments.csv.")
    t, cur, crit = potential_totals(a), a.params.currency, a.params.criterion
    diff = t["predicted_purchases"] / t["actual_purchases"] - 1 if t["actual_purchases"] else float("nan")
    text = (f"Fitted on {m.customers:,} customers, {m.repeat_buyers:,} of whom bought again in calibration "
            f"(BG/NBD r = {m.purchases.r:.3f}, α = {m.purchases.alpha:.3f} per week, a = {m.purchases.a:.3f}, "
            f"b = {m.purchases.b:.3f}). Over the {p.horizon_days} days after the cut-off it predicted "
            f"**{t['predicted_purchases']:,.0f} purchases**; the customers made **{t['actual_purchases']:,.0f}** "
            f"({diff:+.1%}).")
    unit = "" if crit in ("units", "payments") else f" {cur}"
    if m.value_fitted:
        text += (f" Predicted {crit}: **{t['predicted_value']:,.0f}{unit}**; "
                 f"actual: **{t['actual_value']:,.0f}{unit}** "
                 f"(Gamma-Gamma p = {m.value.p:.2f}, q = {m.value.q:.2f}, γ = {m.value.gamma:.2f}).")
    else:
        text += f" The value model was not fitted ({_e(m.value_reason)}); the tiers rank by expected purchases."
    return text


def holdout_by_frequency(a: Analysis) -> pd.DataFrame:
    """``group, customers, predicted, actual`` (:func:`segkit.potential.outputs.holdout_by_frequency`)."""
    return potential_outputs.holdout_by_frequency(_potential(a).predictions_, a.holdout_purchases)


def holdout_purchases_table(a: Analysis) -> pd.DataFrame:
    """Predicted vs actual holdout purchases per customer, by repeat purchases in calibration."""
    t = holdout_by_frequency(a)
    return t.rename(columns={"group": "Repeat purchases", "customers": "Customers", "predicted": "Predicted",
                             "actual": "Actual"}).set_index("Repeat purchases").round(3)


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
        "Peer group": t["peer_group"], "Customers": t["customers"].map("{:,}".format),
        "Upper quartile in the window": t["upper_quartile"].map(lambda v: money(v, cur)),
        "Total headroom": t["total_headroom"].map(lambda v: money(v, cur)),
        "Largest headroom": t["max_headroom"].map(lambda v: money(v, cur))}).set_index("Peer group")


def alert_comparison_table(a: Analysis) -> pd.DataFrame:
    """Of the customers each alert rule flagged: how many bought nothing in the holdout, and their value."""
    cur = a.params.currency
    t = potential_outputs.alert_comparison(a.alert_rows(), a.outcomes)
    return pd.DataFrame({
        "Rule": t["rule"].map(lambda r: _RULES.get(r, r)), "Flagged": t["flagged"].map("{:,}".format),
        "Bought nothing afterwards": [f"{b:,} ({pct(p)})" for b, p in zip(t["bought_nothing"], t["precision"])],
        "Value in the window": t["value_at_risk"].map(lambda v: money(v, cur)),
        "Still bought in the holdout": t["holdout_revenue"].map(lambda v: money(v, cur))}).set_index("Rule")


def key_accounts_table(a: Analysis, n: int = 10) -> pd.DataFrame:
    """Key-account candidates: the largest peer headroom (else predicted value), then prospects placed by hand."""
    p, cur = _potential(a), a.params.currency
    t = potential_outputs.key_account_candidates(p.predictions_, p.headroom_, a.overrides, n=n)

    def fmt(v: Any) -> str:
        return "" if pd.isna(v) else money(v, cur)

    out = pd.DataFrame({
        "Customer": t["customer_id"], "Why listed": t["kind"], "Peer group": t["peer_group"].fillna(""),
        "Bought in the window": t["window_value"].map(fmt), "Headroom": t["peer_headroom"].map(fmt),
        "Predicted value": t["predicted_value"].map(fmt),
        "P(alive)": t["p_alive"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}"),
        "Placed in": t["override_tier"].fillna(""), "Reason": t["override_reason"].fillna("")}).set_index("Customer")
    return out.loc[:, (out != "").any()]  # without attributes the peer columns stay empty: leave them out


def worth_more_markdown(a: Analysis) -> str:
    """The report's "who is worth more tomorrow" lines."""
    p = _potential(a)
    if p is None:
        return "The potential scheme is not part of this run."
    lines = [potential_model_markdown(a)]
    ov = a.overrides
    prospects = int(ov["prospect"].astype(bool).sum()) if "prospect" in ov else 0
    if len(p.headroom_):
        lines.append("The customers below buy least compared with similar customers (same "
                     f"{', '.join(c for c in p.headroom_.columns if c not in _HEADROOM_FIXED)}): "
                     "headroom is what they would add buying like the upper quartile of their peer group.")
    elif p.model_.fitted:
        lines.append("The data carry no customer attributes (region, industry, …), so the list shows the customers "
                     "with the largest predicted value instead of headroom against peers.")
    if prospects:
        lines.append(f"{prospects:,} prospect(s) without a purchase yet were placed by hand and are listed last.")
    return "\n\n".join(lines)


_HEADROOM_FIXED = ("customer_id", "peer_group", "peer_size", "peer_upper_quartile", "window_value", "peer_headroom")


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
    '**2 customers** had only returns or no purchase in the calibration period (up to 2024-06-30)'
    """
    absent = a.without_purchase if a.without_purchase is not None else pd.DataFrame(columns=["returns_value"])
    n, as_of = len(absent), a.split.as_of
    if n == 0:
        return (f"Every customer seen up to {as_of} bought in that period: all {len(a.features):,} are segmented "
                "and scored; none had only returns.")
    who = "1 customer** had" if n == 1 else f"{n:,} customers** had"
    return (f"**{who} only returns or no purchase in the calibration period (up to {as_of}); they are listed as "
            f"INACTIVE in `assignments.csv` (RFM and k-means: \"No purchase\"), with returns worth "
            f"{money(float(absent['returns_value'].sum()), a.params.currency)}, and are not segmented or scored: "
            f"the comparison covers the {len(a.features):,} customers with a purchase.")
