"""Where transactions come from: files and globs, Excel, DataFrames, Ibis tables, connection URLs.

Every source is opened as an Ibis table of raw values; nothing is parsed here. The data hash of a
file is computed on a background thread while the engine reads it.

Example
-------
>>> kind("sales.csv.gz"), kind("part-0.parquet"), kind("Export.XLSX")
('csv', 'parquet', 'excel')
"""

from __future__ import annotations

import glob as globmod
import hashlib
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..config import check_connection
from ..engines import opened, release
from ..errors import ConfigError, DataError
from .sniffing import read_csv
from .typed import TypedOpener

__all__ = ["RawSource", "read_raw", "open_table", "kind", "error_summary", "in_background"]

_COMPRESSIONS = (".gz", ".zst", ".bz2")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")

#: (label, raw table, sha256 (waits for the hash), detected formats, serial re-reader or None,
#: typed opener or None)
RawSource = tuple[str, ir.Table, Callable[[], str], dict[str, str], Callable[[], ir.Table] | None,
                  TypedOpener | None]


def error_summary(exc: BaseException) -> str:
    """The first line of an engine's or driver's error (at most 300 characters), for a DataError.

    >>> error_summary(ValueError("bad value\\n  at line 3")), error_summary(KeyError())
    ('bad value', 'KeyError')
    """
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def open_table(url: str, table: str | None) -> tuple[str, ir.Table]:
    """Connect to ``url`` with Ibis and open ``table`` there; returns (label, table)."""
    try:
        check_connection(url, table, "data")
    except ConfigError as exc:
        shown = re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)  # never echo a password
        raise DataError(exc.what, where=shown if table is None else f"{shown}, table {table!r}", fix=exc.fix) from exc
    assert table is not None
    label = f"{url}, table {table}"
    try:
        con = opened(ibis.connect(url))
    except Exception as exc:  # unknown scheme, missing driver, unreachable server, missing file
        raise DataError(f"cannot connect to the database ({error_summary(exc)})", where=url,
                        fix="check the URL (backend://user@host/database), that the backend's Ibis extra is "
                            "installed (pip install 'ibis-framework[postgres]', ...) and that the server is reachable"
                        ) from exc
    schema, _, name = table.rpartition(".")
    try:
        return label, con.table(name, database=schema or None)
    except Exception as exc:
        release(con)
        raise DataError(f"the database has no table {table!r}", where=label,
                        fix="check the table name; write schema.table for a table outside the default schema"
                        ) from exc


def read_raw(con: Any, source: Any) -> RawSource:
    """Open the source as an Ibis table of raw values.

    Returns (label, table, sha256, detected, serial, typed): ``sha256()`` gives the data hash
    (computed in a background thread while the engine reads); ``serial()``, when not None, opens
    the same CSV with the serial reader for values that span lines; ``typed(types)``, when not
    None, opens it with DuckDB's typed reader (:mod:`~segkit.data.typed`).
    """
    if isinstance(source, pd.DataFrame):
        if source.empty:
            raise DataError("the DataFrame has no rows", where="DataFrame", fix="pass transactions")
        digest = hashlib.sha256(pd.util.hash_pandas_object(source, index=False).values.tobytes()).hexdigest()
        frame = source.copy()
        frame.columns = [str(c) for c in frame.columns]
        return "DataFrame", ibis.memtable(frame), lambda: digest, {}, None, None
    if isinstance(source, ir.Table):
        return "Ibis table", source, lambda: "", {}, None, None
    label = str(source)
    paths = _existing_files(label)
    file_kind = kind(paths[0])
    if any(kind(p) != file_kind for p in paths):
        raise DataError("the files matched by the pattern are of different kinds", where=label,
                        fix="match only CSV files or only Parquet files")
    serial = typed = None
    detected: dict[str, str] = {}
    try:
        if file_kind == "parquet":
            raw = con.read_parquet(paths if len(paths) > 1 else paths[0])
            detected["format"] = "parquet"
        elif file_kind == "excel":
            raw = _read_excel(paths, label)
            detected["format"] = "excel (first sheet)"
        else:
            raw, detected, serial, typed = read_csv(con, paths, label)
    except DataError:
        raise
    except Exception as exc:  # engine errors for malformed files
        raise DataError(f"the file cannot be read as {file_kind.upper()} ({error_summary(exc)})", where=label,
                        fix="check that it is a complete, uncorrupted export with a header line") from exc
    if not raw.columns:
        raise DataError("the file has no columns", where=label, fix="export it with a header line")
    return label, raw, in_background(sha256_of_files, paths), detected, serial, typed


def _existing_files(path_text: str) -> list[str]:
    """The files a path or glob names, each checked to exist and hold something."""
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
    return paths


def _read_excel(paths: list[str], label: str) -> ir.Table:
    if len(paths) > 1:
        raise DataError("several Excel files cannot be read at once", where=label,
                        fix="combine them or export them to CSV/Parquet")
    frame = pd.read_excel(paths[0], dtype=str)
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError("the Excel sheet has a header but no rows", where=label,
                        fix="export the sheet with the transactions (the first sheet is read)")
    return ibis.memtable(frame)


def kind(path: str) -> str:
    """``parquet``, ``excel`` or ``csv`` (anything else is read as delimited text), by the file name."""
    name = path.lower()
    for comp in _COMPRESSIONS:
        if name.endswith(comp):
            name = name[: -len(comp)]
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_EXCEL_SUFFIXES):
        return "excel"
    return "csv"


def in_background(func: Callable[..., str], *args: Any) -> Callable[[], str]:
    """Start ``func(*args)`` in a daemon thread; the returned callable waits for its result.

    Hashing a large file releases the GIL, so it overlaps with the engine's parsing.

    >>> in_background(str.upper, "abc")()
    'ABC'
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


def sha256_of_files(paths: list[str]) -> str:
    """The data's SHA-256 as run.json records it: one file's hash, or for several files (a glob)
    the hash of their names and hashes in order."""
    if len(paths) == 1:
        return file_sha256(paths[0])
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).name.encode() + b"\0" + file_sha256(p).encode() + b"\n")
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of one file, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()
