"""The change feed between two connections to one file (two consoles on one desk)."""

from __future__ import annotations

import pytest

from store import changes as changes_module
from store.actions import mark_seen, queue_reply, set_status, set_tag
from store.changes import Changes, Marks, marks_now, poll
from store.db import open_store
from store.ingest import save_batch

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


@pytest.fixture
def other(desk_db, clock):
    """A second connection to the same file, as another console or the ingest process would hold."""
    opened = open_store(desk_db, clock=clock)
    yield opened
    opened.close()


def test_nothing_committed_elsewhere_means_no_changes(store, other, make_mention):
    save_batch(store, "demo", [make_mention()], None)
    marks = marks_now(store)
    for _ in range(3):
        changes = poll(store, marks)
        after = changes.marks
        assert changes == Changes(marks) and changes.empty
        assert after == marks
    # Reads by the other connection are not commits either.
    other.conn.execute("SELECT count(*) FROM mentions").fetchone()
    assert poll(store, marks).empty


def test_own_commits_are_seen_only_when_forced(store, make_mention):
    marks = marks_now(store)
    [mention_id] = save_batch(store, "demo", [make_mention()], None)
    set_tag(store, mention_id, "care", True, "ana")
    assert poll(store, marks).empty
    changes = poll(store, marks, force=True)
    after = changes.marks
    assert changes.new_mentions == 1
    assert changes.touched == frozenset({mention_id})
    assert after.mention_id == mention_id


def test_new_mentions_from_another_connection(store, other, make_mention):
    marks = marks_now(store)
    ids = save_batch(other, "demo", [make_mention(), make_mention()], None)
    changes = poll(store, marks)
    marks = changes.marks
    assert changes.new_mentions == 2
    assert changes.touched == frozenset()
    assert not changes.membership_changed
    assert not changes.empty
    assert marks.mention_id == max(ids)
    assert poll(store, marks).empty  # consumed


def test_replays_are_not_new_mentions(store, other, make_mention):
    batch = [make_mention()]
    save_batch(other, "demo", batch, None)
    marks = poll(store, marks_now(store)).marks
    save_batch(other, "demo", batch, "cursor-2")  # commits the cursor, no new mention
    changes = poll(store, marks)
    assert changes.new_mentions == 0 and changes.empty


@pytest.mark.parametrize(
    "act, action",
    [
        (lambda s, m: set_tag(s, m, "care", True, "bo"), "tag.add"),
        (lambda s, m: set_status(s, m, "done", "bo"), "status.done"),
    ],
    ids=["tag", "status"],
)
def test_tag_and_status_changes_touch_the_mention_and_change_membership(store, other, make_mention, act, action):
    [mention_id] = save_batch(store, "demo", [make_mention()], None)
    marks = marks_now(store)
    act(other, mention_id)
    changes = poll(store, marks)
    marks = changes.marks
    assert changes.touched == frozenset({mention_id})
    assert changes.membership_changed
    assert changes.actions == (action,)
    assert changes.new_mentions == 0


def test_tag_removal_and_reopening_change_membership(store, other, make_mention):
    [mention_id] = save_batch(store, "demo", [make_mention()], None)
    set_tag(store, mention_id, "care", True, "ana")
    set_status(store, mention_id, "done", "ana")
    marks = marks_now(store)
    set_tag(other, mention_id, "care", False, "bo")
    set_status(other, mention_id, "open", "bo")
    changes = poll(store, marks)
    assert changes.actions == ("tag.remove", "status.open")
    assert changes.membership_changed


def test_a_reply_touches_without_changing_membership(store, other, make_mention):
    a, b = save_batch(store, "demo", [make_mention(), make_mention()], None)
    marks = marks_now(store)
    queue_reply(other, a, "hello", "bo")
    queue_reply(other, b, "hello", "bo")
    changes = poll(store, marks)
    assert changes.touched == frozenset({a, b})
    assert changes.actions == ("reply.queue", "reply.queue")
    assert not changes.membership_changed


def test_a_commit_without_events_or_mentions_is_empty(store, other, make_mention):
    [mention_id] = save_batch(store, "demo", [make_mention()], None)
    marks = marks_now(store)
    mark_seen(other, mention_id, "bo")
    changes = poll(store, marks)
    after = changes.marks
    assert changes.empty
    assert after.data_version != marks.data_version  # the version is consumed all the same
    assert poll(store, after).empty


def test_fresh_marks_see_everything_already_there(store, other, make_mention):
    [mention_id] = save_batch(other, "demo", [make_mention()], None)
    set_tag(other, mention_id, "marketing", True, "bo")
    changes = poll(store, Marks())
    marks = changes.marks
    assert changes.new_mentions == 1
    assert changes.touched == frozenset({mention_id})
    assert marks == marks_now(store)


def test_a_capped_read_continues_on_the_next_poll(store, other, make_mention, monkeypatch):
    monkeypatch.setattr(changes_module, "EVENTS_PER_POLL", 2)
    ids = save_batch(store, "demo", [make_mention() for _ in range(3)], None)
    marks = marks_now(store)
    for mention_id in ids:
        set_tag(other, mention_id, "care", True, "bo")
    first = poll(store, marks)
    marks = first.marks
    second = poll(store, marks)  # nothing new committed, but the first read was capped
    marks = second.marks
    assert first.touched | second.touched == frozenset(ids)
    assert len(first.actions) == 2 and len(second.actions) == 1
    assert poll(store, marks).empty
