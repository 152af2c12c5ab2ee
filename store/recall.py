"""Recalling a queued reply: the "reply" undo kind.

`queue_reply(..., recall=N)` makes the reply's first attempt due N seconds
later, so the sender's claim query cannot take it before; until then `u`
(or `mentiondesk undo`) takes it out of the outbox. Both run in write
transactions, so a reply is either recalled or claimed, never both. Once the
window is over or the sender has it, it cannot be undone, and the operator is told so.
"""

from __future__ import annotations

from store.db import Store
from store.events import log_event
from store.undo import UndoEntry, Undone, register_kind


def _recall(store: Store, entry: UndoEntry, operator: str) -> Undone:
    reply_id, mention_id = entry.detail["reply_id"], entry.detail["mention_id"]
    row = store.conn.execute("SELECT state, attempts, text FROM replies WHERE id = ?", (reply_id,)).fetchone()
    if row is None:
        return Undone(f"Reply to #{mention_id} is no longer in the outbox; nothing to recall.")
    state, attempts, text = row
    if state == "sent":
        return Undone(f"Reply to #{mention_id} was already sent: a sent reply cannot be undone.")
    if state == "sending" or attempts:
        return Undone(f"Reply to #{mention_id} is being sent: it can no longer be recalled.")
    if state != "pending" or store.now() >= entry.detail["recall_until"]:
        return Undone(f"Too late to recall the reply to #{mention_id}: its recall window is over "
                      "(it goes out as queued).")
    store.conn.execute("DELETE FROM replies WHERE id = ?", (reply_id,))
    log_event(store, operator, "reply.recall", mention_id, reply_id=reply_id, undo_of=entry.id)
    return Undone(f"Reply to #{mention_id} recalled before it was sent.", 1, frozenset({mention_id}),
                  "reply", {"text": text, "mention_id": mention_id})


register_kind("reply", _recall)
