"""Operator actions: tags, status, replies. Each is one short transaction with its event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from store.db import Store, inserted_id, iso
from store.errors import ActionError
from store.events import log_event
from store.keys import new_reply_key
from store.sanitize import clean_text
from store.undo import push

TAGS = ("care", "marketing")
STATUSES = ("open", "done")


@dataclass(frozen=True, slots=True)
class Answer:
    """A reply that already answers the mention: (id, who, text, state)."""

    id: int
    operator: str
    text: str
    state: str


class AlreadyAnswered(ActionError):
    """Someone replied after this operator opened the composer; nothing was queued."""

    def __init__(self, answers: list[Answer]) -> None:
        latest = answers[-1]
        super().__init__(f"{latest.operator} answered this mention since you opened it")
        self.answers = answers


class ClaimedByOther(ActionError):
    """Another operator is replying right now; nothing was queued."""

    def __init__(self, operator: str) -> None:
        super().__init__(f"{operator} is replying to this mention now")
        self.operator = operator


@dataclass(frozen=True, slots=True)
class ReplyGuard:
    """What a reply must not step on, checked inside the transaction that queues it.

    `since_reply` is the mention's last reply id when the composer opened
    (None: no composer, as with `mentiondesk reply`): any non-failed reply
    above it answers the mention. A confirmation covers only what it showed:
    the reply ids in `accepted` and the claim of `accepted_claim`; anything
    newer refuses again. `force` steps over any claim (the CLI's --force).
    """

    since_reply: int | None = None
    accepted: frozenset[int] = frozenset()
    accepted_claim: str | None = None
    force: bool = False


def _check_guard(store: Store, mention_id: int, operator: str, guard: ReplyGuard) -> None:
    if guard.since_reply is not None:
        answers = [Answer(*values) for values in store.conn.execute(
            """SELECT id, operator, text, state FROM replies
               WHERE mention_id = ? AND id > ? AND state != 'failed' ORDER BY id""",
            (mention_id, guard.since_reply),
        )]
        if any(answer.id not in guard.accepted for answer in answers):
            raise AlreadyAnswered(answers)
    if not guard.force:
        row = store.conn.execute(
            "SELECT operator FROM claims WHERE mention_id = ? AND expires_at > ? AND operator != ?",
            (mention_id, store.now(), operator),
        ).fetchone()
        if row and row[0] != guard.accepted_claim:
            raise ClaimedByOther(row[0])


def reply_mark(store: Store, mention_id: int) -> int:
    """The mention's last reply id: what "answered since you opened it" counts from."""
    return store.conn.execute(
        "SELECT coalesce(max(id), 0) FROM replies WHERE mention_id = ?", (mention_id,)
    ).fetchone()[0]


def _drop_draft(store: Store, mention_id: int, operator: str) -> None:
    """Sending is what a draft was for: it goes in the transaction that queues the reply."""
    store.conn.execute("DELETE FROM drafts WHERE mention_id = ? AND operator = ?", (mention_id, operator))


def _require_mention(store: Store, mention_id: int) -> None:
    if not store.conn.execute("SELECT 1 FROM mentions WHERE id = ?", (mention_id,)).fetchone():
        raise ActionError(f"no mention with id {mention_id}")


def set_tag(store: Store, mention_id: int, tag: str, on: bool, operator: str) -> bool:
    """Set or clear a tag; returns whether anything changed."""
    with store.write():
        return _set_tag(store, mention_id, tag, on, operator)


def toggle_tag(store: Store, mention_id: int, tag: str, operator: str) -> bool:
    """Flip a tag; returns whether it is now set.

    Read and write share one transaction, so two consoles toggling at once
    end up with one change each, never both "tagged".
    """
    with store.write():
        present = store.conn.execute(
            "SELECT 1 FROM tags WHERE mention_id = ? AND tag = ?", (mention_id, tag)
        ).fetchone() is not None
        _set_tag(store, mention_id, tag, not present, operator)
    return not present


def _set_tag(store: Store, mention_id: int, tag: str, on: bool, operator: str) -> bool:
    if tag not in TAGS:
        raise ActionError(f"unknown tag {tag!r}: use one of {', '.join(TAGS)}")
    _require_mention(store, mention_id)
    if on:
        changed = store.conn.execute(
            "INSERT OR IGNORE INTO tags (mention_id, tag, operator, at) VALUES (?, ?, ?, ?)",
            (mention_id, tag, operator, store.now()),
        ).rowcount
    else:
        changed = store.conn.execute("DELETE FROM tags WHERE mention_id = ? AND tag = ?", (mention_id, tag)).rowcount
    if changed:
        log_event(store, operator, "tag.add" if on else "tag.remove", mention_id, tag=tag)
    return bool(changed)


def set_status(store: Store, mention_id: int, status: str, operator: str) -> bool:
    if status not in STATUSES:
        raise ActionError(f"unknown status {status!r}: use open or done")
    with store.write():
        _require_mention(store, mention_id)
        changed = store.conn.execute(
            "UPDATE mentions SET status = ?, seen = 1 WHERE id = ? AND status != ?",
            (status, mention_id, status),
        ).rowcount
        if changed:
            log_event(store, operator, f"status.{status}", mention_id)
    return bool(changed)


def toggle_done(store: Store, mention_id: int, operator: str) -> str:
    row = store.conn.execute("SELECT status FROM mentions WHERE id = ?", (mention_id,)).fetchone()
    if not row:
        raise ActionError(f"no mention with id {mention_id}")
    status = "open" if row[0] == "done" else "done"
    set_status(store, mention_id, status, operator)
    return status


def mark_seen(store: Store, mention_id: int, operator: str) -> bool:
    """This operator has read the mention ("● new" is personal, not the desk's).

    Reading is not an action worth logging; the `reads` id is what the
    operator's other consoles follow to drop their "● new" too.
    """
    with store.write():
        return bool(store.conn.execute(
            "INSERT OR IGNORE INTO reads (operator, mention_id, at) VALUES (?, ?, ?)",
            (operator, mention_id, store.now()),
        ).rowcount)


@dataclass(frozen=True, slots=True)
class QueuedReply:
    id: int
    key: str
    state: str


def queue_reply(store: Store, mention_id: int, text: str, operator: str, *, manual: bool = False,
                guard: ReplyGuard | None = None, recall: float = 0.0) -> QueuedReply:
    """Commit a reply to the outbox before anything is sent.

    `manual` marks replies to networks we cannot post to: the text is kept
    for the operator to copy and the sender never touches it. `guard` is
    checked in the same write transaction as the insert, so two operators
    who both confirmed cannot both answer (AlreadyAnswered, ClaimedByOther).
    `recall` seconds (the reply_recall setting) hold the reply back: its
    first attempt is not due before then, so the sender's query cannot pick
    it up while `u` may still recall it (store.recall).
    """
    text = clean_text(text)  # typed, pasted or imported: it may carry escape codes
    if not text:
        raise ActionError("the reply is empty")
    key = new_reply_key()
    state = "manual" if manual else "pending"
    recall = recall if state == "pending" and recall > 0 else 0.0
    with store.write():
        recall_until = iso(store.clock() + timedelta(seconds=recall)) if recall else None
        _require_mention(store, mention_id)
        if guard is not None:
            _check_guard(store, mention_id, operator, guard)
        reply_id = inserted_id(store.conn.execute(
            """INSERT INTO replies (mention_id, text, operator, created_at, state, idem_key, next_attempt_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (mention_id, text, operator, store.now(), state, key, recall_until),
        ))
        store.conn.execute("UPDATE mentions SET seen = 1 WHERE id = ?", (mention_id,))
        _drop_draft(store, mention_id, operator)
        log_event(store, operator, "reply.queue", mention_id, reply_id=reply_id, state=state,
                  chars=len(text))
        if recall_until:
            push(store, operator, "reply", f"Reply to #{mention_id} queued",
                 {"reply_id": reply_id, "mention_id": mention_id, "recall_until": recall_until})
    return QueuedReply(reply_id, key, state)


def retry_reply(store: Store, reply_id: int, operator: str, new_text: str | None = None, *,
                guard: ReplyGuard | None = None) -> int:
    """Put a failed reply back in the outbox, optionally with edited text.

    Edited text gets a fresh key: it is a different post, and the failed
    attempt's key must not make a server return the old one.
    """
    with store.write():
        row = store.conn.execute(
            "SELECT mention_id, state, uncertain, idem_key, text, prior_key FROM replies WHERE id = ?", (reply_id,)
        ).fetchone()
        if not row:
            raise ActionError(f"no reply with id {reply_id}")
        mention_id, state, uncertain, old_key, old_text, prior_key = row
        if state != "failed":
            raise ActionError(f"reply {reply_id} is {state}, only failed replies can be retried")
        if guard is not None:
            _check_guard(store, mention_id, operator, guard)
        new_text = clean_text(new_text) if new_text is not None else None
        if new_text:
            # An earlier attempt may have posted the old text: the sender looks for it (by the
            # old key) before sending the new one. The first such text is the one to look for.
            keep = uncertain and prior_key is None
            store.conn.execute(
                """UPDATE replies SET state = 'pending', text = ?, idem_key = ?, error = NULL,
                   next_attempt_at = NULL, attempts = 0,
                   prior_key = CASE WHEN ? = 1 THEN ? ELSE prior_key END,
                   prior_text = CASE WHEN ? = 1 THEN ? ELSE prior_text END WHERE id = ?""",
                (new_text, new_reply_key(), keep, old_key, keep, old_text, reply_id),
            )
        else:
            store.conn.execute(
                "UPDATE replies SET state = 'pending', error = NULL, next_attempt_at = NULL WHERE id = ?",
                (reply_id,),
            )
        if new_text:
            _drop_draft(store, mention_id, operator)
        log_event(store, operator, "reply.retry", mention_id, reply_id=reply_id,
                  edited=new_text is not None)
    return reply_id
