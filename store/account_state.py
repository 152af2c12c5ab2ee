"""Per-account values adapters keep across restarts (sessions, server facts).

One row per (source, key); `source` is the adapter's cursor key, e.g.
"bluesky:brand.bsky.social". Values are opaque text to the store (JSON by
convention). They may be secrets (a refresh token): they live only in this
table, which no export, import or listing reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from store.db import Store


@dataclass(frozen=True, slots=True)
class AccountValue:
    source: str
    key: str
    value: str
    updated_at: str


def get_account_value(store: Store, source: str, key: str) -> AccountValue | None:
    row = store.conn.execute(
        "SELECT value, updated_at FROM account_state WHERE source = ? AND key = ?", (source, key)
    ).fetchone()
    return None if row is None else AccountValue(source, key, row[0], row[1])


def put_account_value(store: Store, source: str, key: str, value: str) -> AccountValue:
    now = store.now()
    with store.write() as conn:
        conn.execute(
            "INSERT INTO account_state (source, key, value, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (source, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (source, key, value, now),
        )
    return AccountValue(source, key, value, now)


def delete_account_value(store: Store, source: str, key: str) -> bool:
    """Forget a value; True when there was one."""
    with store.write() as conn:
        cursor = conn.execute("DELETE FROM account_state WHERE source = ? AND key = ?", (source, key))
    return cursor.rowcount > 0
