"""Layout detection and parsing: dates, numbers and the reason each dropped row is dropped.

Layouts are decided in Python from a sample of values; parsing is one Ibis expression the engine
runs over the whole source, so every engine reads the same text as the same value.

Example
-------
>>> pick_date_layout(["13/01/2024", "02/03/2024"]), pick_date_layout(["01/13/2024"])
('DD/MM/YYYY', 'MM/DD/YYYY')
>>> pick_number_layout(["1.234,50", "2,5"]), pick_number_layout(["1,234.50"]), pick_number_layout(["7"])
('decimal-comma', 'thousands-comma', 'plain')
"""

from __future__ import annotations

import re
import string
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..engines import casts_text_to_date, engine_name, try_number

__all__ = ["DROP_REASONS", "HELPERS", "ROW_KEY", "detect_layouts", "parse", "pick_date_layout",
           "pick_number_layout", "blank"]

#: reasons a row is dropped, in the order they are checked (a row counts once, for the first)
DROP_REASONS = (
    "missing_customer_id",
    "missing_date",
    "unparseable_date",
    "unparseable_amount",
    "unparseable_quantity",
    "unparseable_cost",
    "zero_amount",
)
#: parse-time columns kept in the staged table (raw text only on rows cleaning drops, for examples)
HELPERS = ("_reason", "_raw_date", "_raw_amount", "_raw_quantity", "_raw_cost")
#: a hash of the source columns no canonical name or attribute is mapped to (present only when there are such
#: columns): with the parsed columns it tells rows equal in every column of the source row
ROW_KEY = "_row"
_SAMPLE = 2000
_CURRENCY_NOISE = "[\\s\u00a0\u202f'$€£¥]|(?:[A-Z]{3}$)|(?:^[A-Z]{3})|(?:Kč$)|(?:zł$)"

# Date layouts we recognise, each rewritten to ISO (y-m-d) so one TRY_CAST parses them on any engine.
_DATE_LAYOUTS: dict[str, tuple[str, str]] = {
    "YYYY-MM-DD": (r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?\s*$", r"\1-\2-\3"),
    "YYYYMMDD": (r"^\s*(\d{4})(\d{2})(\d{2})\s*$", r"\1-\2-\3"),
    "YYYY/MM/DD": (r"^\s*(\d{4})/(\d{1,2})/(\d{1,2})(?:[T ].*)?\s*$", r"\1-\2-\3"),
    "DD.MM.YYYY": (r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[T ].*)?\s*$", r"\3-\2-\1"),
    "DD/MM/YYYY": (r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})(?:[T ].*)?\s*$", r"\3-\2-\1"),
    "MM/DD/YYYY": (r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})(?:[T ].*)?\s*$", r"\3-\1-\2"),
    "DD-MM-YYYY": (r"^\s*(\d{1,2})-(\d{1,2})-(\d{4})(?:[T ].*)?\s*$", r"\3-\2-\1"),
}


# ------------------------------------------------------------------ layouts
def detect_layouts(con: Any, raw: ir.Table, mapping: dict[str, str], detected: dict[str, str]) -> dict[str, str]:
    """The layout of the date and number columns (``native`` when the source typed them), from a sample.

    Layouts of text columns are recorded in ``detected`` (``date_format``, ``amount_format``, ...).
    """
    cols = {k: raw[v] for k, v in mapping.items() if k in ("date", "amount", "quantity", "cost")}
    sample: pd.DataFrame = con.execute(raw.select(**cols).limit(_SAMPLE))
    schema = raw.schema()
    layouts: dict[str, str] = {}
    if schema[mapping["date"]].is_temporal():
        layouts["date"] = "native"
    else:
        values = [str(v).strip() for v in sample["date"].dropna() if str(v).strip()]
        layouts["date"] = pick_date_layout(values)
        detected["date_format"] = layouts["date"]
    for key in ("amount", "quantity", "cost"):
        if key not in mapping:
            continue
        if schema[mapping[key]].is_numeric():
            layouts[key] = "native"
            continue
        values = [re.sub(_CURRENCY_NOISE, "", str(v)) for v in sample[key].dropna()]
        layouts[key] = pick_number_layout([v for v in values if v])
        if layouts[key] != "plain":
            detected[f"{key}_format"] = layouts[key]
    return layouts


def pick_date_layout(values: list[str]) -> str:
    """The date layout most values match; day-first or month-first decided by the values."""
    if not values:
        return "YYYY-MM-DD"
    scores = {}
    for name, (pattern, _) in _DATE_LAYOUTS.items():
        rx = re.compile(pattern)
        scores[name] = sum(1 for v in values if rx.match(v))
    # Day-first and month-first share a shape; the values decide (a first field > 12 is a day).
    slash = re.compile(_DATE_LAYOUTS["DD/MM/YYYY"][0])
    firsts = [int(m.group(1)) for v in values if (m := slash.match(v))]
    seconds = [int(m.group(2)) for v in values if (m := slash.match(v))]
    if firsts:
        if max(firsts) > 12 >= max(seconds):
            scores["MM/DD/YYYY"] = -1
        else:
            scores["DD/MM/YYYY"] = -1
    return max(scores, key=lambda k: scores[k])


def pick_number_layout(values: list[str]) -> str:
    """plain, thousands-comma ("1,234.50") or decimal-comma ("1.234,50", "2,5"), decided from the values."""
    with_comma = [v for v in values if "," in v]
    if not with_comma:
        return "plain"
    us = any(re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+\.\d+", v) for v in with_comma)
    eu = any(re.fullmatch(r"[+-]?\d+,(\d{1,2}|\d{4,})", v) or re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+,\d+", v)
             for v in with_comma)
    if eu and not us:
        return "decimal-comma"
    if all(re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", v) for v in with_comma):
        return "thousands-comma"
    return "decimal-comma"


# ------------------------------------------------------------------ values
def _number(col: ir.Value, layout: str, con: Any) -> ir.FloatingValue:
    if layout == "native":
        return col.cast("float64")
    text = col.cast("string").strip().re_replace(_CURRENCY_NOISE, "")
    if layout == "thousands-comma":
        text = text.re_replace(",", "")
    elif layout == "decimal-comma":
        text = text.re_replace(r"\.", "").re_replace(",", ".")
    value = try_number(con, text)
    if layout == "plain":
        # Most plain values are numbers already: a direct cast reads them without the regex
        # (COALESCE evaluates its second argument only where the first is NULL). Where the
        # direct cast succeeds the regex would have removed nothing, so the value is the same.
        value = ibis.coalesce(try_number(con, col.cast("string")), value)
    return value


def _finite(value: ir.FloatingValue) -> ir.FloatingValue:
    """NaN and infinities are not amounts (applied to a computed column, so it is parsed once)."""
    return ibis.cases((value.isnan() | value.isinf(), ibis.null("float64")), else_=value)


def _date_parts(col: ir.Value, layout: str, con: Any) -> dict[str, ir.Value]:
    """Columns from which :func:`_date_from_parts` builds the date (two steps, so each is computed once).

    Portable: the layout's regex extracts year, month and day, which are checked (month 1-12, the
    month's length, leap years) before ``ibis.date`` builds the value, so every engine reads the
    same text as the same date. Engines that can TRY_CAST text to a date read ISO text that way
    first, and the regex runs only where that cast failed (CASE evaluates lazily).
    """
    if layout == "native":
        return {"_fast_date": col.cast("date")}
    pattern, repl = _DATE_LAYOUTS[layout]
    year, month, day = (int(g) for g in re.findall(r"\\(\d)", repl))
    text = col.cast("string")
    fast = ibis.null("date")
    if layout == "YYYY-MM-DD" and casts_text_to_date(con):
        fast = ibis.cases((text.like("____-__-__%"), text.try_cast("date")), else_=ibis.null("date"))
    parts = {"_fast_date": fast}
    for name, group in (("_y", year), ("_m", month), ("_d", day)):
        part = text.re_extract(pattern, group).nullif("").try_cast("int64")
        parts[name] = ibis.cases((fast.isnull(), part), else_=ibis.null("int64"))
    return parts


def _date_from_parts(t: ir.Table) -> ir.DateValue:
    if "_y" not in t.columns:
        return t._fast_date
    return ibis.coalesce(t._fast_date, _ymd(t._y, t._m, t._d))


def _ymd(y: ir.IntegerValue, m: ir.IntegerValue, d: ir.IntegerValue) -> ir.DateValue:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    days = ibis.cases((m == 2, ibis.cases((leap, 29), else_=28)), (m.isin([4, 6, 9, 11]), 30), else_=31)
    ok = (y >= 1) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= days)
    # every engine gets a valid date to build (some evaluate both branches, some raise on bad dates)
    safe = [ibis.cases((ok, v), else_=1).cast("int32") for v in (y, m, d)]
    return ibis.cases((ok, ibis.date(*safe)), else_=ibis.null("date"))


def blank(col: ir.Value) -> ir.BooleanValue:
    """NULL or only spaces."""
    return col.isnull() | (col.cast("string").strip().length() == 0)


def _unless_parsed(value: ir.Value, test: ir.BooleanValue) -> ir.BooleanValue:
    """``test`` where ``value`` is NULL, else False: the text is looked at only on failed rows."""
    return ibis.cases((value.isnull(), test), else_=False)


def _text(col: ir.Value) -> ir.StringValue:
    """Stripped text, NULL when empty."""
    text = col.cast("string")
    # Trimming every id costs more than looking at its ends (0.3 against 0.16 s per million on
    # DuckDB): only values that start or end with whitespace are trimmed; the result is the same.
    padded = text.re_search(f"^[{string.whitespace}]|[{string.whitespace}]$")
    return ibis.cases((padded, text.strip()), else_=text).nullif("")


def _row_key(raw: ir.Table, mapped: set[str], con: Any) -> dict[str, ir.Value]:
    """``{ROW_KEY: hash}`` of the unmapped source columns as text (NULL kept apart from ''), or ``{}``.

    The mapped columns are compared by their parsed values beside it, so the hash only has to
    tell rows apart that agree on all of those: a collision of the engine's hash (32 bits on
    Spark) inside such a small group is negligible.
    """
    rest = [c for c in raw.columns if c not in mapped]
    if not rest:
        return {}
    if engine_name(con) == "duckdb":
        # DuckDB hashes a struct field by field (NULL apart from ''), in a tenth of the time the
        # text below takes to build and hash
        return {ROW_KEY: ibis.struct({f"c{i}": raw[c].cast("string") for i, c in enumerate(rest)}).hash()}
    # Each value written as `<length>:<text>`, NULL as `~`: the concatenation reads back one way
    # only, with no separator or NUL marker (PostgreSQL text cannot hold a NUL character).
    parts = []
    for c in rest:
        value = raw[c].cast("string")
        parts.append(ibis.cases((value.isnull(), "~"), else_=value.length().cast("string").concat(":", value)))
    text = parts[0]
    for part in parts[1:]:
        text = text.concat(part)
    return {ROW_KEY: text.hash()}


def parse(raw: ir.Table, mapping: dict[str, str], layouts: dict[str, str], attributes: tuple[str, ...],
          con: Any) -> ir.Table:
    """The staged table: canonical columns parsed, attributes as text, ``_reason`` for dropped rows."""
    cols: dict[str, Any] = {"customer_id": _text(raw[mapping["customer_id"]]),
                            **_date_parts(raw[mapping["date"]], layouts["date"], con),
                            "amount": _number(raw[mapping["amount"]], layouts["amount"], con)}
    for key in ("quantity", "cost"):
        cols[key] = _number(raw[mapping[key]], layouts[key], con) if key in mapping else ibis.null("float64")
    cols["order_id"] = _text(raw[mapping["order_id"]]) if "order_id" in mapping else ibis.null("string")
    cols.update({key: _text(raw[mapping[key]]) for key in attributes})
    cols.update(_row_key(raw, set(mapping.values()), con))
    for key in ("date", "amount", "quantity", "cost"):
        # as read: a typed value is written as text only on the rows that keep it (the CASE below)
        cols[f"_raw_{key}"] = raw[mapping[key]] if key in mapping else ibis.null("string")
    t = raw.select(**cols)
    t = t.mutate(date=_date_from_parts(t), **{k: _finite(t[k]) for k in ("amount", "quantity", "cost")})
    t = t.drop(*(c for c in ("_fast_date", "_y", "_m", "_d") if c in t.columns))
    reason = ibis.cases(
        (t.customer_id.isnull(), "missing_customer_id"),
        (_unless_parsed(t.date, blank(t._raw_date)), "missing_date"),  # blank text never parses
        (t.date.isnull(), "unparseable_date"),
        (t.amount.isnull(), "unparseable_amount"),
        (_unless_parsed(t.quantity, ~blank(t._raw_quantity)), "unparseable_quantity"),
        (_unless_parsed(t.cost, ~blank(t._raw_cost)), "unparseable_cost"),
        (t.amount == 0, "zero_amount"),
        else_=ibis.null("string"),
    )
    t = t.mutate(_reason=reason)
    # Raw text is kept only on rows cleaning drops (every unreadable value is on such a row): the
    # examples need it, and the staged table stays the size of the clean data.
    dropped = t._reason.notnull()
    return t.mutate(**{c: ibis.cases((dropped, t[c].cast("string")), else_=ibis.null("string"))
                       for c in ("_raw_date", "_raw_amount", "_raw_quantity", "_raw_cost")})
