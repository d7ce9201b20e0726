"""Load transactions from where they live, map columns, clean them by DESIGN.md's rules.

The loader never reads a file whole into pandas: CSV and Parquet are scanned by the engine
(DuckDB by default, through Ibis), cleaning is one expression, and only counts and a handful of
example rows come back to Python. The result is a :class:`Transactions` holding the clean Ibis
table (canonical columns) and a :class:`QualityReport` of everything cleaning found and did.

Example
-------
>>> from segkit.data import load_transactions
>>> tx = load_transactions("data/cdnow/cdnow_master.csv.gz")  # doctest: +SKIP
>>> tx.quality.rows_read, tx.quality.rows_used  # doctest: +SKIP
(69659, 69579)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import glob as globmod
import gzip
import hashlib
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from .config import CANONICAL_COLUMNS, check_connection, is_connection_url
from .errors import ConfigError, DataError
from .engines import casts_text_to_date, connect, engine_name, materialize, read_csv_text, release

__all__ = ["Transactions", "QualityReport", "load_transactions", "DROP_REASONS"]

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
_EXAMPLES = 5
_SAMPLE = 2000
_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".dat")
_COMPRESSIONS = (".gz", ".zst", ".bz2")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")

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
# Number layouts: how to turn the text into something TRY_CAST(DOUBLE) reads.
_NUMBER_LAYOUTS = {
    "plain": re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"),
    "thousands-comma": re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"),
    "decimal-comma": re.compile(r"^[+-]?\d+,\d+$"),
    "decimal-comma-thousands-dot": re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$"),
}
#: parse-time columns kept in the staged table (raw text only on rows cleaning drops, for examples)
_HELPERS = ("_reason", "_raw_date", "_raw_amount", "_raw_quantity", "_raw_cost")
_CURRENCY_NOISE = "[\\s\u00a0\u202f'$€£¥]|(?:[A-Z]{3}$)|(?:^[A-Z]{3})|(?:Kč$)|(?:zł$)"


# ================================================================== the report
@dataclasses.dataclass
class QualityReport:
    """What loading and cleaning found and did, with counts and examples.

    ``dropped`` counts rows removed per reason (each row counted once, for its first reason);
    ``kept`` counts things noticed but kept (returns, exact duplicates, future dates);
    ``rows_read == rows_used + sum(dropped.values())`` always holds.
    """

    source: str
    rows_read: int = 0
    rows_used: int = 0
    customers: int = 0
    dropped: dict[str, int] = dataclasses.field(default_factory=dict)
    kept: dict[str, int] = dataclasses.field(default_factory=dict)
    unparseable: dict[str, int] = dataclasses.field(default_factory=dict)
    customers_nonpositive_net: int = 0
    examples: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    detected: dict[str, str] = dataclasses.field(default_factory=dict)
    first_date: str | None = None
    last_date: str | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def rows_dropped(self) -> int:
        return int(sum(self.dropped.values()))

    def to_dict(self) -> dict[str, Any]:
        """The ``issues`` block of ``run.json``."""
        return {
            "rows_read": self.rows_read,
            "rows_used": self.rows_used,
            "rows_dropped": self.rows_dropped,
            "customers": self.customers,
            "dropped": dict(self.dropped),
            "kept": dict(self.kept),
            "unparseable": dict(self.unparseable),
            "customers_nonpositive_net": self.customers_nonpositive_net,
            "first_date": self.first_date,
            "last_date": self.last_date,
            "detected": dict(self.detected),
            "examples": {k: list(v) for k, v in self.examples.items()},
            "warnings": list(self.warnings),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per finding: what, rows, share of rows read, action, examples."""
        rows = []
        n = max(self.rows_read, 1)
        labels = {
            "missing_customer_id": "Missing customer id",
            "missing_date": "Missing date",
            "unparseable_date": "Date that cannot be read",
            "unparseable_amount": "Amount that cannot be read (or empty)",
            "unparseable_quantity": "Quantity that cannot be read",
            "unparseable_cost": "Cost that cannot be read",
            "zero_amount": "Amount exactly 0",
            "duplicates_dropped": "Exact duplicate row (drop_duplicates: true)",
            "filtered_out": "Outside the run's filter",
            "returns": "Return (amount < 0): lowers net revenue",
            "exact_duplicates": "Exact duplicate row (kept as a repeat purchase)",
            "future_dates": "Date after today",
        }
        for key, count in self.dropped.items():
            rows.append((labels.get(key, key), count, count / n, "dropped", "; ".join(self.examples.get(key, []))))
        for key, count in self.kept.items():
            rows.append((labels.get(key, key), count, count / n, "kept", "; ".join(self.examples.get(key, []))))
        rows.append(("Customers whose net revenue is <= 0", self.customers_nonpositive_net, None, "kept (customers)",
                     "; ".join(self.examples.get("customers_nonpositive_net", []))))
        return pd.DataFrame(rows, columns=["finding", "count", "share_of_rows", "action", "examples"])

    def __str__(self) -> str:
        lines = [
            f"Data-quality report for {self.source}",
            f"  rows read        {self.rows_read:>12,}",
            f"  rows used        {self.rows_used:>12,}",
            f"  rows dropped     {self.rows_dropped:>12,}",
            f"  customers        {self.customers:>12,}",
            f"  dates            {self.first_date} .. {self.last_date}",
        ]
        if self.detected:
            lines.append("  read as          " + ", ".join(f"{k}={v}" for k, v in self.detected.items()))
        lines.append("")
        frame = self.to_frame()
        width = max(len(s) for s in frame["finding"])
        for row in frame.itertuples(index=False):
            share = "" if row.share_of_rows is None or pd.isna(row.share_of_rows) else f"{row.share_of_rows:8.3%}"
            lines.append(f"  {row.finding:<{width}}  {row.count:>10,}  {share:>8}  {row.action}")
            if row.count and row.examples:
                lines.append(f"  {'':<{width}}    e.g. {row.examples}")
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:  # pragma: no cover - notebook display
        return self.to_frame().to_html(index=False, na_rep="")


# ================================================================== the result
@dataclasses.dataclass
class Transactions:
    """Clean transactions as an Ibis table with canonical columns, plus provenance.

    ``table`` columns: ``customer_id`` (string), ``date`` (date), ``amount`` (float64),
    ``quantity``/``cost`` (float64, null when not given), ``order_id`` (string or null), then the
    attribute columns. ``has`` tells which optional columns the source had.
    """

    table: ir.Table
    con: Any
    quality: QualityReport
    path: str
    sha256: str
    has: frozenset[str]
    attributes: tuple[str, ...]
    engine: str = "duckdb"

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


# ================================================================== loading
def load_transactions(
    source: str | Path | pd.DataFrame | ir.Table,
    columns: Mapping[str, str] | None = None,
    *,
    drop_duplicates: bool = False,
    max_bad_share: float = 0.01,
    filter: Mapping[str, Any] | None = None,
    engine: str = "duckdb",
    con: Any = None,
    today: dt.date | None = None,
    table: str | None = None,
) -> Transactions:
    """Read ``source``, map ``columns`` (canonical name -> source column), clean, and report.

    Parameters
    ----------
    source
        A CSV/TSV (optionally .gz), Parquet file or glob of Parquet/CSV files, an Excel workbook,
        a pandas DataFrame, an Ibis table already in an engine, or an Ibis connection URL
        (``duckdb:///warehouse.duckdb``, ``postgres://analyst@db/finance``, ...) with ``table``.
    columns
        Canonical names (``customer_id, date, amount`` and optional ``quantity, cost, order_id``)
        and attribute names mapped to the source's column names. Unmapped canonical names are
        looked up by their own name (case-insensitively).
    drop_duplicates, max_bad_share, filter
        DESIGN.md's cleaning parameters.
    engine, con
        Where the work runs; ``con`` reuses an Ibis connection.
    table
        With a connection URL: the table to read (``sales`` or ``schema.sales``); the work runs
        in that database.
    today
        The date after which dates count as "in the future" (default: the real today).

    Raises
    ------
    DataError
        The file cannot be read, a column is missing, too many values cannot be parsed, or
        nothing usable is left. The message names the file, the column, examples and the fix.
    """
    columns = dict(columns or {})
    filter = dict(filter or {})
    today = today or dt.date.today()
    url_label = None
    if isinstance(source, (str, Path)) and (is_connection_url(str(source)) or table is not None):
        url_label, source = _open_table(str(source), table)
    if con is None and isinstance(source, ir.Table):
        con = ibis.get_backend(source)  # a table in a warehouse or on Spark is worked on where it is
    con = con if con is not None else connect(engine)
    engine = engine_name(con)
    label, raw, sha, detected, serial = _read_raw(con, source, engine)
    label = url_label or label
    mapping = _map_columns(raw, columns, filter, label)
    has = frozenset(k for k in ("quantity", "cost", "order_id") if k in mapping)
    attributes = tuple(k for k in mapping if k not in CANONICAL_COLUMNS)

    def stage_from(raw: ir.Table) -> ir.Table:
        sample = _sample(con, raw, mapping)
        layouts = _detect_layouts(sample, raw, mapping, label, detected)
        # The one pass over the source: counts, examples, duplicates and features all read this
        # parsed table, never the file again.
        return materialize(con, _parse(raw, mapping, layouts, attributes, con))

    try:
        try:
            stage = stage_from(raw)
        except Exception as exc:
            # A line break inside a quoted value (an address, a hostile id): DuckDB's parallel
            # scanner says so and the serial one reads it. Asking the reader costs nothing on the
            # usual file; scanning every file for such quotes first cost 2.4 s per 10M rows.
            if serial is None or "quoted new lines" not in str(exc):
                raise
            stage = stage_from(serial())
    except DataError:
        raise
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise DataError(f"the file cannot be read to the end ({msg})", where=label,
                        fix="check for a truncated export, stray quotes or a wrong delimiter") from exc

    quality = QualityReport(source=label, detected=detected)
    _count_and_check(con, stage, quality, mapping, max_bad_share, label, today)

    clean = stage.filter(stage._reason.isnull()).drop(*_HELPERS)
    if filter:
        matches = ibis.literal(True)
        for key, value in filter.items():
            values = value if isinstance(value, list) else [value]
            matches = matches & clean[key].isin([str(v) for v in values])
        counts = con.execute(clean.aggregate(before=ibis._.count(),
                                             after=matches.cast("int64").sum())).iloc[0]
        before, after = int(counts["before"]), int(_int(counts["after"]))
        quality.dropped["filtered_out"] = before - after
        if after == 0 and before > 0:
            seen = con.execute(clean.select(*filter).distinct().limit(10))
            raise DataError(
                f"no rows match the filter {filter}",
                where=f"{label}, column(s) {', '.join(filter)}",
                fix=f"use values that occur in the data, e.g. {seen.to_dict('records')[:5]}",
            )
        clean = clean.filter(matches)

    # One group-by over all columns finds exact duplicates; a per-customer table built from it
    # gives rows used, duplicates, customers, dates and net revenue without another pass.
    groups = clean.group_by(clean.columns).aggregate(_n=ibis._.count())
    weight = (groups._n > 0).cast("int64") if drop_duplicates else groups._n  # rows a distinct row stands for
    per_customer = materialize(con, groups.group_by("customer_id").aggregate(
        _rows=weight.sum(), _extra=(groups._n - 1).sum(), net=(groups.amount * weight).sum().round(6),
        _first=groups.date.min(), _last=groups.date.max()))
    summary = con.execute(per_customer.aggregate(
        n=per_customer._rows.sum(), extra=per_customer._extra.sum(), customers=per_customer.count(),
        first=per_customer._first.min(), last=per_customer._last.max(),
        nonpositive=(per_customer.net <= 0).cast("int64").sum())).iloc[0]
    dup_count = _int(summary["extra"])
    quality.kept["exact_duplicates"] = dup_count
    if drop_duplicates:
        quality.kept.pop("exact_duplicates")
        quality.dropped["duplicates_dropped"] = dup_count
    if dup_count:
        dup = groups.filter(groups._n > 1).order_by("customer_id", "date", "amount").limit(_EXAMPLES)
        quality.examples["exact_duplicates" if not drop_duplicates else "duplicates_dropped"] = [
            f"customer {r['customer_id']} on {r['date']:%Y-%m-%d} amount {r['amount']:g} x{r['_n']}"
            for r in con.execute(dup).to_dict("records")]
        if drop_duplicates:
            clean = materialize(con, groups.drop("_n"))
    table = clean

    quality.rows_used = _int(summary["n"])
    if quality.rows_used == 0:
        raise DataError(
            "no usable rows are left after cleaning",
            where=label,
            fix="check the column mapping (--columns) and the findings printed by `segkit validate`",
        )
    quality.customers = int(summary["customers"])
    quality.first_date = pd.Timestamp(summary["first"]).date().isoformat()
    quality.last_date = pd.Timestamp(summary["last"]).date().isoformat()
    quality.customers_nonpositive_net = _int(summary["nonpositive"])
    if quality.customers_nonpositive_net:
        nonpos = per_customer.filter(per_customer.net <= 0).select("customer_id", "net")
        quality.examples["customers_nonpositive_net"] = [
            f"{r.customer_id} (net {r.net:g})"
            for r in con.execute(nonpos.order_by("customer_id").limit(_EXAMPLES)).itertuples()]
    assert quality.rows_read == quality.rows_used + quality.rows_dropped, "row accounting broke"
    return Transactions(table=table, con=con, quality=quality, path=label, sha256=sha(), has=has,
                        attributes=attributes, engine=engine)


def _open_table(url: str, table: str | None) -> tuple[str, ir.Table]:
    """Connect to ``url`` with Ibis and open ``table`` there; returns (label, table)."""
    try:
        check_connection(url, table, "data")
    except ConfigError as exc:
        shown = re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)  # never echo a password
        raise DataError(exc.what, where=shown if table is None else f"{shown}, table {table!r}", fix=exc.fix) from exc
    assert table is not None
    label = f"{url}, table {table}"
    try:
        con = ibis.connect(url)
    except Exception as exc:  # unknown scheme, missing driver, unreachable server, missing file
        msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot connect to the database ({msg})", where=url,
                        fix="check the URL (backend://user@host/database), that the backend's Ibis extra is "
                            "installed (pip install 'ibis-framework[postgres]', ...) and that the server is reachable"
                        ) from exc
    schema, _, name = table.rpartition(".")
    try:
        return label, con.table(name, database=schema or None)
    except Exception as exc:
        raise DataError(f"the database has no table {table!r}", where=label,
                        fix="check the table name; write schema.table for a table outside the default schema"
                        ) from exc


def _int(value: Any) -> int:
    """A count from an aggregate; SUM over no rows is NULL (None or NaN, by engine)."""
    return 0 if value is None or pd.isna(value) else int(value)


# ------------------------------------------------------------------ raw reading
def _read_raw(con: Any, source: Any, engine: str) -> tuple[
        str, ir.Table, Callable[[], str], dict[str, str], Callable[[], ir.Table] | None]:
    """Open the source as an Ibis table of raw values.

    Returns (label, table, sha256, detected, serial): ``sha256()`` gives the data hash (computed
    in a background thread while the engine reads); ``serial()``, when not None, opens the same
    CSV with the serial reader for values that span lines.
    """
    detected: dict[str, str] = {}
    if isinstance(source, pd.DataFrame):
        if source.empty:
            raise DataError("the DataFrame has no rows", where="DataFrame", fix="pass transactions")
        digest = hashlib.sha256(pd.util.hash_pandas_object(source, index=False).values.tobytes()).hexdigest()
        frame = source.copy()
        frame.columns = [str(c) for c in frame.columns]
        return "DataFrame", ibis.memtable(frame), lambda: digest, detected, None
    if isinstance(source, ir.Table):
        return "Ibis table", source, lambda: "", detected, None
    path_text = str(source)
    paths = sorted(globmod.glob(path_text)) if any(ch in path_text for ch in "*?[") else [path_text]
    if not paths:
        raise DataError(f"no file matches {path_text!r}", where=path_text,
                        fix="check the path and the pattern (globs like data/*.parquet are allowed)")
    for p in paths:
        if not Path(p).exists():
            raise DataError(f"the data file {p!r} does not exist", where=p,
                            fix="check the path (relative paths are relative to the config file or the "
                                "current folder)")
        if Path(p).is_dir():
            raise DataError(f"{p!r} is a folder, not a file", where=p,
                            fix="point at a file, or at a glob such as folder/*.parquet")
        if Path(p).stat().st_size == 0:
            raise DataError(f"the data file {p!r} is empty (0 bytes)", where=p,
                            fix="export the transactions again; the file has no content")
    label = path_text
    kind = _kind(paths[0])
    if any(_kind(p) != kind for p in paths):
        raise DataError("the files matched by the pattern are of different kinds", where=label,
                        fix="match only CSV files or only Parquet files")
    serial = None
    try:
        if kind == "parquet":
            raw = con.read_parquet(paths if len(paths) > 1 else paths[0])
            detected["format"] = "parquet"
        elif kind == "excel":
            if len(paths) > 1:
                raise DataError("several Excel files cannot be read at once", where=label,
                                fix="combine them or export them to CSV/Parquet")
            frame = pd.read_excel(paths[0], dtype=str)
            frame.columns = [str(c).strip() for c in frame.columns]
            if frame.empty:
                raise DataError("the Excel sheet has a header but no rows", where=label,
                                fix="export the sheet with the transactions (the first sheet is read)")
            raw = ibis.memtable(frame)
            detected["format"] = "excel (first sheet)"
        else:
            raw, detected, serial = _read_csv(con, paths, label)
    except DataError:
        raise
    except Exception as exc:  # engine errors for malformed files
        msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise DataError(f"the file cannot be read as {kind.upper()} ({msg})", where=label,
                        fix="check that it is a complete, uncorrupted export with a header line") from exc
    if not raw.columns:
        raise DataError("the file has no columns", where=label, fix="export it with a header line")
    return label, raw, _in_background(_sha256, paths), detected, serial


def _in_background(func: Callable[..., str], *args: Any) -> Callable[[], str]:
    """Start ``func(*args)`` in a daemon thread; the returned callable waits for its result.

    Hashing a large file releases the GIL, so it overlaps with the engine's parsing.
    """
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["value"] = func(*args)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=work, name="segkit-sha256", daemon=True)
    thread.start()

    def wait() -> str:
        thread.join()
        if "error" in result:
            raise result["error"]
        return result["value"]

    return wait


def _kind(path: str) -> str:
    name = path.lower()
    for comp in _COMPRESSIONS:
        if name.endswith(comp):
            name = name[: -len(comp)]
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_EXCEL_SUFFIXES):
        return "excel"
    return "csv"


def _head_bytes(path: str, n: int = 65536) -> bytes:
    if path.lower().endswith(".gz"):
        try:
            with gzip.open(path, "rb") as fh:
                return fh.read(n)
        except (OSError, EOFError) as exc:
            raise DataError("the .gz file is damaged or not gzip", where=path,
                            fix="download or export it again") from exc
    with open(path, "rb") as fh:
        return fh.read(n)


def _read_csv(con: Any, paths: list[str], label: str) -> tuple[ir.Table, dict[str, str], Callable[[], ir.Table]]:
    detected: dict[str, str] = {"format": "csv"}
    head = _head_bytes(paths[0])
    if b"\x00" in head[:8192] and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError("the file is binary, not text", where=label,
                        fix="export the transactions as CSV, Parquet or Excel")
    encoding = _sniff_encoding(head)
    detected["encoding"] = encoding
    files = paths
    if encoding not in ("utf-8", "utf-8-sig"):
        files = [_transcode(p, encoding) for p in paths]
    text = head.decode(encoding if encoding != "utf-8" else "utf-8", errors="replace")
    # binary content without NUL bytes still decodes (as Latin-1, say): control characters give it away
    controls = sum(1 for c in text[:8192] if (c < " " and c not in "\t\r\n") or "\x7f" <= c <= "\x9f" or c == "\ufffd")
    if controls > 0.05 * len(text[:8192]):
        raise DataError("the file is binary, not text", where=label,
                        fix="export the transactions as CSV, Parquet or Excel")
    first_line = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    if not first_line.strip():
        raise DataError("the file has no header line", where=label,
                        fix="export it with column names on the first line")
    delim = _sniff_delimiter(text)
    detected["delimiter"] = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(delim, repr(delim))
    # a line break inside a quoted value (an address, a hostile id) needs the serial CSV reader,
    # which load_transactions asks for when the parallel one meets such a value
    return (read_csv_text(con, files, delim), detected,
            lambda: read_csv_text(con, files, delim, quoted_newlines=True))


def _sniff_encoding(head: bytes) -> str:
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a multi-byte character cut by the sample's end
            return "utf-8"
    from charset_normalizer import from_bytes

    # Only the single-byte code pages of European exports: left free, the guesser picks exotic
    # ones (cp775, hp_roman8) for Latin-1 text and mangles every accented customer id.
    best = from_bytes(head, cp_isolation=["cp1252", "cp1250", "latin_1", "iso8859_2", "iso8859_15"]).best()
    return (best.encoding if best else "latin-1").replace("_", "-")


def _transcode(path: str, encoding: str) -> str:
    """Write a UTF-8 copy of a non-UTF-8 text file (streamed) and return its path."""
    import tempfile

    out = tempfile.NamedTemporaryFile(prefix="segkit-", suffix=".csv", delete=False)
    opener = gzip.open if path.lower().endswith(".gz") else open
    with opener(path, "rt", encoding=encoding, errors="replace", newline="") as src, \
            open(out.name, "w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    return out.name


def _sniff_delimiter(text: str) -> str:
    lines = [ln for ln in text.lstrip("\ufeff").splitlines()[:50] if ln.strip()]
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the sample may cut the last line
    best, best_score = ",", -1.0
    for cand in (",", ";", "\t", "|"):
        counts = [_count_outside_quotes(ln, cand) for ln in lines]
        if not counts or counts[0] == 0:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        score = consistent * 10 + min(counts[0], 9) / 10
        if score > best_score:
            best, best_score = cand, score
    return best


def _count_outside_quotes(line: str, ch: str) -> int:
    n, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == ch and not quoted:
            n += 1
    return n


def _sha256(paths: list[str]) -> str:
    if len(paths) == 1:
        return _file_sha(paths[0])
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).name.encode() + b"\0" + _file_sha(p).encode() + b"\n")
    return h.hexdigest()


def _file_sha(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------ columns
def _map_columns(raw: ir.Table, columns: dict[str, str], filter: dict[str, Any], label: str) -> dict[str, str]:
    """canonical/attribute name -> raw column name, checked against the source's columns."""
    available = list(raw.columns)
    by_lower = {c.strip().lower(): c for c in available}
    mapping: dict[str, str] = {}
    for key, col in columns.items():
        if col not in available:
            alt = by_lower.get(col.strip().lower())
            if alt is None:
                raise DataError(
                    f"column {col!r} (mapped to {key!r}) is not in the file",
                    where=f"{label}; its columns are {', '.join(map(repr, available[:30]))}",
                    fix=_suggest(col, available, key),
                )
            col = alt
        mapping[key] = col
    for key, required in CANONICAL_COLUMNS.items():
        if key in mapping:
            continue
        found = by_lower.get(key)
        if found is not None:
            mapping[key] = found
        elif required and len(available) == 1:
            raise DataError(
                f"the file was read as one column ({available[0][:60]!r}): its delimiter is not one segkit "
                "recognises (comma, semicolon, tab or pipe)",
                where=label, fix="export it with commas, semicolons or tabs between the columns",
            )
        elif required:
            raise DataError(
                f"the file has no {key!r} column",
                where=f"{label}; its columns are {', '.join(map(repr, available[:30]))}",
                fix=_suggest(key, available, key),
            )
    for key in filter:
        if key not in mapping:
            found = by_lower.get(key.lower())
            if found is None:
                raise DataError(f"the filter uses the column {key!r}, which is not in the file",
                                where=f"{label}; its columns are {', '.join(map(repr, available[:30]))}",
                                fix=_suggest(key, available, key))
            mapping[key] = found
    return mapping


def _suggest(col: str, available: list[str], key: str) -> str:
    close = difflib.get_close_matches(col.lower(), [a.lower() for a in available], n=1, cutoff=0.5)
    if close:
        actual = next(a for a in available if a.lower() == close[0])
        return f"map it with --columns {key}={actual} (or `columns: {{{key}: {actual}}}` in reports.yml)"
    return f"map it with --columns {key}=<column> (or `columns: {{{key}: <column>}}` in reports.yml)"


# ------------------------------------------------------------------ parsing
def _sample(con: Any, raw: ir.Table, mapping: dict[str, str]) -> pd.DataFrame:
    cols = {k: raw[v] for k, v in mapping.items() if k in ("date", "amount", "quantity", "cost")}
    expr = raw.select(**cols).limit(_SAMPLE)
    return con.execute(expr)


def _detect_layouts(sample: pd.DataFrame, raw: ir.Table, mapping: dict[str, str], label: str,
                    detected: dict[str, str]) -> dict[str, str]:
    schema = raw.schema()
    layouts: dict[str, str] = {}
    date_type = schema[mapping["date"]]
    if date_type.is_temporal():
        layouts["date"] = "native"
    else:
        values = [str(v).strip() for v in sample["date"].dropna() if str(v).strip()]
        layouts["date"] = _pick_date_layout(values)
        detected["date_format"] = layouts["date"]
    for key in ("amount", "quantity", "cost"):
        if key not in mapping:
            continue
        if schema[mapping[key]].is_numeric():
            layouts[key] = "native"
            continue
        values = [re.sub(_CURRENCY_NOISE, "", str(v)) for v in sample[key].dropna()]
        layouts[key] = _pick_number_layout([v for v in values if v])
        if layouts[key] != "plain":
            detected[f"{key}_format"] = layouts[key]
    return layouts


def _pick_date_layout(values: list[str]) -> str:
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


def _pick_number_layout(values: list[str]) -> str:
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


def _number(col: ir.Value, layout: str) -> ir.FloatingValue:
    if layout == "native":
        value = col.cast("float64")
    else:
        raw = col.cast("string").strip()
        text = raw.re_replace(_CURRENCY_NOISE, "")
        if layout == "thousands-comma":
            text = text.re_replace(",", "")
        elif layout == "decimal-comma":
            text = text.re_replace(r"\.", "").re_replace(",", ".")
        value = text.try_cast("float64")
        if layout == "plain":
            # Most plain values are numbers already: a direct cast reads them without the regex
            # (COALESCE evaluates its second argument only where the first is NULL). Where the
            # direct cast succeeds the regex would have removed nothing, so the value is the same.
            value = ibis.coalesce(col.cast("string").try_cast("float64"), value)
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


def _blank(col: ir.Value) -> ir.BooleanValue:
    return col.isnull() | (col.cast("string").strip().length() == 0)


def _unless_parsed(value: ir.Value, test: ir.BooleanValue) -> ir.BooleanValue:
    """``test`` where ``value`` is NULL, else False: the text is looked at only on failed rows."""
    return ibis.cases((value.isnull(), test), else_=False)


def _text(col: ir.Value) -> ir.StringValue:
    """Stripped text, NULL when empty."""
    return col.cast("string").strip().nullif("")


def _parse(raw: ir.Table, mapping: dict[str, str], layouts: dict[str, str],
           attributes: tuple[str, ...], con: Any) -> ir.Table:
    cid = _text(raw[mapping["customer_id"]])
    date_parts = _date_parts(raw[mapping["date"]], layouts["date"], con)
    amount = _number(raw[mapping["amount"]], layouts["amount"])
    cols: dict[str, Any] = {"customer_id": cid, **date_parts, "amount": amount}
    for key in ("quantity", "cost"):
        cols[key] = _number(raw[mapping[key]], layouts[key]) if key in mapping else ibis.null("float64")
    if "order_id" in mapping:
        cols["order_id"] = _text(raw[mapping["order_id"]])
    else:
        cols["order_id"] = ibis.null("string")
    for key in attributes:
        cols[key] = _text(raw[mapping[key]])
    cols["_raw_date"] = raw[mapping["date"]].cast("string")
    cols["_raw_amount"] = raw[mapping["amount"]].cast("string")
    cols["_raw_quantity"] = raw[mapping["quantity"]].cast("string") if "quantity" in mapping else ibis.null("string")
    cols["_raw_cost"] = raw[mapping["cost"]].cast("string") if "cost" in mapping else ibis.null("string")
    t = raw.select(**cols)
    t = t.mutate(date=_date_from_parts(t), **{k: _finite(t[k]) for k in ("amount", "quantity", "cost")})
    t = t.drop(*(c for c in date_parts))
    reason = ibis.cases(
        (t.customer_id.isnull(), "missing_customer_id"),
        (_unless_parsed(t.date, _blank(t._raw_date)), "missing_date"),  # blank text never parses
        (t.date.isnull(), "unparseable_date"),
        (t.amount.isnull(), "unparseable_amount"),
        (_unless_parsed(t.quantity, ~_blank(t._raw_quantity)), "unparseable_quantity"),
        (_unless_parsed(t.cost, ~_blank(t._raw_cost)), "unparseable_cost"),
        (t.amount == 0, "zero_amount"),
        else_=ibis.null("string"),
    )
    t = t.mutate(_reason=reason)
    # Raw text is kept only on rows cleaning drops (every unreadable value is on such a row): the
    # examples need it, and the staged table stays the size of the clean data.
    dropped = t._reason.notnull()
    return t.mutate(**{c: ibis.cases((dropped, t[c]), else_=ibis.null("string"))
                       for c in ("_raw_date", "_raw_amount", "_raw_quantity", "_raw_cost")})


def _count_and_check(con: Any, parsed: ir.Table, quality: QualityReport, mapping: dict[str, str],
                     max_bad_share: float, label: str, today: dt.date) -> None:
    t = parsed
    valid = t._reason.isnull()
    agg = {
        "rows_read": t.count(),
        **{f"drop_{r}": (t._reason == r).sum() for r in DROP_REASONS},
        "bad_date": (t.date.isnull() & ~_blank(t._raw_date)).sum(),
        "bad_amount": t.amount.isnull().sum(),
        "bad_quantity": (t.quantity.isnull() & ~_blank(t._raw_quantity)).sum(),
        "bad_cost": (t.cost.isnull() & ~_blank(t._raw_cost)).sum(),
        "returns": (valid & (t.amount < 0)).sum(),
        "future_dates": (valid & (t.date > ibis.literal(today))).sum(),
    }
    counts = con.execute(t.aggregate(**agg)).iloc[0]
    quality.rows_read = int(counts["rows_read"])
    if quality.rows_read == 0:
        raise DataError("the file has a header but no rows", where=label,
                        fix="export the transactions again; only the column names are there")
    quality.dropped = {r: _int(counts[f"drop_{r}"]) for r in DROP_REASONS}
    quality.unparseable = {k: _int(counts[f"bad_{k}"]) for k in ("date", "amount", "quantity", "cost")
                           if k in mapping}
    quality.kept = {"returns": _int(counts["returns"]), "future_dates": _int(counts["future_dates"])}

    def examples(cond: ir.BooleanValue, raw_col: str, key: str) -> list[str]:
        rows = con.execute(t.filter(cond).select("customer_id", raw_col)
                           .order_by(ibis.asc("customer_id", nulls_first=False), raw_col).limit(_EXAMPLES))
        return [f"{r[raw_col]!r} (customer {r['customer_id']})" for _, r in rows.iterrows()]

    for key, raw_col in (("date", "_raw_date"), ("amount", "_raw_amount"), ("quantity", "_raw_quantity"),
                         ("cost", "_raw_cost")):
        bad = quality.unparseable.get(key, 0)
        if not bad:
            continue
        value = t[key]
        cond = value.isnull() & (~_blank(t[raw_col]) if key != "amount" else ibis.literal(True))
        ex = examples(cond, raw_col, key)
        quality.examples[f"unparseable_{key}"] = ex
        share = bad / quality.rows_read
        if share > max_bad_share:
            fmt = quality.detected.get(f"{key}_format") or quality.detected.get("date_format" if key == "date" else "")
            raise DataError(
                f"{bad:,} of {quality.rows_read:,} values ({share:.1%}) in the {key!r} column "
                f"(file column {mapping[key]!r}) cannot be read"
                + (f" as {fmt}" if fmt else "") + f", more than max_bad_share {max_bad_share:.1%}; "
                f"examples: {', '.join(ex)}",
                where=f"{label}, column {mapping[key]!r}",
                fix=("map the right column with --columns, fix the values in the export, or raise "
                     "max_bad_share if dropping them is acceptable"),
            )
    for reason, cond, raw_col in (
        ("missing_customer_id", t._reason == "missing_customer_id", "_raw_amount"),
        ("missing_date", t._reason == "missing_date", "_raw_amount"),
        ("zero_amount", t._reason == "zero_amount", "_raw_amount"),
    ):
        if quality.dropped.get(reason):
            rows = con.execute(t.filter(cond).select("customer_id", "_raw_date", "_raw_amount")
                               .order_by(ibis.asc("customer_id", nulls_first=False), "_raw_date", "_raw_amount")
                               .limit(_EXAMPLES))
            quality.examples[reason] = [
                f"customer {r['customer_id'] if isinstance(r['customer_id'], str) else '(none)'}, "
                f"date {_shown(r['_raw_date'])}, amount {_shown(r['_raw_amount'])}" for r in rows.to_dict("records")]
    if quality.kept["returns"]:
        rows = con.execute(t.filter(valid & (t.amount < 0)).select("customer_id", "date", "amount")
                           .order_by("customer_id", "date").limit(_EXAMPLES))
        quality.examples["returns"] = [f"customer {r.customer_id} on {r.date:%Y-%m-%d}: {r.amount:g}"
                                       for r in rows.itertuples()]
    if quality.kept["future_dates"]:
        rows = con.execute(t.filter(valid & (t.date > ibis.literal(today))).select("customer_id", "date")
                           .order_by("date").limit(_EXAMPLES))
        quality.examples["future_dates"] = [f"customer {r.customer_id} on {r.date:%Y-%m-%d}"
                                            for r in rows.itertuples()]
        quality.warnings.append(f"{quality.kept['future_dates']:,} rows are dated after today ({today}); "
                                "check the date format or the export")


def _shown(raw: Any) -> str:
    """A raw cell as the examples show it: quoted text, or (empty) for a missing value."""
    return repr(raw) if isinstance(raw, str) else "(empty)"
