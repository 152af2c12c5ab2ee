"""Reading the inbox: quick views, rows, row state, and one mention in full."""

from __future__ import annotations

import pytest

from store.actions import mark_seen, queue_reply, set_status, set_tag
from store.inbox import VIEWS, latest_id, mention_detail, rows_by_id, view_counts, view_ids, view_ids_after
from store.ingest import save_batch
from store.outbox import claim_due, mark_failed, mark_sent

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


@pytest.fixture
def desk(store, make_mention) -> dict[str, int]:
    """Six mentions covering every view; ids grow in this order."""
    names = ["plain", "care", "both", "marketing_done", "replied", "care_done"]
    ids = save_batch(store, "demo", [make_mention(remote_id=name) for name in names], None)
    desk = dict(zip(names, ids, strict=True))
    set_tag(store, desk["care"], "care", True, "ana")
    set_tag(store, desk["both"], "care", True, "ana")
    set_tag(store, desk["both"], "marketing", True, "ana")
    set_tag(store, desk["marketing_done"], "marketing", True, "ana")
    set_status(store, desk["marketing_done"], "done", "ana")
    queue_reply(store, desk["replied"], "on it", "ana")
    set_tag(store, desk["care_done"], "care", True, "ana")
    set_status(store, desk["care_done"], "done", "ana")
    return desk


def names(desk: dict[str, int], ids) -> list[str]:
    by_id = {value: key for key, value in desk.items()}
    return [by_id[i] for i in ids]


@pytest.mark.parametrize(
    "view, expected",
    [
        ("open", ["replied", "both", "care", "plain"]),
        ("care", ["both", "care"]),
        ("marketing", ["both"]),
        ("untriaged", ["replied", "plain"]),
        ("done", ["care_done", "marketing_done"]),
        ("all", ["care_done", "replied", "marketing_done", "both", "care", "plain"]),
    ],
)
def test_views_hold_their_mentions_newest_first(store, desk, view, expected):
    assert names(desk, view_ids(store, view)) == expected
    assert view_counts(store)[view] == len(expected)


def test_the_quick_views_exist():
    assert {"open", "care", "marketing", "untriaged", "done", "all"} <= set(VIEWS)


@pytest.mark.parametrize("view", ["open", "care", "marketing", "untriaged", "done", "all"])
def test_view_ids_after_lists_only_newer_ids_newest_first(store, desk, view):
    everything = list(view_ids(store, view))
    cut = desk["both"]
    assert view_ids_after(store, view, cut) == [i for i in everything if i > cut]
    assert view_ids_after(store, view, latest_id(store)) == []
    assert view_ids_after(store, view, 0) == everything


def test_a_done_mention_leaves_the_work_queues_and_comes_back(store, desk):
    set_status(store, desk["care"], "done", "ana")
    assert desk["care"] not in view_ids(store, "care")
    assert desk["care"] in view_ids(store, "done")
    set_status(store, desk["care"], "open", "ana")
    assert desk["care"] in view_ids(store, "care")
    assert desk["care"] not in view_ids(store, "done")


def test_rows_by_id_returns_the_asked_rows(store, desk):
    found = rows_by_id(store, [desk["both"], desk["plain"], 9999])
    assert set(found) == {desk["both"], desk["plain"]}
    both = found[desk["both"]]
    assert (both.network, both.author_handle, both.status) == ("demo", "@ana", "open")
    assert both.tags == frozenset({"care", "marketing"})
    assert both.text.startswith("hello brand #")
    assert found[desk["plain"]].tags == frozenset()
    assert rows_by_id(store, []) == {}


def test_rows_by_id_reads_more_than_one_chunk(store, make_mention):
    ids = save_batch(store, "demo", [make_mention() for _ in range(1203)], None)
    found = rows_by_id(store, ids)
    assert sorted(found) == sorted(ids)


def state_of(store, mention_id: int, operator: str = "ana") -> str:
    return rows_by_id(store, [mention_id], operator)[mention_id].state


def test_row_state_follows_the_mention_through_its_life(store, make_mention):
    [mention_id] = save_batch(store, "demo", [make_mention()], None)
    assert state_of(store, mention_id) == "new"
    mark_seen(store, mention_id, "ana")
    assert state_of(store, mention_id) == "open"
    assert state_of(store, mention_id, "bo") == "new", "ana reading it is no news to bo"
    queue_reply(store, mention_id, "first", "ana")
    assert state_of(store, mention_id) == "queued"  # in the outbox, not yet on the network
    assert state_of(store, mention_id, "bo") == "queued"
    [claimed] = claim_due(store)
    assert state_of(store, mention_id) == "queued"  # sending
    mark_failed(store, claimed, "HTTP 500")
    assert state_of(store, mention_id) == "open"  # a failed reply is not an answer
    queue_reply(store, mention_id, "second", "ana")
    [claimed] = claim_due(store)
    mark_sent(store, claimed, "remote-1", "https://demo/remote-1")
    assert state_of(store, mention_id) == "replied"
    set_status(store, mention_id, "done", "ana")
    assert state_of(store, mention_id) == "done"


def test_a_manual_reply_counts_as_replied(store, make_mention):
    [mention_id] = save_batch(store, "demo", [make_mention()], None)
    queue_reply(store, mention_id, "copy me", "ana", manual=True)
    assert state_of(store, mention_id) == "replied"


def test_mention_detail_of_an_unknown_id_is_none(store):
    assert mention_detail(store, 4242) is None


@pytest.fixture
def thread(store, make_mention, clock) -> dict[str, int]:
    """A root, two replies to it from others, an unrelated post, and the same ids on another network."""
    t = "2025-03-14T09:{:02d}:00.000Z"
    ids = save_batch(store, "demo", [
        make_mention(remote_id="root", author_handle="@ana", text="my order is late", created_at=t.format(0),
                     url="https://demo/root", lang="en", reply_ref={"status": "root"}),
        make_mention(remote_id="r1", author_handle="@bo", text="same here", created_at=t.format(5),
                     parent_remote_id="root", root_remote_id="root"),
        make_mention(remote_id="r2", author_handle="@ana", text="still waiting", created_at=t.format(40),
                     parent_remote_id="r1", root_remote_id="root"),
        make_mention(remote_id="other", author_handle="@ana", text="unrelated", created_at=t.format(1)),
    ], None)
    save_batch(store, "mastodon", [
        make_mention(network="mastodon", remote_id="r9", author_handle="@ana", text="other network",
                     created_at=t.format(6), root_remote_id="root"),
    ], None)
    return dict(zip(["root", "r1", "r2", "other"], ids, strict=True))


def test_mention_detail_fields(store, thread):
    detail = mention_detail(store, thread["root"])
    assert detail.row.id == thread["root"]
    assert (detail.account, detail.author_name, detail.url, detail.lang, detail.remote_id) == (
        "@brand", "Ana", "https://demo/root", "en", "root")
    assert detail.received_at == "2025-03-14T09:26:53.000Z"
    assert detail.reply_ref == {"status": "root"}


def test_thread_holds_root_replies_and_our_replies_in_time_order(store, thread):
    queue_reply(store, thread["r1"], "sorry about that", "carla")  # at the frozen 09:26:53
    detail = mention_detail(store, thread["r1"])
    entries = [(e.kind, e.mention_id, e.who, e.text) for e in detail.thread]
    assert entries == [
        ("mention", thread["root"], "@ana", "my order is late"),
        ("mention", thread["r1"], "@bo", "same here"),
        ("reply", thread["r1"], "@brand (carla)", "sorry about that"),
        ("mention", thread["r2"], "@ana", "still waiting"),
    ]
    assert [e.is_focus for e in detail.thread] == [False, True, False, False]
    assert detail.thread[2].state == "pending"


def test_the_thread_is_the_same_from_any_member(store, thread):
    from_root = [(e.kind, e.mention_id) for e in mention_detail(store, thread["root"]).thread]
    from_leaf = [(e.kind, e.mention_id) for e in mention_detail(store, thread["r2"]).thread]
    assert from_root == from_leaf
    assert thread["other"] not in {mid for _, mid in from_root}


def test_a_mention_whose_root_is_missing_is_its_own_thread(store, make_mention):
    [orphan] = save_batch(store, "demo", [make_mention(root_remote_id="gone", parent_remote_id="gone")], None)
    detail = mention_detail(store, orphan)
    assert [(e.mention_id, e.is_focus) for e in detail.thread] == [(orphan, True)]


def test_author_history_excludes_the_mention_and_other_networks(store, thread):
    detail = mention_detail(store, thread["root"])
    assert [row.id for row in detail.author_history] == [thread["other"], thread["r2"]]
    assert detail.author_total == 2
    limited = mention_detail(store, thread["root"], history=1)
    assert [row.id for row in limited.author_history] == [thread["other"]]
    assert limited.author_total == 2


def test_detail_lists_replies_and_events_newest_event_first(store, thread, clock):
    set_tag(store, thread["root"], "care", True, "ana")
    clock.advance(seconds=5)
    first = queue_reply(store, thread["root"], "one", "bo")
    clock.advance(seconds=5)
    set_status(store, thread["root"], "done", "carla")
    set_tag(store, thread["r1"], "care", True, "ana")  # another mention's event
    detail = mention_detail(store, thread["root"])
    assert [(r.id, r.text, r.operator, r.state, r.attempts) for r in detail.replies] == [
        (first.id, "one", "bo", "pending", 0)]
    assert [(e.operator, e.action) for e in detail.events] == [
        ("carla", "status.done"), ("bo", "reply.queue"), ("ana", "tag.add")]
    assert detail.events[-1].detail == {"tag": "care"}
    assert detail.events[0].at == "2025-03-14T09:27:03.000Z"
    assert [e.action for e in mention_detail(store, thread["root"], events=1).events] == ["status.done"]
