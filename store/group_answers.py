"""One answer to many: drafted once, approved by a second operator when big, queued in one commit.

Queuing inserts one outbox row per member that gets it (store.answer_plan decides), each
with the answer's id and a key derived from the answer and the mention, in the same
transaction as the answer's new state and one event per reply: a crash leaves all of it
or none, and a second queue of the same answer cannot add a row (it is no longer
queueable, and replies_one_per_answer forbids a second row per mention anyway).

Pausing stops the sender claiming the answer's pending rows (store.outbox.claim_due skips
rows of a paused answer); cancelling takes back the rows no attempt touched and fails the
ones an attempt may have posted, so nobody is left "queued" for ever.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from store.answer_plan import LimitCheck, Plan, Target, member_ids, plan
from store.db import Store, inserted_id
from store.errors import ActionError
from store.events import log_event, log_events
from store.keys import answer_key
from store.pacing import describe_eta, pacing_eta
from store.preferences import set_preference
from store.saved_replies import checked_body

APPROVE_PREFERENCE = "approve_over"  # each operator's configured threshold, recorded (desk_approve_over)
#: answers to more people than this need a second operator (the `[flood] approve_over` setting)
APPROVE_OVER = 20
RUNNING = ("queued", "paused")


@dataclass(frozen=True, slots=True)
class Answer:
    id: int
    group_id: int | None
    members: tuple[int, ...]
    body: str
    reply_name: str | None
    one_per_author: bool
    state: str  # draft | awaiting_approval | queued | paused | cancelled
    drafted_by: str
    approved_by: str | None
    approve_over: int
    created_at: str
    queued_at: str | None
    planned: int  # replies it queues (or will, as planned when drafted)

    @property
    def target(self) -> Target:
        return Target(self.group_id, self.members)

    @property
    def what(self) -> str:
        return f"group {self.group_id}" if self.group_id is not None else f"{len(self.members)} marked mentions"


@dataclass(frozen=True, slots=True)
class Progress:
    answer: Answer
    queued: int  # pending: waiting for the sender (or paused)
    sending: int
    sent: int
    failed: int
    skipped: int  # decided when it was queued (store.answer_plan's reasons)
    cancelled: int  # taken back before any attempt
    reasons: dict[str, int]
    manual: int = 0  # kept for posting by hand (a network the desk cannot post to)
    finish: str = ""  # while replies wait: about when the last goes, at the accounts' pace (store.pacing)

    @property
    def phase(self) -> str:
        """The state, with "finished" once a queued answer has nothing left to send."""
        if self.answer.state == "queued" and not self.queued and not self.sending:
            return "finished"
        return self.answer.state

    def line(self) -> str:
        return (f"answer {self.answer.id} ({self.answer.what}) {self.phase}: {self.queued} queued, "
                f"{self.sending} sending, {self.sent} sent, {self.failed} failed, {self.skipped} skipped"
                + (f", {self.cancelled} cancelled" if self.cancelled else "")
                + (f", {self.manual} to post by hand" if self.manual else "")
                + (f" · {self.finish}" if self.finish else ""))


@dataclass(frozen=True, slots=True)
class Drafted:
    answer: Answer
    plan: Plan
    queued: bool  # False: it waits for a second operator's approval


_COLUMNS = ("id, group_id, members, body, reply_name, one_per_author, state, drafted_by, approved_by, approve_over, "
            "created_at, queued_at, planned")


def _answer(row: tuple) -> Answer:
    aid, group_id, members, body, name, one, state, drafted, approved, over, created, queued, planned = row
    return Answer(aid, group_id, tuple(json.loads(members)), body, name, bool(one), state, drafted, approved, over,
                  created, queued, planned)


def get_answer(store: Store, answer_id: int) -> Answer:
    row = store.conn.execute(f"SELECT {_COLUMNS} FROM group_answers WHERE id = ?", (answer_id,)).fetchone()
    if row is None:
        raise ActionError(f"no answer with id {answer_id}")
    return _answer(row)


def _queue(store: Store, answer: Answer, operator: str, over_limit: LimitCheck | None,
           found: Plan | None = None) -> Plan:
    """Queue the plan made in the caller's write transaction (else plan now, in it): the one commit."""
    if found is None:
        found = plan(store, answer.target, answer.body, answer.drafted_by, one_per_author=answer.one_per_author,
                     answer_id=answer.id, over_limit=over_limit)
    now = store.now()
    base = store.conn.execute("SELECT key_base FROM group_answers WHERE id = ?", (answer.id,)).fetchone()[0]
    store.conn.executemany(
        """INSERT INTO replies (mention_id, text, operator, created_at, state, idem_key, answer_id)
           VALUES (?, ?, ?, ?, 'pending', ?, ?)""",
        [(p.mention_id, p.text, answer.drafted_by, now, answer_key(base, answer.id, p.mention_id), answer.id)
         for p in found.sends])
    store.conn.execute(
        "UPDATE group_answers SET state = 'queued', queued_at = ?, updated_at = ?, planned = ?, skipped = ? "
        "WHERE id = ?", (now, now, len(found.sends), json.dumps(found.reasons), answer.id))
    store.conn.executemany("INSERT INTO answer_skips (answer_id, mention_id, reason) VALUES (?, ?, ?)",
                           [(answer.id, skip.mention_id, skip.reason) for skip in found.skips])
    reply_ids = store.conn.execute("SELECT mention_id, id FROM replies WHERE answer_id = ?", (answer.id,)).fetchall()
    chars = {p.mention_id: len(p.text) for p in found.sends}
    log_events(store, answer.drafted_by, [
        ("reply.queue", mid, {"reply_id": rid, "state": "pending", "chars": chars.get(mid, 0), "answer": answer.id})
        for mid, rid in reply_ids])
    log_event(store, operator, "answer.queue", None, answer=answer.id, replies=len(found.sends),
              skipped=len(found.skips), reasons=found.reasons)
    return found


def record_approve_over(store: Store, operator: str, configured: int) -> None:
    set_preference(store, operator, APPROVE_PREFERENCE, str(configured))


def desk_approve_over(store: Store, operator: str, configured: int) -> int:
    """The threshold that holds for the whole desk: the strictest any operator has configured.

    Each operator's `[flood] approve_over` is recorded as they use it; a drafter's own config can
    lower the bar for everyone but never raise it above a colleague's, or the second pair of eyes
    would be one config edit away.
    """
    record_approve_over(store, operator, configured)
    values = [int(row[0]) for row in store.conn.execute(
        "SELECT value FROM operator_preferences WHERE name = ?", (APPROVE_PREFERENCE,)) if str(row[0]).isdigit()]
    return min([configured, *values])


def draft_answer(store: Store, target: Target, body: str, operator: str, *, reply_name: str | None = None,
                 one_per_author: bool = True, approve_over: int = APPROVE_OVER,
                 over_limit: LimitCheck | None = None) -> Drafted:
    """Record an answer and queue it at once, or (to more than `approve_over` people) ask for approval;
    `over_limit` skips members whose network would refuse their text as too long."""
    body = checked_body(body, "the answer")
    with store.write():
        member_ids(store, target)  # a group that is gone or merged: one line, before anything is written
        approve_over = desk_approve_over(store, operator, approve_over)
        now = store.now()
        answer_id = inserted_id(store.conn.execute(
            """INSERT INTO group_answers (group_id, members, body, reply_name, one_per_author, drafted_by,
                   approve_over, key_base, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (target.group_id, json.dumps(sorted(set(target.members))), body, reply_name, int(one_per_author), operator,
             approve_over, time.time_ns() // 1000, now, now)))
        answer = get_answer(store, answer_id)
        found = plan(store, target, body, operator, one_per_author=one_per_author, answer_id=answer_id,
                     over_limit=over_limit)
        if not found.sends:
            raise ActionError(f"nobody to answer: {'; '.join(found.reason_lines()) or 'no members'}")
        log_event(store, operator, "answer.draft", None, answer=answer_id, target=answer.what,
                  replies=len(found.sends), reply_name=reply_name)
        if len(found.sends) > approve_over:
            store.conn.execute("UPDATE group_answers SET state = 'awaiting_approval', planned = ? WHERE id = ?",
                               (len(found.sends), answer_id))
            log_event(store, operator, "answer.ask_approval", None, answer=answer_id, replies=len(found.sends),
                      approve_over=approve_over)
            return Drafted(get_answer(store, answer_id), found, False)
        found = _queue(store, answer, operator, over_limit, found)
        return Drafted(get_answer(store, answer_id), found, True)


def approve(store: Store, answer_id: int, operator: str, over_limit: LimitCheck | None = None) -> Plan:
    """A second operator approves: the answer is queued in the same commit."""
    with store.write():
        answer = get_answer(store, answer_id)
        if answer.state != "awaiting_approval":
            raise ActionError(f"answer {answer_id} is {answer.state.replace('_', ' ')}: nothing to approve")
        if answer.drafted_by == operator:
            raise ActionError(f"you drafted answer {answer_id}: another operator must approve it")
        store.conn.execute("UPDATE group_answers SET approved_by = ? WHERE id = ?", (operator, answer_id))
        log_event(store, operator, "answer.approve", None, answer=answer_id, drafted_by=answer.drafted_by)
        return _queue(store, answer, operator, over_limit)


def pause(store: Store, answer_id: int, operator: str) -> None:
    _move(store, answer_id, operator, "paused", ("queued",))


def resume(store: Store, answer_id: int, operator: str) -> None:
    _move(store, answer_id, operator, "queued", ("paused",))


_VERBS = {"paused": "pause", "queued": "resume", "cancelled": "cancel"}


def _move(store: Store, answer_id: int, operator: str, state: str, allowed: tuple[str, ...]) -> Answer:
    with store.write():
        answer = get_answer(store, answer_id)
        if answer.state not in allowed:
            verb = _VERBS[state]
            raise ActionError(f"answer {answer_id} is {answer.state.replace('_', ' ')}: it cannot be {verb}d")
        store.conn.execute("UPDATE group_answers SET state = ?, updated_at = ? WHERE id = ?",
                           (state, store.now(), answer_id))
        log_event(store, operator, f"answer.{_VERBS[state]}", None, answer=answer_id)
        return answer


def cancel(store: Store, answer_id: int, operator: str) -> int:
    """Stop for good; returns how many queued replies were taken back unsent."""
    with store.write():
        answer = _move(store, answer_id, operator, "cancelled", ("draft", "awaiting_approval", "queued", "paused"))
        touched = store.conn.execute(
            """UPDATE replies SET state = 'failed', error = ? WHERE answer_id = ? AND state = 'pending'
               AND uncertain = 1""",
            (f"answer {answer_id} cancelled by {operator}; an earlier attempt may have posted it: "
             "check the thread before retrying", answer_id)).rowcount
        taken = store.conn.execute(
            "SELECT id, mention_id FROM replies WHERE answer_id = ? AND state = 'pending'", (answer_id,)).fetchall()
        store.conn.execute("DELETE FROM replies WHERE answer_id = ? AND state = 'pending'", (answer_id,))
        store.conn.execute("UPDATE group_answers SET cancelled = ? WHERE id = ?", (len(taken), answer_id))
        log_events(store, operator, [("reply.recall", mid, {"reply_id": rid, "answer": answer_id})
                                     for rid, mid in taken])
        if touched:
            log_event(store, operator, "answer.cancel_uncertain", None, answer=answer.id, replies=touched)
        return len(taken)


def progress(store: Store, answer: Answer) -> Progress:
    counts = dict(store.conn.execute(
        "SELECT state, count(*) FROM replies WHERE answer_id = ? GROUP BY state", (answer.id,)).fetchall())
    skipped_json, cancelled = store.conn.execute(
        "SELECT skipped, cancelled FROM group_answers WHERE id = ?", (answer.id,)).fetchone()
    reasons = json.loads(skipped_json)
    waiting = counts.get("pending", 0) + counts.get("sending", 0)
    finish = ""
    if waiting and answer.state == "queued":
        # "~4 min at 30/min (Mastodon limit)": the slowest account's estimate, without the count said before.
        finish = describe_eta(pacing_eta(store, answer.id), answer.id).partition(" queued, ")[2]
    return Progress(answer, counts.get("pending", 0), counts.get("sending", 0), counts.get("sent", 0),
                    counts.get("failed", 0), sum(reasons.values()), cancelled, reasons, counts.get("manual", 0),
                    finish)


def list_answers(store: Store, *, states: tuple[str, ...] | None = None, limit: int = 50) -> list[Progress]:
    """Answers newest first, with their progress; `states` narrows (e.g. RUNNING)."""
    rows = store.conn.execute(
        f"SELECT {_COLUMNS} FROM group_answers WHERE (? IS NULL OR state IN (SELECT value FROM json_each(?))) "
        "ORDER BY id DESC LIMIT ?", (None if states is None else 1, json.dumps(states or ()), limit)).fetchall()
    return [progress(store, _answer(row)) for row in rows]


def awaiting_approval(store: Store, operator: str) -> list[Answer]:
    """Answers someone else drafted that wait for a second operator: what `operator` may approve."""
    return [_answer(row) for row in store.conn.execute(
        f"SELECT {_COLUMNS} FROM group_answers WHERE state = 'awaiting_approval' AND drafted_by != ? ORDER BY id",
        (operator,))]


def answers_in_flight(store: Store) -> list[Progress]:
    """What the consoles show: answers waiting for approval, paused, or still sending (not finished)."""
    return [p for p in list_answers(store, states=("awaiting_approval", "queued", "paused"), limit=20)
            if p.phase != "finished"]
