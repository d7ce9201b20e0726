"""Where the feature work runs: an Ibis connection to DuckDB (default), Polars or PySpark.

The rest of segkit writes Ibis expressions once; this module opens the backend and holds the few
places where backends differ (reading a text file as strings, keeping a computed table, casting
text to dates), so every per-backend branch lives here. A user with data in a warehouse passes
their own Ibis table instead; its backend is used as is.

DuckDB is the default by measurement: ``load_transactions`` + ``customer_features`` on a 1M-row
synthetic CSV (77k customers, 24 months), fresh processes, median of 3, three interleaved rounds
on the shared 2-core machine (2026-11-27): DuckDB 5.7 / 7.9 / 4.7 s, Polars 6.2 / 7.5 / 4.8 s
(a tie within the machine's noise), peak RSS DuckDB 480-513 MB, Polars 790 MB. DuckDB wins on
memory: its staged table spills to disk, while Ibis' Polars backend holds the whole parsed table
in RAM (and cannot TRY_CAST text to a date, so every date goes through the regex parser).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from decimal import Decimal
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from ibis.common.exceptions import UnsupportedArgumentError, UnsupportedOperationError

from .config import ENGINES
from .errors import ParameterError

__all__ = ["connect", "spark_session", "LOCAL_SPARK_MASTER", "ENGINES", "read_csv_text", "materialize", "casts_text_to_date", "engine_name", "release", "drop_memtables",
           "count_true", "forget", "sql_name", "try_number", "opened", "compensated_sum", "kahan_sum", "ordered_sums", "text_sorted", "lookup", "private_folder",
           "fetch", "to_pandas", "month_then_text_order", "same_text", "lookup_text", "kahan_rows",
           "shared_repeats", "text_categories"]

#: set on the in-memory DuckDB connections segkit opens itself: those it may write plain tables
#: into and close (the connection carries it, so no module keeps a registry of connections)
_OWNED_MARK = "_segkit_owned"
#: set on the connections segkit opens from a URL: closed when done (a database's temporary tables
#: go with the connection), never written into
_OPENED_MARK = "_segkit_opened"
#: set on the DuckDB connections whose tables go to a compressed in-memory database
_COMPRESSED_MARK = "_segkit_compressed"
#: on those connections: the bytes of uncompressed in-memory tables past which :func:`materialize` compresses them
_COMPRESS_ABOVE_MARK = "_segkit_compress_above"
#: the share of DuckDB's memory limit its uncompressed tables may hold before they are compressed
COMPRESS_SHARE = 1 / 8


def connect(engine: str = "duckdb", **options: Any) -> Any:
    """Open an Ibis backend by name.

    DuckDB gets a private spill folder (``SET temp_directory``) so tables and aggregations larger
    than its memory limit (40% of RAM unless ``SEGKIT_MEMORY_LIMIT`` says otherwise, e.g. ``4GB``)
    go to disk instead of failing; the folder is removed when Python exits.

    Example
    -------
    >>> con = connect("duckdb")
    >>> con.name
    'duckdb'
    """
    if engine == "duckdb":
        con = ibis.duckdb.connect(**options)
        if options.get("database", ":memory:") == ":memory:":
            setattr(con, _OWNED_MARK, True)
            _compressed_memory(con)
        threads = os.environ.get("SEGKIT_THREADS")
        if threads:
            con.raw_sql(f"SET threads = {int(threads)}")
        if "temp_directory" not in options:
            spill = private_folder("segkit-duckdb-")
            atexit.register(shutil.rmtree, spill, ignore_errors=True)
            con.raw_sql(f"SET temp_directory = '{spill}'")
        # Row order is never relied on (every result is sorted or aggregated); without it DuckDB
        # writes tables in parallel and needs less memory for large ones.
        con.raw_sql("SET preserve_insertion_order = false")
        # no bars in CLI output and notebook logs; inside a Jupyter kernel DuckDB refuses to touch the
        # setting without ipywidgets (and shows no bar there anyway), so a refusal is fine
        with contextlib.suppress(Exception):
            con.raw_sql("SET enable_progress_bar = false")
        con.raw_sql(f"SET memory_limit = '{os.environ.get('SEGKIT_MEMORY_LIMIT') or _default_memory_limit()}'")
        setattr(con, _COMPRESS_ABOVE_MARK, _compress_above(con))
        return con
    if engine == "polars":
        return ibis.polars.connect(**options)
    if engine == "pyspark":
        return ibis.pyspark.connect(spark_session(options.pop("master", None), options.pop("shuffle_partitions", None)),
                                    **options)
    raise ParameterError(f"unknown engine {engine!r}", where="engine", fix=f"use one of {', '.join(ENGINES)}")


#: the master a Spark session segkit starts itself runs on when nothing else names one
LOCAL_SPARK_MASTER = "local[2]"


def spark_session(master: str | None = None, shuffle_partitions: str | int | None = None) -> Any:
    """The Spark session the ``pyspark`` engine works in.

    In order: the session already active in this process (a notebook's, or a script's under
    ``spark-submit``) as it is; else a new one on ``master``, or ``SEGKIT_SPARK_MASTER``
    (``spark://host:7077``, ``yarn``, ``local[*]``), or the master ``spark-submit --master`` (or
    ``PYSPARK_SUBMIT_ARGS``) gave; else :data:`LOCAL_SPARK_MASTER`. A local master named here gets
    the small local settings (4 shuffle partitions unless given, no web UI); a cluster keeps its own. Every session gets ``spark.sql.session.timeZone = UTC``, which the
    date arithmetic relies on (a session setting, changed for the session segkit is given too).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # optional extra
        raise ParameterError("the pyspark engine needs PySpark", where="engine",
                             fix="pip install 'segkit[spark]' (and Java 17)") from exc
    session = SparkSession.getActiveSession()
    if session is None:
        master = master or os.environ.get("SEGKIT_SPARK_MASTER") or None
        submitted = "PYSPARK_GATEWAY_PORT" in os.environ or "--master" in os.environ.get("PYSPARK_SUBMIT_ARGS", "")
        builder = SparkSession.builder.appName("segkit")
        if master is None and not submitted:
            master = LOCAL_SPARK_MASTER
        if master is not None:
            builder = builder.master(master)
        if master is not None and master.startswith("local"):
            shuffle_partitions = shuffle_partitions or "4"
            builder = builder.config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        if shuffle_partitions is not None:
            builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return session


#: how long a dead process's private folder is left alone before :func:`private_folder` removes it
STALE_SECONDS = 3600


def private_folder(prefix: str) -> str:
    """A new folder in the system's temporary folder, named ``<prefix><pid>-<random>``.

    Folders of the same prefix left by processes that no longer run, and untouched for
    :data:`STALE_SECONDS`, are removed first: a run killed outright (SIGKILL, or the SIGTERM a
    scheduler sends, which Python does not turn into an exception) cannot clean up after itself, and
    its spill files can be gigabytes. (The hour spares a live run of another process namespace
    sharing the folder, whose process id means nothing here.)

    >>> import os, shutil
    >>> path = private_folder("segkit-doctest-")
    >>> os.path.basename(path).startswith(f"segkit-doctest-{os.getpid()}-")
    True
    >>> shutil.rmtree(path)
    """
    base = tempfile.gettempdir()
    for entry in os.scandir(base):
        if not entry.name.startswith(prefix) or not entry.is_dir(follow_symlinks=False):
            continue
        pid = entry.name[len(prefix):].split("-", 1)[0]
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to read
            if pid.isdigit() and not _running(int(pid)) and time.time() - entry.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(entry.path, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=base)


def _running(pid: int) -> bool:
    """Whether a process with this id exists (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: the compressed in-memory database segkit's own DuckDB connections write their tables into
_COMPRESSED_DB = "segkit_data"


def _compressed_memory(con: Any) -> None:
    """Make a compressed in-memory database the connection's default, where DuckDB supports it.

    DuckDB's default in-memory database stores tables uncompressed: the staged 10M-row table of
    the B2C bench took 620 MB, 210 MB of it columns NULL on all but the unreadable rows. Attached
    with ``COMPRESS`` and checkpointed (:func:`materialize`, once the tables hold more than
    :data:`COMPRESS_SHARE` of DuckDB's memory limit), the same table takes about 105 MB. DuckDB
    before 1.3 has no such option; the plain database serves then.
    """
    try:
        con.raw_sql(f"ATTACH ':memory:' AS {_COMPRESSED_DB} (COMPRESS)")
        con.raw_sql(f"USE {_COMPRESSED_DB}")
    except Exception:  # noqa: BLE001 - an older DuckDB: its own parser or binder error
        return
    setattr(con, _COMPRESSED_MARK, True)


def _compress_above(con: Any) -> int:
    """:data:`COMPRESS_SHARE` of the connection's memory limit, in bytes (0, always compress, if unreadable).

    Compressing costs time (a checkpoint of the 10M-row B2B table: 2.6 s on 2 cores, more than the
    5.3 s of the rest of loading it), and buys memory only where memory is short: tables that are a
    small part of the limit stay as written, larger ones are compressed (the 10M-row B2B table:
    636 -> 203 MB; the 100M-row one: about 6.3 -> 2 GB).
    """
    try:
        text = str(con.raw_sql("SELECT current_setting('memory_limit')").fetchall()[0][0])
    except Exception:  # noqa: BLE001 - an engine without the setting: compress as before
        return 0
    return int(_memory_bytes(text) * COMPRESS_SHARE)


#: the units DuckDB prints a memory setting in, each 1024 times the one before
_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB")


def _memory_bytes(text: str) -> int:
    """DuckDB's printed memory setting (``18.8 GiB``, ``858.3 MiB``) in bytes; 0 when it is not one.

    >>> _memory_bytes("18.8 GiB"), _memory_bytes("512 bytes"), _memory_bytes("unlimited")
    (20186346291, 512, 0)
    """
    number, _, unit = text.strip().partition(" ")
    try:
        return int(float(number) * 1024 ** _UNITS.index(unit))
    except ValueError:  # not a number, or not one of the units
        return 0


def _threshold(con: Any) -> int:
    return int(getattr(con, _COMPRESS_ABOVE_MARK, 0))


#: the bytes of tables past which a whole ``segkit segment`` run keeps segkit's DuckDB tables compressed
RUN_COMPRESS_ABOVE = 64 << 20


def compress_tables(con: Any, above: int | None = None) -> None:
    """Keep segkit's own DuckDB tables compressed once they hold more than ``above`` bytes (default
    :data:`RUN_COMPRESS_ABOVE`; the connection's own threshold if lower), those written already
    included. Other connections: nothing.

    A ``segkit segment`` run holds the transactions (and later the customer months) in DuckDB while it
    builds the per-customer frames beside them, the run's highest point: at 10M B2C rows its tables
    held 1.2 GB as written, under the eighth of the memory limit (:data:`COMPRESS_SHARE`) that a single
    query's caller waits for, and compressing them took that stage's peak from 5.35 to 4.50 GB for
    about 2.3 s (the checkpoint). Small data (CDNOW: 7 MB of tables) stays as written.
    """
    if engine_name(con) != "duckdb" or not getattr(con, _COMPRESSED_MARK, False):
        return
    threshold = min(_threshold(con), max(0, int(RUN_COMPRESS_ABOVE if above is None else above)))
    setattr(con, _COMPRESS_ABOVE_MARK, threshold)
    if _table_bytes(con) > threshold:
        con.raw_sql(f"CHECKPOINT {_COMPRESSED_DB}")


def _table_bytes(con: Any) -> int:
    """The bytes DuckDB's in-memory tables hold now (compressed blocks count as they are stored)."""
    rows = con.raw_sql("SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'").fetchall()
    return int(rows[0][0]) if rows else 0


def _default_memory_limit() -> str:
    """40% of the machine's RAM: DuckDB's own default (80%) left too little for the per-customer
    pandas frames that exist at the same time, and a 100M-row run was killed by the kernel."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return "4GB"
    return f"{max(256, int(total * 0.4) >> 20)}MiB"  # DuckDB reads MB as 10^6 bytes


def engine_name(con: Any) -> str:
    """The backend's name (``duckdb``, ``polars``, ``pyspark``, or a warehouse's)."""
    return str(getattr(con, "name", "duckdb"))


def read_csv_text(con: Any, files: list[str], delim: str, quoted_newlines: bool = False) -> ir.Table:
    """Open delimited text files with every column as a string (parsing is segkit's, not the reader's).

    Empty fields become NULL on every backend; the first line is the header. ``quoted_newlines``:
    some values hold line breaks (DuckDB's parallel scanner cannot pad short rows then).
    """
    name = engine_name(con)
    source = files if len(files) > 1 else files[0]
    if name == "polars":
        return con.read_csv(source, separator=delim, has_header=True, infer_schema=False, quote_char='"',
                            truncate_ragged_lines=True)
    if name == "pyspark":
        return con.read_csv(files, header=True, inferSchema=False, sep=delim, quote='"', escape='"',
                            mode="PERMISSIVE")
    extra = {"parallel": False} if quoted_newlines else {}
    return con.read_csv(source, all_varchar=True, header=True, delim=delim, quote='"', escape='"',
                        null_padding=True, ignore_errors=False, strict_mode=False, **extra)


def materialize(con: Any, expr: ir.Table, *, lasting: bool = True) -> ir.Table:
    """Compute ``expr`` once and keep the result in the engine, so later queries do not recompute it.

    ``lasting=False`` marks a table :func:`forget` drops soon after: segkit's DuckDB does not
    compress it (compressing 3.4M rows of 9 columns took 0.7 s). A lasting one is compressed, with
    every table written before it, once DuckDB's in-memory tables hold more than
    :data:`COMPRESS_SHARE` of its memory limit (below that the time is not worth the bytes).

    DuckDB: a temporary table (spills to the connection's temp_directory when large); Polars: an
    in-memory DataFrame; PySpark: a cached temporary view (Ibis' PySpark backend has no
    temporary tables, and a saved table would be written to the warehouse folder); any other
    backend (PostgreSQL, a warehouse): a temporary table, else ``Table.cache()``.
    """
    table_name = f"segkit_tx_{uuid.uuid4().hex[:12]}"  # unique without a process-wide counter
    name = engine_name(con)
    if name == "pyspark":
        frame = con._session.sql(con.compile(expr)).cache()
        frame.count()  # fill the cache now: one pass over the source
        frame.createOrReplaceTempView(table_name)
        return con.table(table_name)
    if name == "duckdb":
        # In segkit's own in-memory database a plain table (faster to write than a temporary one;
        # both spill to temp_directory); in a user's database a temporary table, never a permanent one.
        table = con.create_table(table_name, expr, temp=not _owned(con))
        if lasting and getattr(con, _COMPRESSED_MARK, False) and _table_bytes(con) > _threshold(con):
            con.raw_sql(f"CHECKPOINT {_COMPRESSED_DB}")  # compresses every table's new blocks
        return table
    if name == "polars":
        return con.create_table(table_name, expr.to_polars())
    # another backend (a warehouse): a temporary table, gone when the connection closes; segkit
    # never creates a permanent table in the user's database. Not Ibis' cache(): its finalizer
    # drops the table with a statement that Ibis 12 with sqlglot 30 renders without the table's
    # name (`DROP TABLE IF EXISTS`), a syntax error in a warning at exit.
    try:
        return con.create_table(table_name, expr, temp=True)
    except (NotImplementedError, UnsupportedOperationError, UnsupportedArgumentError):
        return expr.cache()  # a backend without temporary tables


def forget(con: Any, table: ir.Table) -> None:
    """Drop a table :func:`materialize` made, so the engine frees its memory now, not at the end.

    Tables of other origins (the user's, ``Table.cache()`` on a backend without temporary tables)
    are left alone.
    """
    op = table.op()
    name = str(getattr(op, "name", ""))
    if not name.startswith("segkit_tx_"):
        return
    engine = engine_name(con)
    if engine == "pyspark":
        con._session.catalog.dropTempView(name)  # uncaches the frame behind the view too
    elif engine == "polars":
        con.drop_table(name, force=True)
    else:  # SQL; not Ibis' drop_table: with sqlglot 30 it renders `DROP TABLE IF EXISTS` without the name
        con.raw_sql(f"DROP TABLE IF EXISTS {sql_name(table)}")


def drop_memtables(*exprs: ir.Expr, con: Any = None) -> None:
    """Let the engine go of the in-memory tables (``ibis.memtable``) in ``exprs``, once they are read
    on ``con`` (default: the expressions' own back-end, Ibis' default one for memtables alone).

    Ibis registers a memtable with the back-end that first runs it and keeps it registered until
    Python exits; the engine keeps the pandas frame behind it alive (DuckDB's view reads its arrays
    in place), so each predicted-value fit's summary stayed in memory to the end of the run (at
    3.37M customers about 0.15 GB per fit: the run's own, the month earlier and each earlier
    cut-off). DuckDB, Polars and Spark drop them here; a database's temporary tables go with its
    connection. A memtable run again later is registered again. Memtables never run, or an Ibis
    without this bookkeeping, are left alone.

    >>> t = ibis.memtable({"a": [1, 2]})
    >>> int(t.a.sum().execute()), drop_memtables(t), int(t.a.sum().execute())
    (3, None, 3)
    """
    from ibis.expr import operations as ops

    for expr in exprs:
        try:
            backend = con if con is not None else ibis.get_backend(expr)
        except Exception:  # noqa: BLE001 - no single back-end: nothing was registered by one
            continue
        registered = getattr(backend, "_memtables", None)
        if registered is None:
            continue
        for op in expr.op().find(ops.InMemoryTable):
            if op not in registered:
                continue
            engine = engine_name(backend)
            with contextlib.suppress(Exception):  # already gone
                if engine == "duckdb":
                    backend.con.unregister(op.name)
                elif engine == "polars":
                    backend.drop_table(op.name, force=True)
                elif engine == "pyspark":
                    backend._session.catalog.dropTempView(op.name)
                else:
                    continue
            registered.discard(op)


def sql_name(table: ir.Table) -> str:
    """The quoted, qualified name of a table segkit created (the user's database may need quotes)."""
    op = table.op()
    parts = (op.namespace.catalog, op.namespace.database, op.name)
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts if part)


def count_true(condition: ir.BooleanValue) -> ir.IntegerScalar:
    """How many rows satisfy ``condition`` (NULL counts as false), portable to every SQL backend.

    ``condition.cast("int64").sum()`` is not: PostgreSQL has no cast from boolean to bigint
    (``cannot cast type boolean to bigint``). A CASE expression means the same on every engine.

    Example
    -------
    >>> t = ibis.memtable({"x": [1, -2, 3, None]})
    >>> int(connect("duckdb").execute(t.aggregate(n=count_true(t.x > 0)))["n"].iloc[0])
    2
    """
    return ibis.cases((condition, 1), else_=0).sum()


#: the DuckDB macro adding a list of doubles left to right with :func:`compensated_sum`'s Kahan steps
KAHAN_MACRO = "segkit_kahan_sum"
_KAHAN_SQL = (f"CREATE OR REPLACE TEMP MACRO {KAHAN_MACRO}(v) AS list_reduce(v, lambda acc, x: "
              "CASE WHEN x IS NULL THEN acc ELSE {'s': acc.s + (x - acc.c), "
              "'c': ((acc.s + (x - acc.c)) - acc.s) - (x - acc.c)} END, {'s': 0.0::DOUBLE, 'c': 0.0::DOUBLE}).s")
_KAHAN_MARK = "_segkit_kahan"


@ibis.udf.scalar.builtin(name=KAHAN_MACRO, signature=((ibis.dtype("array<float64>"),), ibis.dtype("float64")))
def _kahan_list(values):  # type: ignore[no-untyped-def]
    """DuckDB (segkit's macro): the values added left to right with Kahan steps, NULLs skipped."""


def kahan_sum(t: ir.Table, columns: list[str]) -> ir.FloatingValue | None:
    """On DuckDB, ``columns`` added left to right with :func:`compensated_sum`'s Kahan steps as one
    expression of each row (a macro folding the row's values in a list); None on other engines.

    The same float as the steps, which elsewhere take one GROUP BY each: 6 months of window totals
    were six groupings of every customer.
    """
    try:
        con = ibis.get_backend(t)
    except Exception:  # noqa: BLE001 - no backend: the portable steps
        return None
    if engine_name(con) != "duckdb":
        return None
    if not getattr(con, _KAHAN_MARK, False):
        try:
            con.raw_sql(_KAHAN_SQL)
        except Exception:  # noqa: BLE001 - a DuckDB without lambdas or macros: the portable steps
            return None
        setattr(con, _KAHAN_MARK, True)
    return _kahan_list(ibis.array([t[c].cast("float64") for c in columns]))


def compensated_sum(t: ir.Table, key: str, columns: list[str]) -> ir.Table:
    """``t`` (one row per ``key``) with ``_sum``: its ``columns`` added left to right with Kahan steps.

    The steps are ``y = v - c; s' = s + y; c = (s' - s) - y``, those of :func:`ordered_sums`, the
    pandas side's twin, so both give the same float: 0.1 + 0.2 + 0.3 is 0.6 there and
    0.6000000000000001 in a plain SQL ``SUM``; a tie at a cut could otherwise break the other way.
    NULL columns are skipped (a month without a row), not added as 0.
    Each step is one GROUP BY over the single row per key: merged into one SELECT, each step repeats
    the expressions of the previous ones, and PostgreSQL planned 6 steps as a 121 kB query.

    Example
    -------
    >>> t = ibis.memtable({"k": ["a", "b"], "m0": [0.1, None], "m1": [0.2, 1.0], "m2": [0.3, None]})
    >>> compensated_sum(t, "k", ["m0", "m1", "m2"]).order_by("k").to_pandas()["_sum"].tolist()
    [0.6, 1.0]
    """
    fast = kahan_sum(t, columns)
    if fast is not None:  # DuckDB: one expression per row
        return t.select(key, *[c for c in t.columns if c not in (key, "_sum", "_c")], _sum=fast)
    t = t.mutate(_sum=ibis.literal(0.0, type="float64"), _c=ibis.literal(0.0, type="float64"))
    for col in columns:
        v = t[col].cast("float64")
        y = v - t._c
        new_s = t._sum + y
        new_c = (new_s - t._sum) - y
        t = t.group_by(key).aggregate(
            **{c: t[c].max() for c in t.columns if c not in (key, "_sum", "_c")},
            _sum=ibis.cases((v.isnull(), t._sum), else_=new_s).max(),
            _c=ibis.cases((v.isnull(), t._c), else_=new_c).max())
    return t.drop("_c")


def ordered_sums(keys: Any, order: Any, values: Any) -> pd.Series:
    """Each key's ``values`` added in ascending ``order`` with the Kahan steps of :func:`compensated_sum`.

    The pandas twin of :func:`compensated_sum`: the same steps in the same order give the same float.
    pandas' own group sum is not a fixed sum: pandas 3.1 adds a group with numpy's ``add.reduceat``
    when the keys are sorted and with Kahan steps otherwise, so 0.1 + 1.8 - 2.5 is -0.6 one way and
    -0.5999999999999999 the other, and a customer on a threshold could change sides with the row
    order or the pandas version. NaN values are skipped; rows with equal key and order are added in
    their row order. Returns the sums indexed by the sorted distinct keys (float64).

    Example
    -------
    >>> ordered_sums(["b", "a", "a", "a"], [1, 3, 1, 2], [1.0, -2.5, 0.1, 1.8]).to_dict()
    {'a': -0.5999999999999999, 'b': 1.0}
    """
    text = None
    if _is_arrow_text(keys):  # text sorted once as numpy sorts str (code points), then integers sorted
        codes, text = pd.factorize(keys, sort=True)
        keys, text = (codes, text) if (codes >= 0).all() else (keys, None)  # a missing key: as before
    keys, order = np.asarray(keys), np.asarray(order)
    values = np.asarray(values, dtype="float64")
    if not len(keys) == len(order) == len(values):
        raise ParameterError(f"ordered_sums: {len(keys)} keys, {len(order)} orders and {len(values)} values",
                             where="ordered_sums", fix="pass three columns of one table")
    sort = np.lexsort((order, keys))  # stable: by key, then order, then row
    keys, values = keys[sort], values[sort]
    distinct, start, size = np.unique(keys, return_index=True, return_counts=True)
    if text is not None:
        distinct = np.asarray(text[distinct], dtype=object)
    group = np.repeat(np.arange(len(distinct)), size)
    place = np.arange(len(keys)) - np.repeat(start, size)  # position of each row within its key
    s, c = np.zeros(len(distinct)), np.zeros(len(distinct))
    for j in range(int(size.max()) if len(size) else 0):
        at = (place == j) & ~np.isnan(values)
        g, v = group[at], values[at]
        y = v - c[g]
        t = s[g] + y
        c[g] = (t - s[g]) - y
        s[g] = t
    return pd.Series(s, index=pd.Index(distinct))


def kahan_rows(columns: Sequence[Any]) -> np.ndarray:
    """Each row's values in ``columns`` (equal-length float arrays) added left to right with the
    Kahan steps of :func:`compensated_sum`, NaN skipped: the same float as the engine's
    :func:`kahan_sum` of the row, for every row at once in numpy (DuckDB's list macro took 2 s for
    3.4M rows of two 3-month spans; this, a few array operations per column).

    >>> kahan_rows([np.array([0.1, np.nan]), np.array([0.2, 1.0]), np.array([0.3, np.nan])]).tolist()
    [0.6, 1.0]
    """
    arrays = [np.asarray(col, dtype="float64") for col in columns]
    n = len(arrays[0]) if arrays else 0
    s, c = np.zeros(n), np.zeros(n)
    for v in arrays:
        at = ~np.isnan(v)
        y = v - c
        t = s + y
        c = np.where(at, (t - s) - y, c)
        s = np.where(at, t, s)
    return s


#: backends whose TRY_CAST raises on unreadable text: Ibis 12 compiles it to a plain CAST for PostgreSQL
#: (and the engines that speak its dialect), which has no TRY_CAST before version 16
_CAST_RAISES = ("postgres", "risingwave", "materialize")
#: a number as DuckDB's TRY_CAST reads one: sign, digits with single underscores between them, an
#: optional fraction, an exponent (at most 3 digits: PostgreSQL's NUMERIC stops at 1000), spaces around it
_DIGITS = r"[0-9]+(_[0-9]+)*"
_NUMBER_RE = rf"^\s*[+-]?({_DIGITS}(\.({_DIGITS})?)?|\.{_DIGITS})([eE][+-]?[0-9](_?[0-9]){{0,2}})?\s*$"
_HUGE, _TINY = Decimal("1e300"), Decimal("1e-300")


def casts_text_to_date(con: Any) -> bool:
    """Whether the backend can TRY_CAST text to a date (Ibis' Polars backend cannot; PostgreSQL's cast
    raises on a day that does not exist)."""
    return engine_name(con) != "polars" and engine_name(con) not in _CAST_RAISES


def try_number(con: Any, text: ir.StringValue) -> ir.FloatingValue:
    """``text`` read as a float64, NULL where it is not a number, the same on every backend.

    ``try_cast`` where the backend's TRY_CAST returns NULL; on PostgreSQL a pattern of what DuckDB
    reads decides first, and the cast goes through NUMERIC, so that no value makes the query fail:
    magnitudes above 1e300 are NULL (DuckDB gives infinity, which cleaning treats as unreadable too)
    and below 1e-300 are 0.

    Example
    -------
    >>> t = ibis.memtable({"x": ["1_000.5", " 12 ", "n/a", "1e5"]})
    >>> connect("duckdb").execute(t.select(v=try_number(connect("duckdb"), t.x)))["v"].tolist()
    [1000.5, 12.0, nan, 100000.0]
    """
    if engine_name(con) not in _CAST_RAISES:
        return text.try_cast("float64")
    exact = text.replace("_", "").cast("decimal")
    size = exact.abs()
    value = ibis.cases((size > ibis.literal(_HUGE), ibis.null("float64")),
                       (size < ibis.literal(_TINY), ibis.literal(0.0)), else_=exact.cast("float64"))
    # CASE evaluates its branches lazily: the cast never sees text the pattern rejects
    return ibis.cases((text.re_search(_NUMBER_RE), value), else_=ibis.null("float64"))


def opened(con: Any) -> Any:
    """Mark a connection segkit opened from a URL, so :func:`release` closes it; returns it."""
    setattr(con, _OPENED_MARK, True)
    return con


def release(con: Any) -> None:
    """Close a connection segkit opened itself (its DuckDB, or a database named by a URL).

    A run needs the engine only until the per-customer tables are computed; at 100M rows DuckDB's
    buffers hold gigabytes the scheme fitting needs, and a database drops segkit's temporary
    tables when the connection closes. Connections the user passed in stay open.
    """
    if _owned(con) or getattr(con, _OPENED_MARK, False):
        setattr(con, _OWNED_MARK, False)
        setattr(con, _OPENED_MARK, False)
        con.disconnect()


def _owned(con: Any) -> bool:
    return bool(getattr(con, _OWNED_MARK, False))


# ====================================================================== text ids in Arrow
def same_text(a: pd.Index | pd.Series, b: pd.Index | pd.Series) -> bool:
    """Whether two text columns hold the same values in the same order: one pass over Arrow's buffers,
    no hash (two missing values count as equal).

    >>> same_text(pd.Series(["a", "b"], dtype="str"), pd.Index(["a", "b"])), same_text(pd.Series(["a"]), pd.Series(["b"]))
    (True, False)
    """
    if a is b:
        return True
    return len(a) == len(b) and _chunked(_arrow_text(a)).equals(_chunked(_arrow_text(b)))


def text_sorted(values: pd.Index | pd.Series | np.ndarray, *, strict: bool = False) -> bool:
    """Whether the string ``values`` ascend (``strict``: and are unique), as pandas'
    ``is_monotonic_increasing`` (and ``is_unique``) would say: False when any value is missing.

    Compared in Arrow (code-point order, as Python compares ``str``): pandas builds its hash engine of
    one Python object per value for the same answer, 30x slower for millions of customer ids.

    >>> text_sorted(pd.Index(["a", "b", "b"])), text_sorted(pd.Index(["a", "b", "b"]), strict=True)
    (True, False)
    >>> text_sorted(pd.Series(["b", "a"])), text_sorted(pd.Series(["a", None])), text_sorted(pd.Index([]))
    (False, False, True)
    >>> text_sorted(pd.Series([3, 10])), text_sorted(np.array(["10", "3"], dtype=object))
    (True, True)
    """
    if not _is_arrow_text(values):  # numbers, or text as Python objects: pandas' own answer
        index = pd.Index(values)
        return bool(index.is_monotonic_increasing and (index.is_unique or not strict))
    arr = _arrow_text(values)
    if arr.null_count:
        return False
    if len(arr) < 2:
        return True
    step = pc.greater if strict else pc.greater_equal
    return bool(pc.all(step(arr[1:], arr[:-1])).as_py())


def month_then_text_order(month: np.ndarray, ids: pd.Series) -> np.ndarray | None:
    """The row order of ``frame.sort_values(["month", "customer_id"], kind="stable")`` for a month
    column and Arrow text ids: Arrow's stable sort of the text (UTF-8 bytes: code-point order, as
    Python compares ``str``), then numpy's stable sort of the months' small integer codes. pandas
    turns each key into categories first (a hash of every id): 6.5M customer-months 7.1 -> 4.6 s.
    None when an id or a month is missing or the ids are not Arrow text (pandas sorts those).

    >>> month_then_text_order(np.array(["2024-02-01", "2024-01-01", "2024-01-01"], dtype="datetime64[ns]"),
    ...                       pd.Series(["a", "é", "b"], dtype="str")).tolist()
    [2, 1, 0]
    """
    if not _is_arrow_text(ids) or not np.issubdtype(month.dtype, np.datetime64):
        return None
    text = _arrow_text(ids)
    if text.null_count or np.isnat(month).any():
        return None
    by_text = np.asarray(pc.sort_indices(text).to_numpy(zero_copy_only=False), dtype=np.intp)
    _, code = np.unique(month, return_inverse=True)
    code = code.ravel().astype(np.int16 if code.size == 0 or code.max() < 2**15 else np.int64)
    return by_text[np.argsort(code[by_text], kind="stable")]


def lookup(values: pd.Series | pd.DataFrame, ids: pd.Index | pd.Series | np.ndarray,
           fill: Any) -> np.ndarray | dict[str, np.ndarray]:
    """``values.reindex(ids, fill_value=fill)`` as numpy, for values indexed by unique text ids (a
    DataFrame gives ``{column: array}``).

    The same ids in the same order (the usual case: two tables of one run's customers) cost one
    comparison; otherwise one Arrow hash of ``values``' index (Arrow's ``index_in``), not pandas' index
    engine of Python strings. As ``reindex``: a fill that the column's type cannot hold widens it
    (integers to float, booleans to object).

    >>> lookup(pd.Series([1.0, 2.0], index=["a", "b"]), pd.Index(["b", "x", "a"]), 0.0).tolist()
    [2.0, 0.0, 1.0]
    >>> {k: v.tolist() for k, v in lookup(pd.DataFrame({"n": [1, 2]}, index=["a", "b"]), ["b", "x"], 0).items()}
    {'n': [2, 0]}
    """
    if not _is_arrow_text(values.index):  # numbers, or text as Python objects: pandas' own reindex
        again = values.reindex(pd.Index(ids), fill_value=fill)
        return {c: again[c].to_numpy() for c in again.columns} if isinstance(again, pd.DataFrame) else again.to_numpy()
    mine, theirs = _arrow_text(values.index), _arrow_text(ids)
    where = None if _chunked(mine).equals(_chunked(theirs)) else _index_in(theirs, mine)
    if isinstance(values, pd.DataFrame):
        return {c: _taken(values[c].to_numpy(), where, fill) for c in values.columns}
    return _taken(values.to_numpy(), where, fill)


def lookup_text(values: pd.Series, ids: pd.Index | pd.Series | np.ndarray, fill: str) -> Any:
    """:func:`lookup` of a text column, kept as Arrow text (``str``): each id's value, ``fill`` where the
    id is not in ``values``' index (a missing value stays missing). No Python object per id, where
    :func:`lookup`'s numpy answer holds one string object per row (3.37M labels: about 0.2 GB).

    >>> list(lookup_text(pd.Series(["VIP", None], index=["a", "b"], dtype="str"), pd.Index(["b", "x", "a"]), ""))
    [nan, '', 'VIP']
    """
    text = values.astype("str").array
    mine, theirs = _arrow_text(values.index), _arrow_text(ids)
    if _chunked(mine).equals(_chunked(theirs)):
        return text
    return text.take(_index_in(theirs, mine), allow_fill=True, fill_value=fill)


def _taken(have: np.ndarray, where: np.ndarray | None, fill: Any) -> np.ndarray:
    if where is None:
        return have.copy()
    out = have[np.maximum(where, 0)] if len(have) else np.empty(len(where), dtype=have.dtype)
    missing = where < 0
    if missing.any():
        integer_fill = isinstance(fill, (int, np.integer)) and not isinstance(fill, (bool, np.bool_))
        if out.dtype.kind == "b" and not isinstance(fill, (bool, np.bool_)):
            out = out.astype(object)
        elif out.dtype.kind in "iu" and not integer_fill:
            out = out.astype(float)
        elif out.dtype.kind in "mM" and fill is not None and pd.isna(fill):  # numpy's own "not a time"
            fill = np.array("NaT", dtype=out.dtype)
        out[missing] = fill
    return out


def _chunked(arr: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])


def _arrow_text(values: Any) -> pa.Array | pa.ChunkedArray:
    """``values`` as Arrow large text; NaN/None in object arrays become missing values, not text.
    Categories of text are decoded from their codes (not one Python string per value).

    >>> _arrow_text(pd.Categorical(["b", None, "a", "b"])).to_pylist()
    ['b', None, 'a', 'b']
    """
    if _is_categorical(values):
        cat = values.array if isinstance(values, (pd.Series, pd.Index)) else values
        if len(cat.categories) and cat.categories.inferred_type == "string":
            codes = np.asarray(cat.codes)
            indices = pa.array(codes.astype(np.int32, copy=False), mask=codes < 0)
            return pa.DictionaryArray.from_arrays(indices, _arrow_text(pd.Index(cat.categories))).dictionary_decode()
    return pa.array(values if _is_arrow_text(values) else np.asarray(values, dtype=object), type=pa.large_string(),
                    from_pandas=True)


def _is_arrow_text(values: object) -> bool:
    return isinstance(values, (pd.Series, pd.Index)) and isinstance(values.dtype, pd.StringDtype)


def _index_in(ids: pa.Array | pa.ChunkedArray, members: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each id's position among ``members`` (unique), -1 where absent or missing.

    Arrow hashes the value set: ``members``, or, for a few ids among many members (at most one in
    eight: a run's flagged customers among all of them), the distinct ids, which every member is
    then looked up in (3.37M members, 150k ids: 1.05 -> 0.18 s; the same positions).
    """
    if len(ids) * 8 <= len(members):
        return _index_in_few(ids, members)
    return _positions_in(ids, members)


#: from this many values on, positions come from a Polars join (both cores) instead of Arrow's ``index_in``
_JOINED_POSITIONS = 200_000


def _positions_in(values: pa.Array | pa.ChunkedArray, value_set: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each value's position in ``value_set`` (its first, if repeated), -1 where absent or missing."""
    if min(len(values), len(value_set)) >= _JOINED_POSITIONS:
        searched = _searched_positions(values, value_set)
        if searched is not None:
            return searched
        joined = _joined_positions(values, value_set)
        if joined is not None:
            return joined
    found = pc.index_in(values, value_set=value_set, skip_nulls=True)
    return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _fixed_width(arr: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Text of one byte length, no NULL and no NUL byte as a numpy bytes array over Arrow's own buffer
    (no copy; numpy compares bytes as Arrow sorts text, and only trailing NUL bytes would confuse it),
    else None."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if arr.null_count or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)) or len(arr) == 0:
        return None
    lengths = pc.min_max(pc.binary_length(arr))
    width = lengths["min"].as_py()
    if width != lengths["max"].as_py() or width == 0:
        return None
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64 if pa.types.is_large_string(arr.type) else np.int32,
                            count=len(arr) + 1, offset=arr.offset * (8 if pa.types.is_large_string(arr.type) else 4))
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    if not data.all():  # a NUL byte
        return None
    return data.view(f"S{width}")


#: the searched ids may come in sorted runs (a customer-month table: each month's customers in id
#: order) as long as the runs average at least this many ids
_SEARCHED_RUN = 4096
#: ids in any order are sorted first (a copy of theirs) when at most this share of the members
_SORTED_FIRST = 0.25


def _searched_positions(values: pa.Array | pa.ChunkedArray, value_set: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """:func:`_positions_in` by binary search when the set is sorted (strictly) and every id has one
    byte length (zero-padded ids, the common case): no hash table of millions of ids. The ids come
    sorted or in long sorted runs (a customer-month table sorted by month, then customer_id: 3.07M
    among 3.37M, 0.44 s against the join's 0.76 s; 3.7M customer months among 0.8M ids, the same 0.6 s
    as the join, which held 0.35 GB against 0.13 GB), or in any order when they are at most a quarter
    of the members, sorted first (the contact list's 550k customers among 3.37M: about 0.25 s, where
    the join took 0.5 s and left 0.3-0.4 GB in Polars' allocator to the end of the run). None
    otherwise, and a join or Arrow answers (millions of ids in another order: sorting them takes
    longer than a hash, 2.1 s for 3.37M)."""
    members, wanted = _fixed_width(value_set), _fixed_width(values)
    if members is None or wanted is None or members.dtype != wanted.dtype or \
            not (members[1:] > members[:-1]).all():
        return None
    order = None
    if int(np.count_nonzero(wanted[1:] < wanted[:-1])) * _SEARCHED_RUN > len(wanted):
        if len(wanted) > _SORTED_FIRST * len(members):
            return None
        order = np.argsort(wanted, kind="stable")
        wanted = wanted[order]
    at = np.searchsorted(members, wanted).clip(0, len(members) - 1)
    found = np.where(members[at] == wanted, at, -1).astype(np.int64)
    if order is None:
        return found
    out = np.empty_like(found)
    out[order] = found
    return out


def _joined_positions(values: pa.Array | pa.ChunkedArray, value_set: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """:func:`_positions_in` as a left join in Polars, which hashes on both cores (6.56M ids among
    3.37M: 1.9 -> 1.0 s); None where it cannot answer alike (a matched id repeated in ``value_set``,
    a Polars without ``maintain_order``): Arrow answers then. Missing ids match nothing, as in Arrow.
    """
    import polars as pl

    members = pl.DataFrame({"id": value_set}).with_row_index("pos")
    try:
        joined = pl.DataFrame({"id": values}).join(members, on="id", how="left", maintain_order="left")
    except TypeError:  # noqa: PERF203 - a Polars before maintain_order (1.20)
        return None
    if joined.height != len(values):  # a matched id repeated among the members: Arrow gives the first
        return None
    return joined["pos"].fill_null(-1).to_numpy().astype(np.int64, copy=False)


def _index_in_few(ids: pa.Array | pa.ChunkedArray, members: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """:func:`_index_in` with the distinct ids as the hashed set; a repeated member gives its first position."""
    distinct = pc.drop_null(pc.unique(ids))
    codes = _positions_in(ids, distinct)  # each id's distinct value (-1: missing)
    found = _positions_in(members, distinct)  # each member's distinct id, if any
    at = np.full(len(distinct) + 1, -1, dtype=np.int64)  # the last slot answers code -1
    hit = np.flatnonzero(found >= 0)[::-1]  # written last to first: the first position stays
    at[found[hit]] = hit
    return at[codes]


# ====================================================================== fetching results
def fetch(con: Any, expr: ir.Table) -> pd.DataFrame:
    """``con.execute(expr)``, the same frame, without Python objects per row on DuckDB.

    Ibis' DuckDB ``execute`` takes the result in DuckDB's own types and converts each column to
    pandas before casting it to the expression's schema: a sum of integers comes as DECIMAL(38, 0),
    i.e. one Python ``Decimal`` per row (customer-month counts at 6.5M rows: ~3 s per column), and
    every column holding a NULL becomes a Python list. Here the result is fetched with
    ``to_pyarrow``, which casts to the schema in Arrow, and floating columns with NULLs are converted
    by Arrow (NULL -> NaN, as Ibis' conversion gives); every column then goes through Ibis' own two
    conversions (DuckDB's, then the schema's), column by column. Ibis builds a new frame after each
    of its three steps, and pandas stacks the columns of each into 2-D blocks, copying every value
    three times (about 12 s of a 10M-row run); here each frame keeps its columns as they come
    (:func:`_frame`). Other back-ends: ``con.execute``.
    """
    if engine_name(con) != "duckdb":
        return con.execute(expr)
    try:
        import pyarrow.types as pat
        from ibis.backends.duckdb.converter import DuckDBPandasData
        from ibis.formats.pandas import PandasData
    except ImportError:  # another Ibis layout: its own path
        return con.execute(expr)
    table = con.to_pyarrow(expr)
    names, arrow = table.column_names, list(table.columns)
    del table
    converted = {}
    # column by column, each Arrow column let go once converted: the result in Arrow and in pandas
    # are not both whole at once (a column of several record batches is copied when converted; at
    # 3.4M customers the feature table is about 0.4 GB in each)
    for i, name in enumerate(names):
        col, arrow[i] = arrow[i], None
        converted[name] = (col.to_pandas() if pat.is_floating(col.type)
                           else col.to_pylist() if pat.is_nested(col.type) or pat.is_dictionary(col.type)
                           or col.null_count
                           # dates as datetime64, not one Python date per row (Ibis casts either to
                           # datetime64[s]: the same values, without parsing objects)
                           else col.to_pandas(date_as_object=False) if pat.is_date(col.type) else col.to_pandas())
        del col
    frame = _frame(converted)
    del converted
    schema = expr.as_table().schema()
    if schema.names != tuple(frame.columns):  # as Ibis' convert_table checks it
        raise ValueError("schema names don't match input data columns")
    for mapper in (DuckDBPandasData, PandasData):  # Ibis' execute: DuckDB's conversion, then the schema's
        frame = _frame({name: mapper.convert_column(frame[name], dtype) for name, dtype in schema.items()})
    return frame


def to_pandas(expr: ir.Table) -> pd.DataFrame:
    """``expr.to_pandas()`` by :func:`fetch` on the expression's own back-end (Ibis' default, DuckDB,
    for a ``memtable``): the same frame, without its per-row Python objects and block copies."""
    return fetch(ibis.get_backend(expr), expr)


def _frame(columns: dict[str, Any]) -> pd.DataFrame:
    """A frame of ``columns`` without copying them into 2-D blocks (the same values and dtypes as
    ``pd.DataFrame(columns)``; pandas keeps each column as its own block)."""
    series = {name: col if isinstance(col, pd.Series) else pd.Series(col) for name, col in columns.items()}
    return pd.DataFrame(series, copy=False)


def shared_repeats(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (changed in place) with each numpy column that repeats an earlier one bit for bit
    holding that column's buffer, and each column of zero bits held as fresh zeroed memory, which the
    system lends only when written (read, its pages are the one page of zeros): the same values and
    dtypes, read-only as every column is under copy-on-write.

    Data without costs, returns or order ids gives such columns: ``margin`` equal to ``revenue``
    (nothing to subtract), ``gross_revenue`` to ``monetary``, ``returns_value`` all zeros, ``purchases``
    equal to ``payments`` (purchase rows counted twice); each kept once: at 10M B2C rows about 0.2 GB
    of the per-customer and customer-month tables a run holds to its end.

    >>> f = _frame({"a": np.array([1.5, 2.0]), "b": np.array([1.5, 2.0]), "z": np.zeros(2)})
    >>> f = shared_repeats(f)
    >>> np.shares_memory(f["a"].to_numpy(), f["b"].to_numpy()), f["z"].tolist()
    (True, [0.0, 0.0])
    """
    seen: dict[tuple[Any, ...], list[str]] = {}
    for name in list(frame.columns):
        values = _plain_values(frame[name])
        if values is None:
            continue
        bits = values.view(f"u{values.itemsize}")
        if not bits[:16].any() and not bits.any():
            frame[name] = pd.Series(np.zeros(len(values), dtype=values.dtype), index=frame.index, copy=False)
            continue
        key = (values.dtype.str, bits[:16].tobytes(), bits[-16:].tobytes())
        same = next((c for c in seen.get(key, ()) if np.array_equal(bits, _plain_values(frame[c]).view(bits.dtype))),
                    None)
        if same is not None:
            frame[name] = frame[same]  # one buffer, two columns (copy-on-write keeps them apart)
        else:
            seen.setdefault(key, []).append(name)
    return frame


def _plain_values(column: pd.Series) -> np.ndarray | None:
    """The column's numpy array when it is one contiguous array of numbers, booleans or datetimes, else None."""
    if not isinstance(column.dtype, np.dtype) or column.dtype.kind not in "biufmM" or len(column) == 0 \
            or column.dtype.itemsize not in (1, 2, 4, 8):
        return None
    values = column.to_numpy()
    return values if values.flags.c_contiguous else None


# ====================================================================== joins on text ids
def left_join(left: pd.DataFrame, right: pd.DataFrame, on: str = "customer_id") -> pd.DataFrame:
    """``left.merge(right, on=on, how="left")`` for ``right`` holding each text id once: the same frame
    (left's rows in left's order, right's columns after left's, missing values as the merge gives
    them), by one Arrow lookup of the ids and a take per column, or none when both sides hold the same
    ids in the same order. pandas' merge hashes the text of both sides and copies every column of
    ``left`` through its join indexer, about twice the time and memory for millions of customers.
    Anything else (repeated or missing ids on the right, ids that are not Arrow text, a column name on
    both sides, extension types other than text) goes to pandas' merge.
    """
    overlap = (set(left.columns) & set(right.columns)) - {on}
    simple = all(isinstance(right[c].dtype, (np.dtype, pd.StringDtype, pd.CategoricalDtype))
                 for c in right.columns if c != on)
    if overlap or not simple or not (_is_arrow_text(left[on]) and _is_arrow_text(right[on])):
        return left.merge(right, on=on, how="left")
    keys, ids = _arrow_text(right[on]), _arrow_text(left[on])
    if keys.null_count or not (text_sorted(right[on], strict=True) or pc.count_distinct(keys).as_py() == len(keys)):
        return left.merge(right, on=on, how="left")
    where = None if _chunked(keys).equals(_chunked(ids)) else _index_in(ids, keys)
    return left.reset_index(drop=True).assign(**{c: _taken_column(right[c], where) for c in right.columns if c != on})


def _taken_column(column: pd.Series, where: np.ndarray | None) -> Any:
    """``column``'s values at ``where`` (-1: missing, as a left merge leaves an unmatched row)."""
    if isinstance(column.dtype, pd.StringDtype):
        arr = _chunked(pa.array(column.array, from_pandas=True))
        if where is not None:
            arr = pc.take(arr, pa.array(where, mask=where < 0))
        return pd.array(arr, dtype=column.dtype)
    if isinstance(column.dtype, pd.CategoricalDtype):  # the codes taken (-1: missing), the categories kept
        if where is None:
            return column.array
        return pd.Categorical.from_codes(_taken(np.asarray(column.cat.codes), where, -1), dtype=column.dtype)
    values = _taken(column.to_numpy(), where, np.nan)
    # an object array stays one (pandas would read text in it as its string type, a merge does not)
    return pd.Series(values, dtype=object) if values.dtype == object else values


def _text(values: Any) -> pa.Array:
    """``values`` as Arrow text; NaN/None in object arrays become missing values, not text (from_pandas).

    A Series is read through its array: numpy and Arrow ask a Series for attributes it lacks
    (``__array_interface__``, ``__arrow_array__``), and pandas answers those by looking the name up in
    a text index, which builds and keeps that index's hash table (one Python string per customer).
    """
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.array
    return pa.array(values if _is_arrow_array(values) else np.asarray(values, dtype=object), type=pa.large_string(),
                    from_pandas=True)


def _is_arrow_array(values: object) -> bool:
    return isinstance(values, pd.api.extensions.ExtensionArray) and isinstance(values.dtype, pd.StringDtype)


def text_categories(values: Any) -> pd.Categorical:
    """Text labels (one per customer) as a categorical: one byte per customer and each label's text
    once, instead of every customer's text (about 50-120 MB per label column at 3.4M customers).

    The categories are the labels that occur, sorted as text (what ``pd.Categorical`` infers), so
    sorting, grouping and counting see the same values in the same order as the text; missing
    values stay missing (code -1). Encoded in Arrow (a hash of the text, no Python object per value).

    >>> c = text_categories(pd.Series(["b", "a", None, "b"], dtype="str"))
    >>> c.categories.tolist(), c.codes.tolist()
    (['a', 'b'], [1, 0, -1, 1])
    """
    if _is_categorical(values):
        cat = values.array if isinstance(values, (pd.Series, pd.Index)) else values
        used = np.unique(np.asarray(cat.codes)[np.asarray(cat.codes) >= 0])
        cat = cat.remove_unused_categories() if len(used) < len(cat.categories) else cat
        return cat if cat.categories.is_monotonic_increasing else cat.reorder_categories(cat.categories.sort_values())
    encoded = pc.dictionary_encode(_text(values))
    if isinstance(encoded, pa.ChunkedArray):  # one dictionary for every chunk, their indices one after another
        encoded = encoded.unify_dictionaries()
        dictionary = encoded.chunk(0).dictionary if encoded.num_chunks else pa.array([], type=pa.large_string())
        encoded = pa.DictionaryArray.from_arrays(
            pa.concat_arrays([c.indices for c in encoded.chunks]) if encoded.num_chunks else pa.array([], pa.int32()),
            dictionary)
    order = pc.sort_indices(encoded.dictionary).to_numpy()
    new_code = np.empty(len(order) + 1, dtype=np.int64)
    new_code[order] = np.arange(len(order))
    new_code[-1] = -1  # a missing value's code (indices filled with -1 below)
    codes = new_code[pc.fill_null(encoded.indices, -1).to_numpy()]
    categories = pd.Index(pd.array(encoded.dictionary.take(order), dtype="str"))
    return pd.Categorical.from_codes(codes, categories=categories)


def _is_categorical(values: object) -> bool:
    return isinstance(getattr(values, "dtype", None), pd.CategoricalDtype)


def _is_arrow(values: object) -> bool:
    return isinstance(values, (pd.Series, pd.Index)) and isinstance(values.dtype, pd.StringDtype)
