"""Housekeeping the ingest leader does between batches: keep the WAL and the search index small.

Under a steady storm of arrivals two things grow without this:

- the WAL: SQLite's automatic checkpoints are PASSIVE and, while readers
  (every console's change feed) keep snapshots open, they rarely reach the
  end of the log, so it is never restarted and `journal_size_limit` never
  gets the chance to shrink it. A TRUNCATE checkpoint now and then, with a
  short busy timeout so that it never stalls ingest behind a slow reader,
  resets it; if readers are busy it simply waits for the next round.
- FTS5 segments: every ingest transaction writes one small segment; the
  automatic merge lets them pile up by level until a "crisis merge" rewrites
  a whole level inside one ingest transaction (a stall). A bounded `merge`
  step in its own short transaction folds them continuously instead.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

from store.db import BUSY_TIMEOUT_MS, Store

MERGE_PAGES = 50  # leaf pages (4 KiB each) one merge step may write: ≤ 30 ms on a 1M index, never a stall
WAL_SOFT_LIMIT = 8 * 1024 * 1024  # above this the round truncates the WAL (else a PASSIVE checkpoint)
CHECKPOINT_BUSY_MS = 50  # how long a TRUNCATE checkpoint waits for readers before trying next round
V2_STRUCTURE = b"\xff\x00\x00\x01"  # FTS5's marker for the newer structure record (secure-delete)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    busy: bool  # a reader or writer kept it from finishing: the next round tries again
    wal_pages: int  # frames in the WAL when it ran (-1: not in WAL mode)
    done_pages: int  # frames copied back into the database


def checkpoint(store: Store, mode: str = "TRUNCATE", *, busy_ms: int = CHECKPOINT_BUSY_MS) -> Checkpoint:
    """Copy the WAL back into the database; TRUNCATE also empties the file when nobody reads it."""
    if mode not in ("PASSIVE", "FULL", "RESTART", "TRUNCATE"):
        raise ValueError(f"unknown checkpoint mode {mode!r}")
    conn = store.conn
    conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    try:
        busy, pages, done = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return Checkpoint(bool(busy), pages, done)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """SQLite's big-endian varint at `at`: (value, next offset)."""
    value = 0
    for i in range(8):
        byte = data[at + i]
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at + i + 1
    return (value << 8) | data[at + 8], at + 9


def fts_segments(conn: sqlite3.Connection, table: str = "search_fts") -> int:
    """How many b-tree segments the full-text index is split into (each query reads every one)."""
    row = conn.execute(f"SELECT block FROM {table}_data WHERE id = 10").fetchone()
    if row is None or len(row[0]) < 6:
        return 0
    block = bytes(row[0])
    at = 8 if block[4:8] == V2_STRUCTURE else 4  # after the 4-byte cookie (and the V2 marker)
    _levels, at = _varint(block, at)
    segments, _ = _varint(block, at)
    return segments


def merge_step(store: Store, pages: int = MERGE_PAGES, table: str = "search_fts") -> bool:
    """One bounded FTS5 merge in its own short transaction; False when there was nothing to merge.

    FTS5 merges only levels holding `usermerge` (4 by default) segments or
    more, writing at most about `pages` leaf pages; a step that changes
    fewer than two rows of the index found nothing to do.
    """
    with store.write() as conn:
        before = conn.total_changes
        conn.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('merge', ?)", (int(pages),))
        return conn.total_changes - before >= 2


BULK_MERGE_PAGES = 2000  # leaf pages (8 MiB) one step of `merge_all` writes: a short write each
BULK_MERGE_STEPS = 100_000  # a bound on the loop, far above what any index needs


def merge_all(store: Store, pages: int = BULK_MERGE_PAGES, table: str = "search_fts") -> int:
    """After a bulk load: merge the index into one segment, `pages` at a time, each step its own write.

    Every query term is looked up in every segment (a random read each when the file is not
    cached): a bulk load leaves 5-11. FTS5's 'merge' with a negative count is an incremental
    'optimize' that also merges levels holding fewer than `usermerge` segments. Returns the steps.
    """
    if store.backend != "sqlite":
        return 0
    steps = 0
    while steps < BULK_MERGE_STEPS and merge_step(store, -abs(pages), table):
        steps += 1
    return steps


@dataclass(frozen=True, slots=True)
class Housekeeping:
    merged: int  # merge steps that did work
    segments: int
    checkpoint: Checkpoint | None


def wal_bytes(store: Store) -> int:
    try:
        return os.path.getsize(f"{store.path}-wal")
    except OSError:
        return 0


def housekeep(store: Store, *, max_steps: int = 4, wal_limit: int = WAL_SOFT_LIMIT) -> Housekeeping:
    """A round of the leader's upkeep: a few merge steps while some level of the index has
    segments to merge, then a checkpoint (TRUNCATE once the WAL outgrew `wal_limit`).

    PostgreSQL checkpoints and vacuums by itself, and has no FTS5 segments: nothing to do there."""
    if store.backend != "sqlite":
        return Housekeeping(0, 0, None)
    merged = 0
    while merged < max_steps and merge_step(store):
        merged += 1
    size = wal_bytes(store)
    mode = "TRUNCATE" if size > wal_limit else "PASSIVE"
    # Readers kept it from truncating for several rounds: wait longer for them (ingest waits, not keys).
    busy_ms = CHECKPOINT_BUSY_MS * (10 if size > 4 * wal_limit else 1)
    return Housekeeping(merged, fts_segments(store.conn), checkpoint(store, mode, busy_ms=busy_ms))


BULK_ROWS = 10_000  # a load at least this big settles PostgreSQL's statistics itself (vacuum_analyze)


def vacuum_analyze(store: Store) -> bool:
    """After a bulk load, on PostgreSQL: VACUUM ANALYZE, for the planner's statistics and the visibility
    map that lets index-only counts (search's term frequencies) skip the table; autovacuum would get
    there later, and search counts slowly until it has. SQLite needs nothing (False)."""
    if store.backend != "postgresql" or store.conn.in_transaction:  # VACUUM cannot run inside one
        return False
    store.conn.execute("VACUUM ANALYZE")
    return True

