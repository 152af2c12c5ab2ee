"""Drafts in the store: per mention and operator, logged only when one appears or goes."""

from __future__ import annotations

from store import actions
from store.drafts import drafts_on, load_draft, save_draft
from store.inbox import mention_detail, rows_by_id
from store.ingest import insert_mentions
from tests.conftest import new_mention

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


def draft_events(store):
    return store.conn.execute(
        "SELECT operator, action FROM events WHERE action LIKE 'draft.%' ORDER BY id").fetchall()


def test_a_draft_is_kept_per_operator_and_marks_the_row(store):
    mention_id = insert_mentions(store, [new_mention()])[0]
    assert save_draft(store, mention_id, "ana", "Hello")
    assert save_draft(store, mention_id, "ana", "Hello there")
    assert not save_draft(store, mention_id, "ana", "Hello there")
    assert save_draft(store, mention_id, "bo", "Salut")
    assert load_draft(store, mention_id, "ana") == "Hello there"
    assert {d.operator for d in drafts_on(store, mention_id)} == {"ana", "bo"}
    assert rows_by_id(store, [mention_id])[mention_id].has_draft
    detail = mention_detail(store, mention_id)
    assert detail is not None and {d.operator for d in detail.drafts} == {"ana", "bo"}
    assert draft_events(store) == [("ana", "draft.save"), ("bo", "draft.save")]  # keystrokes are not logged


def test_blank_text_clears_and_sending_removes_the_senders_draft(store):
    mention_id = insert_mentions(store, [new_mention()])[0]
    save_draft(store, mention_id, "ana", "Hello")
    save_draft(store, mention_id, "bo", "Salut")
    assert save_draft(store, mention_id, "bo", "   \n")
    assert load_draft(store, mention_id, "bo") is None
    actions.queue_reply(store, mention_id, "Hello", "ana")
    assert load_draft(store, mention_id, "ana") is None
    assert not rows_by_id(store, [mention_id])[mention_id].has_draft
    assert draft_events(store) == [("ana", "draft.save"), ("bo", "draft.save"), ("bo", "draft.clear")]
