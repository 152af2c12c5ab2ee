"""`desk init`: a desk several operators share, on either database.

SQLite: a folder setgid 2770 in a Unix group, the database 0660 in it (store/files.py).
PostgreSQL: the desk's tables, sequences and functions belong to a role (the group); each
operator's role is made a member (GRANT GROUP TO name) and writes, and migrates, with its rights
(store/pg_schema.py migrates as that owner). A role given only SELECT browses read-only.
"""

from __future__ import annotations

from pathlib import Path

from store import files
from store.db import Store, StoreError, open_store
from store.pg_open import is_url, masked


def share_desk(target: str, group: str) -> list[str]:
    """Make `target` (a folder, or a postgresql:// URL) a desk `group` shares; what to tell the user."""
    if is_url(target):
        return _share_database(target, group)
    folder = Path(target).expanduser().absolute()
    try:
        gid = files.group_id(group)
        db = files.prepare_desk_folder(folder, gid)
        open_store(db).close()  # creates and migrates it, 0660 in the folder's group
        files.check_desk(db, gid)
    except files.DeskFileError as exc:
        raise StoreError(str(exc)) from None
    return [f"desk ready: {folder} (group {group}, setgid 2770), database {db} (0660)",
            f"every operator in {group} opens it with: mentiondesk --db {db}   (or MENTIONDESK_DB={db})"]


def _share_database(url: str, group: str) -> list[str]:
    store = open_store(url)  # creates and migrates it
    try:
        _give_to(store, url, group)
    finally:
        store.close()
    return [f"desk ready: {masked(url)} (its tables belong to role {group})",
            f"each operator's role joins it (GRANT {group} TO name; GRANT SELECT ON ALL TABLES IN SCHEMA ... "
            f"TO name to browse only) and opens it with: mentiondesk --db {masked(url)}"]


def _give_to(store: Store, url: str, group: str) -> None:
    import psycopg
    from psycopg import sql

    raw = store.conn.raw  # type: ignore[attr-defined]  # store/pg_conn.py's PgConnection
    role = sql.Identifier(group)
    row = raw.execute("SELECT rolname, pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = %s",
                      (group,)).fetchone()
    if row is None:
        raise StoreError(f"no role {group!r} on the server of {masked(url)}: CREATE ROLE {group} NOLOGIN "
                         "(as an administrator), then run desk init again")
    if not row[1]:
        raise StoreError(f"cannot give {masked(url)} to role {group}: this role is not a member of it "
                         f"(GRANT {group} TO current_user, as an administrator)")
    owned = raw.execute(
        "SELECT c.oid::regclass::text FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
        "AND c.relkind IN ('r', 'p') AND c.relowner = current_user::regrole").fetchall()
    routines = raw.execute(
        "SELECT p.oid::regprocedure::text, p.prokind FROM pg_proc p WHERE p.pronamespace = "
        "current_schema()::regnamespace AND p.proowner = current_user::regrole AND NOT EXISTS "
        "(SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')").fetchall()  # not citext's
    try:
        with raw.transaction():
            raw.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(
                sql.Identifier(raw.execute("SELECT current_schema()").fetchone()[0]), role))
            for (table,) in owned:  # a table's identity sequence follows it
                raw.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(sql.SQL(table), role))
            for signature, kind in routines:
                what = "AGGREGATE" if kind == "a" else "ROUTINE"
                raw.execute(sql.SQL(f"ALTER {what} {{}} OWNER TO {{}}").format(sql.SQL(signature), role))
    except psycopg.Error as exc:
        raise StoreError(f"cannot give {masked(url)} to role {group}: {str(exc).strip().splitlines()[0]}") from None
