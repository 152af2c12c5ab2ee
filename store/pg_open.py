"""Opening a desk on a PostgreSQL server: `--db postgresql://user@host/dbname?sslmode=verify-full`.

The password never travels in the URL (it would show in `ps`, shell history, the config file and
every message naming the desk): libpq reads it from PGPASSWORD or from a passfile (PGPASSFILE,
the URL's `passfile=`, else ~/.pgpass), which must be 0600. Every other URL parameter (sslmode,
sslrootcert, sslcert, sslkey, connect_timeout, ...) goes to libpq as given.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from store.db import NotWritable, Store, StoreError
from store.redact import redact_error
from store.schema import SCHEMA_VERSION

SCHEMES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT = 10  # seconds, unless the URL says otherwise


def is_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(SCHEMES)


def masked(url: str) -> str:
    """The URL as it may be shown: any password (refused anyway) masked."""
    return redact_error(url) or url


def _passfile(url: str) -> Path | None:
    query = parse_qs(urlsplit(url).query)
    named = query.get("passfile", [None])[0] or os.environ.get("PGPASSFILE")
    if named:
        return Path(named).expanduser()
    return Path("~/.pgpass").expanduser()


def check_url(url: str) -> None:
    """Refuse, in one line, a URL with a password or a passfile others may read."""
    parts = urlsplit(url)
    if parts.password is not None or "password" in parse_qs(parts.query):
        raise StoreError(f"{masked(url)}: put the password in PGPASSWORD or a 0600 passfile "
                         "(PGPASSFILE or ~/.pgpass), not in the URL")
    passfile = _passfile(url)
    try:
        mode = passfile.stat().st_mode if passfile is not None else None
    except OSError:
        mode = None
    if mode is not None and stat.S_IMODE(mode) & 0o077:
        raise StoreError(f"password file {passfile} is readable by others (mode {stat.S_IMODE(mode):04o}): "
                         f"chmod 600 {passfile}")


def database_name(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/")) or "(default database)"


def _unwritable(raw, url: str) -> str | None:
    """Why this role may not write the desk (one line with the fix), or None: every write logs an event
    and changes mentions, so a role without those privileges can only browse."""
    from store.pg_schema import VERSION_TABLE

    user, owner, events, mentions = raw.execute(
        "SELECT current_user, (SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename = %s), has_table_privilege('events', 'INSERT'), "
        "has_table_privilege('mentions', 'UPDATE')", (VERSION_TABLE,)).fetchone()
    if events and mentions:
        return None
    return (f"role {user} may only read {masked(url)}; to write it: GRANT {owner} TO {user} "
            "(as the desk's owner; `mentiondesk desk init URL --group ROLE` makes a role own it)")


def connect_options(url: str) -> dict[str, object]:
    """libpq parameters every mentiondesk session adds to the URL's (store threads and the change feed)."""
    options: dict[str, object] = {"application_name": "mentiondesk"}
    if "connect_timeout" not in parse_qs(urlsplit(url).query):
        options["connect_timeout"] = CONNECT_TIMEOUT
    return options


def open_pg_store(url: str, *, clock: Callable[[], datetime], readonly: bool = False) -> Store:
    """A Store on the PostgreSQL database at `url`, created schema and migrations as needed."""
    import psycopg

    from store.pg_conn import WRITE_LOCK, PgConnection
    from store.pg_schema import migrate, other_tables, schema_version

    check_url(url)
    options = connect_options(url)

    def connect() -> psycopg.Connection:
        raw = psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor,
                              **options)  # type: ignore[arg-type]  # libpq parameters
        if readonly:
            raw.execute("SET default_transaction_read_only = on")
        return raw

    try:
        raw = connect()
    except psycopg.Error as exc:
        detail = redact_error(str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__)
        raise StoreError(f"cannot connect to {masked(url)}: {detail}") from None
    try:
        version = schema_version(raw)
        if version > SCHEMA_VERSION:
            raise StoreError(f"{masked(url)} was written by a newer mentiondesk (schema {version}, this one "
                             f"knows {SCHEMA_VERSION}); upgrade mentiondesk to open it")
        if version == 0 and other_tables(raw):
            raise StoreError(f"{masked(url)} holds tables but is not a mentiondesk desk; refusing to change it")
        if readonly:
            if version != SCHEMA_VERSION:
                raise StoreError(f"{masked(url)} needs an upgrade to schema {SCHEMA_VERSION} (it has {version})")
        else:
            if version == SCHEMA_VERSION and (refusal := _unwritable(raw, url)):
                raise NotWritable(refusal)  # the caller may open it read-only instead, as a file it may not write
            migrate(raw, WRITE_LOCK)
        conn = PgConnection(raw, reconnect=connect)
    except psycopg.Error as exc:
        raw.close()
        raise StoreError(f"cannot use {masked(url)}: {redact_error(str(exc).strip().splitlines()[0])}") from None
    except BaseException:
        raw.close()
        raise
    return Store(conn, url, clock)  # type: ignore[arg-type]  # sqlite3.Connection's subset (store/pg_conn.py)
