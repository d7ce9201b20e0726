"""The typed fast path: a clean CSV file read by DuckDB's typed CSV reader instead of parsed as text.

segkit's text parser (:mod:`~segkit.data.parsing`) reads every column as a string and turns dates
and numbers into values with expressions, so that every layout (``05.01.2024``, ``1.234,50 €``)
and every engine reads the same text as the same value. For the most common file that is work
DuckDB's CSV reader does itself while it reads: ISO dates (``2024-01-05``) and plain numbers
(``1234.5``) come out typed from the reader, and the staged table needs no text pass.

The fast path is taken only where it gives the staged table the text parser would give, so the
quality report is the same on both paths:

- the source is CSV read by DuckDB, and the layouts detected from the sample are ISO dates and
  plain numbers, with every sampled value one the typed reader reads (no times after the date, no
  currency signs, no spaces-only values): otherwise the file goes to the text parser at once;
- the reader gets every column's type (dates ``DATE`` with the format ``%Y-%m-%d``, amounts,
  quantities and costs ``DOUBLE``, everything else ``VARCHAR``), so it guesses no type (it finds
  the dialect as the text reader does); it stops with a conversion error at the first value it
  cannot read, wherever it is in the file, and loading goes back to the text parser. So does an
  input error (rows with more or fewer fields than the header, values spanning lines), where the
  text parser reads the file or reports what is wrong with it; other errors are not caught;
- no date reads as 1970-01-01 or infinity: DuckDB takes the words ``epoch`` and ``infinity`` for
  those dates, and the text parser does not;
- rows cleaning drops (an amount of 0, a missing id or date) are parsed again from their text,
  so the examples show what the file holds (``'0.00'``, not ``0.0``); the two readings must agree
  on the number of rows and the money dropped per reason, or the text parser reads the whole file.

``SEGKIT_TYPED_READER=0`` (or ``load_transactions(..., typed_reader=False)``) turns the fast path
off; :attr:`segkit.data.Transactions.reader` tells which path read a file.

Example
-------
>>> typed_reader_enabled(None, {"SEGKIT_TYPED_READER": "0"}), typed_reader_enabled(None, {})
(False, True)
>>> sample = {"date": ["2024-01-05", " 2024-1-5"], "amount": ["12.50", "-3", "1e3"]}
>>> plan_types(["id", "day", "net"], {"customer_id": "id", "date": "day", "amount": "net"},
...            {"date": "YYYY-MM-DD", "amount": "plain"}, sample)
{'id': 'VARCHAR', 'day': 'DATE', 'net': 'DOUBLE'}
>>> plan_types(["id", "day", "net"], {"customer_id": "id", "date": "day", "amount": "net"},
...            {"date": "YYYY-MM-DD", "amount": "plain"}, {**sample, "amount": ["$12"]}) is None
True
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..engines import engine_name, forget, materialize, sql_name
from .parsing import parse

__all__ = ["TYPED_READER_ENV", "TypedOpener", "plan_types", "read_csv_typed", "stage_typed", "try_typed",
           "typed_opener", "typed_reader_enabled"]

#: opens the file again with DuckDB's typed reader, given every column's type
TypedOpener = Callable[[dict[str, str]], ir.Table]
#: the environment variable that turns the fast path off (``0``, ``false``, ``no`` or ``off``)
TYPED_READER_ENV = "SEGKIT_TYPED_READER"
#: the text layouts the typed reader reads as segkit's parser does (one format per column)
_DATE_LAYOUT, _NUMBER_LAYOUT = "YYYY-MM-DD", "plain"
_SAMPLE = 2000  # the values detect_layouts looks at
_TYPED_KEYS = {"date": "DATE", "amount": "DOUBLE", "quantity": "DOUBLE", "cost": "DOUBLE"}
# what DuckDB's reader takes for a DATE with %Y-%m-%d and for a DOUBLE (spaces around allowed);
# a sampled value outside these would make the typed read fail, so the file goes to the text
# parser without trying
_DATE_TEXT = re.compile(r"\s*\d{4}-\d{1,2}-\d{1,2}\s*")
_NUMBER_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
#: DuckDB's reader reads the word `epoch` as this date, and `(-)infinity` as dates outside these
#: bounds (year 0 lands there too, and goes to the text parser with them); the text parser reads none of them
_EPOCH, _FIRST, _LAST = dt.date(1970, 1, 1), dt.date(1, 1, 1), dt.date(9999, 12, 31)


def typed_reader_enabled(flag: bool | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to try the typed reader: ``flag`` when given, else ``SEGKIT_TYPED_READER`` (default on)."""
    if flag is not None:
        return flag
    value = (os.environ if environ is None else environ).get(TYPED_READER_ENV, "1")
    return value.strip().lower() not in ("0", "false", "no", "off")


def plan_types(columns: list[str], mapping: dict[str, str], layouts: dict[str, str],
               sample: Mapping[str, list[Any]]) -> dict[str, str] | None:
    """Every source column's type for DuckDB's reader, or None when the typed reader would read the file differently.

    ``sample`` holds the first values of the date and number columns, by canonical name, as text.
    """
    typed: dict[str, str] = {}
    for key, sql_type in _TYPED_KEYS.items():
        if key not in mapping:
            continue
        if layouts.get(key) != (_DATE_LAYOUT if key == "date" else _NUMBER_LAYOUT):
            return None
        if typed.get(mapping[key], sql_type) != sql_type:
            return None  # one column mapped as a date and as a number
        pattern = _DATE_TEXT if key == "date" else _NUMBER_TEXT
        if not all(pattern.fullmatch(str(v)) for v in sample.get(key, []) if v is not None):
            return None
        typed[mapping[key]] = sql_type
    # a typed column also read as text (an id, an attribute, a filter) would print the value, not the text
    if any(mapping[key] in typed for key in mapping if key not in _TYPED_KEYS):
        return None
    return {c: typed.get(c, "VARCHAR") for c in columns}


def try_typed(con: Any, opener: TypedOpener, text: ir.Table, mapping: dict[str, str], layouts: dict[str, str],
              attributes: tuple[str, ...]) -> ir.Table | None:
    """The staged table read by the typed reader, or None where the text parser must read the file.

    ``text`` is the file opened as strings (:func:`segkit.engines.read_csv_text`), ``layouts``
    what :func:`~segkit.data.parsing.detect_layouts` found in it.
    """
    keys = [k for k in _TYPED_KEYS if k in mapping]
    sample = con.execute(text.select(**{k: text[mapping[k]] for k in keys}).limit(_SAMPLE))
    types = plan_types(list(text.columns), mapping, layouts, {k: sample[k].dropna().tolist() for k in keys})
    if types is None:
        return None
    return stage_typed(con, lambda: opener(types), text, mapping, layouts, attributes)


def read_csv_typed(con: Any, files: list[str], delim: str, types: dict[str, str]) -> ir.Table:
    """Open delimited text files with DuckDB's typed reader, every column's type given.

    The options are the text reader's (:func:`segkit.engines.read_csv_text`), so both read the same
    rows; dates are read with the one format ``%Y-%m-%d``.
    """
    return con.read_csv(files if len(files) > 1 else files[0], columns=types, auto_detect=True, header=True,
                        delim=delim, quote='"', escape='"', null_padding=True, ignore_errors=False,
                        strict_mode=False, dateformat="%Y-%m-%d")


def stage_typed(con: Any, open_typed: Callable[[], ir.Table], text: ir.Table, mapping: dict[str, str],
                layouts: dict[str, str], attributes: tuple[str, ...]) -> ir.Table | None:
    """The staged table from the typed read, or None where the text parser must read the file.

    ``open_typed()`` opens the file with :func:`read_csv_typed` (its sniffer may already refuse the
    file), ``text`` is the same file as strings (the dropped rows are parsed again from it with
    ``layouts``).
    """
    import duckdb

    native = {key: "native" for key in layouts}
    try:
        staged = materialize(con, parse(open_typed(), mapping, native, attributes, con))
    except duckdb.ConversionException:
        return None  # a value the typed reader cannot read: the text parser reads and counts it
    except duckdb.InvalidInputException:
        # the file's shape as the typed reader sees it: rows with fewer or more fields than the
        # header (its sniffer checks them against the given columns), values spanning lines; the
        # text parser reads such a file, or reports what is wrong with it
        return None
    checks = con.execute(staged.aggregate(
        dropped=ibis.cases((staged._reason.notnull(), 1), else_=0).sum(),
        odd_dates=ibis.cases(((staged.date == _EPOCH) | (staged.date < _FIRST) | (staged.date > _LAST), 1),
                             else_=0).sum())).iloc[0]
    if checks["odd_dates"]:
        return _discard(con, staged)
    if not checks["dropped"]:
        return staged
    return _dropped_from_text(con, staged, text, mapping, layouts, attributes)


def _dropped_from_text(con: Any, staged: ir.Table, text: ir.Table, mapping: dict[str, str],
                       layouts: dict[str, str], attributes: tuple[str, ...]) -> ir.Table | None:
    """Replace the dropped rows of ``staged`` by the same rows parsed from their text (None: they disagree).

    Dropped rows are found in the text by their customer ids (missing ids included): only those
    customers' rows are parsed as text, and their dropped rows keep the text the examples show.
    """
    dropped = staged.filter(staged._reason.notnull())
    ids = dropped.filter(dropped.customer_id.notnull()).select("customer_id").distinct()
    raw_id = text[mapping["customer_id"]].cast("string").strip().nullif("")
    candidates = text.filter(raw_id.isin(ids.customer_id) | raw_id.isnull())
    parsed = parse(candidates, mapping, layouts, attributes, con)
    again = materialize(con, parsed.filter(parsed._reason.notnull()), lasting=False)
    if _per_reason(con, again) != _per_reason(con, dropped):
        _discard(con, again)
        return _discard(con, staged)
    # in place: copying the clean rows into a new table would cost as much as staging them
    con.raw_sql(f"DELETE FROM {sql_name(staged)} WHERE _reason IS NOT NULL")
    con.raw_sql(f"INSERT INTO {sql_name(staged)} SELECT * FROM {sql_name(again)}")
    _discard(con, again)
    return staged


def _per_reason(con: Any, t: ir.Table) -> dict[str, tuple[int, float | None]]:
    """Rows and money per drop reason: what both readings of the dropped rows must agree on."""
    frame = con.execute(t.group_by("_reason").aggregate(n=t.count(), net=t.amount.sum().round(6)))
    return {r["_reason"]: (int(r["n"]), None if pd.isna(r["net"]) else float(r["net"]))
            for r in frame.to_dict("records")}


def _discard(con: Any, t: ir.Table) -> None:
    """Drop a table the fast path materialized and will not use (its rows would hold memory)."""
    forget(con, t)


def typed_opener(con: Any, files: list[str], delim: str) -> TypedOpener | None:
    """``read_csv_typed`` bound to these files, or None on an engine without DuckDB's typed reader."""
    if engine_name(con) != "duckdb":
        return None
    return lambda types: read_csv_typed(con, files, delim, types)

