"""Figures for the notebooks and reports, in one visual style.

Every function takes ``ax=None`` (or returns its own figure when it needs several panels),
draws, labels the axes with units and currency, and returns the matplotlib object. None of them
calls ``show()`` or ``savefig()``.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns

from . import formats
from .i18n import _, segment_label
from .schemes import registry

__all__ = [
    "set_style", "TIER_COLORS", "SCHEME_COLORS", "SCHEME_LABELS", "segment_colors", "pareto_curve", "monthly_activity",
    "tier_counts_by_month", "vip_movements", "rfm_score_bars", "rfm_heatmap", "segment_sizes", "k_choice",
    "cluster_profiles", "capture_curves", "holdout_curves", "migration_heatmap",
    "agreement_heatmap", "money_formatter", "holdout_purchases_by_frequency", "p_alive_heatmap", "headroom_by_group",
]

TIER_COLORS = {"VIP": "#0b4f6c", "GOOD": "#2a9d8f", "REGULAR": "#e9c46a", "INACTIVE": "#c9ced6"}
#: reference lines drawn beside the schemes
_REFERENCE_COLORS = {"oracle": "#9aa5b1", "random": "#c9ced6"}
#: scheme (and reference line) -> colour, from the scheme registry; always current
SCHEME_COLORS = registry.LiveMapping(lambda: {**{s.name: s.color for s in registry.schemes()}, **_REFERENCE_COLORS})
#: scheme -> label on figures, from the scheme registry; always current
SCHEME_LABELS = registry.LiveMapping(lambda: {s.name: _(s.label) for s in registry.schemes()})
_SEQ = "crest"
_HEAT = "Blues"  # heatmaps: 0 is white, so empty cells do not look like data


def set_style() -> None:
    """segkit's figure style: white background, readable sizes, one palette."""
    sns.set_theme(style="whitegrid", context="notebook", font_scale=1.0)
    plt.rcParams.update({
        "figure.figsize": (9, 4.6), "figure.dpi": 100, "savefig.dpi": 110, "axes.titlesize": 13,
        "axes.titleweight": "bold", "axes.labelsize": 11, "axes.spines.top": False, "axes.spines.right": False,
        "legend.frameon": False, "figure.autolayout": False, "figure.constrained_layout.use": True,
    })


def segment_colors(labels: list[str]) -> dict[str, str]:
    """Colours for segments in rank order: tiers keep their own colours, others a sequential ramp."""
    if all(label in TIER_COLORS for label in labels):
        return {label: TIER_COLORS[label] for label in labels}
    ramp = sns.color_palette(_SEQ, n_colors=max(len(labels), 2))[::-1]
    return {label: matplotlib.colors.to_hex(ramp[i]) for i, label in enumerate(labels)}


def compact_money(x: float, currency: str | None) -> str:
    """An amount for axes and short text in the reader's language (:func:`segkit.formats.compact_money`).

    >>> compact_money(2_345_678, "EUR"), compact_money(12_345, "EUR"), compact_money(950, None)
    ('€2.3M', '€12K', '950')
    """
    return formats.compact_money(x, currency)


def money_formatter(currency: str | None) -> mticker.FuncFormatter:
    """Axis tick labels in compact money (:func:`compact_money`)."""
    return mticker.FuncFormatter(lambda x, _pos=None: compact_money(x, currency))


def percent_formatter(digits: int | None = None) -> mticker.FuncFormatter:
    """Axis tick labels as percentages in the reader's language (``62%``, ``62 %``); shares 0..1."""
    def fmt(x: float, _pos: int | None = None) -> str:
        d = digits if digits is not None else (0 if abs(round(100 * x) - 100 * x) < 1e-6 else 1)
        return formats.pct(x, d)

    return mticker.FuncFormatter(fmt)


def _ax(ax):
    if ax is None:
        _, ax = plt.subplots()
    return ax


def overlapping_ticks(fig) -> list[str]:
    """The axes of ``fig`` whose tick labels touch each other (``"<title>: x"``); empty when none do."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [f"{ax.get_title()}: {name}" for ax in fig.axes for name, axis in (("x", ax.xaxis), ("y", ax.yaxis))
            if _crowded(axis, name, renderer)]


def _crowded(axis, name: str, renderer) -> bool:
    labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
    boxes = [t.get_window_extent(renderer) for t in labels]
    angle = abs(labels[0].get_rotation()) % 180 if labels else 0
    if name == "x" and 0 < angle < 180:
        # slanted labels are parallel strips: they touch when the ticks are closer than one text
        # height measured across the slant
        height = labels[0].get_fontsize() * fig_dpi(axis) / 72
        xs = sorted((b.x0 + b.x1) / 2 for b in boxes)
        return any(b - a < height / np.sin(np.radians(angle)) for a, b in zip(xs, xs[1:]))
    if name == "x":
        spans = sorted((b.x0, b.x1) for b in boxes)
    else:
        spans = sorted((b.y0, b.y1) for b in boxes)
    return any(a[1] + 2 > b[0] for a, b in zip(spans, spans[1:]))  # 2 px of air between labels


def fig_dpi(axis) -> float:
    return axis.get_figure(root=True).dpi if hasattr(axis, "get_figure") else axis.figure.dpi


def declutter(fig):
    """Thin or turn tick labels until none overlap (longer words and separators in some languages
    need more room than English): fewer ticks on numeric axes, slanted labels on named categories.

    Called by every figure function at its end, on the figure as laid out then.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            for attempt in range(4):
                if not _crowded(axis, name, renderer):
                    break
                if isinstance(axis.get_major_locator(), (mticker.FixedLocator, mticker.IndexLocator)):
                    if name == "x":  # named categories: slant them, then show every other one
                        ax.tick_params(axis="x", labelrotation=30 if attempt == 0 else 60)
                        for t in axis.get_ticklabels():
                            t.set_horizontalalignment("right")
                    else:
                        ax.tick_params(axis="y", labelsize=max(5, 9 - 2 * attempt))
                else:
                    n = max(len([t for t in axis.get_ticklabels() if t.get_text()]) // 2, 2)
                    axis.set_major_locator(mticker.MaxNLocator(nbins=n, steps=[1, 2, 2.5, 5, 10]))
                fig.canvas.draw()
    return fig


def _month_axis(ax) -> None:
    """Dates on the x axis as month names in the reader's language (``Mar 1997``, ``bře 1997``)."""
    import matplotlib.dates as mdates

    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda x, _pos=None: formats.month_short(mdates.num2date(x))))


def _pct(ax, axis="y"):
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(percent_formatter())
    # at most six ticks on "nice" steps: percentage labels never crowd into each other
    target.set_major_locator(mticker.MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))


# ---------------------------------------------------------------- data profile
def pareto_curve(features: pd.DataFrame, gini: float, ax=None):
    """Cumulative share of net revenue held by the top x% of customers."""
    ax = _ax(ax)
    v = np.sort(features["monetary"].clip(lower=0).to_numpy())[::-1]
    x = np.arange(1, len(v) + 1) / len(v)
    y = np.cumsum(v) / v.sum() if v.sum() > 0 else np.zeros_like(x)
    ax.plot(np.r_[0, x], np.r_[0, y], color=TIER_COLORS["VIP"], lw=2.5, label=_("customers ranked by revenue"))
    ax.plot([0, 1], [0, 1], color="#9aa5b1", ls="--", label=_("every customer equal"))
    i20 = max(int(np.ceil(0.2 * len(v))) - 1, 0)
    ax.scatter([x[i20]], [y[i20]], color=TIER_COLORS["VIP"], zorder=3)
    ax.annotate(_("top {share} hold {held}").format(share=formats.pct(0.2), held=formats.pct(y[i20])), (x[i20], y[i20]),
                xytext=(12, -18), textcoords="offset points")
    ax.set(xlabel=_("Share of customers (best first)"), ylabel=_("Share of net revenue"),
           title=_("Revenue concentration (Gini {gini})").format(gini=formats.decimal(gini)), xlim=(0, 1), ylim=(0, 1.02))
    _pct(ax, "x"), _pct(ax, "y")
    ax.legend(loc="lower right")
    declutter(ax.figure)
    return ax


def monthly_activity(monthly: pd.DataFrame, currency: str, ax=None):
    """Active (paying) customers and net revenue per month."""
    ax = _ax(ax)
    g = monthly.groupby("month").agg(customers=("purchases", lambda s: int((s > 0).sum())),
                                     revenue=("revenue", "sum"))
    ax.bar(g.index, g["revenue"], width=20, color=TIER_COLORS["GOOD"], alpha=0.85, label=_("net revenue"))
    ax.yaxis.set_major_formatter(money_formatter(currency))
    _month_axis(ax)
    ax.set(ylabel=formats.unit(_("Net revenue"), currency), xlabel=_("Month"),
           title=_("Revenue and paying customers per month"))
    ax2 = ax.twinx()
    ax2.plot(g.index, g["customers"], color=TIER_COLORS["VIP"], marker="o", lw=2, label=_("paying customers"))
    ax2.set_ylabel(_("Paying customers"))
    ax2.grid(False)
    ax2.spines["right"].set_visible(True)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper right")
    declutter(ax.figure)
    return ax


# ---------------------------------------------------------------- tiers
def tier_counts_by_month(monthly_tiers: pd.DataFrame, ax=None):
    """Customers per monthly tier in each window month (stacked)."""
    ax = _ax(ax)
    t = monthly_tiers.groupby(["month", "monthly_tier"]).size().unstack(fill_value=0)
    t = t.reindex(columns=[c for c in ("VIP", "GOOD", "REGULAR") if c in t.columns])
    bottom = np.zeros(len(t))
    for col in t.columns:
        ax.bar(t.index, t[col], bottom=bottom, color=TIER_COLORS[col], label=segment_label(col))
        bottom += t[col].to_numpy()
    if pd.api.types.is_datetime64_any_dtype(t.index):
        _month_axis(ax)
    ax.set(xlabel=_("Month"), ylabel=_("Paying customers"), title=_("Monthly tiers: who paid, by tier"))
    ax.set_ylim(0, max(bottom.max(), 1) * 1.18)  # headroom: the legend never covers a bar
    ax.legend(ncols=3, loc="upper left")
    declutter(ax.figure)
    return ax


def vip_movements(movements: pd.DataFrame, ax=None):
    """VIPs per month, with how many entered and left the VIP list."""
    ax = _ax(ax)
    m = movements.fillna(0)
    x = np.arange(len(m))
    ax.bar(x - 0.2, m["entered"], width=0.4, color=TIER_COLORS["GOOD"], label=_("entered VIP"))
    ax.bar(x + 0.2, -m["left"], width=0.4, color="#e76f51", label=_("left VIP"))
    ax.plot(x, m["vip"], color=TIER_COLORS["VIP"], marker="o", lw=2, label=_("VIPs that month"))
    ax.axhline(0, color="#52606d", lw=0.8)
    ax.set_xticks(x, m["month"])
    ax.set(xlabel=_("Month"), ylabel=_("Customers"), title=_("The monthly VIP list changes every month"))
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + 0.3 * (hi - lo))  # headroom for the legend above the line
    ax.legend(loc="upper left", ncols=3)
    declutter(ax.figure)
    return ax


# ---------------------------------------------------------------- RFM
def rfm_score_bars(bin_sizes: pd.DataFrame):
    """Customers per score for R, F and M: ties make bins uneven."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), sharey=True)
    for ax, dim in zip(axes, ("R", "F", "M")):
        d = bin_sizes[bin_sizes["dimension"] == dim]
        ax.bar(d["score"].astype(str), d["customers"], color=TIER_COLORS["VIP"])
        ax.axhline(d["ideal"].iloc[0], color="#e76f51", ls="--", lw=1.2, label=_("equal split"))
        ax.set(title={"R": _("Recency"), "F": _("Frequency"), "M": _("Monetary")}[dim],
               xlabel=_("{dim} score ({best} = best)").format(dim=dim, best=int(bin_sizes["score"].max())))
    axes[0].set_ylabel(_("Customers"))
    axes[0].legend(loc="upper left")
    return declutter(fig)


def rfm_heatmap(scores: pd.DataFrame, features: pd.DataFrame, currency: str, ax=None):
    """Mean net revenue per customer in each R x F cell."""
    ax = _ax(ax)
    d = scores.merge(features[["customer_id", "monetary"]], on="customer_id")
    grid = d.pivot_table(index="rfm_r", columns="rfm_f", values="monetary", aggfunc="mean").sort_index(ascending=False)
    sns.heatmap(grid, ax=ax, cmap=_HEAT, annot=True, fmt=".0f", cbar_kws={"label": formats.unit(_("Mean net revenue"), currency)})
    ax.set(xlabel=_("Frequency score"), ylabel=_("Recency score"), title=_("Mean revenue per customer by R and F score"))
    declutter(ax.figure)
    return ax


def segment_sizes(profile: pd.DataFrame, value_col: str | None = None, currency: str = "", ax=None):
    """Customers per segment (rank order), optionally with a value column on the bars' labels."""
    ax = _ax(ax)
    colors = segment_colors(profile["segment"].tolist())
    names = [segment_label(s) for s in profile["segment"][::-1]]
    ax.barh(names, profile["customers"][::-1], color=[colors[s] for s in profile["segment"][::-1]])
    for i, (c, s) in enumerate(zip(profile["customers"][::-1], profile["share"][::-1])):
        ax.text(c, i, f"  {formats.number(c)} ({formats.pct(s)})", va="center", fontsize=9)
    ax.set(xlabel=_("Customers"), title=_("Customers per segment (most valuable at the top)"))
    ax.set_xlim(0, profile["customers"].max() * 1.25)
    declutter(ax.figure)
    return ax


# ---------------------------------------------------------------- k-means
def k_choice(k_scores: pd.DataFrame, chosen: int):
    """Silhouette (higher better), Calinski-Harabasz (higher better), Davies-Bouldin (lower better)."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for ax, (col, title) in zip(axes, (("silhouette", _("Silhouette (higher is better)")),
                                       ("calinski_harabasz", _("Calinski-Harabasz (higher is better)")),
                                       ("davies_bouldin", _("Davies-Bouldin (lower is better)")))):
        ax.plot(k_scores["k"], k_scores[col], marker="o", color=SCHEME_COLORS["kmeans"])
        ax.axvline(chosen, color="#e76f51", ls="--", lw=1.2)
        ax.set(title=title, xlabel=_("Number of clusters k"))
        ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
    return declutter(fig)


def cluster_profiles(profile: pd.DataFrame, currency: str):
    """Mean recency, frequency and monetary per cluster, in original units."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), sharey=True)
    colors = segment_colors(profile["segment"].tolist())
    names = [segment_label(s) for s in profile["segment"][::-1]]
    for ax, (col, label) in zip(axes, (("recency_days", _("Days since last purchase")),
                                       ("frequency", _("Purchases")),
                                       ("monetary", formats.unit(_("Net revenue"), currency)))):
        ax.barh(names, profile[col][::-1], color=[colors[s] for s in profile["segment"][::-1]])
        ax.set(xlabel=label)
    axes[2].xaxis.set_major_formatter(money_formatter(currency))
    axes[0].set_title(_("Recency")), axes[1].set_title(_("Frequency")), axes[2].set_title(_("Monetary"))
    return declutter(fig)


# ---------------------------------------------------------------- comparison
def capture_curves(curves: Mapping[str, pd.DataFrame], measure: str = "revenue", vip_share: float | None = None,
                   labels: Mapping[str, str] | None = None, ax=None):
    """Share of the next months' outcome held by the first x% of customers, per scheme and simple ranking.

    ``curves``: name -> :func:`segkit.compare.capture_curve` (``share, ranking, oracle``); names that
    are not registered schemes (the simple rankings) are drawn dashed in grey tones.
    """
    ax = _ax(ax)
    labels = {**SCHEME_LABELS, **(labels or {})}
    first = next(iter(curves.values()))
    ax.plot(first["share"], first["oracle"], color=SCHEME_COLORS["oracle"], ls=":", lw=2, label=_("perfect foresight"))
    base_styles = iter([("#3d3d3d", "--"), ("#8a8a8a", "-.")] * 4)
    for name, c in curves.items():
        if name in SCHEME_LABELS:
            ax.plot(c["share"], c["ranking"], color=SCHEME_COLORS.get(name), lw=2.5, label=labels.get(name, name))
        else:
            color, ls = next(base_styles)
            ax.plot(c["share"], c["ranking"], color=color, ls=ls, lw=1.6,
                    label=_("{name} (simple ranking)").format(name=labels.get(name, name)))
    ax.plot([0, 1], [0, 1], color=SCHEME_COLORS["random"], ls="--", label=_("random order"))
    if vip_share is not None:
        ax.axvline(vip_share, color="#9aa5b1", lw=0.8)
    from .narrative import measure_words

    words = measure_words(measure)
    ax.set(xlabel=_("Share of customers, best first"), ylabel=_("Share of next months' {measure}").format(measure=words),
           title=_("How much of the next months' {measure} each ordering's first customers bring").format(measure=words),
           xlim=(0, 1), ylim=(0, 1.02))
    _pct(ax, "x"), _pct(ax, "y")
    ax.legend(loc="lower right", fontsize=8)
    declutter(ax.figure)
    return ax


def holdout_curves(curves: pd.DataFrame, title: str, ax=None):
    """Share of each segment's customers buying in each holdout month."""
    ax = _ax(ax)
    order = curves.drop_duplicates("segment").sort_values("rank")["segment"].tolist()
    colors = segment_colors(order)
    for seg in order:
        d = curves[curves["segment"] == seg]
        ax.plot(d["month"], d["share_buying"], marker="o", lw=2, color=colors[seg], label=segment_label(seg))
    ax.set(xlabel=_("Holdout month"), ylabel=_("Share of the segment buying"), title=title)
    _pct(ax)
    ax.legend(loc="upper right", ncols=2 if len(order) > 5 else 1, fontsize=8)
    declutter(ax.figure)
    return ax


def migration_heatmap(matrix: pd.DataFrame, title: str, ax=None):
    """Row shares: where the customers of each earlier segment are now."""
    ax = _ax(ax)
    shares = matrix.div(matrix.sum(axis=1).replace(0, 1), axis=0).rename(index=segment_label, columns=segment_label)
    sns.heatmap(shares, ax=ax, cmap=_HEAT, annot=True, fmt=".0%", vmin=0, vmax=1, cbar=False)
    ax.set(xlabel=_("Segment now"), ylabel=_("Segment one month earlier"), title=title)
    if max((len(str(c)) for c in matrix.columns), default=0) > 10:  # long names would overlap side by side
        ax.tick_params(axis="x", labelrotation=30)
        for t in ax.get_xticklabels():
            t.set_horizontalalignment("right")
    declutter(ax.figure)
    return ax


def agreement_heatmap(ari: pd.DataFrame, title: str | None = None, ax=None):
    """Agreement (adjusted Rand index, or any 0..1 matrix such as NMI) between every pair of schemes."""
    ax = _ax(ax)
    labels = dict(SCHEME_LABELS)
    d = ari.rename(index=labels, columns=labels)
    sns.heatmap(d, ax=ax, cmap=_HEAT, annot=True, fmt=".2f", vmin=0, vmax=1, cbar=False, square=True)
    ax.set(title=title or _("How much the schemes agree (adjusted Rand index)"))
    declutter(ax.figure)
    return ax


# ---------------------------------------------------------------- potential (predicted value)
def holdout_purchases_by_frequency(table: pd.DataFrame, ax=None):
    """Mean predicted vs actual holdout purchases per customer, by repeat purchases in calibration.

    ``table``: :func:`segkit.potential.outputs.holdout_by_frequency` (``group, customers, predicted, actual``).
    """
    ax = _ax(ax)
    x = np.arange(len(table))
    ax.plot(x, table["actual"], marker="o", lw=2, color="#0b4f6c", label=_("Actual"))
    ax.plot(x, table["predicted"], marker="s", lw=2, ls="--", color="#e76f51", label=_("Predicted by the model"))
    ax.set_xticks(x, table["group"])
    ax.set(xlabel=_("Repeat purchases in calibration"), ylabel=_("Purchases per customer in the holdout"),
           title=_("Calibration vs holdout: predicted and actual purchases"))
    ax.legend(loc="upper left")
    declutter(ax.figure)
    return ax


def p_alive_heatmap(matrix: pd.DataFrame, ax=None):
    """Mean P(alive) by repeat purchases (rows) and weeks since the last purchase (columns)."""
    ax = _ax(ax)
    sns.heatmap(matrix, ax=ax, cmap=_HEAT, annot=True, fmt=".2f", vmin=0, vmax=1, cbar=False,
                annot_kws={"fontsize": 7})
    ax.set(xlabel=_("Weeks since the last purchase (at the cut-off)"), ylabel=_("Repeat purchases in calibration"),
           title=_("Probability that the customer is still active"))
    declutter(ax.figure)
    return ax


def headroom_by_group(table: pd.DataFrame, currency: str, ax=None, n: int = 12):
    """Total peer headroom per peer group (the groups with the most first).

    ``table``: :func:`segkit.potential.outputs.headroom_by_group`.
    """
    ax = _ax(ax)
    d = table.head(n)
    ax.barh(d["peer_group"], d["total_headroom"], color="#2a9d8f")
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(money_formatter(currency))
    ax.set(xlabel=_("Headroom: what the customers would add buying like the group's upper quartile"),
           ylabel=_("Peer group"), title=_("Headroom against similar customers"))
    declutter(ax.figure)
    return ax


# ---------------------------------------------------------------- decisions
def payback_bars(payback: pd.DataFrame, currency: str, ax=None):
    """Per tier, what the policy costs against what the tier brings back, window and holdout side by side.

    Bars: policy cost (discount + service) and net contribution (margin minus policy cost; revenue
    after policy when the data has no cost). A tier pays for itself when its net bar is above zero.
    """
    ax = _ax(ax)
    has_margin = payback["net_contribution"].notna().any()
    net_col = "net_contribution" if has_margin else "revenue_after_policy"
    tiers = list(dict.fromkeys(payback["tier"]))
    periods = list(dict.fromkeys(payback["period"]))
    width = 0.8 / (2 * len(periods))
    x = np.arange(len(tiers))
    period_words = {"window": _("window"), "holdout": _("holdout")}
    for i, period in enumerate(periods):
        d = payback[payback["period"] == period].set_index("tier").reindex(tiers)
        base = x + (2 * i - len(periods)) * width + width / 2
        ax.bar(base, d["policy_cost"], width, color="#e76f51", alpha=0.5 + 0.5 * i / max(len(periods) - 1, 1),
               label=_("policy cost, {period}").format(period=period_words.get(period, period)))
        ax.bar(base + width, d[net_col], width, color="#2a9d8f", alpha=0.5 + 0.5 * i / max(len(periods) - 1, 1),
               label=(_("net contribution, {period}") if has_margin else _("revenue after policy, {period}")).format(
                   period=period_words.get(period, period)))
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, [segment_label(t) for t in tiers])
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set(ylabel=formats.unit(_("Amount"), currency), title=_("What each tier costs and pays back"))
    ax.legend(fontsize=8, ncols=2)
    declutter(ax.figure)
    return ax
