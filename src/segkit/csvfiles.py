"""The run's CSV files (``assignments.csv`` …), written by DuckDB with the bytes pandas would write.

:func:`write_csv` publishes a pandas frame as pandas' ``to_csv(index=False, lineterminator="\\n")``
writes it after :func:`spreadsheet_safe`, byte for byte, but the text is made by DuckDB's ``COPY``
from the frame's Arrow columns instead of a Python object per cell (pandas' writer was one of the
largest per-customer costs of a run: seconds per 100k customers). The few things the two writers
do differently are settled column by column in Arrow before the copy:

- a missing value and an empty text are both an empty field for pandas; DuckDB quotes the empty
  text (``""``) to tell it from a missing one, so empty texts are handed over as missing;
- NaN is an empty field for pandas and ``nan`` for DuckDB: NaN goes over as missing;
- booleans are ``True``/``False`` for pandas, ``true``/``false`` for DuckDB: written as text;
- DuckDB quotes a field with ``#`` (its comment sign) unless told there is none.

Floats are DuckDB's own: its shortest round-trip text is Python's ``repr`` (``1.0``, ``1e-05``,
``1e+16``, ``-0.0``), as ``tests/test_csv_export.py`` checks on hand-picked and random values.
Whatever DuckDB cannot be shown to write the same way goes to pandas for that file, so the bytes
never differ: a column of another type (dates and times, mixed Python objects, categories of
non-text values, 32-bit floats), a text with a carriage return (Python's CSV writer leaves a bare
``\\r`` unquoted, DuckDB quotes it), a single column (pandas quotes a lone empty field), or
column names that would need quoting.

DuckDB is the file writer here whatever engine the run used (the frames are pandas by then), so
this is not an engine difference for :mod:`segkit.engines`. On first use a probe of every value kind
is written by both; a DuckDB release that writes any of it differently (or lacks an option) leaves
every file to pandas.

Both writers write into a temporary file renamed over the target when complete
(:mod:`segkit.atomic`): an interrupted run never leaves half a file.
"""

from __future__ import annotations

import functools
import io
import re
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .atomic import atomic_open, atomic_path

__all__ = ["spreadsheet_safe", "write_csv"]

#: a text cell starting with one of these is read by a spreadsheet as a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_PATTERN = "^([=+\\-@\\t\\r])"
#: column names DuckDB and Python's CSV writer both write as they are
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_ .()%/:;-]+")


class _Unsupported(Exception):
    """A column whose text DuckDB would not write as pandas does: the file goes to pandas."""


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells that a spreadsheet would read as a formula (starting
    with ``= + - @``, tab or CR) are prefixed with ``'``, so a CRM import never executes them.

    Example
    -------
    >>> spreadsheet_safe(pd.DataFrame({"id": ["=1+1", "a"]}))["id"].tolist()
    ["'=1+1", 'a']
    """
    frame = frame.copy()
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            s = frame[col]
            mask = s.notna() & s.astype(str).str.startswith(FORMULA_START)
            if mask.any():
                frame[col] = s.astype(object).where(~mask, "'" + s.astype(str))
    return frame


def write_csv(frame: pd.DataFrame, path: str | Path) -> str:
    """Write ``spreadsheet_safe(frame)`` to ``path`` atomically, byte-identical to pandas'
    ``to_csv(index=False, lineterminator="\\n")``; returns the writer used (``duckdb`` or ``pandas``).

    Example
    -------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "a.csv"
    >>> write_csv(pd.DataFrame({"id": ["=x", "b,c"], "v": [1.0, float("nan")]}), target)
    'duckdb'
    >>> target.read_text()
    'id,v\\n\\'=x,1.0\\n"b,c",\\n'
    """
    try:
        if not _engine_agrees():
            raise _Unsupported("this DuckDB writes some value differently")
        table = _engine_table(frame)
    except _Unsupported:
        with atomic_open(path, "w") as fh:
            spreadsheet_safe(frame).to_csv(fh, index=False, lineterminator="\n")
        return "pandas"
    with atomic_path(path) as tmp:
        _copy(table, tmp)
    return "duckdb"


def _copy(table: pa.Table, path: Path) -> None:
    import duckdb

    con = duckdb.connect()
    try:
        con.register("frame", table)
        con.execute(f"COPY frame TO '{_sql_text(path)}' (FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', "
                    "ESCAPE '\"', NEW_LINE '\\n', NULLSTR '', COMMENT '', COMPRESSION 'none')")
    finally:
        con.close()


#: one cell of each kind whose text the two writers could disagree on (checked once per process)
_PROBE = {"text": ["=x", "a,b", 'q"', "l\nf", "#", "", None, "ü 日"], "int": [0, -1, 2**63 - 1, 7, 8, 9, 10, 11],
          "float": [1.0, 0.1, 1e-05, 1e16, 123456789.123456, -0.0, float("nan"), 5e-324],
          "bool": [True, False] * 4}


@functools.lru_cache(maxsize=1)
def _engine_agrees() -> bool:
    """Whether the installed DuckDB writes the probe cells as pandas does (an older or newer
    release may format floats or quote differently: then every file goes to pandas)."""
    frame = pd.DataFrame(_PROBE)
    frame["nullable"] = pd.array([1, None] * 4, dtype="Int64")
    frame["labels"] = frame["text"].astype("category")  # handed over as codes into the categories
    with tempfile.TemporaryDirectory(prefix="segkit-csv-") as tmp:
        path = Path(tmp) / "probe.csv"
        try:
            _copy(_engine_table(frame), path)
        except Exception:  # noqa: BLE001 - an option this DuckDB does not know: use pandas
            return False
        buf = io.StringIO()
        spreadsheet_safe(frame).to_csv(buf, index=False, lineterminator="\n")
        return path.read_bytes() == buf.getvalue().encode("utf-8")


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


def _engine_table(frame: pd.DataFrame) -> pa.Table:
    """The frame as Arrow columns DuckDB writes as pandas would; raises :class:`_Unsupported` else."""
    names = list(frame.columns)
    if (len(names) < 2 or len(set(names)) != len(names)
            or not all(isinstance(n, str) and _PLAIN_NAME.fullmatch(n) and n == n.strip() for n in names)):
        raise _Unsupported("one column, or names that need quoting")
    columns = [_engine_column(frame.iloc[:, i]) for i in range(len(names))]
    return pa.table(columns, names=names)


def _engine_column(s: pd.Series) -> pa.Array | pa.ChunkedArray:
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        if len(dtype.categories) and not (pd.api.types.is_string_dtype(dtype.categories.dtype)
                                          and _all_text(dtype.categories)):  # (none: every cell missing)
            raise _Unsupported("categories that are not text")
        # spreadsheet_safe treats categories of text as text (pandas calls their dtype a string dtype);
        # the rewrites go to the categories and DuckDB gets the codes (text per row: ~0.1 GB a column at 3.4M)
        return _labels(s, formula=pd.api.types.is_string_dtype(s))
    if dtype == object or pd.api.types.is_string_dtype(dtype):
        arr = _arrow(s)
        if not (pa.types.is_null(arr.type) or pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            raise _Unsupported("an object column that is not all text")
        return _text(arr, formula=True)
    if pd.api.types.is_bool_dtype(dtype):
        return pc.if_else(_arrow(s), "True", "False")
    if pd.api.types.is_integer_dtype(dtype) or dtype == "float64":
        return _arrow(s)  # NaN arrives as missing (from_pandas), as pandas writes it
    raise _Unsupported(f"dtype {dtype}")


def _labels(s: pd.Series, *, formula: bool) -> pa.DictionaryArray:
    """A categorical column as Arrow codes into its categories, the categories rewritten as
    :func:`_text` rewrites text (an empty category is a missing value)."""
    codes = pa.array(s.array.codes, mask=s.array.codes < 0)
    categories = _text(pa.array(s.cat.categories.astype(object), type=pa.large_string()), formula=formula)
    if categories.null_count:  # an empty text: its rows missing, the category itself left as it is unused
        codes = pc.if_else(pc.is_null(pc.take(categories, codes)), pa.scalar(None, codes.type), codes)
        categories = pc.fill_null(categories, "")
    return pa.DictionaryArray.from_arrays(codes, categories)


def _all_text(values: pd.Index) -> bool:
    return all(isinstance(v, str) for v in values)


def _arrow(s: pd.Series) -> pa.Array | pa.ChunkedArray:
    """The column as Arrow (chunked when its text outgrows one array), missing values as missing."""
    try:
        return pa.array(s, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise _Unsupported(str(exc)) from None


def _text(arr: pa.Array | pa.ChunkedArray, *, formula: bool) -> pa.Array | pa.ChunkedArray:
    """Text cells as DuckDB must receive them: empty as missing, formula starts prefixed."""
    if pa.types.is_null(arr.type) or len(arr) == 0:
        return arr
    if pc.any(pc.match_substring(arr, "\r")).as_py():
        raise _Unsupported("a carriage return in a text")
    # each rewrite only when a cell needs it: the checks cost a few ms per 100k cells, a rewrite more
    if formula and any(pc.any(pc.starts_with(arr, start)).as_py() for start in FORMULA_START):
        arr = pc.replace_substring_regex(arr, _FORMULA_PATTERN, "'\\1")
    if pc.min(pc.binary_length(arr)).as_py() == 0:
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    return arr
