"""Triage after the commit: a batch's signals and rules in a second transaction, none lost if the leader dies.

The ingest runner commits a batch (`store.ingest.save_untriaged`, which queues its new ids in
`triage_pending`) and goes on with the stream at once; the batch's signals are computed in the helper
process meanwhile, and `triage_batch` then writes them and runs the rules in one transaction that
also takes the ids off the queue. Ids a dead leader left queued are triaged by the next one
(`leftovers`), so every mention that arrived live gets its rules exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from store.db import Store
from store.ingest import write_signals
from store.signals import Signals

LEFTOVERS = 2_000  # queued ids read per round at start-up


def triage_batch(store: Store, ids: Sequence[int], signals: Sequence[Signals] | None,
                 apply: Callable[[Store, list[int]], None]) -> list[int]:
    """Signals (one per id, or None: none) and rules for queued ids; ids no longer queued (triaged
    already, or deleted) are skipped. Returns the ids triaged."""
    with store.write():
        marks = ",".join("?" * len(ids))
        queued = {row[0] for row in store.conn.execute(
            f"SELECT mention_id FROM triage_pending WHERE mention_id IN ({marks})", list(ids))} if ids else set()
        todo = [i for i in ids if i in queued]
        if not todo:
            return []
        if signals is not None and len(signals) == len(ids):
            write_signals(store, [(i, s) for i, s in zip(ids, signals, strict=True) if i in queued])
        apply(store, todo)
        store.conn.executemany("DELETE FROM triage_pending WHERE mention_id = ?", [(i,) for i in todo])
    return todo


def leftovers(store: Store, limit: int = LEFTOVERS) -> list[tuple[int, str]]:
    """(id, text) of queued mentions, oldest first: what a previous leader committed and never triaged."""
    return store.conn.execute(
        """SELECT m.id, m.text FROM triage_pending p JOIN mentions m ON m.id = p.mention_id
           ORDER BY p.mention_id LIMIT ?""", (limit,)).fetchall()


def queued(store: Store) -> int:
    return store.conn.execute("SELECT count(*) FROM triage_pending").fetchone()[0]
