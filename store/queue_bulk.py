"""Replies of one group answer, queued in one transaction (rows with an answer_id).

The group-answer feature decides who gets what; this only puts the rows
in the outbox, exactly as typed replies are (same keys, same exactly-once
sending), marked with the answer they belong to so the sender paces them
behind typed replies.
"""

from __future__ import annotations

from collections.abc import Iterable

from store.actions import queue_reply
from store.db import Store


def queue_bulk_replies(store: Store, answer_id: int, replies: Iterable[tuple[int, str]], operator: str) -> list[int]:
    """Queue (mention id, text) pairs as replies of answer `answer_id`; their ids, in order."""
    ids = []
    with store.write():
        for mention_id, text in replies:
            ids.append(queue_reply(store, mention_id, text, operator).id)
        store.conn.executemany("UPDATE replies SET answer_id = ? WHERE id = ?", [(answer_id, i) for i in ids])
    return ids
