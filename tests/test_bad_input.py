"""The bad-input catalog: every kind of broken file, config or argument, through the real CLI.

Each :class:`Case` builds its input in a temporary folder, runs ``segkit validate``, ``segment``
or ``run`` (``segkit.cli.main``) and states the exit code and the fragments of the one ``error:``
message (what and where). User mistakes exit 2, print exactly one message and no traceback, and
change nothing: the previously published report (``run``) or the previous run files (``segment``)
stay byte-identical. Inputs segkit accepts exit 0 and the test checks what was read.

``ROWS`` is the README table "What segkit does with bad input": every case names its row, every
row has a case (or a test elsewhere, ``ELSEWHERE``), and the README must show exactly these rows.
``python -m tests.test_bad_input`` prints the table. Every case runs twice: with the loader's
typed fast path allowed (``SEGKIT_TYPED_READER=1``) and with segkit's text parser only (``=0``).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from segkit.cli import main
from segkit.config import PROJECT_ROOT
from segkit.data.typed import TYPED_READER_ENV
from segkit.publish import OutputFolder
from tests.test_cli import small_csv, snapshot, tiny_notebooks

# ====================================================================== the README table
ROWS: dict[str, tuple[str, str]] = {
    "file": ("file missing, empty, header-only, binary, damaged `.gz`, a folder",
             "stops, exit 2, names the file and the fix"),
    "columns": ("a required column missing or misnamed",
                "stops, exit 2, lists the file's columns and suggests `--columns customer_id=<closest match>`"),
    "delimiter": ("a delimiter other than comma, semicolon, tab or pipe (the file reads as one column)",
                  "stops, exit 2, names the file and the delimiters segkit reads"),
    "database": ("a database URL without a table or with a password in it, a database that cannot be reached, "
                 "a missing table", "stops, exit 2, names the URL (password masked) and the table"),
    "formats": ("semicolon/tab delimiters, UTF-8 with BOM, Latin-1/cp1250, `1.234,56`, `1,234.56`, `$`/`€`",
                "detected and read"),
    "bad_few": ("unreadable dates or amounts ≤ `max_bad_share` of rows", "dropped, counted, examples shown"),
    "bad_many": ("unreadable dates or amounts above `max_bad_share`",
                 "stops, exit 2, names the column and example values"),
    "dropped": ("amount 0, missing customer id or date", "dropped and counted"),
    "totals": ("a spreadsheet's totals row or subtotal rows (no date or no customer id, their amounts adding up to "
               "all the other rows)", "dropped and counted as above; `segkit validate` warns that they look like "
               "totals, with both sums, so nothing is counted twice"),
    "kept": ("returns (negative amounts), exact duplicate rows (equal in every column), future dates",
             "kept and counted (exact duplicates dropped with `drop_duplicates: true`, one copy of each kept)"),
    "lines": ("rows equal in customer, time and amount that differ in another column (two products at one price "
              "on one invoice)", "kept and counted as \"same customer, time and amount\", never dropped as duplicates"),
    "money": ("dropped rows that carry money (no customer id, filtered out, duplicates dropped)",
              "each reason reports rows, customers and net amount with its share of the file's net amount "
              "(`unknown` where the amount cannot be read); the report says how much of it the analysis covers"),
    "nothing": ("nothing usable: every amount 0, only returns, a filter that matches nothing",
                "stops, exit 2, names the file and the column"),
    "customers": ("fewer customers than k-means clusters (a single customer, `k_range` above the customers)",
                  "stops, exit 2, says how many customers bought and names `k_range`"),
    "history": ("too little history for the holdout, `as_of` outside the data, a holdout without purchases (a "
                "mistyped future date), a criterion without its column",
                "stops, exit 2, says which dates the data covers or which column is missing"),
    "config": ("invalid YAML, unknown keys, unsafe or duplicate run names, shares outside (0, 1), negative "
               "months, bad `k_range`", "stops before any work, exit 2, names the key"),
    "yaml": ("YAML tags such as `!!python/object`, a key given twice",
             "refused (YAML is loaded safely), exit 2, names the line"),
    "arguments": ("bad command-line values (`--columns`, `--max-bad-share`, `--jobs`, `--only`)",
                  "stops, exit 2, names the option"),
    "overrides": ("overrides with unknown tiers, empty reasons (also for a prospect: a customer without "
                  "purchases), duplicates", "stops, exit 2, names the lines"),
    "prospects": ("an override for a customer who has not bought yet, with a reason",
                  "kept as a prospect: listed in `assignments.csv` with the override as its segment"),
    "notebook": ("a notebook raises",
                 "that run is not published; its executed notebook goes to `<out>/_failed/<name>/`; other runs "
                 "publish; exit 1"),
    "kernel": ("a notebook's kernel does not start (no reply within 120 s, e.g. its port taken by another process)",
               "started once more (nothing ran yet); a second failure fails that run as above "
               "(`tests/test_cli_outcomes.py`)"),
    "killed": ("a run is killed (even SIGKILL)", "the published report stays byte-identical; the next run cleans up"),
    "lock": ("two runs on one output folder", "the second refuses at once, naming the holder"),
    "policy": ("a `policy` that is not a mapping of tiers, an unknown tier or key, a discount outside 0–100, text "
               "where a number belongs, a capacity that is not a whole number, a missing policy file",
               "stops before any work, exit 2, names the tier and the key"),
    "policy_cost": ("a `policy` on data without a `cost` column",
                    "runs; `actions.csv` is written; margin, net contribution and margin erosion are left out and "
                    "the report says so"),
    "formula": ("text that looks like a spreadsheet formula (`=`, `+`, `-`, `@`) in exported CSV cells",
                "prefixed with `'`"),
}
#: rows proven by a test outside this catalog (file, test function)
ELSEWHERE = {"killed": ("tests/test_cli.py", "test_sigkill_at_any_moment_leaves_the_published_report_intact"),
             "kernel": ("tests/test_cli_outcomes.py", "test_a_kernel_that_did_not_start_is_started_once_more")}


def readme_table() -> str:
    lines = ["| problem | behaviour |", "|---|---|"]
    lines += [f"| {problem} | {behaviour} |" for problem, behaviour in ROWS.values()]
    return "\n".join(lines)


# ====================================================================== the context a case builds in
@dataclasses.dataclass
class Ctx:
    tmp: Path
    small: Path            # a good 150-customer, 18-month file
    ref: pd.DataFrame      # the same rows as pandas read them
    out: Path              # a copy of a published output folder (run cases)
    seg: Path              # a folder holding earlier `segment` files (segment cases)
    notebooks: Path        # the tiny notebooks

    def write(self, name: str, content: str | bytes, encoding: str = "utf-8") -> str:
        path = self.tmp / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return str(path)

    def database(self, name: str = "wh.duckdb") -> str:
        """A DuckDB database file holding the small file as table ``sales``; returns its URL."""
        import duckdb

        path = self.tmp / name
        with duckdb.connect(str(path)) as con:
            con.execute(f"CREATE OR REPLACE TABLE sales AS SELECT * FROM read_csv('{self.small}')")
        return f"duckdb:///{path}"

    def frame(self, frame: pd.DataFrame, name: str, **kw) -> str:
        path = self.tmp / name
        frame.to_csv(path, index=False, **kw)
        return str(path)

    def validate(self, data: str, *args: str) -> list[str]:
        return ["validate", data, *args]

    def segment(self, data: str, *args: str) -> list[str]:
        return ["segment", data, "--out", str(self.seg), "--holdout-months", "3", "--k-range", "2", "3", *args]

    def run(self, run_text: str = "", data: str | None = None, top: str = "", name: str = "small",
            k_range: str = "[2, 3]") -> list[str]:
        config = self.tmp / "reports.yml"
        config.write_text(f"out: {self.out}\n{top}runs:\n  - name: {name}\n    data: {data or self.small}\n"
                          f"    holdout_months: 3\n    k_range: {k_range}\n{run_text}", encoding="utf-8")
        return ["run", str(config), "--notebooks", str(self.notebooks)]

    def config(self, text: str) -> list[str]:
        config = self.tmp / "reports.yml"
        config.write_text(f"out: {self.out}\n{text}", encoding="utf-8")
        return ["run", str(config), "--notebooks", str(self.notebooks)]

    def rows(self, extra: list[tuple]) -> pd.DataFrame:
        add = pd.DataFrame(extra, columns=["customer_id", "date", "amount", "quantity"]).astype(str)
        return pd.concat([self.ref.astype(str), add], ignore_index=True)


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    row: str                                   # key of ROWS
    build: Callable[[Ctx], list[str]]          # makes the input, returns the command line
    code: int
    fragments: tuple[str, ...] = ()            # in the one error message (what and where)
    check: Callable[[Ctx, str], None] | None = None   # exit 0: what was read (gets stdout)
    hold_lock: bool = False


# ====================================================================== checks for accepted input
def _run_json(ctx: Ctx) -> dict:
    return json.loads((ctx.seg / "run.json").read_text(encoding="utf-8"))


def _read_as(ids: list[str] | None = None, scale: float = 1.0, detected: dict | None = None):
    """Exit 0: every row read, ids as written, window-month values equal the reference sums."""
    def check(ctx: Ctx, stdout: str) -> None:
        run = _run_json(ctx)
        assert run["data"]["rows_used"] == len(ctx.ref) and run["data"]["issues"]["rows_dropped"] == 0
        for key, value in (detected or {}).items():
            assert run["data"]["issues"]["detected"][key] == value, run["data"]["issues"]["detected"]
        expected_ids = ids if ids is not None else list(ctx.ref["customer_id"])
        got = pd.read_csv(ctx.seg / "assignments.csv", dtype=str, keep_default_na=False)["customer_id"]
        mapping = dict(zip(ctx.ref["customer_id"], expected_ids))
        assert set(got) <= set(expected_ids) and len(got) > 100
        monthly = pd.read_csv(ctx.seg / "tiers_monthly.csv", dtype={"customer_id": str}, keep_default_na=False)
        ref = ctx.ref.assign(customer_id=ctx.ref["customer_id"].map(mapping),
                             month=pd.to_datetime(ctx.ref["date"]).dt.strftime("%Y-%m"))
        sums = ref.groupby(["customer_id", "month"])["amount"].sum() * scale
        merged = monthly.assign(month=pd.to_datetime(monthly["month"]).dt.strftime("%Y-%m"))
        expect = sums.reindex(pd.MultiIndex.from_frame(merged[["customer_id", "month"]])).to_numpy()
        assert len(merged) > 50
        assert merged["value"].to_numpy() == pytest.approx(expect, rel=1e-5)
    return check


def _issues(rows_used_delta: int, dropped: dict | None = None, kept: dict | None = None, example: str = ""):
    def check(ctx: Ctx, stdout: str) -> None:
        issues = _run_json(ctx)["data"]["issues"]
        assert issues["rows_used"] == len(ctx.ref) + rows_used_delta
        assert issues["rows_read"] == issues["rows_used"] + issues["rows_dropped"]
        for key, n in (dropped or {}).items():
            assert issues["dropped"][key] == n, issues["dropped"]
        for key, n in (kept or {}).items():
            assert issues["kept"][key] == n, issues["kept"]
        assert example in json.dumps(issues["examples"])
    return check


def _money(reason: str, customers, net, coverage: float):
    """Exit 0: run.json gives the reason's customers and net amount, and the share the analysis covers."""
    def check(ctx: Ctx, stdout: str) -> None:
        issues = _run_json(ctx)["data"]["issues"]
        total = float(ctx.ref["amount"].sum())
        detail = issues["dropped_detail"][reason]
        assert (detail["customers"], detail["net_amount"]) == (customers, net), detail
        if net == "unknown":
            assert detail["share_of_net_amount"] == "unknown"
        else:
            assert detail["share_of_net_amount"] == pytest.approx(net / (total + net), abs=1e-6)
        expected = coverage if coverage >= 0 else total / (total + float(net))
        assert issues["coverage"] == pytest.approx(expected, abs=1e-6)
    return check


def _lines(ctx: Ctx, extra_line: str, exact: bool) -> pd.DataFrame:
    """The small file with a product column; row 0 repeated with ``extra_line`` as its product."""
    frame = ctx.ref.astype(str).assign(product="MUG")
    copy = frame.iloc[[0]].assign(product=extra_line if not exact else "MUG")
    return pd.concat([frame, copy], ignore_index=True)


def _validate_shows(*texts: str):
    def check(ctx: Ctx, stdout: str) -> None:
        for t in texts:
            assert t in stdout, (t, stdout)
    return check


def _policy_without_cost(ctx: Ctx, stdout: str) -> None:
    run = _run_json(ctx)
    assert run["parameters"]["policy"]["VIP"] == {"discount_pct": 5, "cost_to_serve_per_month": 40, "max_customers": 3}
    actions = pd.read_csv(ctx.seg / "actions.csv", dtype=str, keep_default_na=False)
    assert list(actions.columns) == ["customer_id", "action", "reason", "due_by", "tier", "stage", "value_at_stake"]
    assert len(actions) > 0
    alerts = pd.read_csv(ctx.seg / "alerts.csv", dtype=str, keep_default_na=False)
    assert "margin_erosion" not in set(alerts["rule"])  # margin erosion needs costs


def _policy_file(ctx: Ctx, text: str) -> str:
    return ctx.write("policy.yml", text)


def _formulas_neutralised(ctx: Ctx, stdout: str) -> None:
    got = pd.read_csv(ctx.seg / "assignments.csv", dtype=str, keep_default_na=False)["customer_id"]
    for raw in ("=1+2", "+33", "-7", "@SUM(A1)"):
        assert "'" + raw in set(got) and raw not in set(got)


# ====================================================================== builders
def _with_ids(ctx: Ctx, fmt: str) -> tuple[pd.DataFrame, list[str]]:
    ids = [fmt.format(c) for c in ctx.ref["customer_id"]]
    return ctx.ref.assign(customer_id=ids), ids


def _latin1(ctx):
    frame, _ = _with_ids(ctx, "{}-José Müller")
    return ctx.segment(ctx.frame(frame, "latin1.csv", encoding="latin-1"))


def _cp1250(ctx):
    frame, _ = _with_ids(ctx, "{}-Žluťoučký kůň, s.r.o.")
    return ctx.segment(ctx.frame(frame, "cp1250.csv", encoding="cp1250", sep=";"))


def _bom(ctx):
    return ctx.segment(ctx.frame(ctx.ref, "bom.csv", encoding="utf-8-sig"))


def _eu_numbers(ctx):
    def eu(x: float) -> str:  # 12345.6 -> '12.345,60'
        return f"{x:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    frame = ctx.ref.assign(amount=(ctx.ref["amount"] * 100).map(eu),
                           date=pd.to_datetime(ctx.ref["date"]).dt.strftime("%d.%m.%Y"))
    return ctx.segment(ctx.frame(frame, "eu.csv", sep=";"))


def _us_thousands(ctx):
    frame = ctx.ref.assign(amount=(ctx.ref["amount"] * 100).map(lambda x: f"${x:,.2f}"))
    return ctx.segment(ctx.frame(frame, "us.csv"))


def _tab(ctx):
    return ctx.segment(ctx.frame(ctx.ref, "tab.tsv", sep="\t"))


def _replace(ctx: Ctx, column: str, value: str, n: int) -> pd.DataFrame:
    frame = ctx.ref.astype(str).copy()
    frame.loc[frame.index[5:5 + n], column] = value
    return frame


def _truncated_gzip(ctx):
    blob = gzip.compress(ctx.small.read_bytes())
    return ctx.segment(ctx.write("cut.csv.gz", blob[: len(blob) // 2]))


def _prospect_listed(ctx: Ctx, out: str) -> None:
    rows = pd.read_csv(ctx.out / "small" / "assignments.csv", dtype=str, keep_default_na=False)
    row = rows.set_index("customer_id").loc["99999"]
    assert (row["override_tier"], row["override_reason"], row["recommended_segment"]) == ("VIP", "market leader", "VIP")
    assert row["percentile_tier"] == "" and row["potential_tier"] == ""


def _overrides(text: str):
    def build(ctx):
        path = ctx.write("overrides.csv", text)
        return ctx.run(f"    overrides: {path}\n")
    return build


def _customers(ctx: Ctx, n: int) -> str:
    keep = sorted(ctx.ref["customer_id"].unique())[:n]
    return ctx.frame(ctx.ref[ctx.ref["customer_id"].isin(keep)], f"first{n}.csv")


HDR = "customer_id,date,amount,quantity\n"

CASES: list[Case] = [
    # ---- the file itself
    Case("missing-file", "file", lambda c: c.validate(str(c.tmp / "nope.csv")), 2, ("does not exist", "nope.csv")),
    Case("missing-file-run", "file", lambda c: c.run(data=str(c.tmp / "gone.csv")), 2,
         ("does not exist", "gone.csv", "key 'data'")),
    Case("empty-file", "file", lambda c: c.validate(c.write("empty.csv", b"")), 2, ("empty (0 bytes)", "empty.csv")),
    # ---- a database instead of a file
    Case("db-without-table", "database", lambda c: c.validate(c.database()), 2, ("needs the table", "wh.duckdb", "--table")),
    Case("db-without-table-run", "database", lambda c: c.run(data=c.database()), 2, ("needs the table", "key 'table'")),
    Case("db-missing-table", "database", lambda c: c.segment(c.database(), "--table", "orders"), 2,
         ("no table 'orders'", "wh.duckdb")),
    Case("db-password", "database", lambda c: c.validate("postgres://ana:s3cret@db.example/finance", "--table", "sales"),
         2, ("contains a password", "postgres://ana:***@db.example/finance", "PGPASSWORD")),
    Case("db-unreachable", "database", lambda c: c.validate(f"duckdb:///{c.tmp}/no/such/dir/wh.duckdb", "--table", "sales"),
         2, ("cannot connect to the database", "no/such/dir")),
    Case("db-unknown-backend", "database", lambda c: c.validate("nosuchdb://host/db", "--table", "sales"), 2,
         ("cannot connect", "nosuchdb://host/db")),
    Case("table-with-a-file", "database", lambda c: c.validate(str(c.small), "--table", "sales"), 2,
         ("applies only", "connection URL")),
    Case("header-only", "file", lambda c: c.validate(c.write("header.csv", HDR)), 2, ("header but no rows", "header.csv")),
    Case("header-only-run", "file", lambda c: c.run(data=c.write("header.csv", HDR)), 2,
         ("run 'small'", "header but no rows", "header.csv")),
    Case("blank-lines", "file", lambda c: c.validate(c.write("blank.csv", "\n\n\n")), 2, ("no header line", "blank.csv")),
    Case("binary-nul", "file", lambda c: c.validate(c.write("bin.csv", bytes(range(256)) * 8)), 2,
         ("binary", "bin.csv")),
    Case("binary-no-nul", "file", lambda c: c.segment(c.write("noise.csv", bytes(range(1, 256)) * 12)), 2,
         ("binary", "noise.csv")),
    Case("truncated-gzip", "file", _truncated_gzip, 2, (".gz file is damaged", "cut.csv.gz")),
    Case("not-gzip", "file", lambda c: c.validate(c.write("plain.csv.gz", HDR + "1,2024-01-01,5,1\n")), 2,
         ("damaged or not gzip", "plain.csv.gz")),
    Case("corrupt-parquet", "file", lambda c: c.validate(c.write("x.parquet", b"PAR1 not really")), 2,
         ("cannot be read as PARQUET", "x.parquet")),
    Case("folder-as-data", "file", lambda c: c.validate(str(c.tmp)), 2, ("is a folder",)),
    # ---- columns and delimiters
    Case("missing-column", "columns", lambda c: c.validate(c.write("nodate.csv", "customer_id,amount\n1,5\n")), 2,
         ("no 'date' column", "nodate.csv", "'customer_id', 'amount'")),
    Case("misnamed-column", "columns",
         lambda c: c.validate(c.write("cust.csv", "CustID,date,amount\n1,2024-01-01,5\n"),
                              "--columns", "customer_id=CustomerID"), 2,
         ("'CustomerID' (mapped to 'customer_id') is not in the file", "cust.csv", "--columns customer_id=CustID")),
    Case("pairs-joined-by-commas", "columns",
         lambda c: c.validate(c.write("kunde.csv", "Kunde,Datum,Betrag\n1,2024-01-01,5\n"),
                              "--columns", "customer_id=Kunde,date=Datum,amount=Betrag"), 2,
         ("several KEY=COLUMN pairs joined by commas", "kunde.csv",
          "--columns customer_id=Kunde date=Datum amount=Betrag")),
    Case("unmapped-column-run", "columns",
         lambda c: c.run(data=c.write("cust2.csv", "cust_id,date,amount\n1,2024-01-01,5\n")), 2,
         ("no 'customer_id' column", "cust2.csv", "customer_id=cust_id")),
    Case("space-delimiter", "delimiter",
         lambda c: c.validate(c.write("space.csv", "customer_id date amount\n1 2024-01-01 5\n")), 2,
         ("read as one column", "comma, semicolon, tab or pipe", "space.csv")),
    Case("colon-delimiter", "delimiter",
         lambda c: c.segment(c.write("colon.csv", "customer_id:date:amount\n1:2024-01-01:5\n")), 2,
         ("read as one column", "colon.csv")),
    # ---- layouts segkit reads
    Case("latin-1", "formats", _latin1, 0,
         check=lambda c, o: _read_as([f"{i}-José Müller" for i in c.ref["customer_id"]])(c, o)),
    Case("cp1250-semicolon", "formats", _cp1250, 0,
         check=lambda c, o: _read_as([f"{i}-Žluťoučký kůň, s.r.o." for i in c.ref["customer_id"]],
                                     detected={"delimiter": "semicolon"})(c, o)),
    Case("utf8-bom", "formats", _bom, 0, check=_read_as(detected={"encoding": "utf-8-sig"})),
    Case("european-decimals", "formats", _eu_numbers, 0,
         check=_read_as(scale=100, detected={"amount_format": "decimal-comma", "date_format": "DD.MM.YYYY"})),
    Case("thousands-and-dollar", "formats", _us_thousands, 0,
         check=_read_as(scale=100, detected={"amount_format": "thousands-comma"})),
    Case("tab-delimiter", "formats", _tab, 0, check=_read_as(detected={"delimiter": "tab"})),
    # ---- unreadable values
    Case("bad-dates-few", "bad_few", lambda c: c.segment(c.frame(_replace(c, "date", "31.02.2024", 3), "bd.csv")), 0,
         check=_issues(-3, dropped={"unparseable_date": 3}, example="31.02.2024")),
    Case("bad-amounts-few", "bad_few", lambda c: c.segment(c.frame(_replace(c, "amount", "n/a", 2), "ba.csv")), 0,
         check=_issues(-2, dropped={"unparseable_amount": 2}, example="n/a")),
    Case("bad-dates-few-validate", "bad_few",
         lambda c: c.validate(c.frame(_replace(c, "date", "2024-13-45", 4), "bdv.csv")), 0,
         check=_validate_shows("Date that cannot be read", "2024-13-45", "rows dropped                4")),
    Case("bad-dates-many", "bad_many", lambda c: c.segment(c.frame(_replace(c, "date", "31.02.2024", 30), "bd2.csv")), 2,
         ("30 of 1,374", "'date' column", "31.02.2024", "max_bad_share", "bd2.csv")),
    Case("bad-amounts-many-run", "bad_many", lambda c: c.run(data=c.frame(_replace(c, "amount", "n/a", 40), "ba2.csv")),
         2, ("run 'small'", "'amount' column", "'n/a'", "ba2.csv")),
    Case("bad-amounts-many-validate", "bad_many",
         lambda c: c.validate(c.frame(_replace(c, "amount", "1,2,3", 20), "ba3.csv"), "--max-bad-share", "0.005"),
         2, ("'amount' column", "'1,2,3'", "max_bad_share 0.5%")),
    # ---- rows dropped or kept
    Case("zero-missing-rows", "dropped",
         lambda c: c.segment(c.frame(c.rows([("00001", "2023-05-03", "0", "1"), ("", "2023-05-03", "5", "1"),
                                              ("00002", "", "5", "1")]), "drop.csv")), 0,
         check=_issues(0, dropped={"zero_amount": 1, "missing_customer_id": 1, "missing_date": 1})),
    Case("totals-row-validate", "totals",
         lambda c: c.validate(c.frame(c.rows([("Total", "", f"{pd.to_numeric(c.ref['amount']).sum():.2f}", "")]),
                                      "totals.csv")), 0,
         check=_validate_shows("Missing date", "customer Total", "dropped row without a date holds",
                               "it looks like a spreadsheet's totals row")),
    Case("returns-and-duplicates", "kept",
         lambda c: c.segment(c.frame(c.rows([("00001", "2023-05-03", "-5", "1"), tuple(c.ref.astype(str).iloc[0]),
                                              tuple(c.ref.astype(str).iloc[1])]), "kept2.csv")), 0,
         check=_issues(3, kept={"returns": 1, "exact_duplicates": 2}, example="-5")),
    Case("drop-duplicates", "kept",
         lambda c: c.segment(c.frame(c.rows([tuple(c.ref.astype(str).iloc[0])]), "dd.csv"), "--drop-duplicates"), 0,
         check=_issues(0, dropped={"duplicates_dropped": 1})),
    Case("product-lines-drop-duplicates", "lines",
         lambda c: c.segment(c.frame(_lines(c, "CUP", exact=False), "lines.csv"), "--drop-duplicates"), 0,
         check=_issues(1, dropped={"duplicates_dropped": 0}, kept={"same_customer_time_amount": 1})),
    Case("product-lines-validate", "lines",
         lambda c: c.validate(c.frame(_lines(c, "CUP", exact=False), "lines2.csv")), 0,
         check=_validate_shows("Same customer, time and amount (kept)", "2 different rows")),
    Case("true-duplicate-with-product", "kept",
         lambda c: c.segment(c.frame(_lines(c, "", exact=True), "dup.csv"), "--drop-duplicates"), 0,
         check=_issues(0, dropped={"duplicates_dropped": 1}, kept={"same_customer_time_amount": 0})),
    Case("money-without-customer-id", "money",
         lambda c: c.segment(c.frame(c.rows([("", "2023-05-03", "150.25", "1"), ("", "2023-06-03", "49.75", "1")]),
                                     "noid.csv")), 0,
         check=_money("missing_customer_id", "unknown", 200.0, -1)),
    Case("money-unreadable-amount", "money",
         lambda c: c.segment(c.frame(_replace(c, "amount", "n/a", 1), "na.csv")), 0,
         check=_money("unparseable_amount", 1, "unknown", 1.0)),   # unreadable money is not in the total either
    Case("money-validate", "money",
         lambda c: c.validate(c.frame(c.rows([("", "2023-05-03", "150.25", "1")]), "noid2.csv")), 0,
         check=_validate_shows("net amount read", "net amount used", "of the net amount read", "150.25", "unknown")),
    Case("future-dates-validate", "kept",
         lambda c: c.validate(c.write("future.csv", HDR + "1,2024-01-01,5,1\n2,2099-01-01,5,1\n")), 0,
         check=_validate_shows("Date after today", "2099-01-01", "rows used                   2")),
    # ---- nothing usable
    Case("all-zero", "nothing", lambda c: c.validate(c.frame(c.ref.assign(amount=0), "zero.csv")), 2,
         ("no usable rows", "zero.csv")),
    Case("all-returns", "nothing", lambda c: c.segment(c.frame(c.ref.assign(amount=-c.ref["amount"]), "ret.csv")), 2,
         ("no customer has a purchase", "ret.csv", "column 'amount'")),
    Case("filter-matches-nothing", "nothing",
         lambda c: c.validate(c.frame(c.ref.assign(region="EU"), "reg.csv"), "--filter", "region=APAC"), 2,
         ("no rows match the filter", "reg.csv", "region")),
    # ---- too few customers
    Case("single-customer", "customers", lambda c: c.segment(_customers(c, 1)), 2,
         ("only 1 customer(s)", "first1.csv", "k_range")),
    Case("k-above-customers-run", "customers", lambda c: c.run(data=_customers(c, 5), k_range="[6, 8]"),
         2, ("only 5 customer(s)", "k_range starts at", "first5.csv")),
    # ---- periods
    Case("holdout-too-long", "history", lambda c: c.segment(str(c.small), "--holdout-months", "18"), 2,
         ("covers 18 month(s)", "holdout_months", "small.csv")),
    Case("as-of-before-data", "history", lambda c: c.segment(str(c.small), "--as-of", "2019-12-31"), 2,
         ("before the first transaction", "'as_of'", "small.csv")),
    Case("as-of-after-data-run", "history", lambda c: c.run("    as_of: 2030-01-01\n"), 2,
         ("run 'small'", "leaves no data after it", "as_of")),
    Case("as-of-leaves-short-holdout", "history", lambda c: c.segment(str(c.small), "--as-of", "2024-05-01"), 2,
         ("runs past the end of the data", "as_of / holdout_months")),
    Case("future-typo-empties-holdout", "history",
         lambda c: c.segment(c.frame(c.rows([("00003", "2099-01-15", "5", "1")]), "typo.csv")), 2,
         ("no purchase in the holdout", "2099-01-15", "typo.csv")),
    Case("margin-without-cost", "history", lambda c: c.segment(str(c.small), "--criterion", "margin"), 2,
         ("needs a 'cost' column", "small.csv")),
    # ---- the config
    Case("invalid-yaml", "config", lambda c: c.config("runs: [\n"), 2, ("not valid YAML", "reports.yml, line")),
    Case("unknown-key", "config", lambda c: c.run("    colour: red\n"), 2, ("unknown parameter(s) 'colour'", "runs[1]")),
    Case("unknown-top-key", "config", lambda c: c.run(top="jobs: 2\n"), 2, ("unknown top-level key(s) 'jobs'",)),
    Case("unsafe-name", "config", lambda c: c.run(name="../escape"), 2, ("'../escape' is not allowed", "key 'name'")),
    Case("unsafe-name-segment", "config", lambda c: c.segment(str(c.small), "--name", "/etc/x"), 2,
         ("'/etc/x' is not allowed", "key 'name'")),
    Case("duplicate-name", "config",
         lambda c: c.config(f"runs:\n  - {{name: a, data: {c.small}}}\n  - {{name: a, data: {c.small}}}\n"), 2,
         ("'a' is used twice", "runs[2]")),
    Case("vip-share-above-1", "config", lambda c: c.run("    vip_share: 1.5\n"), 2, ("vip_share", "strictly between 0 and 1")),
    Case("good-share-zero", "config", lambda c: c.segment(str(c.small), "--good-share", "0"), 2,
         ("good_share", "strictly between 0 and 1")),
    Case("max-bad-share-above-1", "config", lambda c: c.run("    max_bad_share: 1.5\n"), 2, ("max_bad_share",)),
    Case("negative-holdout", "config", lambda c: c.run("    holdout_months: -1\n"), 2, ("holdout_months",)),
    Case("negative-window-segment", "config", lambda c: c.segment(str(c.small), "--window-months", "-6"), 2,
         ("window_months", "from 1 to 120")),
    Case("k-range-reversed", "config", lambda c: c.run(k_range="[8, 2]"), 2, ("k_range", "low <= high")),
    Case("bad-date-in-config", "config", lambda c: c.run("    as_of: 2024-02-30\n"), 2, ("'2024-02-30' is not a date", "as_of")),
    # ---- YAML safety
    Case("python-object-tag", "yaml",
         lambda c: c.config(f"runs:\n  - name: a\n    data: !!python/object/apply:os.system ['touch {c.tmp}/pwned']\n"),
         2, ("YAML tag", "python/object/apply", "line 4")),
    # ctx.run writes holdout_months: 3 already
    Case("duplicate-key", "yaml", lambda c: c.run("    holdout_months: 4\n"), 2, ("'holdout_months' twice", "line 7")),
    # ---- arguments
    Case("bad-columns-arg", "arguments", lambda c: c.validate(str(c.small), "--columns", "customer_id"), 2,
         ("--columns expects KEY=COLUMN",)),
    Case("bad-max-bad-share-arg", "arguments", lambda c: c.validate(str(c.small), "--max-bad-share", "2"), 2,
         ("--max-bad-share",)),
    Case("jobs-zero", "arguments", lambda c: c.run() + ["--jobs", "0"], 2, ("--jobs must be at least 1",)),
    Case("only-unknown-run", "arguments", lambda c: c.run() + ["--only", "nosuch"], 2, ("no run named 'nosuch'",)),
    # ---- overrides
    Case("overrides-prospect-without-reason", "overrides", _overrides("customer_id,tier,reason\n99999,VIP,\n"), 2,
         ("empty reason on line(s) 2 (a prospect: a customer without purchases)", "overrides.csv")),
    Case("overrides-reasonless-known-customer", "overrides",
         _overrides("customer_id,tier,reason\n00001,GOOD,partner\n00002,VIP, \n"), 2,
         ("empty reason on line(s) 3", "overrides.csv")),
    Case("overrides-prospect-unknown-tier", "overrides", _overrides("customer_id,tier,reason\nLEADER,GOLD,ref\n"), 2,
         ("unknown tier(s) 'GOLD' (line 2)", "overrides.csv")),
    Case("overrides-prospect", "prospects", _overrides("customer_id,tier,reason\n99999,VIP,market leader\n"), 0,
         check=_prospect_listed),
    Case("overrides-unknown-tier", "overrides", _overrides("customer_id,tier,reason\n00001,PLATINUM,strategic\n"), 2,
         ("unknown tier(s) 'PLATINUM' (line 2)", "overrides.csv")),
    Case("overrides-empty-reason", "overrides", _overrides("customer_id,tier,reason\n00001,VIP,\n"), 2,
         ("empty reason on line(s) 2",)),
    Case("overrides-duplicate", "overrides", _overrides("customer_id,tier,reason\n00001,VIP,a\n00001,GOOD,b\n"), 2,
         ("listed twice: 00001",)),
    Case("overrides-missing-file", "overrides", lambda c: c.run(f"    overrides: {c.tmp / 'none.csv'}\n"), 2,
         ("overrides file", "none.csv", "does not exist")),
    # ---- the tier policy
    Case("policy-not-a-mapping", "policy", lambda c: c.run("    policy: [VIP, GOOD]\n"), 2,
         ("`policy` must map tiers to their settings", "run 'small'", "key 'policy'")),
    Case("policy-unknown-tier", "policy", lambda c: c.run("    policy: {PLATINUM: {discount_pct: 5}}\n"), 2,
         ("unknown tier(s) 'PLATINUM'", "key 'policy'")),
    Case("policy-unknown-key", "policy", lambda c: c.run("    policy: {VIP: {rebate: 5}}\n"), 2,
         ("unknown policy key(s) 'rebate'", "tier 'VIP'")),
    Case("policy-discount-out-of-range", "policy", lambda c: c.run("    policy: {VIP: {discount_pct: 120}}\n"), 2,
         ("discount_pct must be a number from 0 to 100, got 120", "tier 'VIP'", "key 'discount_pct'")),
    Case("policy-negative-cost", "policy", lambda c: c.run("    policy: {GOOD: {cost_to_serve_per_month: -8}}\n"),
         2, ("cost_to_serve_per_month must be a number 0 or more", "tier 'GOOD'")),
    Case("policy-text-for-number", "policy", lambda c: c.run("    policy: {VIP: {discount_pct: five}}\n"), 2,
         ("discount_pct must be a number", "'five'", "tier 'VIP'")),
    Case("policy-capacity-not-integer", "policy", lambda c: c.run("    policy: {VIP: {max_customers: 2.5}}\n"), 2,
         ("max_customers must be a positive whole number, got 2.5", "tier 'VIP'")),
    Case("policy-managers-without-size", "policy", lambda c: c.run("    policy: {VIP: {managers: 2}}\n"), 2,
         ("capacity needs both customers_per_manager and managers", "tier 'VIP'")),
    Case("policy-unknown-relationship", "policy",
         lambda c: c.run("    policy: {VIP: {relationship: best friends}}\n"), 2,
         ("unknown relationship type 'best friends'", "tier 'VIP'")),
    Case("policy-file-missing", "policy", lambda c: c.segment(str(c.small), "--policy", str(c.tmp / "none.yml")), 2,
         ("policy file", "none.yml", "does not exist")),
    Case("policy-file-bad-tier", "policy",
         lambda c: c.segment(str(c.small), "--policy", _policy_file(c, "policy:\n  GOLD: {discount_pct: 3}\n")), 2,
         ("unknown tier(s) 'GOLD'", "policy.yml")),
    Case("policy-without-cost-column", "policy_cost",
         lambda c: c.segment(str(c.small), "--policy", _policy_file(
             c, "VIP: {discount_pct: 5, cost_to_serve_per_month: 40, max_customers: 3}\n")), 0,
         check=_policy_without_cost),
    # ---- execution and concurrency
    Case("notebook-raises", "notebook",
         lambda c: c.run()[:-1] + [str(tiny_notebooks(c.tmp / "broken", broken=True))], 1,
         ("run 'small'", "01_tiny", "planted failure", "last good report stays published")),
    Case("second-run-locked", "lock", lambda c: c.run(), 2, ("another segkit run", f"pid {os.getpid()}"),
         hold_lock=True),
    # ---- spreadsheet formulas
    Case("formula-ids", "formula",
         lambda c: c.segment(c.frame(c.ref.assign(customer_id=c.ref["customer_id"].replace(
             {"00001": "=1+2", "00002": "+33", "00003": "-7", "00004": "@SUM(A1)"})), "formula.csv")), 0,
         check=_formulas_neutralised),
]


# ====================================================================== the published folder
@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A previously published output folder (tiny notebooks), copied for each case."""
    root = tmp_path_factory.mktemp("published")
    small = small_csv(root / "small.csv")
    nbs = tiny_notebooks(root / "nb")
    config = root / "reports.yml"
    config.write_text(f"out: {root / 'out'}\nruns:\n  - name: small\n    data: {small}\n    holdout_months: 3\n"
                      "    k_range: [2, 3]\n")
    assert main(["run", str(config), "--notebooks", str(nbs)]) == 0
    return root


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.slow  # ~70 s for the whole catalog on one core, per reader
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("reader", ["typed", "text"])
def test_bad_input(case: Case, reader: str, published: Path, tmp_path: Path, capsys, monkeypatch):
    # every case on both paths of the loader: DuckDB's typed reader where a file is clean enough for
    # it (the default), and segkit's text parser alone (the switch turns the fast path off)
    monkeypatch.setenv(TYPED_READER_ENV, "1" if reader == "typed" else "0")
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(published / "small.csv", data / "small.csv")
    out = tmp_path / "out"
    shutil.copytree(published / "out", out, symlinks=True)
    seg = tmp_path / "seg"
    seg.mkdir()
    for name in ("assignments.csv", "tiers_monthly.csv", "alerts.csv", "scorecard.json", "run.json"):
        (seg / name).write_text(f"earlier {name}\n")
    ctx = Ctx(tmp=data, small=data / "small.csv", ref=pd.read_csv(data / "small.csv", dtype={"customer_id": str}),
              out=out, seg=seg, notebooks=published / "nb")
    argv = case.build(ctx)
    before_run, before_seg, before_data = snapshot(out / "small"), snapshot(seg), snapshot(data)
    before_top = _listing(out)
    capsys.readouterr()
    if case.hold_lock:
        with OutputFolder(out).locked():
            code = main(argv)
    else:
        code = main(argv)
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err and "Traceback" not in captured.out
    assert code == case.code, err
    assert snapshot(data) == before_data, "the input was modified"
    if case.code == 0:
        assert "error:" not in err
        assert case.check is not None
        case.check(ctx, captured.out)
        return
    assert err.count("error:") == 1, err
    message = err[err.index("error:"):]
    for fragment in case.fragments:
        assert fragment in message, (fragment, message)
    if case.code == 2:
        assert "Where:" in message and "Fix:" in message
    # nothing published or changed
    assert snapshot(out / "small") == before_run
    assert snapshot(seg) == before_seg and _listing(seg) == sorted(before_seg)
    allowed_new = {"_failed"} if case.row == "notebook" else set()
    assert set(_listing(out)) - set(before_top) <= allowed_new
    assert not list(out.glob(".staging/*")), "a staging folder was left behind"
    assert not (data / "pwned").exists()
    if argv[0] == "run" and (out / "index.json").exists():
        index = json.loads((out / "index.json").read_text())
        status = index["runs"].get("small", {}).get("status")
        assert status in ("published", "bad-input", "failed")
        if status != "published":
            assert index["runs"]["small"]["last_published"]["sha256"]  # still points at the good report


def test_the_catalog_is_large_and_covers_every_readme_row():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.row for c in CASES} <= set(ROWS)
    for row in ROWS:
        covered = [c.id for c in CASES if c.row == row]
        if not covered:
            file, test = ELSEWHERE[row]
            assert f"def {test}(" in (PROJECT_ROOT / file).read_text(), (row, file, test)
    user_mistakes = [c for c in CASES if c.code == 2]
    assert len(user_mistakes) >= 30 and all(c.fragments for c in user_mistakes)


def test_readme_table_is_the_catalog():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What segkit does with bad input", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(ln for ln in section.splitlines() if ln.startswith("|"))
    assert table == readme_table(), "README table differs: paste the output of `python -m tests.test_bad_input`"


if __name__ == "__main__":  # print the README table
    print(readme_table())
