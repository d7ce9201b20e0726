"""Names the reader sees for values that stay English identifiers in the exported files.

``assignments.csv``, ``actions.csv`` and the other run files keep stable English values (``VIP``,
``dissolution``, ``win_back_call``) so CRM imports never break; tables and figures show the
translated label (:func:`segkit.i18n.segment_label`). Each text is marked here with ``N_`` so the
catalogues carry it; the translator comments say what the reader sees it as.
"""

from __future__ import annotations

from .i18n import N_

__all__ = ["TIERS", "STAGES", "ACTIONS", "ACTION_REASONS", "KMEANS_WORDS", "QUALITY", "KINDS", "DECISIONS", "SCHEMES"]

# TRANSLATORS: the four percentile tiers; the practice's own words (see locale/glossary.md)
TIERS = (N_("VIP"), N_("GOOD"), N_("REGULAR"), N_("INACTIVE"))
# TRANSLATORS: relationship stages (Dwyer, Schurr & Oh): the stage of a customer relationship
STAGES = (N_("exploration"), N_("awareness"), N_("expansion"), N_("commitment"), N_("dissolution"))
ACTIONS = {"win_back_call": N_("Win-back call"), "margin_review": N_("Margin review"),
           "promotion_talk": N_("Promotion talk"), "key_account_approach": N_("Key-account approach"),
           "satisfaction_check": N_("Satisfaction check"), "thank_you": N_("Thank-you")}
#: actions.csv's reasons (English there); the report shows these
ACTION_REASONS = (N_("{tier} customer in dissolution (declining or gone quiet)"), N_("VIP margin fell over the window"),
                  N_("GOOD customer near the VIP target"), N_("buys well below similar customers (peer headroom)"),
                  N_("second purchase this month"), N_("first purchase this month"), N_("also"))
# TRANSLATORS: words of a k-means cluster's name, e.g. "recent, frequent, high spend"
KMEANS_WORDS = (N_("recent"), N_("fading"), N_("lapsed"), N_("frequent"), N_("occasional"), N_("one-time"),
                N_("high spend"), N_("mid spend"), N_("low spend"))
#: the data-quality table (segkit.data.quality keeps English labels for the CLI and run.json)
QUALITY = (N_("Missing customer id"), N_("Missing date"), N_("Date that cannot be read"),
           N_("Amount that cannot be read (or empty)"), N_("Quantity that cannot be read"),
           N_("Cost that cannot be read"), N_("Amount exactly 0"), N_("Exact duplicate row (every column equal)"),
           N_("Outside the run's filter"), N_("Return (amount < 0): lowers net revenue"),
           N_("Same customer, time and amount (kept)"), N_("Date after today"),
           N_("Customers whose net revenue is <= 0"), N_("dropped"), N_("kept"), N_("kept (customers)"),
           N_("unknown"))
#: what a run could not compute (segkit.decisions.run) and the capacity queue's statuses
DECISIONS = (N_("no `policy` is set: what each tier gets and pays back, and the capacity check, are not computed (add "
                "a `policy` to the run; see the README)"),
             N_("the data has no cost column: margin, net contribution and margin erosion are not computed (map "
                "`cost` in `columns`)"),
             N_("no customer attribute (region, industry, size) is mapped: tiers by customer type are not shown"),
             N_("over capacity"), N_("next in line"))
# TRANSLATORS: relationship types of a tier policy (Hollensen's relationship ladder)
RELATIONSHIPS = (N_("transactional"), N_("self-service"), N_("automated service"), N_("personal assistance"),
                 N_("dedicated personal assistance"), N_("dedicated account manager"), N_("community"),
                 N_("co-creation"))
#: why a customer is on the key-account list (segkit.potential.outputs)
KINDS = (N_("peer headroom"), N_("predicted value"), N_("prospect (no purchase yet)"))
#: the schemes' names (segkit.schemes.registry)
SCHEMES = (N_("Percentile tiers"), N_("Potential (predicted value)"), N_("potential tiers"))
