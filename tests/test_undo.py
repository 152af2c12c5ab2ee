"""Undo and bulk actions in the store: one transaction, one undo entry, compensating events, no clobbering."""

from __future__ import annotations

import json

import pytest

from store import bulk
from store.actions import ActionError, queue_reply, set_status, toggle_tag
from store.db import open_store
from store.desk import UnknownOperator, add_note, register_operator
from store.ingest import save_batch
from store.outbox import claim_due, mark_sent
from store.undo import UNDO_DEPTH, NothingToUndo, entries, undo_last

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


@pytest.fixture
def ids(store, make_mention) -> list[int]:
    return save_batch(store, "demo", [make_mention() for _ in range(60)], None)


def tagged(store, tag: str) -> set[int]:
    return {row[0] for row in store.conn.execute("SELECT mention_id FROM tags WHERE tag = ?", (tag,))}


def status_of(store, mention_id: int) -> str:
    return store.conn.execute("SELECT status FROM mentions WHERE id = ?", (mention_id,)).fetchone()[0]


def actions_since(store, event_id: int) -> list[tuple]:
    return [(action, mention_id, json.loads(detail)) for action, mention_id, detail in store.conn.execute(
        "SELECT action, mention_id, detail FROM events WHERE id > ? ORDER BY id", (event_id,))]


def top_event(store) -> int:
    return store.conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]


def test_bulk_done_is_one_commit_with_an_event_each_and_one_undo_entry(store, ids):
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    outcome = bulk.change(store, "ana", "status", ids[:50])
    store.conn.set_trace_callback(None)
    assert [s for s in statements if s.strip().upper().startswith(("COMMIT", "BEGIN"))] == ["BEGIN IMMEDIATE", "COMMIT"]
    assert (outcome.value, outcome.changed, outcome.label) == ("done", 50, "Marked done on 50 mentions")
    assert all(status_of(store, i) == "done" for i in ids[:50]) and status_of(store, ids[50]) == "open"
    assert [(a, m) for a, m, _ in actions_since(store, 0)] == [("status.done", i) for i in ids[:50]]
    assert [e.label for e in entries(store, "ana")] == ["Marked done on 50 mentions"]


def test_undo_puts_back_with_compensating_events_and_the_log_only_grows(store, ids):
    bulk.change(store, "ana", "status", ids[:50])
    before = top_event(store)
    undone = undo_last(store, "ana")
    assert (undone.count, undone.message) == (50, "Undone: Marked done on 50 mentions.")
    assert all(status_of(store, i) == "open" for i in ids[:50])
    compensating = actions_since(store, before)
    assert [(a, m) for a, m, _ in compensating] == [("status.open", i) for i in ids[:50]]
    assert all(detail["undo_of"] for _, _, detail in compensating)
    assert store.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 100
    with pytest.raises(NothingToUndo):
        undo_last(store, "ana")


def test_toggle_of_a_mixed_set_tags_all_and_undo_untags_only_those_it_tagged(store, ids):
    toggle_tag(store, ids[0], "care", "ana")
    outcome = bulk.change(store, "ana", "tag:care", ids[:3])
    assert (outcome.value, outcome.changed) == (True, 2)
    assert tagged(store, "care") == set(ids[:3])
    undo_last(store, "ana")
    assert tagged(store, "care") == {ids[0]}  # tagged before the bulk action: stays


def test_undo_refuses_to_clobber_a_later_change_by_someone_else(store, ids):
    bulk.change(store, "ana", "status", [ids[0]])
    bulk.change(store, "bo", "status", [ids[0]])  # bo reopened it since
    add_note(store, ids[0], "looked at it", "cy")  # cy touched it too, but not its status
    undone = undo_last(store, "ana")
    assert undone.count == 0
    assert undone.message == f"Not undone: bo changed #{ids[0]} since; left as it is now."
    assert status_of(store, ids[0]) == "open"
    assert entries(store, "ana") == []  # the next u reaches the action before
    assert [e.label for e in entries(store, "bo")] == [f"Reopened on #{ids[0]}"]


def test_a_change_of_ones_own_outside_undo_is_not_clobbered_either(store, ids):
    bulk.change(store, "ana", "status", [ids[0]])
    set_status(store, ids[0], "open", "ana")  # not an undoable action: no entry of its own
    assert undo_last(store, "ana").message == f"Not undone: you changed #{ids[0]} since; left as it is now."


def test_undo_of_a_bulk_action_skips_only_what_others_changed(store, ids):
    bulk.change(store, "ana", "tag:marketing", ids[:10])
    bulk.change(store, "bo", "tag:marketing", ids[:2], False)
    bulk.change(store, "cy", "tag:marketing", [ids[2]], False)
    bulk.change(store, "cy", "tag:marketing", [ids[2]], True)  # back as ana left it: no conflict
    undone = undo_last(store, "ana")
    assert undone.message == "Undone on 8 of 10: bo changed 2 since, left as they are."
    assert tagged(store, "marketing") == set()


def test_each_operator_keeps_their_last_ten_across_a_restart(store, ids, desk_db, clock):
    for mention_id in ids[:UNDO_DEPTH + 3]:
        bulk.change(store, "ana", "tag:care", [mention_id])
    bulk.change(store, "bo", "tag:marketing", [ids[0]])
    store.close()
    reopened = open_store(desk_db, clock=clock)
    try:
        assert len(entries(reopened, "ana")) == UNDO_DEPTH
        for _ in range(UNDO_DEPTH):
            assert undo_last(reopened, "ana").count == 1
        with pytest.raises(NothingToUndo):
            undo_last(reopened, "ana")
        assert tagged(reopened, "care") == set(ids[:3])  # the three beyond the depth stay
        assert tagged(reopened, "marketing") == {ids[0]}  # bo's own stack is bo's
    finally:
        reopened.close()


def test_assign_and_its_undo(store, ids):
    register_operator(store, "bo")
    bulk.assign(store, "ana", ids[:2], "ana")
    bulk.assign(store, "ana", ids[:3], "bo")
    assert undo_last(store, "ana").count == 3
    rows = dict(store.conn.execute("SELECT mention_id, operator FROM assignments"))
    assert rows == {ids[0]: "ana", ids[1]: "ana"}
    with pytest.raises(UnknownOperator):
        bulk.assign(store, "ana", ids[:2], "bobb")


def test_an_unknown_id_changes_nothing(store, ids):
    with pytest.raises(ActionError, match="no mention with id 999999"):
        bulk.change(store, "ana", "status", [ids[0], 999999])
    assert status_of(store, ids[0]) == "open" and entries(store, "ana") == []


def test_query_ids_uses_the_search_language(store, ids):
    bulk.change(store, "ana", "tag:marketing", ids[:4])
    bulk.change(store, "ana", "status", [ids[0]])
    assert bulk.query_ids(store, "tag:marketing status:open") == sorted(ids[1:4], reverse=True)
    with pytest.raises(ActionError, match="empty"):
        bulk.query_ids(store, "  ")


# -- replies: recall within the window, never after --------------------------------
def test_a_reply_is_not_claimed_before_its_recall_window_ends(store, ids, clock):
    queued = queue_reply(store, ids[0], "thanks!", "ana", recall=5)
    assert claim_due(store) == []
    clock.advance(seconds=4.9)
    assert claim_due(store) == []
    clock.advance(seconds=0.1)
    assert [reply.id for reply in claim_due(store)] == [queued.id]


def test_a_reply_recalled_within_the_window_leaves_the_outbox(store, ids, clock):
    queued = queue_reply(store, ids[0], "thanks!", "ana", recall=5)
    clock.advance(seconds=4)
    undone = undo_last(store, "ana")
    assert (undone.count, undone.kind, undone.detail["text"]) == (1, "reply", "thanks!")
    assert store.conn.execute("SELECT count(*) FROM replies WHERE id = ?", (queued.id,)).fetchone()[0] == 0
    assert actions_since(store, 0)[-1][:2] == ("reply.recall", ids[0])
    clock.advance(seconds=10)
    assert claim_due(store) == []


def test_a_sent_reply_cannot_be_recalled(store, ids, clock):
    queue_reply(store, ids[0], "thanks!", "ana", recall=5)
    clock.advance(seconds=5)
    (claimed,) = claim_due(store)
    mark_sent(store, claimed, "remote:1", None)
    undone = undo_last(store, "ana")
    assert undone.count == 0 and "already sent" in undone.message
    assert store.conn.execute("SELECT state FROM replies").fetchone()[0] == "sent"


def test_recall_off_queues_for_now_and_pushes_no_undo(store, ids):
    queue_reply(store, ids[0], "thanks!", "ana", recall=0)
    assert len(claim_due(store)) == 1
    assert entries(store, "ana") == []
