"""Reply drafts, per mention and operator: saved as typed, so a console that dies loses nothing.

Only a draft's coming and going is logged (`draft.save` when one appears, `draft.clear` when it
goes): that is what other consoles need to mark the row, and keystrokes do not flood the log.
Sending a reply removes the sender's draft in the same transaction (store.actions).
"""

from __future__ import annotations

from dataclasses import dataclass

from store.db import Store
from store.errors import ActionError
from store.events import log_event

MAX_DRAFT = 100_000


@dataclass(frozen=True, slots=True)
class Draft:
    mention_id: int
    operator: str
    text: str
    updated_at: str


def save_draft(store: Store, mention_id: int, operator: str, text: str) -> bool:
    """Keep `text` as the operator's draft on the mention (blank text clears it); True if it changed."""
    if not text.strip():
        return clear_draft(store, mention_id, operator)
    text = text[:MAX_DRAFT]
    with store.write():
        row = store.conn.execute("SELECT text FROM drafts WHERE mention_id = ? AND operator = ?",
                                 (mention_id, operator)).fetchone()
        if row is not None and row[0] == text:
            return False
        if row is None and not store.conn.execute("SELECT 1 FROM mentions WHERE id = ?", (mention_id,)).fetchone():
            raise ActionError(f"no mention with id {mention_id}")
        store.conn.execute(
            """INSERT INTO drafts (mention_id, operator, text, updated_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (mention_id, operator) DO UPDATE SET text = excluded.text,
               updated_at = excluded.updated_at""",
            (mention_id, operator, text, store.now()))
        if row is None:
            log_event(store, operator, "draft.save", mention_id)
    return True


def clear_draft(store: Store, mention_id: int, operator: str) -> bool:
    with store.write():
        gone = store.conn.execute("DELETE FROM drafts WHERE mention_id = ? AND operator = ?",
                                  (mention_id, operator)).rowcount
        if gone:
            log_event(store, operator, "draft.clear", mention_id)
    return bool(gone)


def load_draft(store: Store, mention_id: int, operator: str) -> str | None:
    row = store.conn.execute("SELECT text FROM drafts WHERE mention_id = ? AND operator = ?",
                             (mention_id, operator)).fetchone()
    return row[0] if row else None


def drafts_on(store: Store, mention_id: int) -> list[Draft]:
    """Every operator's draft on the mention, newest first."""
    return [Draft(*row) for row in store.conn.execute(
        "SELECT mention_id, operator, text, updated_at FROM drafts WHERE mention_id = ? ORDER BY updated_at DESC",
        (mention_id,))]
