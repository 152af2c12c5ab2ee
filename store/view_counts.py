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


_SNOOZED = """
SELECT count(*), coalesce(sum(m.status = 'open'), 0),
       coalesce(sum(m.status = 'open' AND EXISTS (SELECT 1 FROM tags t WHERE t.mention_id = m.id
                                                  AND t.tag = 'care')), 0),
       coalesce(sum(m.status = 'open' AND EXISTS (SELECT 1 FROM tags t WHERE t.mention_id = m.id
                                                  AND t.tag = 'marketing')), 0),
       coalesce(sum(m.status = 'open' AND EXISTS (SELECT 1 FROM tags t WHERE t.mention_id = m.id)), 0),
       coalesce(sum(m.status = 'open' AND EXISTS (SELECT 1 FROM assignments s WHERE s.mention_id = m.id
                                                  AND s.operator = :operator)), 0)
FROM snoozes z JOIN mentions m ON m.id = z.mention_id
"""


def view_counts(store: Store, operator: str = "") -> dict[str, int]:
    """Mentions in each view (see store.inbox.VIEWS) as `operator` sees them.

    Snoozed mentions are out of the work queues: the few there are (a snooze is an operator's
    act, never a flood) are counted directly and taken off.
    """
    kept = dict(store.conn.execute("SELECT name, n FROM view_counts WHERE name IN "
                                   "('open', 'done', 'care', 'marketing', 'tagged', :mine)",
                                   {"mine": f"mine:{operator}"}).fetchall())
    snoozed, s_open, s_care, s_marketing, s_tagged, s_mine = store.conn.execute(
        _SNOOZED, {"operator": operator}).fetchone()
    open_ = kept.get("open", 0)
    return {"open": open_ - s_open, "care": kept.get("care", 0) - s_care,
            "marketing": kept.get("marketing", 0) - s_marketing,
            "untriaged": open_ - kept.get("tagged", 0) - (s_open - s_tagged), "done": kept.get("done", 0),
            "mine": kept.get(f"mine:{operator}", 0) - s_mine, "all": open_ + kept.get("done", 0),
            "snoozed": snoozed, "priority": open_ - s_open}
