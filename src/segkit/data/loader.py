"""``load_transactions``: open the source, map columns, parse once, count, clean, report.

The loader never reads a file whole into pandas: CSV and Parquet are scanned by the engine
(DuckDB by default, through Ibis), cleaning is one expression, and only counts and a handful of
example rows come back to Python.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..config import CANONICAL_COLUMNS, is_connection_url
from ..engines import connect, engine_name, materialize, release
from ..errors import DataError
from .columns import map_columns
from .counting import add_examples, apply_filter, check_unparseable, count_duplicates, count_rows, warn_totals_rows
from .parsing import HELPERS, detect_layouts, parse
from .quality import QualityReport
from .sources import error_summary, open_table, read_raw
from .typed import TypedOpener, try_typed, typed_reader_enabled

__all__ = ["Transactions", "load_transactions"]


@dataclasses.dataclass
class Transactions:
    """Clean transactions as an Ibis table with canonical columns, plus provenance.

    ``table`` columns: ``customer_id`` (string), ``date`` (date), ``amount`` (float64),
    ``quantity``/``cost`` (float64, null when not given), ``order_id`` (string or null), then the
    attribute columns. ``has`` tells which optional columns the source had. ``reader`` tells how
    the values were read: ``typed`` (a clean CSV read by DuckDB's typed reader, the fast path of
    :mod:`~segkit.data.typed`) or ``text`` (segkit's text parser, and every source that is not CSV);
    the quality report is the same either way.
    """

    table: ir.Table
    con: Any
    quality: QualityReport
    path: str
    sha256: str
    has: frozenset[str]
    attributes: tuple[str, ...]
    engine: str = "duckdb"
    reader: str = "text"

    @property
    def first_date(self) -> dt.date:
        return dt.date.fromisoformat(self.quality.first_date)

    @property
    def last_date(self) -> dt.date:
        return dt.date.fromisoformat(self.quality.last_date)

    def close(self) -> None:
        """Free the engine's copy of the data when segkit opened the engine (DuckDB); ``table`` is unusable after."""
        release(self.con)

    def to_pandas(self) -> pd.DataFrame:
        """The clean rows as pandas (small data only: tests, examples)."""
        return self.con.execute(self.table)

    def data_info(self) -> dict[str, Any]:
        """The ``data`` block of ``run.json``."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "rows_read": self.quality.rows_read,
            "rows_used": self.quality.rows_used,
            "customers": self.quality.customers,
            "first_date": self.quality.first_date,
            "last_date": self.quality.last_date,
            "issues": self.quality.to_dict(),
        }


def load_transactions(source: str | Path | pd.DataFrame | ir.Table, columns: Mapping[str, str] | None = None, *,
                      drop_duplicates: bool = False, max_bad_share: float = 0.01,
                      filter: Mapping[str, Any] | None = None, engine: str = "duckdb", con: Any = None,
                      today: dt.date | None = None, table: str | None = None,
                      typed_reader: bool | None = None) -> Transactions:
    """Read ``source``, map ``columns`` (canonical name -> source column), clean, and report.

    Parameters
    ----------
    source
        A CSV/TSV (optionally .gz), Parquet file or glob of Parquet/CSV files, an Excel workbook, a pandas
        DataFrame, an Ibis table already in an engine, or an Ibis connection URL (``duckdb:///w.duckdb``,
        ``postgres://analyst@db/finance``, ...) with ``table`` (``sales`` or ``schema.sales``).
    columns
        Canonical names (``customer_id, date, amount``; optional ``quantity, cost, order_id``) and
        attribute names mapped to the source's columns; unmapped canonical names are looked up by
        their own name (case-insensitively).
    drop_duplicates, max_bad_share, filter
        Keep one copy of each exact duplicate (equal in every column of the source row); the largest
        share of unreadable values that are dropped rather than stopping; attribute equality.
    engine, con, today, typed_reader
        Where the work runs (``con`` reuses an Ibis connection); the date after which dates count as
        "in the future" (default: the real today); whether a clean CSV may be read by DuckDB's typed
        reader (the same result, faster; default: yes unless the environment sets ``SEGKIT_TYPED_READER=0``).

    Raises
    ------
    DataError
        The source cannot be read, a column is missing, too many values cannot be parsed, or nothing
        usable is left; the message names the file, the column, examples and the fix.

    Examples
    --------
    >>> frame = pd.DataFrame({"customer_id": ["1", "1", "2"], "date": ["2024-01-05"] * 3, "amount": ["10", "10", "0"]})
    >>> q = load_transactions(frame).quality
    >>> q.rows_used, q.kept["exact_duplicates"], q.dropped["zero_amount"]
    (2, 1, 1)
    """
    columns, filter, today = dict(columns or {}), dict(filter or {}), today or dt.date.today()
    label, source, con = _where(source, table, con, engine)
    read_label, raw, sha, detected, serial, typed = read_raw(con, source)
    label = label or read_label
    mapping = map_columns(raw, columns, filter, label)
    attributes = tuple(k for k in mapping if k not in CANONICAL_COLUMNS)
    stage, reader = _stage(con, raw, serial, typed if typed_reader_enabled(typed_reader) else None, mapping,
                           attributes, label, detected)

    quality = QualityReport(source=label, detected=detected)
    count_rows(con, stage, quality, mapping, today, label)
    check_unparseable(con, stage, quality, mapping, max_bad_share, label)
    add_examples(con, stage, quality, today)
    warn_totals_rows(quality)
    clean = stage.filter(stage._reason.isnull()).drop(*HELPERS)
    if filter:
        clean = apply_filter(con, clean, filter, quality, label)
    clean = count_duplicates(con, clean, quality, drop_duplicates, label)
    assert quality.rows_read == quality.rows_used + quality.rows_dropped, "row accounting broke"
    return Transactions(table=clean, con=con, quality=quality, path=label, sha256=sha(),
                        has=frozenset(k for k in ("quantity", "cost", "order_id") if k in mapping),
                        attributes=attributes, engine=engine_name(con), reader=reader)


def _where(source: Any, table: str | None, con: Any, engine: str) -> tuple[str | None, Any, Any]:
    """(label of a database table or None, the source, the connection the work runs on)."""
    label = None
    if isinstance(source, (str, Path)) and (is_connection_url(str(source)) or table is not None):
        label, source = open_table(str(source), table)
    if con is None and isinstance(source, ir.Table):
        con = ibis.get_backend(source)  # a table in a warehouse or on Spark is worked on where it is
    return label, source, con if con is not None else connect(engine)


#: staged columns that hold NULL on every row when the source column in brackets is not mapped
_NULL_UNLESS_MAPPED = {"quantity": "quantity", "cost": "cost", "order_id": "order_id",
                       "_raw_quantity": "quantity", "_raw_cost": "cost"}


def _stored(con: Any, staged: ir.Table, mapping: dict[str, str]) -> ir.Table:
    """``staged`` computed once in the engine, without storing the columns that are NULL on every row.

    An in-memory DuckDB table stores a NULL column uncompressed: the three of a file without cost
    and order ids took 216 MB of a 1,978 MB peak at 10M rows. They are added back as NULL literals
    of the same types, in the same column order, so every later expression sees the same table.
    """
    absent = [c for c, key in _NULL_UNLESS_MAPPED.items() if key not in mapping and c in staged.columns]
    kept = materialize(con, staged.drop(*absent))
    if not absent:
        return kept
    return kept.mutate(**{c: ibis.null(staged[c].type()) for c in absent}).select(*staged.columns)


def _stage(con: Any, raw: ir.Table, serial: Callable[[], ir.Table] | None, typed: TypedOpener | None,
           mapping: dict[str, str], attributes: tuple[str, ...], label: str,
           detected: dict[str, str]) -> tuple[ir.Table, str]:
    """The one pass over the source: the parsed table every count, example and feature reads, and
    the reader that read it (``typed`` or ``text``)."""
    def stage_from(raw: ir.Table, typed: TypedOpener | None) -> tuple[ir.Table, str]:
        layouts = detect_layouts(con, raw, mapping, detected)
        staged = None if typed is None else try_typed(con, typed, raw, mapping, layouts, attributes)
        if staged is not None:
            return staged, "typed"
        return _stored(con, parse(raw, mapping, layouts, attributes, con), mapping), "text"

    try:
        try:
            return stage_from(raw, typed)
        except Exception as exc:
            # A line break inside a quoted value (an address, a hostile id): DuckDB's parallel
            # scanner says so and the serial one reads it. Asking the reader costs nothing on the
            # usual file; scanning every file for such quotes first cost 2.4 s per 10M rows.
            if serial is None or "quoted new lines" not in str(exc):
                raise
            return stage_from(serial(), None)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"the file cannot be read to the end ({error_summary(exc)})", where=label,
                        fix="check for a truncated export, stray quotes or a wrong delimiter") from exc
