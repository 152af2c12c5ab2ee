"""Copying a whole desk from one database to another (SQLite file <-> PostgreSQL), then checking it.

Every table of the schema is copied, row for row with the same ids (the event log, mentions, tags,
statuses, outbox, notes, claims, handovers, saved replies, cursors, leases, undo, groups...), in
one transaction on the target, parents before children. What is not copied is rebuilt: the search
index (FTS5 keeps no readable text) is made again from the copied mentions, and the view counts are
copied last, over what the target's triggers counted while rows went in. The target must be a new,
empty desk: nothing there is ever overwritten or merged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from store.db import Store, StoreError
from store.maintenance import vacuum_analyze
from store.pg_open import masked
from store.schema import MIGRATIONS
from store.search_index import settle

CHUNK = 5_000
# Rebuilt on the target rather than copied (FTS5's contentless index cannot be read back). The
# vocabulary is copied, ids included: search weighs the earliest-seen typo candidates first.
REBUILT = {"search_fts", "search_pending", "search_common"}
COUNTED_LAST = "view_counts"  # the target's triggers count while tags and assignments go in


@dataclass(frozen=True, slots=True)
class TableCount:
    table: str
    source: int
    target: int


@dataclass(frozen=True, slots=True)
class CopyReport:
    counts: tuple[TableCount, ...]
    indexed: int  # mentions put into the target's search index

    @property
    def equal(self) -> bool:
        return all(count.source == count.target for count in self.counts)


def _schema() -> tuple[list[str], dict[str, set[tuple[str, str]]]]:
    """The desk's tables, parents first, and each table's references to itself (column, table).

    Read from a schema built in memory: both backends have the same tables (tests/test_pg_backend.py).
    """
    conn = sqlite3.connect(":memory:")
    try:
        from store.db import _statements

        for script in MIGRATIONS:
            for statement in _statements(script):
                conn.execute(statement)
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name NOT LIKE 'search_fts_%' ORDER BY name")]
        parents = {table: {(row[3], row[2]) for row in conn.execute(f"PRAGMA foreign_key_list({table})")}
                   for table in tables}
    finally:
        conn.close()
    order: list[str] = []

    def visit(table: str, path: tuple[str, ...] = ()) -> None:
        if table in order or table in path:
            return
        for _column, parent in parents[table]:
            if parent != table:
                visit(parent, (*path, table))
        order.append(table)

    for table in tables:
        visit(table)
    self_refs = {table: {(column, parent) for column, parent in refs if parent == table}
                 for table, refs in parents.items()}
    return order, self_refs


def _columns(store: Store, table: str) -> list[str]:
    cursor = store.conn.execute(f"SELECT * FROM {table} LIMIT 0")
    return [column[0] for column in cursor.description or ()]


def count_rows(store: Store, table: str) -> int:
    return int(store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def copy_desk(source: Store, target: Store, *, progress: Callable[[str, int], None] | None = None) -> CopyReport:
    """Copy every table of `source` into the new, empty desk `target`; counts of both, table by table."""
    from store.search_index import index_pending

    order, self_refs = _schema()
    if count_rows(target, "mentions") or count_rows(target, "events"):
        raise StoreError(f"{masked(target.path)} already holds a desk (mentions or events): migrate only into a new, "
                         "empty one")
    copied = [table for table in order if table not in REBUILT and table != COUNTED_LAST] + [COUNTED_LAST]
    postgres = target.backend == "postgresql"
    with target.write() as conn:
        if postgres:
            # The copied rows already hold what the triggers compute (due keys, paused time, view
            # counts): run on a million rows they would cost most of the copy. The owner of a new
            # desk may switch them off for this transaction only (SQLite cannot: its columns are
            # put back after, below).
            for table in copied:
                conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for table in copied:
            conn.execute(f"DELETE FROM {table}")  # rows a migration seeded; the source's replace them
            columns = _columns(source, table)
            later = [column for column, _parent in self_refs.get(table, ())]
            _copy_rows(source, conn, table, columns, later, progress, postgres)
        if postgres:
            for table in copied:
                conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        else:
            for table, written in _trigger_written().items():
                if table in copied and table != COUNTED_LAST:
                    _recopy_columns(source, conn, table, sorted(written))
        conn.execute("INSERT OR IGNORE INTO search_pending (mention_id) SELECT id FROM mentions")
        if target.backend == "postgresql":
            for table in copied:
                if "id" in _columns(target, table):
                    conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false) "
                                 f"WHERE pg_get_serial_sequence('{table}', 'id') IS NOT NULL")
    indexed = index_pending(target)
    vacuum_analyze(target)
    settle(target)
    counts = tuple(TableCount(table, count_rows(source, table), count_rows(target, table)) for table in copied)
    return CopyReport(counts, indexed)


def _trigger_written() -> dict[str, set[str]]:
    """Columns the schema's triggers write (a due key, paused time): the target's triggers rewrote them
    while child rows went in, so the source's values are put back after."""
    import re

    written: dict[str, set[str]] = {}
    for script in MIGRATIONS:
        for body in re.findall(r"(?is)CREATE\s+TRIGGER\b.*?\bBEGIN\b(.*?)^END;", script, re.M):
            for table, sets in re.findall(r"(?is)\bUPDATE\s+(\w+)\s+SET\s+(.*?)(?:\bWHERE\b|;)", body):
                written.setdefault(table, set()).update(re.findall(r"(?:^|,)\s*(\w+)\s*=", sets))
    return written


def _recopy_columns(source: Store, conn, table: str, columns: list[str]) -> None:
    cursor = source.conn.execute(f"SELECT id, {', '.join(columns)} FROM {table} ORDER BY id")
    sets = ", ".join(f"{column} = ?" for column in columns)
    while rows := cursor.fetchmany(CHUNK):
        conn.executemany(f"UPDATE {table} SET {sets} WHERE id = ?", [(*row[1:], row[0]) for row in rows])


def _copy_rows(source: Store, conn, table: str, columns: list[str], later: list[str],
               progress: Callable[[str, int], None] | None, postgres: bool = False) -> None:
    """Rows in id order; a column naming a row of the same table goes in after all rows are there."""
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    key = "id" if "id" in columns else columns[0]
    cursor = source.conn.execute(f"SELECT {names} FROM {table} ORDER BY {key}")
    positions = [columns.index(column) for column in later]
    done = 0
    while rows := cursor.fetchmany(CHUNK):
        first = [tuple(None if index in positions else value for index, value in enumerate(row)) for row in rows]
        if postgres:  # COPY: several times faster than INSERTs
            conn.copy_rows(table, columns, first)
        else:
            conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", first)
        if later:
            sets = ", ".join(f"{column} = ?" for column in later)
            conn.executemany(f"UPDATE {table} SET {sets} WHERE {key} = ?",
                             [(*[row[index] for index in positions], row[columns.index(key)]) for row in rows
                              if any(row[index] is not None for index in positions)])
        done += len(rows)
        if progress:
            progress(table, done)
