"""How many mentions each quick view holds, kept up to date in the writing transaction.

The `view_counts` table (schema V2_VIEW_COUNTS) is maintained by triggers for
status, tag and assignment changes, and by `count_new` for new mentions (the
ingest path calls it once per batch). Reading every count is one small query
whatever the backlog; SQLite's single writer keeps it right with several
processes writing.
"""

from __future__ import annotations

from collections.abc import Mapping

from store.db import Store


def count_new(store: Store, added: Mapping[str, int]) -> None:
    """Count mentions just inserted in the caller's transaction, by status."""
    for status, number in added.items():
        if number:
            store.conn.execute("UPDATE view_counts SET n = n + ? WHERE name = ?", (number, status))


def view_counts(store: Store, operator: str = "") -> dict[str, int]:
    """Mentions in each view (see store.inbox.VIEWS) as `operator` sees them."""
    kept = dict(store.conn.execute("SELECT name, n FROM view_counts WHERE name IN "
                                   "('open', 'done', 'care', 'marketing', 'tagged', :mine)",
                                   {"mine": f"mine:{operator}"}).fetchall())
    open_ = kept.get("open", 0)
    return {"open": open_, "care": kept.get("care", 0), "marketing": kept.get("marketing", 0),
            "untriaged": open_ - kept.get("tagged", 0), "done": kept.get("done", 0),
            "mine": kept.get(f"mine:{operator}", 0), "all": open_ + kept.get("done", 0)}
