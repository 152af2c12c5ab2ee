"""Opening the database safely: checks first, then WAL, pragmas, migrations.

A file that is corrupt, not ours, or from a newer mentiondesk is refused
with one clear line *before* anything writes to it (enabling WAL or
migrating would modify it).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from store import files
from store.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 5000
CACHE_KIB = 16 * 1024
# After a checkpoint restarts the WAL, SQLite cuts the file back to this: a storm's WAL does not
# stay at its high-water mark for ever (the leader's checkpoints restart it: store.maintenance).
JOURNAL_LIMIT_BYTES = 16 * 1024 * 1024


class StoreError(Exception):
    """A problem with the database file, worded for the operator (one line)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def inserted_id(cursor: sqlite3.Cursor) -> int:
    """The rowid an INSERT just made (sqlite3 types it Optional for other statements)."""
    if cursor.lastrowid is None:
        raise sqlite3.InterfaceError("no row was inserted")
    return cursor.lastrowid


class Store:
    """One connection to the database, for the thread that opened it."""

    def __init__(self, conn: sqlite3.Connection, path: str, clock: Callable[[], datetime]):
        self.conn = conn
        self._db = None
        self._depth = 0  # open SAVEPOINTs inside the current write
        self.path = path
        self.clock = clock
        # For the few store modules that must do a thing differently (never above store/).
        self.backend = "sqlite" if isinstance(conn, sqlite3.Connection) else "postgresql"

    def rows(self, sql: str, params: tuple | list | dict = ()) -> list[dict]:
        """The rows of a query as dicts (column name -> value), on either database."""
        cursor = self.conn.execute(sql, params)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    @property
    def db(self):
        """sqlite-utils on this connection, for reads that want rows as dicts.

        Imported on first use: it costs ~0.14 s, a third of the console's cold
        start, and the hot paths (ingest, inbox, search) use the connection.
        """
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    def now(self) -> str:
        return iso(self.clock())

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction, taken eagerly so it cannot deadlock; nests.

        BEGIN IMMEDIATE waits (busy_timeout) for other writers up front; a
        still-busy database is retried with backoff instead of surfacing
        "database is locked" to an operator. Inside an open transaction it is
        a SAVEPOINT: an error undoes only the inner block, and nothing is
        committed before the outermost block ends.
        """
        if self.conn.in_transaction:
            yield from self._savepoint()
            return
        delay = 0.02
        for attempt in range(12):
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or attempt == 11:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            yield self.conn
        except BaseException:
            # SQLite may already have rolled back (disk full, interrupt): keep the real error.
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def _savepoint(self) -> Iterator[sqlite3.Connection]:
        self._depth += 1
        name = f"write_{self._depth}"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
            raise
        else:
            self.conn.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    def close(self) -> None:
        self.conn.close()


def _readonly_check(path: Path) -> None:
    """Refuse a file we must not touch, without writing to it."""
    # Never open() the file ourselves: closing that descriptor would drop every POSIX lock
    # this process's SQLite connections hold on it, and another process would then delete
    # the WAL under them. SQLite shares its own descriptors safely, so only it reads the file.
    if path.is_dir():
        raise StoreError(f"database path {path} is a directory")
    if not os.access(path, os.R_OK):
        raise StoreError(f"cannot read database {path}: permission denied")
    if path.stat().st_size == 0:
        return  # an empty file is a new database
    # immutable=1 stops the check from creating -wal/-shm beside a file we may refuse;
    # with a live -wal the pages there matter, so read through it normally.
    immutable = "" if Path(f"{path}-wal").exists() else "&immutable=1"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro{immutable}", uri=True)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise StoreError(f"{path} is not a mentiondesk database (not an SQLite file, or corrupt)") from None
        raise StoreError(f"{path} is corrupt or unreadable: {exc}") from None
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer mentiondesk (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); upgrade mentiondesk to open it"
        )
    if version == 0 and tables:
        raise StoreError(f"{path} is an SQLite database but not a mentiondesk one; refusing to change it")
    if version > 0 and "mentions" not in tables:
        raise StoreError(f"{path} is not a mentiondesk database (schema {version} without mentions)")


class NotWritable(StoreError):
    """A desk file this user may not write (the message names it and the fix); reading may still work."""


def _prepare_files(path: Path) -> None:
    """The folder (private when we make it), every desk file writable, a new file with the right mode."""
    try:
        files.make_folder(path.parent)
    except files.DeskFileError as exc:
        raise StoreError(str(exc)) from None
    try:
        files.check_writable(path)
    except files.DeskFileError as exc:
        raise NotWritable(str(exc)) from None
    try:
        files.create_database_file(path)
    except files.DeskFileError as exc:
        raise StoreError(str(exc)) from None


def _migrate(conn: sqlite3.Connection) -> None:
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while we waited for the lock.
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        for version in range(current, SCHEMA_VERSION):
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _statements(script: str) -> Iterator[str]:
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""


def open_store(
    path: str | os.PathLike[str],
    *,
    clock: Callable[[], datetime] = utc_now,
    readonly: bool = False,
    cache_kib: int = CACHE_KIB,
) -> Store:
    """Open (creating and migrating as needed) the database at `path`; `cache_kib` of page cache.

    A `postgresql://` URL opens a desk on a PostgreSQL server instead (store/pg_open.py).
    """
    from store.pg_open import is_url

    if is_url(path):
        from store.pg_open import open_pg_store

        return open_pg_store(str(path), clock=clock, readonly=readonly)
    target = Path(path).expanduser()
    try:
        files.check_path(target)
    except files.DeskFileError as exc:
        raise StoreError(str(exc)) from None
    _readonly_check(target) if target.exists() else None
    if readonly:
        if not target.exists():
            raise StoreError(f"no database at {target}")
        conn = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=True)
    else:
        _prepare_files(target)
        try:
            conn = sqlite3.connect(target, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot open database {target}: {exc}") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        # 16 MB of page cache for the ingest connection (default 2 MB): the mentions indexes
        # of a long history stay warm for inserts. Readers take less (StoreWorker's cache_kib).
        conn.execute(f"PRAGMA cache_size = {-int(cache_kib)}")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_LIMIT_BYTES}")
            conn.execute("PRAGMA synchronous = NORMAL")
            _migrate(conn)
            files.settle_desk(target)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"cannot use database {target}: {exc}") from None
    return Store(conn, str(target), clock)


def open_for_reading(path: str | os.PathLike[str], *, clock: Callable[[], datetime] = utc_now,
                     cache_kib: int = CACHE_KIB) -> Store:
    """A desk this user may read but not write (NotWritable): a read-only connection, if its
    schema is this version's; a desk that still needs migrating cannot be read without writing."""
    store = open_store(path, clock=clock, readonly=True, cache_kib=cache_kib)
    if store.backend == "postgresql":
        return store  # open_pg_store checked the version
    version = store.conn.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION:
        store.close()
        raise StoreError(f"{path} needs an upgrade to schema {SCHEMA_VERSION} (it has {version}), "
                         "which this user cannot write; open it once as a user who can")
    return store
