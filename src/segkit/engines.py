"""Where the feature work runs: an Ibis connection to DuckDB (default), Polars or PySpark.

The rest of segkit writes Ibis expressions once; this module only opens the backend. A user with
data in a warehouse passes their own Ibis connection or table instead.
"""

from __future__ import annotations

import os
from typing import Any

import ibis

from .errors import ParameterError

__all__ = ["connect", "ENGINES"]

ENGINES = ("duckdb", "polars", "pyspark")


def connect(engine: str = "duckdb", **options: Any) -> Any:
    """Open an Ibis backend by name.

    Example
    -------
    >>> con = connect("duckdb")
    >>> con.name
    'duckdb'
    """
    if engine == "duckdb":
        con = ibis.duckdb.connect(**options)
        threads = os.environ.get("SEGKIT_THREADS")
        if threads:
            con.raw_sql(f"SET threads = {int(threads)}")
        return con
    if engine == "polars":
        return ibis.polars.connect(**options)
    if engine == "pyspark":
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:  # optional extra
            raise ParameterError("the pyspark engine needs PySpark", where="engine",
                                 fix="pip install 'segkit[spark]' (and Java 17)") from exc
        session = (SparkSession.builder.master(options.pop("master", "local[2]"))
                   .appName("segkit").config("spark.sql.session.timeZone", "UTC")
                   .config("spark.ui.enabled", "false").getOrCreate())
        return ibis.pyspark.connect(session, **options)
    raise ParameterError(f"unknown engine {engine!r}", where="engine", fix=f"use one of {', '.join(ENGINES)}")
