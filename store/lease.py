"""The ingest leader: one process at a time holds a renewed, fenced lease.

Only the holder runs the adapters and the reply sender; every other
console only writes operator actions. A holder that dies stops renewing
and its lease expires, so another process takes over within `ttl`.

Every change of holder (and a holder re-taking its own lapsed lease)
increments `epoch`, the fencing token: a reply is claimed for sending in
the same transaction that checks the lease is still this holder's, at
this epoch, with time to spare, and the claim records the epoch. A claim
of an older epoch is adopted only once that epoch's lease is surely dead
(`prev_expires_at` plus the longest network call it allowed).

Leases compare ISO times from each process's clock: processes sharing a
file share a host (SQLite over a network filesystem is unsupported).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from store.db import Store, iso

LEADER = "ingest"


@dataclass(frozen=True, slots=True)
class Lease:
    holder: str
    epoch: int
    expires_at: str
    #: when the previous epoch's lease ended (None for the first epoch)
    prev_expires_at: str | None


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    holder: str
    expires_at: str


class LeaseLost(Exception):
    """This process no longer holds the lease (or not with time to spare)."""


def acquire(store: Store, holder: str, ttl: float, name: str = LEADER) -> Lease | None:
    """Take or renew the lease; the Lease while `holder` has it, else None.

    The time is read after the write lock is taken: a renewal that waited
    behind another writer must not extend a lease that lapsed meanwhile.
    A lapsed lease re-taken, even by its own holder, is a new epoch.
    """
    with store.write():
        now = store.clock()
        expires = iso(now + timedelta(seconds=ttl))
        row = store.conn.execute(
            "SELECT holder, expires_at, epoch FROM leases WHERE name = ?", (name,)).fetchone()
        if row is None:
            store.conn.execute(
                """INSERT INTO leases (name, holder, acquired_at, expires_at, epoch, prev_expires_at)
                   VALUES (?, ?, ?, ?, 1, NULL)""",
                (name, holder, iso(now), expires),
            )
            return Lease(holder, 1, expires, None)
        current, current_expiry, epoch = row
        if current_expiry > iso(now):
            if current != holder:
                return None
            store.conn.execute("UPDATE leases SET expires_at = ? WHERE name = ?", (expires, name))
            prev = store.conn.execute("SELECT prev_expires_at FROM leases WHERE name = ?", (name,)).fetchone()[0]
            return Lease(holder, epoch, expires, prev)
        store.conn.execute(
            """UPDATE leases SET holder = ?, acquired_at = ?, expires_at = ?, epoch = epoch + 1,
               prev_expires_at = ? WHERE name = ?""",
            (holder, iso(now), expires, current_expiry, name),
        )
        return Lease(holder, epoch + 1, expires, current_expiry)


def try_acquire(store: Store, holder: str, ttl: float, name: str = LEADER) -> bool:
    """Take or renew the lease; True while `holder` has it."""
    return acquire(store, holder, ttl, name) is not None


def check_held(store: Store, holder: str, epoch: int, margin: float, name: str = LEADER) -> None:
    """Raise LeaseLost unless `holder` holds `epoch` for `margin` more seconds.

    It proves the lease for the write it is part of: call it in the transaction it fences.
    """
    with store.write() as conn:
        row = conn.execute("SELECT holder, epoch, expires_at FROM leases WHERE name = ?", (name,)).fetchone()
    need = iso(store.clock() + timedelta(seconds=margin))
    if row is None or row[0] != holder or row[1] != epoch or row[2] <= need:
        raise LeaseLost(f"{holder} no longer holds the {name} lease at epoch {epoch} with {margin:g}s to spare")


def release(store: Store, holder: str, name: str = LEADER) -> None:
    """End the lease now; the row (and its epoch) stays, without a holder."""
    with store.write():
        store.conn.execute("UPDATE leases SET holder = '', expires_at = ? WHERE name = ? AND holder = ?",
                           (store.now(), name, holder))


def current_holder(store: Store, name: str = LEADER) -> LeaseHolder | None:
    """Who holds the live lease, or None."""
    row = store.conn.execute(
        "SELECT holder, expires_at FROM leases WHERE name = ? AND expires_at > ? AND holder != ''",
        (name, store.now())
    ).fetchone()
    return LeaseHolder(row[0], row[1]) if row else None
