"""A real warehouse: PostgreSQL tables give the same published files as the CSV files they were loaded from.

A throw-away server (the ``postgres_server`` fixture, tests/pg_server.py) holds, in the database
``finance``, the bundled CDNOW file as ``sales`` (``CustomerNo text, InvoiceDate date, Qty integer,
NetValue numeric``, as a finance team would type it), the bundled synthetic B2B file (returns, cost,
order ids, attributes) as ``b2b`` under other column names, and the engines' messy file (every
cleaning rule) as text columns, so segkit's own parser runs inside PostgreSQL. ``segkit segment``
and ``segkit validate`` run as an analyst runs them: a subprocess given a ``postgres://`` URL without
a password (the driver reads ``PGPASSWORD``), ``--table`` and ``--columns``.

The module skips, saying why, where no server can be started (no PostgreSQL binaries, no psycopg).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from segkit.config import CDNOW_PATH, PROJECT_ROOT
from segkit.data import load_transactions
from tests.pg_server import free_port
from tests.test_engines import COLUMNS, assert_same, messy_frame, outcome, outcome_of, write_layout

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("postgres")]  # one server, one worker

B2B_PATH = PROJECT_ROOT / "data" / "synthetic" / "b2b.csv.gz"
CDNOW_COLUMNS = ["customer_id=CustomerNo", "date=InvoiceDate", "quantity=Qty", "amount=NetValue"]
B2B_COLUMNS = ["customer_id=Customer", "date=Day", "order_id=Invoice", "quantity=Units", "amount=Net",
               "cost=Cost"]
#: the published files compared byte for byte (run.json differs: see test_run_json_differs_only_in_the_source)
FILES = ("assignments.csv", "tiers_monthly.csv", "alerts.csv", "actions.csv", "scorecard.json")
#: the same for both sides; fewer backtest cut-offs and k values keep the Python part short (it is not under test)
SEGMENT_OPTIONS = ["--backtest-origins", "1", "--k-range", "2", "4", "--name", "same"]


@pytest.fixture(scope="module")
def finance(postgres_server, tmp_path_factory):
    """The server with database ``finance`` loaded through COPY (once per session)."""
    server = postgres_server
    server.create_database("finance")
    assert server.load_csv("finance", "sales", '"CustomerNo" text, "InvoiceDate" date, "Qty" integer, '
                           '"NetValue" numeric', CDNOW_PATH) == 69_659
    assert server.load_csv("finance", "b2b", '"Customer" text, "Day" date, "Invoice" bigint, "Units" integer, '
                           '"Net" numeric(12,2), "Cost" numeric(12,2), region text, industry text, size text',
                           B2B_PATH) == 25_185
    server.messy = {}  # layout -> the CSV file loaded as table messy_<layout>, every column text
    for layout, sep in (("plain", ","), ("decimal-comma", ";")):
        messy = tmp_path_factory.mktemp("pg") / f"messy-{layout}.csv"
        write_layout(messy_frame(), messy, layout)
        header = messy.read_text().splitlines()[0].split(sep)
        server.load_csv("finance", f"messy_{layout.replace('-', '_')}", ", ".join(f'"{c}" text' for c in header),
                        messy, delimiter=sep)
        server.messy[layout] = messy
    return server


def segkit(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "segkit", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=PROJECT_ROOT)


def finished(proc: subprocess.Popen, timeout: float = 900) -> tuple[int, str, str]:
    """Wait for ``proc``: (exit code, stdout, stderr); killed when it takes longer than ``timeout`` seconds."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def segment_runs(finance, tmp_path_factory):
    """``segkit segment`` on each CSV and on its table, the four processes at once: {name: (csv folder, db folder)}."""
    root = tmp_path_factory.mktemp("segment")
    jobs = {
        "cdnow": ([str(CDNOW_PATH)], [finance.url("finance"), "--table", "sales", "--columns", *CDNOW_COLUMNS]),
        "b2b": ([str(B2B_PATH)], [finance.url("finance"), "--table", "b2b", "--columns", *B2B_COLUMNS]),
    }
    procs = {}
    for name, (csv_args, db_args) in jobs.items():
        for side, args in (("csv", csv_args), ("db", db_args)):
            out = root / f"{name}-{side}"
            procs[name, side] = (out, segkit("segment", *args, "--out", str(out), *SEGMENT_OPTIONS, env=finance.env()))
    try:
        for (name, side), (out, proc) in procs.items():
            code, _, err = finished(proc)
            assert code == 0, f"segment {name} from {side}: exit {code}\n{err[-3000:]}"
            assert "Traceback" not in err, err
    finally:
        for _, proc in procs.values():
            if proc.poll() is None:  # another run failed first: stop the rest
                proc.kill()
                proc.communicate()
    return {name: (procs[name, "csv"][0], procs[name, "db"][0]) for name in jobs}


@pytest.mark.parametrize("name", ["cdnow", "b2b"])
def test_a_postgres_table_publishes_the_same_files_as_its_csv(segment_runs, name):
    from_csv, from_db = segment_runs[name]
    for file in FILES:
        assert (from_db / file).read_bytes() == (from_csv / file).read_bytes(), f"{name}: {file} differs"
    assignments = (from_db / "assignments.csv").read_text().splitlines()
    assert len(assignments) - 1 == {"cdnow": 23_502, "b2b": 1_915}[name]  # every customer who bought by as_of


@pytest.mark.parametrize("name", ["cdnow", "b2b"])
def test_run_json_differs_only_in_the_source(segment_runs, finance, name):
    """The data block's counts and findings are equal; the path names the table, and a table has no file hash."""
    from_csv, from_db = (json.loads((folder / "run.json").read_text()) for folder in segment_runs[name])
    table = {"cdnow": "sales", "b2b": "b2b"}[name]
    assert from_db["data"]["path"] == f"{finance.url('finance')}, table {table}"
    assert from_db["data"]["sha256"] == "" and len(from_csv["data"]["sha256"]) == 64
    assert from_csv["data"]["issues"]["detected"]["format"] == "csv" and from_db["data"]["issues"]["detected"] == {}
    for info in (from_csv, from_db):
        info["data"].pop("path"), info["data"].pop("sha256"), info["data"]["issues"].pop("detected")
    assert from_db["data"] == from_csv["data"]


def test_segkit_writes_nothing_into_the_database(segment_runs, finance):
    """The staged copies were temporary tables: after the runs only the loaded tables are left."""
    with finance.connect("finance") as con:
        tables = con.execute("SELECT schemaname || '.' || tablename FROM pg_tables "
                             "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1").fetchall()
    assert [t for (t,) in tables] == ["public.b2b", "public.messy_decimal_comma", "public.messy_plain", "public.sales"]


def same_report(finance, table: str, columns: list[str], csv: Path, *options: str) -> str:
    """``segkit validate`` on the table and on its CSV: both exit 0, the reports agree but for the source; the table's."""
    db = segkit("validate", finance.url("finance"), "--table", table, "--columns", *columns, *options, env=finance.env())
    from_csv = segkit("validate", str(csv), *options)
    (code_db, out_db, err_db), (code_csv, out_csv, _) = finished(db), finished(from_csv)
    assert (code_db, code_csv, err_db) == (0, 0, "")
    assert out_db.splitlines()[0] == f"Data-quality report for {finance.url('finance')}, table {table}"
    without_source = [line for line in out_csv.splitlines()[1:] if not line.strip().startswith("read as")]
    assert out_db.splitlines()[1:] == without_source
    return out_db


def test_validate_prints_the_same_report_for_the_table_and_the_csv(finance):
    """The issue's reproduction: exit 0, the CSV's report line for line, no traceback (no failed cache drop)."""
    out = same_report(finance, "sales", CDNOW_COLUMNS, CDNOW_PATH)
    assert "rows read              69,659" in out and "Usable: 69,579 rows of 23,502 customers." in out


def test_a_filter_and_dropped_duplicates_count_the_same_in_postgres(finance):
    out = same_report(finance, "b2b", B2B_COLUMNS, B2B_PATH, "--filter", "region=EU", "--drop-duplicates")
    assert "Outside the run's filter" in out and "rows read              25,185" in out


@pytest.mark.parametrize("layout", ["plain", "decimal-comma"])
def test_text_columns_are_parsed_inside_postgres_as_duckdb_parses_the_file(finance, monkeypatch, layout):
    """Every cleaning rule (unreadable dates and amounts, blanks, zero amounts, duplicates, product lines,
    spaces around ids) gives the same report, features, monthly table and tiers in PostgreSQL as in DuckDB."""
    expected = outcome("duckdb", finance.messy[layout])
    monkeypatch.setenv("PGPASSWORD", finance.password)
    table = f"messy_{layout.replace('-', '_')}"
    tx = load_transactions(finance.url("finance"), COLUMNS, table=table, max_bad_share=0.05)
    try:
        got = outcome_of(tx)
    finally:
        tx.close()
    assert tx.engine == "postgres"
    assert tx.con.con.closed  # segkit opened the connection from the URL, so it closes it (temporary tables go)
    # the text's layout is detected in both; the file's format, encoding and delimiter only for the file
    date_format = {"plain": "YYYY-MM-DD", "decimal-comma": "DD.MM.YYYY"}[layout]
    amounts = {"amount_format": "decimal-comma", "cost_format": "decimal-comma"} if layout == "decimal-comma" else {}
    assert got["quality"].pop("detected") == {"date_format": date_format, **amounts}
    assert expected["quality"].pop("detected")["date_format"] == date_format
    assert got["quality"]["dropped"]["unparseable_date"] == 2 and got["quality"]["kept"]["exact_duplicates"] >= 10
    assert_same(got, expected, "postgres")


@pytest.mark.parametrize("problem", ["missing table", "wrong password", "unreachable server"])
def test_database_mistakes_exit_2_with_one_message(finance, problem):
    url, table, env = finance.url("finance"), "sales", finance.env()
    if problem == "missing table":
        table = "sales_2024"
    elif problem == "wrong password":
        env = finance.env(password="not-the-password")
    else:
        url = url.replace(f":{finance.port}/", f":{free_port()}/")  # nothing listens there
    code, out, err = finished(segkit("validate", url, "--table", table, "--columns", *CDNOW_COLUMNS, env=env), 120)
    assert code == 2, (out, err)
    assert err.count("error:") == 1 and "Traceback" not in err and out == "", err
    assert url in err
    expected = {"missing table": "the database has no table 'sales_2024'",
                "wrong password": "password authentication failed",
                "unreachable server": "cannot connect to the database"}[problem]
    assert expected in err, err


def test_numbers_read_in_postgres_as_duckdb_reads_them(finance, monkeypatch):
    """The pattern that stands in for TRY_CAST on PostgreSQL accepts what DuckDB's TRY_CAST accepts (as
    cleaning sees it: infinities and NaN are unreadable there), and no value makes the query fail."""
    import ibis

    from segkit.engines import connect, try_number

    texts = ["12", " 12 ", "+3", "-3.5e-2", "1.", ".5", "+.5", "5.e3", "1_000.5_5", "1e5", "1E+05", "1__0", "_1",
             "1_", "1e", "e5", ".", "", "1,5", "0x10", "n/a", "inf", "Infinity", "nan", "1e999", "1e-400",
             "1" + "0" * 400, "12 34", "--1", "1e1_0"]
    frame = {"i": list(range(len(texts))), "x": texts}
    monkeypatch.setenv("PGPASSWORD", finance.password)
    pg = ibis.connect(finance.url("finance"))
    results = []
    for con in (connect("duckdb"), pg):
        t = con.create_table("numbers", ibis.memtable(frame), temp=True)
        v = try_number(con, t.x)
        got = con.execute(t.select("i", v=ibis.cases((v.isnan() | v.isinf(), ibis.null("float64")), else_=v))
                          .order_by("i"))
        results.append(got["v"].tolist())
    pg.disconnect()
    duck, post = results
    readable = {t: d for t, d in zip(texts, duck) if d == d}  # NaN: not readable
    assert readable == {"12": 12.0, " 12 ": 12.0, "+3": 3.0, "-3.5e-2": -0.035, "1.": 1.0, ".5": 0.5, "+.5": 0.5,
                        "5.e3": 5000.0, "1_000.5_5": 1000.55, "1e5": 1e5, "1E+05": 1e5, "1e-400": 0.0, "1e1_0": 1e10}
    assert {t: p for t, p in zip(texts, post) if p == p} == readable
