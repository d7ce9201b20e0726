"""A throw-away PostgreSQL server for the tests: a fresh cluster on a free local port, removed at the end.

The server is the distribution's own (Debian/Ubuntu ``postgresql-NN``: ``/usr/lib/postgresql/NN/bin``,
installed by ``make test`` when it runs as root), or the one in ``SEGKIT_PG_BINDIR``, or ``initdb`` on
the PATH (Homebrew, Postgres.app). PostgreSQL refuses to run as root, so as root the cluster belongs to
the ``postgres`` system user (``nobody`` where there is none) and every server command runs through
``runuser``. Clients connect over TCP on 127.0.0.1 with a password (scram-sha-256), as an analyst
would; fsync is off, since the data lives only as long as the test session.

:func:`start` raises :class:`Unavailable` with the reason when any of this cannot be done; the
fixture in ``tests/conftest.py`` turns that into a skip.
"""

from __future__ import annotations

import dataclasses
import glob
import gzip
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PostgresServer", "Unavailable", "find_bindir", "start"]

USER = "segkit"


class Unavailable(Exception):
    """No PostgreSQL server can be started here; the message says why."""


def find_bindir() -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres`` (the newest Debian version first)."""
    candidates = [os.environ.get("SEGKIT_PG_BINDIR", "")]
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versions, key=lambda p: int(re.sub(r"\D", "", Path(p).parent.name) or 0), reverse=True)
    on_path = shutil.which("initdb")
    candidates.append(str(Path(on_path).resolve().parent) if on_path else "")
    for folder in filter(None, candidates):
        if all((Path(folder) / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    raise Unavailable("no PostgreSQL server binaries (initdb, pg_ctl): install postgresql-15 (`make test` does "
                      "as root on Debian/Ubuntu) or set SEGKIT_PG_BINDIR")


def _run_as() -> tuple[list[str], pwd.struct_passwd | None]:
    """(command prefix, account) for the server commands: empty prefix unless we are root."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return ["runuser", "-u", name, "--"], account
        raise Unavailable("running as root and `runuser` is missing: PostgreSQL refuses to run as root")
    raise Unavailable("running as root without a `postgres` or `nobody` account to run PostgreSQL as")


def free_port() -> int:
    """A TCP port nothing listens on at the moment (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class PostgresServer:
    """A running throw-away cluster: connect as :data:`USER` with :attr:`password` on 127.0.0.1:``port``."""

    bindir: Path
    root: Path
    port: int
    password: str
    prefix: list[str]

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        """The connection URL segkit is given (no password: the driver reads ``PGPASSWORD``)."""
        return f"postgres://{USER}@127.0.0.1:{self.port}/{database}"

    def env(self, password: str | None = None) -> dict[str, str]:
        """The environment for a client process: ``PGPASSWORD`` set (to ``password`` when given)."""
        return {**os.environ, "PGPASSWORD": self.password if password is None else password}

    def connect(self, database: str = "postgres"):  # noqa: ANN201 - psycopg is imported lazily
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=USER, password=self.password,
                               dbname=database, autocommit=True)

    def create_database(self, name: str) -> None:
        with self.connect() as con:
            con.execute(f'CREATE DATABASE "{name}"')

    def load_csv(self, database: str, table: str, ddl: str, path: Path, delimiter: str = ",") -> int:
        """``CREATE TABLE table (ddl)`` and fill it from the CSV ``path`` (header line, .gz allowed) with COPY."""
        opener = gzip.open if path.suffix == ".gz" else open
        with self.connect(database) as con, con.cursor() as cur:
            cur.execute(f'CREATE TABLE "{table}" ({ddl})')
            with opener(path, "rb") as fh, cur.copy(
                    f"COPY \"{table}\" FROM STDIN WITH (FORMAT csv, HEADER true, DELIMITER '{delimiter}')") as cp:
                while block := fh.read(1 << 20):
                    cp.write(block)
            cur.execute(f'SELECT count(*) FROM "{table}"')
            return int(cur.fetchone()[0])

    def stop(self) -> None:
        subprocess.run([*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                        "stop"], capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _call(cmd: list[str], what: str, log: Path | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode:
        tail = (log.read_text(errors="replace") if log and log.exists() else proc.stderr or proc.stdout)
        raise Unavailable(f"{what} failed (exit {proc.returncode}): {' '.join(tail.strip().splitlines()[-3:])}")


def start(attempts: int = 3) -> PostgresServer:
    """Create a cluster in a fresh temporary folder and start it on a free port (a few tries on a port race)."""
    bindir = find_bindir()
    prefix, account = _run_as()
    # not under pytest's tmp_path: that folder is private to root, and the server runs as another user
    root = Path(tempfile.mkdtemp(prefix="segkit-pg-"))
    if account is not None:
        os.chown(root, account.pw_uid, account.pw_gid)
    password = secrets.token_hex(12)
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    if account is not None:
        os.chown(pwfile, account.pw_uid, account.pw_gid)
    server = PostgresServer(bindir, root, 0, password, prefix)
    try:
        _call([*prefix, str(bindir / "initdb"), "-D", str(server.data), "-U", USER, f"--pwfile={pwfile}",
               "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"],
              "initdb")
        for attempt in range(attempts):
            server.port = free_port()
            options = (f"-p {server.port} -k {shlex.quote(str(root))} -c listen_addresses=127.0.0.1 "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            log = root / f"server-{attempt}.log"
            try:
                _call([*prefix, str(bindir / "pg_ctl"), "-D", str(server.data), "-l", str(log), "-o", options,
                       "-w", "-t", "60", "start"], "pg_ctl start", log)
                return server
            except Unavailable:
                if attempt == attempts - 1:
                    raise
    except BaseException:
        server.stop()
        raise
    raise AssertionError("unreachable")  # pragma: no cover
