"""The sender's side of the outbox: claim, deliver, record — crash-safe.

A reply is claimed ('sending', uncertain=1) in a commit *before* the
network call. If the process dies after the call but before recording
the result, the reply stays 'sending' and uncertain; the next claim sees
that and asks the network whether the post exists before sending again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from store.db import Store, iso
from store.events import log_event
from store.sanitize import clean_line, clean_text

# A 'sending' claim older than this belongs to a sender that died.
STALE_CLAIM = timedelta(seconds=120)


@dataclass(frozen=True, slots=True)
class OutgoingReply:
    id: int
    key: str
    text: str
    attempts: int
    uncertain: bool
    mention_id: int
    network: str
    account: str
    mention_remote_id: str
    mention_url: str | None
    author_handle: str
    reply_ref: dict


def claim_due(store: Store, networks: set[str] | None = None, limit: int = 10, *,
              reclaim_sending: bool = False) -> list[OutgoingReply]:
    """Claim pending replies whose time has come, plus stale claims of dead senders.

    `reclaim_sending` takes every 'sending' row at once: a sender that has
    just won the leader lease knows any such row belongs to a dead leader.
    """
    now = store.clock()
    stale = iso(now if reclaim_sending else now - STALE_CLAIM)
    # "webhook" also covers "webhook:instagram" and friends.
    families = json.dumps(sorted(networks or ()))
    with store.write():
        rows = store.conn.execute(
            """SELECT r.id, r.idem_key, r.text, r.attempts, r.uncertain, m.id, m.network, acc.handle,
                      m.remote_id, m.url, a.handle, m.reply_ref
               FROM replies r JOIN mentions m ON m.id = r.mention_id
               JOIN authors a ON a.id = m.author_id JOIN accounts acc ON acc.id = m.account_id
               WHERE ((r.state = 'pending' AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= ?))
                      OR (r.state = 'sending' AND r.claimed_at <= ?))
                 AND (? IS NULL OR m.network IN (SELECT value FROM json_each(?))
                      OR substr(m.network, 1, instr(m.network, ':') - 1) IN (SELECT value FROM json_each(?)))
               ORDER BY r.id LIMIT ?""",
            (iso(now), stale, None if networks is None else 1, families, families, limit),
        ).fetchall()
        claimed = []
        for row in rows:
            store.conn.execute(
                """UPDATE replies SET state = 'sending', attempts = attempts + 1, claimed_at = ?,
                   uncertain = 1 WHERE id = ?""",
                (iso(now), row[0]),
            )
            # Cleaned again on the way out: a reply queued by an older version may hold escape codes.
            claimed.append(OutgoingReply(row[0], row[1], clean_text(row[2]), row[3] + 1, bool(row[4]), row[5], row[6],
                                         row[7], row[8], row[9], row[10], json.loads(row[11] or "{}")))
    return claimed


def mark_sent(store: Store, reply: OutgoingReply, remote_id: str, url: str | None, *, adopted: bool = False) -> None:
    with store.write():
        store.conn.execute(
            """UPDATE replies SET state = 'sent', uncertain = 0, sent_at = ?, remote_id = ?, remote_url = ?,
               error = NULL WHERE id = ?""",
            (store.now(), remote_id, url, reply.id),
        )
        log_event(store, "sender", "reply.sent", reply.mention_id, reply_id=reply.id, remote_id=remote_id,
                  adopted=adopted)


def mark_failed(store: Store, reply: OutgoingReply, reason: str) -> None:
    reason = clean_line(reason, 500)  # often a server's words
    with store.write():
        store.conn.execute(
            "UPDATE replies SET state = 'failed', uncertain = 0, error = ? WHERE id = ?", (reason, reply.id)
        )
        log_event(store, "sender", "reply.failed", reply.mention_id, reply_id=reply.id, reason=reason)


def mark_manual(store: Store, reply: OutgoingReply, reason: str) -> None:
    reason = clean_line(reason, 500)
    with store.write():
        store.conn.execute(
            "UPDATE replies SET state = 'manual', uncertain = 0, error = ? WHERE id = ?", (reason, reply.id)
        )
        log_event(store, "sender", "reply.manual", reply.mention_id, reply_id=reply.id, reason=reason)


def schedule_retry(store: Store, reply: OutgoingReply, delay: float, reason: str, *, uncertain: bool) -> None:
    """Back to pending after `delay` seconds; `uncertain` if the attempt may have posted."""
    when = iso(store.clock() + timedelta(seconds=delay))
    reason = clean_line(reason, 500)
    with store.write():
        store.conn.execute(
            """UPDATE replies SET state = 'pending', next_attempt_at = ?, uncertain = ?, error = ?
               WHERE id = ?""",
            (when, int(uncertain), reason, reply.id),
        )
        log_event(store, "sender", "reply.retry_scheduled", reply.mention_id, reply_id=reply.id,
                  reason=reason, at=when)


def reply_counts(store: Store) -> dict[str, int]:
    return dict(store.conn.execute("SELECT state, count(*) FROM replies GROUP BY state").fetchall())
