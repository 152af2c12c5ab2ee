"""The sender's side of the outbox: claim, deliver, record — crash-safe.

A reply is claimed ('sending', uncertain=1, the leader's epoch) in a
commit *before* the network call. If the process dies after the call but before recording
the result, the reply stays 'sending' and uncertain; the next claim sees
that and asks the network whether the post exists before sending again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from store.db import Store, iso
from store.events import log_event
from store.lease import Lease, check_held
from store.redact import redact_error
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
    created_at: str = ""
    #: the lease epoch this claim was made under (None: an unfenced claim)
    epoch: int | None = None
    #: before an edit, an attempt may have posted this text under this key: look for it first
    prior_key: str | None = None
    prior_text: str | None = None
    #: the group answer this reply is one of (None: a reply an operator typed)
    answer_id: int | None = None


@dataclass(frozen=True, slots=True)
class Fence:
    """What a leader's claim must prove, in the claim's own transaction.

    The lease is `holder`'s at `epoch` for at least `margin` more seconds
    (the longest network call the adapter allows); claims of older epochs
    are adopted only from `adopt_after` on (ISO; None: never yet).
    """

    holder: str
    epoch: int
    margin: float
    adopt_after: str | None


@dataclass(frozen=True, slots=True)
class Route:
    """Which replies one adapter's sender takes: its network family and account.

    `fallback_for` lists the accounts other adapters of that network answer;
    the first adapter of a network also takes replies of any other account
    (one renamed in the config), so nothing is stranded.
    """

    network: str
    account: str
    fallback_for: tuple[str, ...] | None = None


def claim_due(store: Store, networks: set[str] | None = None, limit: int = 10, *,
              reclaim_sending: bool = False, fence: Fence | None = None,
              route: Route | None = None, bulk_limit: int | None = None) -> list[OutgoingReply]:
    """Claim pending replies whose time has come, plus stale claims of dead senders.

    With a `fence` the lease is checked in this transaction (LeaseLost if
    it is not ours with time to spare), each claim records the epoch, and
    'sending' rows of older epochs are taken once `fence.adopt_after` has
    passed. Without one, `reclaim_sending` takes every 'sending' row at
    once (a single-process test harness).

    Pending replies of a paused group answer are not due (store.group_answers): the
    subquery reads the few paused answers once, by index; claims already made finish.
    Typed replies come before replies of group answers (rows with an
    answer_id), so a long answer never holds one up. With `bulk_limit`
    (the pacer's say) answer rows are taken only when no typed reply is
    due, at most that many.
    """
    with store.write():
        now = store.clock()
        if fence is not None:
            check_held(store, fence.holder, fence.epoch, fence.margin)
            adopt = fence.adopt_after is not None and fence.adopt_after <= iso(now)
            epoch = fence.epoch
        else:
            adopt, epoch = reclaim_sending, None
        stale = iso(now - STALE_CLAIM)
        if route is not None:
            networks = {route.network}
            accounts = json.dumps([route.account])
            others = json.dumps(list(route.fallback_for)) if route.fallback_for is not None else None
        else:
            accounts, others = None, None
        # "webhook" also covers "webhook:instagram" and friends.
        families = json.dumps(sorted(networks or ()))
        rows = store.conn.execute(
            """SELECT r.id, r.idem_key, r.text, r.attempts, r.uncertain, m.id, m.network, acc.handle,
                      m.remote_id, m.url, a.handle, m.reply_ref, r.created_at, r.prior_key, r.prior_text,
                      r.answer_id
               FROM replies r JOIN mentions m ON m.id = r.mention_id
               JOIN authors a ON a.id = m.author_id JOIN accounts acc ON acc.id = m.account_id
               WHERE ((r.state = 'pending' AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= ?)
                       AND (r.answer_id IS NULL OR r.answer_id NOT IN (SELECT id FROM group_answers
                                                                        WHERE state = 'paused')))
                      OR (r.state = 'sending' AND r.claimed_at <= ? AND (? IS NULL OR r.epoch = ?))
                      OR (r.state = 'sending' AND ? = 1 AND (? IS NULL OR r.epoch IS NULL OR r.epoch < ?)))
                 AND (? IS NULL OR m.network IN (SELECT value FROM json_each(?))
                      OR substr(m.network, 1, instr(m.network, ':') - 1) IN (SELECT value FROM json_each(?)))
                 AND (? IS NULL OR acc.handle IN (SELECT value FROM json_each(?))
                      OR (? IS NOT NULL AND acc.handle NOT IN (SELECT value FROM json_each(?))))
               ORDER BY r.answer_id IS NOT NULL, r.id LIMIT ?""",
            (iso(now), stale, epoch, epoch, int(adopt), epoch, epoch,
             None if networks is None else 1, families, families,
             accounts, accounts, others, others, limit),
        ).fetchall()
        if bulk_limit is not None:
            singles = [row for row in rows if row[15] is None]
            rows = singles or rows[:bulk_limit]
        claimed = []
        for row in rows:
            store.conn.execute(
                """UPDATE replies SET state = 'sending', attempts = attempts + 1, claimed_at = ?,
                   uncertain = 1, epoch = ? WHERE id = ?""",
                (iso(now), epoch, row[0]),
            )
            # Cleaned again on the way out: a reply queued by an older version may hold escape codes.
            claimed.append(OutgoingReply(row[0], row[1], clean_text(row[2]), row[3] + 1, bool(row[4]), row[5], row[6],
                                         row[7], row[8], row[9], row[10], json.loads(row[11] or "{}"),
                                         row[12], epoch, row[13], row[14], row[15]))
    return claimed


def _reason(text: str) -> str:
    """An error as stored: credentials masked, then made inert (it often quotes a server's words)."""
    return clean_line(redact_error(text), 500)


def _settle(store: Store, reply: OutgoingReply, assignments: str, params: tuple) -> bool:
    """Record an attempt's result, unless a newer epoch has claimed the reply since.

    A leader that lost its lease mid-send must not put back to 'pending'
    (or fail) a reply the next leader is already sending.
    """
    cursor = store.conn.execute(
        f"""UPDATE replies SET {assignments} WHERE id = ? AND state = 'sending'
            AND (? IS NULL OR epoch IS NULL OR epoch = ?)""",
        (*params, reply.id, reply.epoch, reply.epoch),
    )
    return cursor.rowcount > 0


def mark_sent(store: Store, reply: OutgoingReply, remote_id: str, url: str | None, *, adopted: bool = False) -> None:
    # A post that exists is recorded whoever holds the lease now: it is the truth.
    with store.write():
        store.conn.execute(
            """UPDATE replies SET state = 'sent', uncertain = 0, waiting = 0, sent_at = ?, remote_id = ?,
               remote_url = ?, error = NULL, prior_key = NULL, prior_text = NULL WHERE id = ?""",
            (store.now(), remote_id, url, reply.id),
        )
        log_event(store, "sender", "reply.sent", reply.mention_id, reply_id=reply.id, remote_id=remote_id,
                  adopted=adopted)


def mark_sent_earlier(store: Store, reply: OutgoingReply, remote_id: str, url: str | None) -> None:
    """The text from before the edit had been posted after all: that post is the reply; the edit is not sent."""
    with store.write():
        store.conn.execute(
            """UPDATE replies SET state = 'sent', uncertain = 0, waiting = 0, sent_at = ?, remote_id = ?,
               remote_url = ?, text = prior_text, prior_key = NULL, prior_text = NULL,
               error = 'the text from before the edit had been posted; the edit was not sent' WHERE id = ?""",
            (store.now(), remote_id, url, reply.id),
        )
        log_event(store, "sender", "reply.sent", reply.mention_id, reply_id=reply.id, remote_id=remote_id,
                  adopted=True, edit_dropped=True)


def mark_failed(store: Store, reply: OutgoingReply, reason: str, *, uncertain: bool = False) -> bool:
    """Give up; `uncertain` keeps "may have been posted" so a retry looks before it sends."""
    reason = _reason(reason)
    with store.write():
        if not _settle(store, reply, "state = 'failed', uncertain = ?, waiting = 0, error = ?",
                       (int(uncertain), reason)):
            return False
        log_event(store, "sender", "reply.failed", reply.mention_id, reply_id=reply.id, reason=reason,
                  uncertain=uncertain)
    return True


def mark_manual(store: Store, reply: OutgoingReply, reason: str) -> bool:
    reason = _reason(reason)
    with store.write():
        if not _settle(store, reply, "state = 'manual', uncertain = 0, waiting = 0, error = ?", (reason,)):
            return False
        log_event(store, "sender", "reply.manual", reply.mention_id, reply_id=reply.id, reason=reason)
    return True


def schedule_retry(store: Store, reply: OutgoingReply, delay: float, reason: str, *, uncertain: bool) -> bool:
    """Back to pending after `delay` seconds; `uncertain` if the attempt may have posted."""
    reason = _reason(reason)
    with store.write():
        when = iso(store.clock() + timedelta(seconds=delay))
        if not _settle(store, reply, "state = 'pending', next_attempt_at = ?, uncertain = ?, waiting = 0, error = ?",
                       (when, int(uncertain), reason)):
            return False
        log_event(store, "sender", "reply.retry_scheduled", reply.mention_id, reply_id=reply.id,
                  reason=reason, at=when)
    return True


def wait_for_network(store: Store, reply: OutgoingReply, delay: float, reason: str) -> bool:
    """The attempt never reached the server: back to pending without spending an attempt.

    The reply keeps whatever "may have been posted" an earlier attempt left.
    """
    reason = _reason(reason)
    with store.write():
        when = iso(store.clock() + timedelta(seconds=delay))
        if not _settle(store, reply,
                       "state = 'pending', next_attempt_at = ?, uncertain = ?, waiting = 1, error = ?, "
                       "attempts = max(0, attempts - 1)",
                       (when, int(reply.uncertain), reason)):
            return False
        log_event(store, "sender", "reply.waiting", reply.mention_id, reply_id=reply.id, reason=reason, at=when)
    return True


def unclaim(store: Store, reply: OutgoingReply) -> bool:
    """Hand back a claim that sent nothing (the lease ran short): the attempt does not count."""
    with store.write():
        return _settle(store, reply, "state = 'pending', uncertain = ?, attempts = max(0, attempts - 1)",
                       (int(reply.uncertain),))


def deadline_passed(store: Store, reply: OutgoingReply, deadline: float) -> bool:
    """Whether a reply queued at `reply.created_at` has waited for the network longer than allowed."""
    return reply.created_at <= iso(store.clock() - timedelta(seconds=deadline))


def adopt_after(lease: Lease, margin: float) -> str | None:
    """When claims of epochs before `lease`'s are surely over: the old lease's end plus `margin`."""
    if lease.prev_expires_at is None:
        return "" if lease.epoch <= 1 else None
    moment = datetime.fromisoformat(lease.prev_expires_at) + timedelta(seconds=margin)
    return iso(moment)


@dataclass(frozen=True, slots=True)
class ReplyRequest:
    reply_id: int
    action: str  # reply.queue or reply.retry
    operator: str


@dataclass(frozen=True, slots=True)
class ReplyRequests:
    newest_event: int  # pass it as `after` next time
    requests: list[ReplyRequest]


def reply_requests_since(store: Store, after: int | None) -> ReplyRequests:
    """Replies queued or retried after event `after`.

    None starts from now: a new leader does not replay history.
    """
    newest = store.conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    if after is None:
        return ReplyRequests(newest, [])
    rows = store.conn.execute(
        """SELECT json_extract(detail, '$.reply_id'), action, operator FROM events
           WHERE id > ? AND id <= ? AND action IN ('reply.queue', 'reply.retry') ORDER BY id""",
        (after, newest))
    return ReplyRequests(newest, [ReplyRequest(*row) for row in rows])


def reply_counts(store: Store) -> dict[str, int]:
    return dict(store.conn.execute("SELECT state, count(*) FROM replies GROUP BY state").fetchall())
