"""The ingest leader: one process at a time holds a renewed lease.

Only the holder runs the adapters and the reply sender; every other
console only writes operator actions. A holder that dies stops renewing
and its lease expires, so another process takes over within `ttl`.
Leases compare ISO times from each process's clock: processes sharing a
file share a host (SQLite over a network filesystem is unsupported).
"""

from __future__ import annotations

from datetime import timedelta

from store.db import Store, iso

LEADER = "ingest"


def try_acquire(store: Store, holder: str, ttl: float, name: str = LEADER) -> bool:
    """Take or renew the lease; True while `holder` has it."""
    now = store.clock()
    expires = iso(now + timedelta(seconds=ttl))
    with store.write():
        row = store.conn.execute("SELECT holder, expires_at FROM leases WHERE name = ?", (name,)).fetchone()
        if row is None:
            store.conn.execute(
                "INSERT INTO leases (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)",
                (name, holder, iso(now), expires),
            )
            return True
        current, current_expiry = row
        if current == holder:
            store.conn.execute("UPDATE leases SET expires_at = ? WHERE name = ?", (expires, name))
            return True
        if current_expiry <= iso(now):
            store.conn.execute(
                "UPDATE leases SET holder = ?, acquired_at = ?, expires_at = ? WHERE name = ?",
                (holder, iso(now), expires, name),
            )
            return True
        return False


def release(store: Store, holder: str, name: str = LEADER) -> None:
    with store.write():
        store.conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))


def current_holder(store: Store, name: str = LEADER) -> tuple[str, str] | None:
    """(holder, expires_at) of a live lease, or None."""
    row = store.conn.execute(
        "SELECT holder, expires_at FROM leases WHERE name = ? AND expires_at > ?", (name, store.now())
    ).fetchone()
    return (row[0], row[1]) if row else None
