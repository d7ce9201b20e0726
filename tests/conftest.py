"""Shared fixtures: the bundled CDNOW data loaded once, a published CDNOW run, small CSV builders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("MPLBACKEND", "Agg")

# Property tests draw the same examples on every run (a red CI is a fact about the code, not luck);
# SEGKIT_HYPOTHESIS=explore draws fresh random examples on each run, to hunt for new failures.
# No deadline: a property test checks values, not speed (benchmarks measure that); the default 0.2 s
# per example failed two of them on a busy machine (0.25 and 0.35 s, then 4 and 15 ms on the retry).
settings.register_profile("fixed", derandomize=True, database=None, print_blob=True, deadline=None)
settings.register_profile("explore", derandomize=False, print_blob=True, deadline=None)
settings.load_profile(os.environ.get("SEGKIT_HYPOTHESIS", "fixed"))

from segkit.config import CDNOW_PATH, PROJECT_ROOT  # noqa: E402


@pytest.fixture(scope="session")
def cdnow_tx():
    from segkit.data import load_transactions

    return load_transactions(CDNOW_PATH)


@pytest.fixture(scope="session")
def cdnow_analysis():
    from segkit.config import RunParams
    from segkit.pipeline import analyze

    return analyze(RunParams.from_mapping({"name": "cdnow-test", "data": str(CDNOW_PATH)}), n_boot=200)


@pytest.fixture(scope="session")
def published_run(tmp_path_factory):
    """`segkit run` on CDNOW with every notebook, published into a temporary folder (once per worker)."""
    from segkit.cli import main

    root = tmp_path_factory.mktemp("published")
    config = root / "reports.yml"
    config.write_text(
        "out: out\nruns:\n"
        f"  - name: cdnow-revenue\n    data: {CDNOW_PATH}\n    strategy: working-capital\n"
        f"    overrides: {root / 'overrides.csv'}\n    title: 'CDNOW <b>test</b> report'\n"
    )
    (root / "overrides.csv").write_text("customer_id,tier,reason\n00042,VIP,reference customer <script>x</script>\n"
                                        "REF01,VIP,market leader: a reference before its first order\n")
    assert main(["run", str(config)]) == 0
    return root / "out" / "cdnow-revenue"


@pytest.fixture()
def write_csv(tmp_path):
    """Write text to a CSV file in tmp_path and return its path."""
    def _write(text: str, name: str = "tx.csv", encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path
    return _write


@pytest.fixture(scope="session")
def postgres_server():
    """A throw-away PostgreSQL server (tests/pg_server.py) for the session; skipped, with the reason, where
    none can be started (no server binaries, no psycopg driver)."""
    pytest.importorskip("psycopg", reason="the PostgreSQL tests need psycopg: pip install -e '.[dev]'")
    from tests.pg_server import Unavailable, start

    try:
        server = start()
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL server can be started here: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cdnow_postgres(postgres_server):
    """The bundled CDNOW file as a finance team's PostgreSQL table (``CustomerNo text, InvoiceDate date,
    Qty integer, NetValue numeric``), loaded once: call it to open the table as segkit transactions
    (close them after use)."""
    server = postgres_server
    server.create_database("cdnow_engine")
    server.load_csv("cdnow_engine", "sales", '"CustomerNo" text, "InvoiceDate" date, "Qty" integer, '
                    '"NetValue" numeric', CDNOW_PATH)
    columns = {"customer_id": "CustomerNo", "date": "InvoiceDate", "quantity": "Qty", "amount": "NetValue"}

    def open_sales():
        from segkit.data import load_transactions

        os.environ["PGPASSWORD"] = server.password  # the URL carries no password, as a user's would not
        return load_transactions(server.url("cdnow_engine"), columns, table="sales")

    yield open_sales
    os.environ.pop("PGPASSWORD", None)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


__all__ = ["PROJECT_ROOT", "chromium_path"]
