"""Incidents: a surge is raised once against its baseline, updated while it lasts, and measured."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store import actions
from store.actions import ActionError
from store.db import iso
from store.grouping import Grouper
from store.groups import group_new_mentions
from store.incidents import SurgeRule, baseline, detect, get_incident, incident_stats, list_incidents, rename, set_state
from store.ingest import insert_mentions
from store.outbox import claim_due, mark_sent
from tests.conftest import FROZEN_AT, new_mention

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

RULE = SurgeRule(window=300.0, min_mentions=30)  # five-minute windows, as the tests were written


def arrive(store, minutes_ago: float, count: int, text: str = "hello {n}", over: float = 1,
           author: str = "@ana") -> list[int]:
    """`count` mentions spread evenly over `over` minutes, starting `minutes_ago` before the frozen clock."""
    start = FROZEN_AT - timedelta(minutes=minutes_ago)
    return insert_mentions(store, [new_mention(created_at=iso(start + timedelta(seconds=n * 60 * over / count)),
                                               text=text.format(n=n), author_handle=author.format(n=n))
                                   for n in range(count)])


def send_all(store) -> None:
    """Play the sender: every due reply is posted now."""
    for reply in claim_due(store, None, limit=10_000):
        mark_sent(store, reply, f"remote-{reply.id}", None)


def test_a_calm_hour_raises_nothing_and_a_surge_is_raised_once(store, clock):
    arrive(store, 65, 60, over=60)  # one a minute for the hour before the window
    assert detect(store, RULE) == []
    arrive(store, 4, 100, "the show is cancelled?? {n}", over=4)  # 25 a minute for the last four minutes
    raised = detect(store, RULE)
    assert len(raised) == 1 and raised[0].kind == "volume" and raised[0].state == "open"
    incident = raised[0]
    assert incident.baseline == pytest.approx(5, abs=1)  # 60 an hour = 5 per five minutes
    assert incident.peak >= 100
    assert iso(FROZEN_AT - timedelta(minutes=5)) <= incident.started_at <= iso(FROZEN_AT - timedelta(minutes=3))
    assert store.conn.execute("SELECT count(*) FROM events WHERE action = 'incident.raise'").fetchone()[0] == 1
    clock.advance(seconds=20)
    arrive(store, 0, 40, "still cancelled {n}", over=0.3)  # within the 20 seconds since
    assert detect(store, RULE) == []  # the same surge: updated, not raised again
    assert get_incident(store, incident.id).mentions >= 135  # from its first busy minute on


def test_baseline_uses_the_same_window_on_earlier_days_when_history_reaches_back(store):
    for day in range(1, 4):
        arrive(store, day * 24 * 60 + 4, 50, over=4)  # a busy time of day, every day
    assert baseline(store, FROZEN_AT, 300) == pytest.approx(50, abs=1)
    arrive(store, 4, 100, over=4)
    assert detect(store, RULE) == []  # 100 against 50: under the factor of 3
    assert detect(store, SurgeRule(window=300.0, factor=1.5)) != []


def test_a_new_desk_has_no_baseline_and_raises_no_volume_incident(store):
    arrive(store, 8, 400, over=8)  # a busy first eight minutes: no history to compare with
    assert baseline(store, FROZEN_AT, 120, 600) is None
    assert detect(store) == []


def test_a_topic_spike_names_its_group(store, clock):
    arrive(store, 65, 120, over=60)
    arrive(store, 4, 30, "no shuttle at the airport, stuck here {n}", over=4)
    group_new_mentions(store, Grouper())
    raised = detect(store, SurgeRule(window=300.0, min_mentions=1000))  # no volume surge: the topic alone
    assert [i.kind for i in raised] == ["topic"]
    assert raised[0].title.startswith("Spike: no shuttle at the airport") and raised[0].mentions >= 29


def test_acknowledge_rename_close_are_logged_and_measured(store, clock):
    arrive(store, 65, 12, over=60)
    ids = arrive(store, 4, 60, "refund my tickets {n}", over=4, author="@p{n}")
    (incident,) = detect(store, RULE)
    clock.advance(minutes=2)
    actions.queue_reply(store, ids[0], "We're on it", "ana")
    send_all(store)
    clock.advance(minutes=3)
    actions.queue_reply(store, ids[1], "We're on it", "bo")
    send_all(store)
    actions.set_status(store, ids[2], "done", "bo")
    assert set_state(store, incident.id, "acknowledged", "ana")
    rename(store, incident.id, "Festival cancelled", "ana")
    stats = incident_stats(store, incident.id)
    assert stats.answered == 2 and stats.skipped == 1 and stats.failed == 0
    assert stats.detection_seconds is not None and 0 <= stats.detection_seconds <= 5 * 60
    assert stats.first_answer_seconds is not None and stats.last_answer_seconds is not None
    assert stats.last_answer_seconds - stats.first_answer_seconds == pytest.approx(180)
    assert set_state(store, incident.id, "closed", "bo")
    assert list_incidents(store, include_closed=False) == []
    assert [row[0] for row in store.conn.execute(
        "SELECT action FROM events WHERE action LIKE 'incident.%' ORDER BY id")] == [
        "incident.raise", "incident.ack", "incident.rename", "incident.close"]
    with pytest.raises(ActionError, match="no incident with id 999"):
        set_state(store, 999, "closed", "bo")
