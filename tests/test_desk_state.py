"""The shared desk's state in the store: claim expiry, the reply guard, per-operator
reads, assignments to unknown names, queued vs sent. Injected clock throughout."""

from __future__ import annotations

import pytest

from store import actions, desk
from store.actions import AlreadyAnswered, ClaimedByOther, ReplyGuard, mark_seen, queue_reply, reply_mark
from store.changes import Assigned, marks_now, poll
from store.db import open_store
from store.inbox import mention_detail, rows_by_id
from store.ingest import save_batch
from store.lease import try_acquire
from store.outbox import claim_due, mark_failed, mark_sent

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


@pytest.fixture
def other(desk_db, clock):
    """A second connection to the file with the same clock: another operator's console."""
    opened = open_store(desk_db, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def target(store, make_mention) -> int:
    [mention_id] = save_batch(store, "demo", [make_mention()], None)
    return mention_id


# -- claims -----------------------------------------------------------------------------------------

def test_a_claim_not_renewed_lapses_within_its_ttl(store, other, clock, target):
    assert desk.CLAIM_TTL.total_seconds() <= 15
    assert desk.CLAIM_RENEW * 2 < desk.CLAIM_TTL.total_seconds(), "a late heartbeat must not drop it"
    assert desk.claim(store, target, "ana") is None
    clock.advance(seconds=desk.CLAIM_TTL.total_seconds() - 1)
    assert desk.active_claim(other, target).operator == "ana"
    assert desk.claim(other, target, "bo").operator == "ana"
    clock.advance(seconds=2)
    assert desk.active_claim(other, target) is None
    assert desk.claim(other, target, "bo") is None, "a dead console's claim is free to take"


def test_a_renewed_claim_outlives_its_ttl(store, other, clock, target):
    desk.claim(store, target, "ana")
    for _ in range(10):
        clock.advance(seconds=desk.CLAIM_RENEW)
        assert desk.claim(store, target, "ana") is None  # the heartbeat
    assert desk.active_claim(other, target).operator == "ana"
    claims = store.conn.execute("SELECT count(*) FROM events WHERE action = 'claim'").fetchone()[0]
    assert claims == 1, "renewals are not logged as new claims"


def test_release_claims_drops_only_the_operators_own(store, make_mention):
    a, b, c = save_batch(store, "demo", [make_mention() for _ in range(3)], None)
    desk.claim(store, a, "ana")
    desk.claim(store, b, "ana")
    desk.claim(store, c, "bo")
    assert desk.release_claims(store, [a, b, c], "ana") == 2
    assert store.conn.execute("SELECT mention_id, operator FROM claims").fetchall() == [(c, "bo")]


# -- the double-reply race ----------------------------------------------------------------------------

def test_the_double_reply_race_ends_with_one_reply_unless_confirmed(store, other, target):
    """A opens, B takes over and confirms, A is asked about B's claim, B sends, A says yes."""
    assert desk.claim(store, target, "ana") is None
    ana_opened = reply_mark(store, target)
    assert desk.claim(other, target, "bo").operator == "ana"
    desk.take_claim(other, target, "bo")
    bo_opened = reply_mark(other, target)

    with pytest.raises(ClaimedByOther) as asked:
        queue_reply(store, target, "ana's answer", "ana", guard=ReplyGuard(since_reply=ana_opened))
    assert asked.value.operator == "bo"
    bo_reply = queue_reply(other, target, "bo's answer", "bo", guard=ReplyGuard(since_reply=bo_opened))
    desk.release_claim(other, target, "bo")
    # ana answers yes to "bo is replying": that covers the claim, not bo's reply since.
    with pytest.raises(AlreadyAnswered) as answered:
        queue_reply(store, target, "ana's answer", "ana",
                    guard=ReplyGuard(since_reply=ana_opened, accepted_claim="bo"))
    assert [(a.id, a.operator, a.state) for a in answered.value.answers] == [(bo_reply.id, "bo", "pending")]
    assert store.conn.execute("SELECT operator FROM replies").fetchall() == [("bo",)]
    # Shown bo's reply and still sure: then, and only then, a second reply.
    queue_reply(store, target, "ana's answer", "ana",
                guard=ReplyGuard(since_reply=ana_opened, accepted=frozenset({bo_reply.id}), accepted_claim="bo"))
    assert store.conn.execute("SELECT operator FROM replies ORDER BY id").fetchall() == [("bo",), ("ana",)]


def test_a_confirmation_covers_only_the_replies_it_showed(store, other, target):
    opened = reply_mark(store, target)
    first = queue_reply(other, target, "one", "bo")
    queue_reply(other, target, "two", "cy")
    with pytest.raises(AlreadyAnswered) as again:
        queue_reply(store, target, "mine", "ana",
                    guard=ReplyGuard(since_reply=opened, accepted=frozenset({first.id})))
    assert [a.operator for a in again.value.answers] == ["bo", "cy"]
    assert store.conn.execute("SELECT count(*) FROM replies WHERE operator = 'ana'").fetchone() == (0,)


def test_a_failed_reply_is_not_an_answer(store, other, target):
    opened = reply_mark(store, target)
    queue_reply(other, target, "lost", "bo")
    [sending] = claim_due(other)
    mark_failed(other, sending, "HTTP 500")
    queue_reply(store, target, "mine", "ana", guard=ReplyGuard(since_reply=opened))


def test_editing_an_imported_failed_reply_asks_nothing(store, target):
    """The failed reply being edited (by someone else, long ago) predates the opening."""
    queue_reply(store, target, "never sent", "opday")
    [sending] = claim_due(store)
    mark_failed(store, sending, "imported: never sent")
    opened = reply_mark(store, target)
    actions.retry_reply(store, sending.id, "ana", "sent now", guard=ReplyGuard(since_reply=opened))
    assert store.conn.execute("SELECT state, text FROM replies").fetchall() == [("pending", "sent now")]


def test_retrying_is_refused_when_someone_answered_meanwhile(store, other, target):
    queue_reply(store, target, "never sent", "opday")
    [sending] = claim_due(store)
    mark_failed(store, sending, "HTTP 500")
    opened = reply_mark(store, target)
    queue_reply(other, target, "answered", "bo")
    with pytest.raises(AlreadyAnswered):
        actions.retry_reply(store, sending.id, "ana", "sent now", guard=ReplyGuard(since_reply=opened))
    assert store.conn.execute("SELECT state FROM replies WHERE id = ?", (sending.id,)).fetchone() == ("failed",)


def test_force_steps_over_a_claim_but_not_without(store, other, target):
    desk.claim(other, target, "bo")
    with pytest.raises(ClaimedByOther):
        queue_reply(store, target, "cli", "ana", guard=ReplyGuard())
    queue_reply(store, target, "cli", "ana", guard=ReplyGuard(force=True))
    queue_reply(other, target, "own claim is no obstacle", "bo", guard=ReplyGuard())


# -- read state -------------------------------------------------------------------------------------

def test_reading_is_per_operator(store, other, make_mention):
    a, b = save_batch(store, "demo", [make_mention(), make_mention()], None)
    mark_seen(store, a, "ana")
    assert {i: r.seen for i, r in rows_by_id(other, [a, b], "ana").items()} == {a: True, b: False}
    assert {i: r.seen for i, r in rows_by_id(other, [a, b], "bo").items()} == {a: False, b: False}
    assert mention_detail(other, a, "bo").row.state == "new"
    assert mention_detail(other, a, "ana").row.state == "open"


def test_the_change_feed_carries_an_operators_reads_to_their_other_consoles(store, other, make_mention):
    a, b = save_batch(store, "demo", [make_mention(), make_mention()], None)
    marks = marks_now(store)
    mark_seen(other, a, "ana")  # ana's other console
    mark_seen(other, b, "bo")
    changes = poll(store, marks, operator="ana")
    marks = changes.marks
    assert changes.touched == frozenset({a})
    assert poll(store, marks, force=True, operator="ana").empty


# -- assignment -------------------------------------------------------------------------------------

def test_assigning_to_a_name_nobody_used_needs_allow_new(store, target):
    desk.register_operator(store, "bo")
    with pytest.raises(desk.UnknownOperator) as unknown:
        desk.assign(store, target, "opnigth", "ana")
    assert "opnigth" in str(unknown.value)
    assert store.conn.execute("SELECT count(*) FROM assignments").fetchone() == (0,)
    assert desk.assign(store, target, "opnigth", "ana", allow_new=True)
    assert desk.known_operator(store, "opnigth"), "a name that has been assigned is known"
    assert desk.assign(store, target, "bo", "ana"), "a registered console is known"
    assert desk.assign(store, target, "ana", "ana"), "yourself is always known"


def test_a_name_from_the_event_log_is_known(store, target):
    actions.set_tag(store, target, "care", True, "dee")
    assert desk.known_operator(store, "dee")
    assert not desk.known_operator(store, "Dee ")


def test_the_change_feed_tells_the_assignee(store, other, target):
    marks = marks_now(store)
    desk.assign(other, target, "ana", "bo", allow_new=True)
    changes = poll(store, marks, operator="ana")
    marks = changes.marks
    assert changes.assigned_to_me == (Assigned(target, "bo"),)
    desk.assign(other, target, "cy", "bo", allow_new=True)
    desk.assign(store, target, "ana", "ana")  # assigning yourself is no news
    changes = poll(store, marks, force=True, operator="ana")
    assert changes.assigned_to_me == ()
    assert changes.membership_changed


# -- queued vs sent ---------------------------------------------------------------------------------

def test_queued_is_not_replied_and_knows_whether_anyone_sends(store, target):
    queue_reply(store, target, "on its way", "ana")
    detail = mention_detail(store, target, "ana")
    assert detail.row.state == "queued" and not detail.row.sender_alive
    assert try_acquire(store, "serve@host:1", 10)
    assert mention_detail(store, target, "ana").row.sender_alive
    [sending] = claim_due(store)
    mark_sent(store, sending, "remote-1", None)
    assert rows_by_id(store, [target], "ana")[target].state == "replied"
