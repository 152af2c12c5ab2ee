"""Operator actions: each change is one transaction with exactly one event naming the operator."""

from __future__ import annotations

import json

import pytest

from store.actions import (
    ActionError,
    mark_seen,
    queue_reply,
    retry_reply,
    set_status,
    set_tag,
    toggle_done,
    toggle_tag,
)
from store.ingest import save_batch
from store.outbox import claim_due, mark_failed

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


def events(store) -> list[tuple]:
    return [
        (at, operator, action, mention_id, json.loads(detail))
        for at, operator, action, mention_id, detail in store.conn.execute(
            "SELECT at, operator, action, mention_id, detail FROM events ORDER BY id")
    ]


def event_count(store) -> int:
    return store.conn.execute("SELECT count(*) FROM events").fetchone()[0]


@pytest.fixture
def mention_id(store, make_mention) -> int:
    return save_batch(store, "demo", [make_mention()], None)[0]


def tags_of(store, mention_id: int) -> set[str]:
    return {row[0] for row in store.conn.execute("SELECT tag FROM tags WHERE mention_id = ?", (mention_id,))}


def test_toggle_tag_adds_then_removes_with_one_event_each(store, mention_id, clock):
    assert toggle_tag(store, mention_id, "care", "ana") is True
    assert tags_of(store, mention_id) == {"care"}
    assert store.conn.execute("SELECT operator, at FROM tags").fetchall() == [("ana", "2025-03-14T09:26:53.000Z")]
    clock.advance(minutes=1)
    assert toggle_tag(store, mention_id, "care", "bo") is False
    assert tags_of(store, mention_id) == set()
    assert events(store) == [
        ("2025-03-14T09:26:53.000Z", "ana", "tag.add", mention_id, {"tag": "care"}),
        ("2025-03-14T09:27:53.000Z", "bo", "tag.remove", mention_id, {"tag": "care"}),
    ]


def test_tags_are_independent(store, mention_id):
    toggle_tag(store, mention_id, "care", "ana")
    toggle_tag(store, mention_id, "marketing", "ana")
    assert tags_of(store, mention_id) == {"care", "marketing"}
    toggle_tag(store, mention_id, "care", "ana")
    assert tags_of(store, mention_id) == {"marketing"}
    assert event_count(store) == 3


def test_set_tag_to_its_current_state_changes_nothing_and_logs_nothing(store, mention_id):
    assert set_tag(store, mention_id, "care", False, "ana") is False
    assert event_count(store) == 0
    assert set_tag(store, mention_id, "care", True, "ana") is True
    assert set_tag(store, mention_id, "care", True, "bo") is False
    assert event_count(store) == 1
    assert store.conn.execute("SELECT operator FROM tags").fetchall() == [("ana",)]


def test_set_status_logs_once_and_marks_seen(store, mention_id):
    assert set_status(store, mention_id, "done", "ana") is True
    assert set_status(store, mention_id, "done", "bo") is False
    assert store.conn.execute("SELECT status, seen FROM mentions").fetchone() == ("done", 1)
    assert [(e[1], e[2], e[3]) for e in events(store)] == [("ana", "status.done", mention_id)]


def test_toggle_done_flips_status_with_one_event_each(store, mention_id):
    assert toggle_done(store, mention_id, "ana") == "done"
    assert toggle_done(store, mention_id, "bo") == "open"
    assert store.conn.execute("SELECT status FROM mentions").fetchone() == ("open",)
    assert [(e[1], e[2]) for e in events(store)] == [("ana", "status.done"), ("bo", "status.open")]


def test_queue_reply_commits_a_pending_reply_with_a_key_and_one_event(store, mention_id):
    queued = queue_reply(store, mention_id, "  Thanks, we are on it!  ", "ana")
    assert queued.state == "pending"
    assert len(queued.key) == 13 and queued.key.isalnum()
    row = store.conn.execute(
        "SELECT mention_id, text, operator, created_at, state, idem_key, attempts, uncertain FROM replies"
    ).fetchone()
    assert row == (mention_id, "Thanks, we are on it!", "ana", "2025-03-14T09:26:53.000Z", "pending",
                   queued.key, 0, 0)
    assert store.conn.execute("SELECT seen FROM mentions").fetchone() == (1,)
    assert events(store) == [("2025-03-14T09:26:53.000Z", "ana", "reply.queue", mention_id,
                              {"reply_id": queued.id, "state": "pending", "chars": 21})]


def test_each_reply_gets_its_own_key(store, mention_id):
    keys = {queue_reply(store, mention_id, f"reply {n}", "ana").key for n in range(20)}
    assert len(keys) == 20


def test_manual_reply_is_kept_for_copying(store, mention_id):
    queued = queue_reply(store, mention_id, "copy me", "ana", manual=True)
    assert queued.state == "manual"
    assert store.conn.execute("SELECT state FROM replies").fetchone() == ("manual",)
    assert claim_due(store) == []
    assert events(store)[0][4]["state"] == "manual"


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_an_empty_reply_is_refused(store, mention_id, text):
    with pytest.raises(ActionError, match="empty"):
        queue_reply(store, mention_id, text, "ana")
    assert store.conn.execute("SELECT count(*) FROM replies").fetchone() == (0,)
    assert event_count(store) == 0


@pytest.mark.parametrize(
    "action",
    [
        lambda s: toggle_tag(s, 999, "care", "ana"),
        lambda s: set_tag(s, 999, "marketing", True, "ana"),
        lambda s: set_status(s, 999, "done", "ana"),
        lambda s: toggle_done(s, 999, "ana"),
        lambda s: queue_reply(s, 999, "hello", "ana"),
        lambda s: retry_reply(s, 999, "ana"),
    ],
    ids=["toggle_tag", "set_tag", "set_status", "toggle_done", "queue_reply", "retry_reply"],
)
def test_unknown_ids_are_action_errors_and_change_nothing(store, mention_id, action):
    with pytest.raises(ActionError, match="999"):
        action(store)
    assert event_count(store) == 0
    assert store.conn.execute("SELECT count(*) FROM tags").fetchone() == (0,)
    assert store.conn.execute("SELECT count(*) FROM replies").fetchone() == (0,)
    assert not store.conn.in_transaction


@pytest.mark.parametrize("tag", ["urgent", "Care", ""])
def test_unknown_tags_are_action_errors(store, mention_id, tag):
    with pytest.raises(ActionError, match="unknown tag"):
        toggle_tag(store, mention_id, tag, "ana")
    with pytest.raises(ActionError, match="unknown tag"):
        set_tag(store, mention_id, tag, True, "ana")
    assert event_count(store) == 0


def test_unknown_status_is_an_action_error(store, mention_id):
    with pytest.raises(ActionError, match="unknown status"):
        set_status(store, mention_id, "closed", "ana")
    assert event_count(store) == 0


def failed_reply(store, mention_id: int) -> int:
    queue_reply(store, mention_id, "first try", "ana")
    [claimed] = claim_due(store)
    mark_failed(store, claimed, "HTTP 500")
    return claimed.id


def test_retry_puts_a_failed_reply_back_with_its_key(store, mention_id):
    reply_id = failed_reply(store, mention_id)
    key = store.conn.execute("SELECT idem_key FROM replies").fetchone()[0]
    before = event_count(store)
    retry_reply(store, reply_id, "bo")
    assert store.conn.execute(
        "SELECT state, text, idem_key, error, next_attempt_at, attempts FROM replies").fetchone() == (
        "pending", "first try", key, None, None, 1)
    assert event_count(store) == before + 1
    assert events(store)[-1][1:] == ("bo", "reply.retry", mention_id, {"reply_id": reply_id, "edited": False})


def test_retry_with_edited_text_gets_a_fresh_key(store, mention_id):
    reply_id = failed_reply(store, mention_id)
    key = store.conn.execute("SELECT idem_key FROM replies").fetchone()[0]
    retry_reply(store, reply_id, "bo", new_text="  second try ")
    state, text, new_key, attempts = store.conn.execute(
        "SELECT state, text, idem_key, attempts FROM replies").fetchone()
    assert (state, text, attempts) == ("pending", "second try", 0)
    assert new_key != key and len(new_key) == 13
    assert events(store)[-1][4] == {"reply_id": reply_id, "edited": True}


@pytest.mark.parametrize("manual", [False, True])
def test_only_failed_replies_can_be_retried(store, mention_id, manual):
    queued = queue_reply(store, mention_id, "hello", "ana", manual=manual)
    before = event_count(store)
    with pytest.raises(ActionError, match="only failed"):
        retry_reply(store, queued.id, "ana")
    assert event_count(store) == before
    assert store.conn.execute("SELECT state FROM replies").fetchone() == (queued.state,)


def test_mark_seen_is_per_operator_and_not_an_event(store, mention_id):
    assert mark_seen(store, mention_id, "ana") is True
    assert mark_seen(store, mention_id, "ana") is False
    assert mark_seen(store, mention_id, "bo") is True
    assert store.conn.execute("SELECT operator FROM reads ORDER BY id").fetchall() == [("ana",), ("bo",)]
    assert store.conn.execute("SELECT seen FROM mentions").fetchone() == (0,), "reading is not shared"
    assert event_count(store) == 0
