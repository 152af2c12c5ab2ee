"""The Priority view's order: open mentions by first-reply due time, then needs-reply, then negativity.

The order is one stored integer per mention (`mentions.due_key`, schema V2_PRIORITY) read from a
(status, due_key) index, so the view pages by keyset like the others whatever the backlog. Triggers keep it
true as tags, replies, signals and snoozes change; the targets it is computed from are the desk's one
SLA policy in `sla_targets` (store.sla_desk: set by `mentiondesk sla set`, or seeded from the first
config that has an [sla]; a changed policy re-keys the open mentions in short transactions).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.db import Store
from store.inbox import InboxRow, rows_by_id
from store.inbox_window import view_page
from store.report_buckets import parse_stored
from store.schema import DUE_KEY_UPDATE
from store.sla import SlaPolicy, SlaState, sla_state

REKEY_CHUNK = 20_000  # open mentions re-keyed per transaction: the ingest writer waits at most this long


def _wanted(policy: SlaPolicy) -> set[tuple[str, str, int]]:
    rows = {("tag", name, round(seconds)) for name, seconds in policy.by_tag.items()}
    rows |= {("network", name, round(seconds)) for name, seconds in policy.by_network.items()}
    if policy.default is not None:
        rows.add(("default", "", round(policy.default)))
    return rows


def sync_policy(store: Store, policy: SlaPolicy) -> int:
    """Make the stored targets `policy`'s; returns how many open mentions were re-keyed (0: unchanged)."""
    with store.write():
        changed = store_targets(store, policy)
    return rekey(store) if changed else 0


def store_targets(store: Store, policy: SlaPolicy) -> bool:
    """Write `policy` into sla_targets, in the caller's transaction; whether it changed (then `rekey`)."""
    wanted = _wanted(policy)
    with store.write():
        stored = set(store.conn.execute("SELECT kind, name, seconds FROM sla_targets").fetchall())
        if stored == wanted:
            return False
        store.conn.execute("DELETE FROM sla_targets")
        store.conn.executemany("INSERT INTO sla_targets (kind, name, seconds) VALUES (?, ?, ?)", sorted(wanted))
    return True


def rekey(store: Store) -> int:
    """Recompute the order key of every open mention from the stored targets, in short transactions."""
    top = store.conn.execute("SELECT coalesce(max(id), 0) FROM mentions").fetchone()[0]
    rekeyed, low = 0, 0
    while low < top:
        with store.write():
            rekeyed += store.conn.execute(f"{DUE_KEY_UPDATE} WHERE status = 'open' AND id > ? AND id <= ?",
                                          (low, low + REKEY_CHUNK)).rowcount
        low += REKEY_CHUNK
    return rekeyed


@dataclass(frozen=True, slots=True)
class PriorityRow:
    row: InboxRow
    sla: SlaState | None  # None: no target applies, or it has its first reply


def clock_of(row: InboxRow, policy: SlaPolicy, now: datetime) -> SlaState | None:
    """The first-reply clock of an open, unanswered mention (snoozed time left out)."""
    if row.status != "open" or row.reply_state not in (None, "failed"):
        return None
    created = parse_stored(row.created_at)
    return sla_state(policy, row.tags, row.network, created, now, row.paused) if created else None


@dataclass(frozen=True, slots=True)
class ViewList:
    total: int  # mentions in the view
    rows: list[PriorityRow]  # the first ones, as listed


def view_list(store: Store, view: str, policy: SlaPolicy, operator: str = "", limit: int = 50,
              oldest_first: bool = False) -> ViewList:
    """A quick view's length and its first `limit` mentions as the console lists them, each with its
    first-reply clock (the CLI's `views show`; Priority: most urgent first)."""
    page = view_page(store, view, operator, size=limit, oldest_first=oldest_first)
    rows = rows_by_id(store, list(page.ids), operator)
    now = store.clock()
    return ViewList(page.total, [PriorityRow(rows[i], clock_of(rows[i], policy, now)) for i in page.ids if i in rows])
