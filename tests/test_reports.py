"""The desk report: volume, first response and resolution times, backlog, SLA and the care ⇄ marketing hand-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from store import actions
from store.db import iso
from store.ingest import insert_mentions
from store.outbox import claim_due, mark_sent
from store.report_buckets import DAY, HOUR, Buckets, percentile
from store.reports import build_report
from store.sla import SlaPolicy, short_span, sla_state
from tests.conftest import FROZEN_AT, new_mention

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

POLICY = SlaPolicy.from_table({"care": 3600.0, "marketing": 4 * 3600.0, "default": 8 * 3600.0},
                              ("care", "marketing"))


def at(hours: float) -> str:
    """A stored time `hours` before the frozen clock."""
    return iso(FROZEN_AT - timedelta(hours=hours))


def add(store, hours_ago: float, **fields) -> int:
    return insert_mentions(store, [new_mention(created_at=at(hours_ago), **fields)])[0]


def reply_after(store, clock, mention_id: int, minutes: float, operator: str = "ana") -> None:
    """Queue a reply and have it sent `minutes` after the mention arrived (clock moved there and back)."""
    created = datetime.fromisoformat(store.conn.execute(
        "SELECT created_at FROM mentions WHERE id = ?", (mention_id,)).fetchone()[0])
    saved = clock.moment
    clock.moment = created + timedelta(minutes=minutes)
    actions.queue_reply(store, mention_id, "thanks, on it", operator)
    for reply in claim_due(store, reclaim_sending=True):
        mark_sent(store, reply, f"remote-{reply.id}", None)
    clock.moment = saved


def test_sla_policy_takes_the_tightest_target_and_the_default_otherwise():
    policy = SlaPolicy.from_table({"care": 3600.0, "marketing": 14400.0, "mastodon": 1800.0, "default": 28800.0},
                                  ("care", "marketing"))
    assert policy.target(["care"], "demo") == 3600
    assert policy.target(["care", "marketing"], "demo") == 3600
    assert policy.target(["marketing"], "mastodon") == 1800
    assert policy.target([], "demo") == 28800
    assert SlaPolicy().target(["care"], "demo") is None and not SlaPolicy()


def test_sla_state_counts_down_then_late_and_snoozed_time_is_not_counted():
    created = FROZEN_AT - timedelta(minutes=50)
    state = sla_state(POLICY, ["care"], "demo", created, FROZEN_AT)
    assert state is not None and not state.late and state.label() == "due 10m"
    late = sla_state(POLICY, ["care"], "demo", created - timedelta(hours=2), FROZEN_AT)
    assert late is not None and late.late and late.label() == "late 1h"  # 2 h 50 m old, 1 h allowed
    paused = sla_state(POLICY, ["care"], "demo", created - timedelta(hours=2), FROZEN_AT, paused=3 * 3600)
    assert paused is not None and not paused.late
    assert short_span(59) == "59s" and short_span(3 * 86400 + 5) == "3d"


def test_buckets_fold_utc_hours_into_local_days_across_a_dst_change():
    paris = ZoneInfo("Europe/Paris")
    since = datetime(2025, 3, 29, 0, 0, tzinfo=paris)  # the night of 30 March has 23 hours
    buckets = Buckets(since, since + timedelta(days=3), DAY, paris)
    assert buckets.labels() == ["2025-03-29T00:00+01:00", "2025-03-30T00:00+01:00", "2025-03-31T00:00+02:00"]
    assert buckets.index("2025-03-30T22") == 2  # 00:00 on the 31st in Paris (summer time)
    assert buckets.index("2025-03-30T21") == 1
    hours = Buckets(datetime(2025, 3, 30, 0, 0, tzinfo=paris), datetime(2025, 3, 30, 4, 0, tzinfo=paris), HOUR, paris)
    assert [label[11:16] for label in hours.labels()] == ["00:00", "01:00", "03:00"]  # 02:00 never happened


def test_percentile_is_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 11)], 0.9) == 9.0


def test_volume_backlog_and_first_response_by_tag_network_and_operator(store, clock):
    care = [add(store, h) for h in (30, 20, 5, 2)]
    mkt = [add(store, h, network="mastodon", account="@brand@m.example") for h in (26, 3)]
    add(store, 1)  # untriaged, 8 h default target
    for mention_id in care:
        actions.set_tag(store, mention_id, "care", True, "ana")
    for mention_id in mkt:
        actions.set_tag(store, mention_id, "marketing", True, "bo")
    reply_after(store, clock, care[0], 30)  # on time (care: 1 h)
    reply_after(store, clock, care[1], 90, operator="bo")  # late
    reply_after(store, clock, mkt[0], 60)
    actions.set_status(store, care[0], "done", "ana")

    report = build_report(store, at(48), by=DAY, zone=UTC, policy=POLICY)
    assert report.total == 7
    assert sum(sum(series) for series in report.volume["tag"].values()) == 7
    assert sum(report.volume["tag"]["care"]) == 4 and sum(report.volume["tag"]["untriaged"]) == 1
    assert sum(report.volume["network"]["mastodon"]) == 2
    by_operator = {t.key: t for t in report.first_response["operator"]}
    assert by_operator["ana"].count == 2 and by_operator["ana"].p50 == 30 * 60
    assert by_operator["bo"].p50 == 90 * 60
    by_tag = {t.key: t for t in report.first_response["tag"]}
    assert by_tag["care"].count == 2 and by_tag["care"].p90 == 90 * 60
    assert report.resolution["tag"][0].key == "care" and report.resolution["tag"][0].count == 1
    assert report.sla is not None
    # care[2] (5 h old) is waiting late, care[3] (2 h) too; mkt[1] (3 h, 4 h target) and plain (1 h, 8 h) are not.
    assert (report.sla.answered_on_time, report.sla.answered_late) == (2, 1)
    assert (report.sla.waiting_late, report.sla.waiting_on_time) == (2, 2)
    assert report.sla.breaches == 3
    # Backlog: six open now; a day earlier (end of the first bucket) ...
    assert report.backlog[-1] == 6
    assert len(report.backlog) == len(report.buckets) == 3
    assert report.as_json()["first_response"]["operator"][0]["key"] in ("ana", "bo")


def test_backlog_walks_back_through_closings_and_reopenings(store, clock):
    ids = [add(store, h) for h in (40, 30, 10)]
    actions.set_status(store, ids[0], "done", "ana")  # now: closed at the frozen time
    clock.advance(hours=-20)
    actions.set_status(store, ids[1], "done", "ana")  # closed 20 h ago
    clock.advance(hours=5)
    actions.set_status(store, ids[1], "open", "bo")  # reopened 15 h ago
    clock.advance(hours=15)
    report = build_report(store, at(48), by=HOUR, zone=UTC)
    hours_ago = {h: report.backlog[len(report.backlog) - 1 - h] for h in (0, 11, 17, 25, 35, 45)}
    assert hours_ago[0] == 2  # ids[1] and ids[2] open now
    assert hours_ago[11] == 2
    assert hours_ago[17] == 1  # ids[0] open, ids[1] closed (20 h .. 15 h ago), ids[2] not yet arrived
    assert hours_ago[25] == 2
    assert hours_ago[35] == 1
    assert hours_ago[45] == 0


def test_handoff_counts_both_tags_and_moves_with_gap_and_operators(store, clock):
    both, moved, fixed = add(store, 10), add(store, 9), add(store, 8)
    actions.set_tag(store, both, "care", True, "ana")
    clock.advance(minutes=20)
    actions.set_tag(store, both, "marketing", True, "bo")
    actions.set_tag(store, moved, "marketing", True, "bo")
    clock.advance(minutes=40)
    actions.set_tag(store, moved, "marketing", False, "ana")
    actions.set_tag(store, moved, "care", True, "ana")
    actions.set_tag(store, fixed, "care", True, "ana")
    actions.set_tag(store, fixed, "marketing", True, "ana")
    actions.set_tag(store, fixed, "marketing", False, "ana")  # a slip corrected: no hand-off
    report = build_report(store, at(48), until=iso(clock() + timedelta(minutes=1)), by=DAY, zone=UTC)
    handoff = report.handoff
    assert (handoff.both, handoff.moved) == (1, 1)
    assert (handoff.care_first, handoff.marketing_first) == (1, 1)
    assert handoff.gap_p50 == 20 * 60 and handoff.gap_p90 == 40 * 60
    assert {(p.first_team, p.first_operator, p.second_operator) for p in handoff.pairs} == {
        ("care", "ana", "bo"), ("marketing", "bo", "ana")}


def test_spikes_find_a_burst_and_name_what_it_was_about(store, clock):
    from store.spikes import find_spikes
    calm = [new_mention(created_at=iso(FROZEN_AT - timedelta(minutes=m)), text=f"love the new lamp {m}")
            for m in range(10, 300, 3)]
    burst = [new_mention(created_at=iso(FROZEN_AT - timedelta(minutes=120, seconds=s)),
                         text=f"my order never arrived, refund please #shipping {s}") for s in range(0, 120, 2)]
    insert_mentions(store, calm + burst)
    spikes = find_spikes(store, at(6))
    assert len(spikes) == 1
    spike = spikes[0]
    assert spike.mentions >= 55 and spike.peak_per_minute >= 30 and spike.typical_per_minute <= 1
    assert spike.start <= at(2) <= spike.end
    assert {"refund", "#shipping"} & set(spike.words) and "lamp" not in spike.words
    assert find_spikes(store, at(1)) == []  # the last hour is calm


def test_handover_lists_who_waits_oldest_first_with_sla_and_what_is_mine(store, clock):
    from store import desk
    from store.handover import format_report, handover_report
    old, newer, answered = add(store, 5, text="still broken"), add(store, 0.5), add(store, 3)
    actions.set_tag(store, old, "care", True, "ana")
    desk.assign(store, newer, "bo", "ana", allow_new=True)
    reply_after(store, clock, answered, 30)
    report = handover_report(store, at(12), "bo", POLICY)
    assert report.waiting is not None and report.waiting.total == 2
    assert [w.id for w in report.waiting.oldest] == [old, newer]
    assert report.waiting.oldest[0].sla == "late 4h" and report.waiting.oldest[0].late
    assert report.waiting.oldest[1].sla == "due 7h" and report.waiting.oldest[1].assigned_to == "bo"
    assert report.assigned_to_you == [newer]
    assert report.first_response is not None and report.first_response.count == 1
    assert report.first_response.on_time == 1 and report.first_response.p50 == 30 * 60
    text = format_report(report)
    assert "Waiting for a first reply: 2, 1 of the oldest 2 past their target (oldest first)" in text
    assert f"#{old} " in text and "late 4h care" in text and "Assigned to you (bo): 1" in text
    assert "the last 12h" in text.splitlines()[0]


def test_sla_table_in_the_config_is_checked_and_shown(tmp_path):
    import pytest

    from adapters.accounts import ConfigError
    from tui.settings import build_settings
    config = tmp_path / "config.toml"
    config.write_text('[sla]\ncare = "1h"\nmarketing = "4h"\nmastodon = "30m"\ndefault = 28800\n')
    settings = build_settings({"config": str(config), "db": str(tmp_path / "d.db"), "operator": "ana"})
    assert settings.sla.target(["marketing"], "mastodon") == 1800 and settings.sla.default == 28800
    assert settings.sources["sla"] == "file"
    config.write_text('[sla]\ncare = "soon"\n')
    with pytest.raises(ConfigError, match=r'\[sla\]: care must be a duration .* \(got "soon"\)'):
        build_settings({"config": str(config), "db": str(tmp_path / "d.db"), "operator": "ana"})
    config.write_text('[sla]\nvip = "1h"\n')
    with pytest.raises(ConfigError, match=r'unknown key "vip"'):
        build_settings({"config": str(config), "db": str(tmp_path / "d.db"), "operator": "ana"})


def test_handover_names_unsent_drafts_and_incidents_and_snoozed_time_does_not_count(store, clock):
    from store.drafts import save_draft
    from store.handover import format_report, handover_report
    from store.snooze import snooze, unsnooze
    waiting = add(store, 3, text="where is my parcel")
    save_draft(store, waiting, "ana", "So sorry, your parcel left our warehouse on")
    saved = clock.moment
    clock.moment = FROZEN_AT - timedelta(hours=2, minutes=30)
    snooze(store, [waiting], FROZEN_AT, "ana")
    clock.moment = FROZEN_AT - timedelta(minutes=30)
    unsnooze(store, [waiting], "ana")  # two of its three hours were snoozed
    clock.moment = saved
    store.conn.execute(
        """INSERT INTO incidents (title, kind, topic, started_at, detected_at, updated_at, baseline, peak, mentions)
           VALUES ('Surge: 240 mentions in 2 min', 'volume', '', ?, ?, ?, 10, 240, 240)""", (at(2), at(2), at(2)))
    report = handover_report(store, at(12), "bo", POLICY)
    assert report.waiting is not None and report.waiting.oldest[0].sla == "due 7h"  # 8 h default, 1 h counted
    assert report.drafts is not None and [(d.mention_id, d.operator) for d in report.drafts] == [(waiting, "ana")]
    assert report.incidents is not None and report.incidents[0].title == "Surge: 240 mentions in 2 min"
    text = format_report(report)
    assert "Drafts left unsent: 1" in text and "So sorry, your parcel" in text
    assert "Incidents: 1" in text and "#1 open since" in text


def test_volume_by_sentiment_over_time_in_numbers_csv_and_json(store):
    import io
    import json

    from store.signals import Signals
    from tui.report_text import format_report, write_csv

    ids = [add(store, h) for h in (30, 29, 5, 4, 3)] + [add(store, 2)]
    marks = dict(zip(ids, [Signals("en", -1, True), Signals("en", -1, True), Signals("fr", -1, False),
                           Signals("en", 0, False), Signals("en", 1, False)], strict=False))
    store.conn.executemany("UPDATE mentions SET sig_lang = ?, sentiment = ?, needs_reply = ? WHERE id = ?",
                           [(*signals.columns(), mention_id) for mention_id, signals in marks.items()])
    report = build_report(store, at(48), by=DAY, zone=UTC, policy=POLICY)
    sentiment = report.volume["sentiment"]
    assert {key: sum(counts) for key, counts in sentiment.items()} == {"negative": 3, "neutral": 1, "positive": 1,
                                                                        "unknown": 1}  # the last: no signals
    assert sentiment["negative"][-2:] == [2, 1]  # yesterday's two (30 h and 29 h ago), today's one
    assert "by sentiment: negative 3, neutral 1, positive 1, unknown 1" in format_report(report)
    out = io.StringIO()
    write_csv(report, out)
    assert sum(int(line.rsplit(",", 1)[1]) for line in out.getvalue().splitlines()
               if line.startswith("volume,sentiment,negative,")) == 3
    assert sum(json.loads(json.dumps(report.as_json()))["volume"]["sentiment"]["negative"]) == 3


def test_a_mention_tagged_marketing_then_care_counts_as_both_on_either_database(store, clock):
    """PostgreSQL aggregates tags in the order they were added: the handover must not depend on it."""
    first, second, third = (add(store, 1) for _ in range(3))
    actions.set_tag(store, first, "marketing", True, "ana")
    actions.set_tag(store, first, "care", True, "bo")
    actions.set_tag(store, second, "care", True, "ana")
    actions.set_tag(store, second, "marketing", True, "bo")
    actions.set_tag(store, third, "marketing", True, "ana")
    from store.handover import handover_report
    report = handover_report(store, at(2))
    assert report.open.by_tag == {"care": 0, "marketing": 1, "both": 2, "untriaged": 0}
