"""Snooze in the store: leaving the work queues, waking on a frozen clock and on the author's new post."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store import actions
from store.errors import ActionError
from store.inbox import view_counts, view_ids
from store.ingest import insert_mentions
from store.snooze import snooze, snoozed, unsnooze, wake_due
from store.snooze_time import choices, parse_until
from tests.conftest import new_mention

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

PARIS = ZoneInfo("Europe/Paris")
FRIDAY = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # 11:00 in Paris


def events(store, action):
    return [row for row in store.conn.execute(
        "SELECT mention_id, operator, json_extract(detail, '$.reason') FROM events WHERE action = ? ORDER BY id",
        (action,))]


def test_snooze_takes_many_ids_in_one_transaction_and_says_what_changed(store, clock):
    ids = insert_mentions(store, [new_mention(), new_mention(), new_mention()])
    until = clock() + timedelta(hours=1)
    changes = snooze(store, ids[:2], until, "ana")
    assert [(c.mention_id, c.before, c.after) for c in changes] == [
        (ids[0], None, "2025-03-14T10:26:53.000Z"), (ids[1], None, "2025-03-14T10:26:53.000Z")]
    assert list(view_ids(store, "open")) == [ids[2]]
    assert list(view_ids(store, "snoozed")) == [ids[1], ids[0]]
    counts = view_counts(store)
    assert (counts["open"], counts["snoozed"], counts["done"]) == (1, 2, 0)
    again = snooze(store, ids[:2], until, "ana")
    assert again == []  # the same time twice changes nothing
    later = snooze(store, [ids[0]], until + timedelta(hours=1), "bo")
    assert later[0].before == "2025-03-14T10:26:53.000Z"
    assert [e[:2] for e in events(store, "snooze")] == [(ids[0], "ana"), (ids[1], "ana"), (ids[0], "bo")]


def test_one_unknown_id_snoozes_none(store, clock):
    ids = insert_mentions(store, [new_mention()])
    with pytest.raises(ActionError, match="no mention with id 999"):
        snooze(store, [ids[0], 999], clock() + timedelta(hours=1), "ana")
    assert snoozed(store) == []


def test_a_time_in_the_past_is_refused(store, clock):
    ids = insert_mentions(store, [new_mention()])
    with pytest.raises(ActionError, match="already passed"):
        snooze(store, ids, clock() - timedelta(minutes=1), "ana")


def test_waking_on_a_frozen_clock_brings_it_back_as_new(store, clock):
    ids = insert_mentions(store, [new_mention()])
    actions.mark_seen(store, ids[0], "ana")
    snooze(store, ids, clock() + timedelta(hours=1), "ana")
    clock.advance(minutes=59)
    assert wake_due(store) == []
    assert list(view_ids(store, "open")) == []
    clock.advance(minutes=1)
    woken = wake_due(store)
    assert [(c.mention_id, c.after) for c in woken] == [(ids[0], None)]
    assert list(view_ids(store, "open")) == ids
    assert store.conn.execute("SELECT count(*) FROM reads").fetchone() == (0,)  # new again, for everyone
    assert events(store, "snooze.wake") == [(ids[0], "snooze", "time")]
    assert wake_due(store) == []


def test_the_author_posting_again_in_the_thread_wakes_it_at_once(store, clock):
    first = insert_mentions(store, [new_mention(remote_id="t1", author_handle="@ana")])[0]
    other = insert_mentions(store, [new_mention(remote_id="t9", author_handle="@bo")])[0]
    snooze(store, [first, other], clock() + timedelta(days=2), "ana")
    # Someone else in the thread does not wake it; another post of hers elsewhere neither.
    insert_mentions(store, [new_mention(remote_id="t2", author_handle="@cy", parent_remote_id="t1",
                                        root_remote_id="t1"),
                            new_mention(remote_id="t3", author_handle="@ana")])
    assert {s.mention_id for s in snoozed(store)} == {first, other}
    insert_mentions(store, [new_mention(remote_id="t4", author_handle="@ana", parent_remote_id="t2",
                                        root_remote_id="t1")])
    assert {s.mention_id for s in snoozed(store)} == {other}
    assert first in view_ids(store, "open")
    assert events(store, "snooze.wake") == [(first, "snooze", "author posted")]


def test_unsnooze_wakes_by_hand_and_ignores_the_awake(store, clock):
    ids = insert_mentions(store, [new_mention(), new_mention()])
    snooze(store, [ids[0]], clock() + timedelta(hours=3), "ana")
    changes = unsnooze(store, ids, "bo")
    assert [(c.mention_id, c.after) for c in changes] == [(ids[0], None)]
    assert [e[:2] for e in events(store, "unsnooze")] == [(ids[0], "bo")]


@pytest.mark.parametrize(("typed", "expected"), [
    ("2h", datetime(2026, 11, 27, 12, 0, tzinfo=UTC)),
    ("90m", datetime(2026, 11, 27, 11, 30, tzinfo=UTC)),
    ("1d", datetime(2026, 11, 28, 10, 0, tzinfo=UTC)),
    ("tomorrow", datetime(2026, 11, 28, 8, 0, tzinfo=UTC)),  # 9:00 in Paris
    ("fri 14:00", datetime(2026, 11, 27, 13, 0, tzinfo=UTC)),  # later today
    ("fri 9:00", datetime(2026, 12, 4, 8, 0, tzinfo=UTC)),  # passed today: next week
    ("next monday", datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),
    ("Mon 10:30", datetime(2026, 11, 30, 9, 30, tzinfo=UTC)),
    ("14:00", datetime(2026, 11, 27, 13, 0, tzinfo=UTC)),
    ("9:00", datetime(2026, 11, 28, 8, 0, tzinfo=UTC)),
    ("2026-12-01 09:00", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
    ("2026-12-01T09:00Z", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
])
def test_typed_times_in_the_operators_zone(typed, expected):
    assert parse_until(typed, FRIDAY, PARIS) == expected


def test_the_short_list_follows_the_zone_across_a_dst_change():
    # Saturday 2026-03-28 in Paris; Monday 9:00 is after the switch to summer time (UTC+2).
    now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    labels = {choice.label: choice.until for choice in choices(now, PARIS)}
    assert labels["1 hour"] == now + timedelta(hours=1)
    assert labels["Tomorrow 9:00"] == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert labels["Next Monday 9:00"] == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize("typed", ["yesterday", "0h", "25:00", "", "fri 10:99", "2020-01-01", "soon"])
def test_bad_times_are_one_line(typed):
    with pytest.raises(ActionError) as refused:
        parse_until(typed, FRIDAY, PARIS)
    assert "\n" not in str(refused.value)


@given(st.text(max_size=40))
def test_any_typed_text_is_a_later_time_or_a_clear_refusal(typed):
    try:
        moment = parse_until(typed, FRIDAY, PARIS)
    except ActionError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert moment > FRIDAY and moment.tzinfo is not None


@pytest.mark.parametrize("typed", ["0001-01-01", "9999-12-31 23:59+14:00", "9999w9999w9999w9999w9999w9999w"])
def test_times_out_of_range_are_refused_not_raised(typed):
    with pytest.raises(ActionError):
        parse_until(typed, FRIDAY, PARIS)
