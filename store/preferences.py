"""Each operator's own choices, kept on the desk so they follow the operator to any console.

A view's order (oldest first for work queues, where what waits longest comes
first) and the console's theme. One row per (operator, name); no event is
logged, as nothing about a mention changes.
"""

from __future__ import annotations

from store.db import Store
from store.operators import check_operator
from store.sanitize import clean_line

ORDER_PREFIX = "order:"


def preference(store: Store, operator: str, name: str) -> str | None:
    row = store.conn.execute("SELECT value FROM operator_preferences WHERE operator = ? AND name = ?",
                             (operator, name)).fetchone()
    return row[0] if row else None


def set_preference(store: Store, operator: str, name: str, value: str | None) -> None:
    """Remember `value` (None forgets it)."""
    check_operator(operator)
    with store.write() as conn:
        if value is None:
            conn.execute("DELETE FROM operator_preferences WHERE operator = ? AND name = ?", (operator, name))
            return
        conn.execute(
            """INSERT INTO operator_preferences (operator, name, value, updated_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (operator, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at""",
            (operator, clean_line(name, 200), clean_line(value, 200), store.now()),
        )


def oldest_first_views(store: Store, operator: str) -> frozenset[str]:
    """The views `operator` lists oldest first (every other view: newest first)."""
    return frozenset(name.removeprefix(ORDER_PREFIX) for name, value in store.conn.execute(
        "SELECT name, value FROM operator_preferences WHERE operator = ? AND name LIKE 'order:%'", (operator,))
        if value == "oldest")


def set_oldest_first(store: Store, operator: str, view: str, oldest_first: bool) -> None:
    # Newest first is the default: choosing it again forgets the row.
    set_preference(store, operator, ORDER_PREFIX + view, "oldest" if oldest_first else None)
