"""A PostgreSQL connection that behaves like the sqlite3 connection the store was written on.

The store's modules call `execute`, `executemany`, `fetchone`/`fetchall`, `lastrowid`,
`rowcount`, `in_transaction`, `total_changes` and `BEGIN IMMEDIATE`/`COMMIT`/`SAVEPOINT` on
`store.conn`; this class gives them that subset over psycopg 3, so the same store code runs on
both databases (store/pg_sql.py rewrites the SQLite-isms of each statement).

What keeps the store's guarantees the same as on SQLite:
- **One writer at a time.** Every write transaction (BEGIN, or a lone write statement) first
  takes a transaction-level advisory lock, as SQLite's BEGIN IMMEDIATE takes the write lock. The
  store's read-modify-write steps (outbox claims, lease fencing, undo) stay race-free, and ids
  commit in order, which the change feed's high-water marks rely on (with concurrent writers a
  lower id could commit after a higher one had been seen, and be missed).
- **The change feed.** A write transaction sends `NOTIFY` before its COMMIT, in the same
  transaction (delivered only if it commits). Every connection LISTENs, and `PRAGMA data_version`
  answers a counter of other sessions' commits heard so far, after one empty round trip (no table
  read): the console's idle poll stays cheap and sees other hosts' changes.
- **Errors** come out as the DB-API classes of the sqlite3 module (IntegrityError,
  OperationalError...), which is what the console and the CLI catch. Waiting for the writer lock
  ends after BUSY_TIMEOUT_MS as "database is locked", which Store.write retries as on SQLite.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import pq
from psycopg.adapt import Dumper, Loader

from store.db import BUSY_TIMEOUT_MS
from store.pg_many import set_wise_pieces
from store.pg_sql import _numbered_params, translate_with_matches, tsquery

T = TypeVar("T")

CHANNEL = "mentiondesk_changes"
# The desk's single-writer lock (pg_advisory_xact_lock key): any constant shared by all its clients.
WRITE_LOCK = 0x6D656E74  # "ment"
# Longest pause between two statements of one transaction before the server ends the session.
# The store never waits on anything but the database inside a transaction: a gap this long means
# a stopped or suspended process, which must not keep every other writer waiting.
IDLE_IN_TRANSACTION_MS = 3000
STALLED_S = IDLE_IN_TRANSACTION_MS / 1000
# A writer waiting for the write lock looks for a stalled holder this often (its lock_timeout).
LOCK_WAIT_MS = 1000
_WRITE = re.compile(r"(?is)^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b")
_BEGIN = re.compile(r"(?is)^\s*BEGIN(\s+(IMMEDIATE|EXCLUSIVE|DEFERRED))?(\s+TRANSACTION)?\s*;?\s*$")
_END = re.compile(r"(?is)^\s*(COMMIT|END|ROLLBACK)(\s+TRANSACTION)?\s*;?\s*$")
_PRAGMA = re.compile(r"(?is)^\s*PRAGMA\s+(\w+)\s*(?:=\s*(.+?))?\s*;?\s*$")


class _BoolAsInteger(Dumper):
    """True/False as 1/0, as sqlite3 stores them: the schema's flags are INTEGER columns."""

    oid = psycopg.postgres.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


class _NumericAsNumber(Loader):
    """numeric (what sum() and avg() of integers return) as int or float, as sqlite3 gives them."""

    def load(self, data: Any) -> int | float:
        text = bytes(data)
        return float(text) if b"." in text or b"e" in text.lower() else int(text)


_ERRORS: tuple[tuple[type[psycopg.Error], type[sqlite3.Error]], ...] = (
    (psycopg.errors.IntegrityError, sqlite3.IntegrityError),
    (psycopg.errors.DataError, sqlite3.DataError),
    (psycopg.errors.ProgrammingError, sqlite3.ProgrammingError),
    (psycopg.errors.OperationalError, sqlite3.OperationalError),
    (psycopg.errors.InternalError, sqlite3.InternalError),
    (psycopg.errors.NotSupportedError, sqlite3.NotSupportedError),
    (psycopg.errors.DatabaseError, sqlite3.DatabaseError),
    (psycopg.errors.InterfaceError, sqlite3.InterfaceError),
)


def as_sqlite_error(exc: psycopg.Error) -> sqlite3.Error:
    from store.redact import redact_error

    message = redact_error(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) or ""
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        # Worded as SQLite's busy error: Store.write retries it with backoff, as it does on SQLite.
        return sqlite3.OperationalError(f"database is locked ({message})")
    for theirs, ours in _ERRORS:
        if isinstance(exc, theirs):
            return ours(message)
    return sqlite3.Error(message)


class PgCursor:
    """The part of sqlite3.Cursor the store uses."""

    def __init__(self, cursor: psycopg.Cursor | None, rows: list[tuple] | None = None, lastrowid: int | None = None):
        self._cursor = cursor
        self._rows = rows
        self.lastrowid = lastrowid
        self.rowcount = cursor.rowcount if cursor is not None else -1

    @property
    def description(self):
        return self._cursor.description if self._cursor is not None else None

    def fetchone(self) -> tuple | None:
        if self._rows is not None:
            return self._rows.pop(0) if self._rows else None
        return self._cursor.fetchone() if self._cursor is not None and self._cursor.description else None

    def fetchall(self) -> list[tuple]:
        if self._rows is not None:
            rows, self._rows = self._rows, []
            return rows
        return self._cursor.fetchall() if self._cursor is not None and self._cursor.description else []

    def fetchmany(self, size: int = 1) -> list[tuple]:
        if self._rows is not None:
            rows, self._rows = self._rows[:size], self._rows[size:]
            return rows
        return self._cursor.fetchmany(size) if self._cursor is not None and self._cursor.description else []

    def __iter__(self) -> Iterator[tuple]:
        while (row := self.fetchone()) is not None:
            yield row

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()


class PgConnection:
    """One psycopg connection (autocommit, transactions by statement) with sqlite3's manners."""

    def __init__(self, raw: psycopg.Connection, reconnect: Callable[[], psycopg.Connection] | None = None):
        self._reconnect = reconnect
        self._began = False
        self._heard = 0
        self._wrote = False
        self.total_changes = 0
        self._trace: Callable[[str], object] | None = None
        self._types: dict[str, dict[str, str]] = {}
        self._attach(raw)
        self._identity = self._identity_tables()

    def _attach(self, raw: psycopg.Connection) -> None:
        self.raw = raw
        raw.adapters.register_dumper(bool, _BoolAsInteger)
        raw.adapters.register_loader("numeric", _NumericAsNumber)
        self._pid = raw.info.backend_pid
        raw.add_notify_handler(self._on_notify)
        # As SQLite's busy_timeout: a writer stalled inside its transaction makes the others wait
        # this long, then retry or fail in one line, never hang. A session stalled inside a
        # transaction (a stopped process, a suspended laptop) would hold the desk's write lock for
        # ever: the server ends it after IDLE_IN_TRANSACTION_MS, and the others go on.
        self._run(f"SET lock_timeout = {LOCK_WAIT_MS}; "
                  f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}; LISTEN {CHANNEL}")

    def _ensure_connected(self) -> None:
        """Outside a transaction, a connection the server ended (or the network lost) is opened again.

        The notifications missed meanwhile are unknown: the change feed is told something changed.
        """
        if not self.raw.closed or self._reconnect is None:
            return
        try:
            raw = self._reconnect()
        except psycopg.Error as exc:
            raise self._error(exc) from exc
        self._wrote = self._began = False
        self._attach(raw)
        self._heard += 1

    # -- sqlite3.Connection's surface -------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        if self.raw.closed:
            # Lost inside a transaction: still open until the store's ROLLBACK, so no later
            # statement of that transaction runs, autocommitted, on a new session.
            return self._began
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> PgCursor:
        if self._trace is not None:
            self._trace(sql)
        if _BEGIN.match(sql):
            self._begin()
            return PgCursor(None)
        if not self.in_transaction:
            self._ensure_connected()
        if (end := _END.match(sql)) is not None:
            self._end(end.group(1).upper() != "ROLLBACK")
            return PgCursor(None)
        if (pragma := _PRAGMA.match(sql)) is not None:
            return PgCursor(None, self._pragma(pragma.group(1).lower(), pragma.group(2)))
        if _WRITE.match(sql) and not self.in_transaction:
            self._begin()
            try:
                cursor = self._statement(sql, params)
            except BaseException:
                self._end(commit=False)
                raise
            self._end(commit=True)
            return cursor
        if not self.in_transaction:
            return self._resent_if_lost(lambda: self._statement(sql, params))  # a read: safe to send again
        return self._statement(sql, params)

    def executemany(self, sql: str, seq_of_params: Iterable[Sequence[Any] | Mapping[str, Any]]) -> PgCursor:
        rows = list(seq_of_params)
        if self._trace is not None:
            for _ in rows:
                self._trace(sql)
        if not rows:
            return PgCursor(None)
        alone = not self.in_transaction
        if alone:
            self._ensure_connected()
            self._begin()
        try:
            cursor = self.raw.cursor()
            translated = translate_with_matches(sql, isinstance(rows[0], Mapping))
            changed = 0
            if (pieces := set_wise_pieces(translated.sql, rows, self._column_types)) is not None:
                for piece in pieces:
                    cursor.execute(piece.sql, piece.params)
                    changed += max(cursor.rowcount, 0)
            else:
                if translated.numbered:
                    rows = [_numbered_params(row) for row in rows]
                cursor.executemany(translated.sql, rows)
                changed = max(cursor.rowcount, 0)
        except psycopg.Error as exc:
            if alone:
                self._end(commit=False)
            raise self._error(exc) from exc
        self._wrote = True
        self.total_changes += changed
        if alone:
            self._end(commit=True)
        return PgCursor(cursor)

    def _column_types(self, table: str) -> dict[str, str]:
        """A table's columns and their SQL types (store.pg_many casts its arrays to them), asked once."""
        if table not in self._types:
            self._types[table] = dict(self.raw.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped", (table,)).fetchall())
        return self._types[table]

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Rows into `table` by COPY: one statement for a batch (what executemany does row by row)."""
        alone = not self.in_transaction
        if alone:
            self._ensure_connected()
            self._begin()
        try:
            with self.raw.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as exc:
            if alone:
                self._end(commit=False)
            raise self._error(exc) from exc
        self._wrote = True
        if alone:
            self._end(commit=True)

    def set_trace_callback(self, callback: Callable[[str], object] | None) -> None:
        """As sqlite3's: `callback` gets each statement the store sends (in its SQLite form)."""
        self._trace = callback

    def commit(self) -> None:
        if self.in_transaction:
            self._end(commit=True)

    def rollback(self) -> None:
        if self.in_transaction:
            self._end(commit=False)

    def close(self) -> None:
        self.raw.close()

    # -- the change feed --------------------------------------------------------------------

    def _on_notify(self, notify: psycopg.Notify) -> None:
        if notify.pid != self._pid:
            self._heard += 1

    def data_version(self) -> int:
        """Commits by other sessions heard so far.

        One empty round trip (no table is read): the server sends every notification pending for
        this session before it answers, so a commit that returned before this call is counted here,
        as SQLite's data_version counts it. Inside a transaction the count stands still.
        """
        if not self.in_transaction:
            self._ensure_connected()
            self._resent_if_lost(lambda: self._run(""))
        return self._heard

    # -- internals --------------------------------------------------------------------------

    def _resent_if_lost(self, send: Callable[[], T]) -> T:
        """`send()` outside a transaction, and once more on a new session if it failed because the
        session had ended while idle (a server restart, pg_terminate_backend): otherwise every console
        would show a database error once after each restart. Only for what is safe to send twice (a
        read, BEGIN with its lock): a write's outcome is unknown when its session is lost."""
        try:
            return send()
        except sqlite3.OperationalError:
            if not self.raw.closed or self._reconnect is None or self._began:
                raise
            self._ensure_connected()
            return send()

    def _begin(self) -> None:
        if self.in_transaction:
            raise sqlite3.OperationalError("cannot start a transaction within a transaction")
        self._ensure_connected()
        self._wrote = False
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:  # one round trip: both statements in one simple query
                self._resent_if_lost(lambda: self._run(f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"))
                self._began = True
                return
            except sqlite3.OperationalError as exc:
                if self.in_transaction:
                    self._run("ROLLBACK")
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                self._end_stalled_writer()
            except BaseException:
                if self.in_transaction:
                    self._run("ROLLBACK")
                raise

    def _end_stalled_writer(self) -> None:
        """End the session holding the write lock if its client has sent nothing for STALLED_S.

        The server's idle-in-transaction timeout misses a client stopped halfway through sending a
        statement (a pipelined executemany, a suspended laptop): the server waits for the rest of the
        message with no timer, holding the lock for ever. A healthy writer is never that quiet inside
        a transaction. Without the right to end another role's session, the waiting goes on.
        """
        try:
            self.raw.execute(
                "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = %s AND l.granted "
                "AND a.wait_event = 'ClientRead' AND a.state_change < now() - make_interval(secs => %s)",
                (WRITE_LOCK, STALLED_S))
        except psycopg.Error:
            pass  # not allowed (another role's session, no pg_signal_backend): keep waiting, then 'locked'

    def _end(self, commit: bool) -> None:
        if not self.in_transaction:
            if commit:
                return
            raise sqlite3.OperationalError("cannot rollback - no transaction is active")
        if self.raw.closed:  # the session ended inside the transaction: the server rolled it back
            self._wrote = self._began = False  # the next statement opens a new session
            if commit:
                raise sqlite3.OperationalError("the connection to the database was lost; nothing was saved")
            return
        if commit and self.raw.info.transaction_status == pq.TransactionStatus.INERROR:
            commit = False  # PostgreSQL would answer COMMIT with ROLLBACK anyway
        try:
            self._run(f"NOTIFY {CHANNEL}; COMMIT" if commit and self._wrote else "COMMIT" if commit else "ROLLBACK")
        finally:
            self._wrote = self._began = False

    def _run(self, sql: str) -> None:
        try:
            self.raw.execute(sql)
        except psycopg.Error as exc:
            raise self._error(exc) from exc

    def _statement(self, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> PgCursor:
        named = isinstance(params, Mapping)
        translated = translate_with_matches(sql, named)
        query, matches = translated.sql, translated.matches
        if translated.numbered and not named:
            params = _numbered_params(params)
        if matches and not named:
            params = [tsquery(value) if index in matches and value is not None else value
                      for index, value in enumerate(params)]
        returning = self._returning_id(sql, query)
        if returning:
            query += " RETURNING id"
        try:
            cursor = self.raw.cursor()  # raises too once the session is lost: a savepoint's ROLLBACK TO then
            cursor.execute(query, params)
        except psycopg.Error as exc:
            raise self._error(exc) from exc
        if _WRITE.match(sql):
            self._wrote = True
            self.total_changes += max(cursor.rowcount, 0)
        if returning:
            ids = cursor.fetchall()
            return PgCursor(cursor, rows=[], lastrowid=ids[-1][0] if ids else None)
        return PgCursor(cursor)

    def _error(self, exc: psycopg.Error) -> sqlite3.Error:
        # The session ended (the server's idle-in-transaction timeout, a restart, the network): an
        # operational failure whatever class the server's last word had; the next statement reconnects.
        error = as_sqlite_error(exc)
        return sqlite3.OperationalError(str(error)) if self.raw.closed else error

    def _returning_id(self, sql: str, query: str) -> bool:
        """Whether an INSERT into a table with a generated id should report it (cursor.lastrowid)."""
        match = re.match(r"(?is)^\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+(\w+)", sql)
        return bool(match and match.group(1).lower() in self._identity and not re.search(r"(?i)\bRETURNING\b", query))

    def _identity_tables(self) -> set[str]:
        rows = self.raw.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND column_name = 'id' AND is_identity = 'YES'").fetchall()
        return {row[0] for row in rows}

    def refresh_identity_tables(self) -> None:
        """After a migration made new tables (or changed columns)."""
        self._identity = self._identity_tables()
        self._types.clear()

    def _pragma(self, name: str, value: str | None) -> list[tuple]:
        if name == "data_version":
            return [(self.data_version(),)]
        if name == "user_version" and value is None:
            from store.pg_schema import schema_version

            return [(schema_version(self.raw),)]
        # Page cache, busy timeout, WAL and the like are SQLite's own: PostgreSQL manages its own.
        return [(0,)] if value is None else []
