"""A throwaway PostgreSQL server for the tests, from the machine's own binaries.

initdb into a private temporary folder, a unix socket in that folder (no TCP port, nothing beyond
this machine), trust authentication for the one role, fsync off: a test server, started once per
test session (per xdist worker) and stopped at its end. PostgreSQL refuses to run as root, so as
root (CI) the server runs as the `postgres` system user, or as `nobody` when there is none, in a
folder that user owns.

Tests for PostgreSQL skip when the binaries are missing on a developer's machine and fail when
`CI` is set (`.ci/run` installs them): the suite never goes green on CI by skipping them.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROLE = "mentiondesk"
PASSWORD_ROLE = "md_password"  # the one role that must give a password (scram), for the secrets tests
_START_SECONDS = 60


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's versioned folder (newest first)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if Path(folder, "initdb").exists() and Path(folder, "pg_ctl").exists():
            return Path(folder)
    return None


def _version_key(folder: str) -> int:
    name = Path(folder).parent.name
    return int(name) if name.isdigit() else 0


def require_binaries() -> Path:
    folder = binaries()
    if folder is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run the PostgreSQL tests, not skip them)")
        pytest.skip(message)
    return folder


def _server_user() -> pwd.struct_passwd | None:
    """Who runs the server: ourselves, unless we are root (postgres will not run as root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root with neither a 'postgres' nor a 'nobody' user to run the test server")


@dataclass
class Server:
    """A running test server; `url()` names a database on it."""

    folder: Path
    bindir: Path
    user: pwd.struct_passwd | None
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def socket_dir(self) -> Path:
        return self.folder

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{ROLE}@/{database}?host={self.socket_dir}"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        kwargs: dict = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        return subprocess.run(list(args), capture_output=True, text=True, check=False, cwd=self.folder,
                              timeout=_START_SECONDS, **kwargs)

    def start(self) -> None:
        data = self.folder / "data"
        done = self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust",
                         "-E", "UTF8", "--no-locale", "--no-sync")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
        hba = data / "pg_hba.conf"
        hba.write_text(f"local all {PASSWORD_ROLE} scram-sha-256\n" + hba.read_text())  # first match wins
        options = (f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=200")
        done = self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.folder / "server.log"),
                         "-o", options, "-w", "-t", str(_START_SECONDS), "start")
        if done.returncode != 0:
            log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()}\n{log}")

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")

    def fresh_database(self, template: str | None = None) -> str:
        """A new, empty database (or a copy of `template`); returns its URL."""
        import psycopg

        name = f"desk_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            clause = f" TEMPLATE {template}" if template else ""
            conn.execute(f"CREATE DATABASE {name}{clause}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = database_of(url)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class ReusedDesk:
    """One migrated database reused by every test of a session, emptied back to its migrated state.

    CREATE DATABASE ... TEMPLATE costs 0.1-0.3 s a test; emptying ~30 tables in one TRUNCATE and
    putting back the rows the migrations wrote costs a few milliseconds.
    """

    def __init__(self, server: Server):
        import psycopg

        from store.db import open_store

        self.url = server.fresh_database()
        open_store(self.url).close()
        self.admin = psycopg.connect(self.url, autocommit=True)
        self.tables = [row[0] for row in self.admin.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")]
        self.seed = {table: self.admin.execute(f"SELECT * FROM {table}").fetchall() for table in self.tables}

    def reset(self) -> str:
        """Cut off every other session on the desk, empty it, put the migrations' rows back."""
        conn = self.admin
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid != pg_backend_pid()")
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")  # no triggers: the event log's guard
            conn.execute(f"TRUNCATE {', '.join(self.tables)} RESTART IDENTITY")
            for table, rows in self.seed.items():
                if rows:
                    marks = ", ".join(["%s"] * len(rows[0]))
                    conn.cursor().executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        return self.url

    def close(self) -> None:
        self.admin.close()


def database_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path.lstrip("/")


def start_server() -> Server:
    bindir = require_binaries()
    user = _server_user()
    # Not under pytest's tmp_path: as root that folder is 0700 root, which the server's user cannot enter.
    folder = Path(tempfile.mkdtemp(prefix="mentiondesk-pg-"))
    if user is not None:
        os.chown(folder, user.pw_uid, user.pw_gid)
    server = Server(folder, bindir, user)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return server


def stop_server(server: Server) -> None:
    try:
        server.stop()
    finally:
        shutil.rmtree(server.folder, ignore_errors=True)
