"""Group answers in the store: who gets one and why not, one commit, approval by another, pause and cancel."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from store import group_answers as ga
from store.actions import ActionError, queue_reply
from store.answer_plan import Target, plan
from store.ingest import insert_mentions
from store.keys import answer_key
from store.outbox import claim_due, mark_sent
from tests.conftest import new_mention

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
BODY = "Hi {author}, the show is moved to Sunday; your ticket stays valid. — {operator}"


def make_group(store, mention_ids: list[int]) -> int:
    """A live group holding `mention_ids` (as the leader's grouper would store it)."""
    now = store.now()
    with store.write():
        group_id = store.conn.execute(
            "INSERT INTO mention_groups (label, representative_id, created_at, updated_at, size) "
            "VALUES (?, ?, ?, ?, ?)",
            ("show cancelled", mention_ids[0], now, now, len(mention_ids))).lastrowid
        store.conn.executemany("INSERT INTO group_members (mention_id, group_id, score, at) VALUES (?, ?, 1.0, ?)",
                               [(mid, group_id, now) for mid in mention_ids])
    return group_id


def people(store, count: int, *, start: int = 0) -> list[int]:
    return insert_mentions(store, [new_mention(author_handle=f"@fan{n}", author_name=f"Fan {n}",
                                               text=f"is the show cancelled?? {n}",
                                               created_at=f"2025-03-14T09:{n % 60:02d}:{n // 60:02d}.000Z")
                                   for n in range(start, start + count)])


def test_the_plan_skips_the_answered_the_earlier_posts_and_the_unfillable(store):
    ids = people(store, 5)
    queue_reply(store, ids[0], "On it", "bo")  # answered by someone already
    first, latest = insert_mentions(store, [
        new_mention(author_handle="@twice", author_name="Twice", text="cancelled?",
                    created_at="2025-03-14T09:01:00.000Z"),
        new_mention(author_handle="@twice", author_name="Twice", text="hello??",
                    created_at="2025-03-14T09:05:00.000Z")])
    nameless, = insert_mentions(store, [new_mention(author_handle="@anon", author_name="", text="refund?")])
    group = make_group(store, [*ids, first, latest, nameless])

    found = plan(store, Target(group), BODY, "alice")
    assert [p.mention_id for p in found.sends] == [*ids[1:], latest]
    assert found.sends[0].text == "Hi Fan 1, the show is moved to Sunday; your ticket stays valid. — alice"
    skipped = {s.mention_id: (s.reason, s.detail) for s in found.skips}
    assert skipped == {ids[0]: ("answered", ""), first: ("earlier_post", f"#{latest}"),
                       nameless: ("unfillable", "{author}")}
    assert all("{author}" not in p.text for p in found.sends)
    # One reply per author switched off: the earlier post gets its own.
    assert first in [p.mention_id for p in plan(store, Target(group), BODY, "alice", one_per_author=False).sends]


def test_queuing_is_one_commit_with_one_reply_and_event_per_member_and_keys_that_cannot_double(store):
    ids = people(store, 12)
    group = make_group(store, ids)
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    drafted = ga.draft_answer(store, Target(group), BODY, "alice")
    store.conn.set_trace_callback(None)
    assert drafted.queued and drafted.answer.state == "queued"
    assert [s for s in statements if s.strip().upper().startswith(("COMMIT", "BEGIN"))] == ["BEGIN IMMEDIATE", "COMMIT"]
    rows = store.conn.execute("SELECT mention_id, idem_key, state, operator, text FROM replies WHERE answer_id = ? "
                              "ORDER BY mention_id", (drafted.answer.id,)).fetchall()
    assert [r[0] for r in rows] == ids and {r[2] for r in rows} == {"pending"}
    keys = [r[1] for r in rows]
    assert len(set(keys)) == 12 and all(TID.match(k) for k in keys)
    base = store.conn.execute("SELECT key_base FROM group_answers").fetchone()[0]
    assert keys == [answer_key(base, drafted.answer.id, mid) for mid in ids]  # derived: the same every time
    events = store.conn.execute("SELECT mention_id, detail FROM events WHERE action = 'reply.queue'").fetchall()
    assert sorted(mid for mid, _ in events) == ids
    assert all(json.loads(detail)["answer"] == drafted.answer.id for _, detail in events)
    with pytest.raises(sqlite3.IntegrityError):  # a second reply of this answer to a member: refused by the schema
        store.conn.execute("INSERT INTO replies (mention_id, text, operator, created_at, idem_key, answer_id) "
                           "VALUES (?, 'again', 'alice', '', 'other-key', ?)", (ids[0], drafted.answer.id))
    with pytest.raises(ActionError, match="queued: nothing to approve"):
        ga.approve(store, drafted.answer.id, "bo")
    # Answering the group again reaches nobody: each member got this group's answer.
    with pytest.raises(ActionError, match="nobody to answer: 12 already got this answer"):
        ga.draft_answer(store, Target(group), "Another word", "bo")
    assert store.conn.execute("SELECT count(*) FROM replies").fetchone()[0] == 12


def test_a_big_answer_waits_for_another_operator_who_approves_it(store):
    ids = people(store, 25)
    group = make_group(store, ids)
    drafted = ga.draft_answer(store, Target(group), BODY, "alice", approve_over=20)
    assert not drafted.queued and drafted.answer.state == "awaiting_approval"
    assert store.conn.execute("SELECT count(*) FROM replies").fetchone()[0] == 0
    assert [a.id for a in ga.awaiting_approval(store, "bo")] == [drafted.answer.id]
    assert ga.awaiting_approval(store, "alice") == []  # not offered to the drafter
    with pytest.raises(ActionError, match=f"you drafted answer {drafted.answer.id}: another operator must approve it"):
        ga.approve(store, drafted.answer.id, "alice")
    queue_reply(store, ids[3], "answered by hand meanwhile", "carol")
    approved = ga.approve(store, drafted.answer.id, "bo")
    assert len(approved.sends) == 24 and approved.reasons == {"answered": 1}  # planned again at approval
    answer = ga.get_answer(store, drafted.answer.id)
    assert (answer.state, answer.drafted_by, answer.approved_by) == ("queued", "alice", "bo")
    log = store.conn.execute("SELECT operator, action FROM events WHERE action LIKE 'answer.%' ORDER BY id").fetchall()
    assert log == [("alice", "answer.draft"), ("alice", "answer.ask_approval"), ("bo", "answer.approve"),
                   ("bo", "answer.queue")]
    # Every reply of it is written in the drafter's name.
    assert store.conn.execute("SELECT DISTINCT operator FROM replies WHERE answer_id = ?",
                              (answer.id,)).fetchall() == [("alice",)]


def test_a_paused_answer_is_not_claimed_resume_sends_on_and_cancel_takes_back_the_rest(store):
    single, = people(store, 1, start=100)
    ids = people(store, 6)
    answer = ga.draft_answer(store, Target(members=tuple(ids)), BODY, "alice").answer
    first = claim_due(store, None, limit=2)
    assert [r.mention_id for r in first] == ids[:2]
    queue_reply(store, single, "single reply", "bo")
    ga.pause(store, answer.id, "alice")
    assert [r.mention_id for r in claim_due(store, None, limit=50)] == [single]  # the paused answer's wait
    for reply in first:
        mark_sent(store, reply, f"remote-{reply.id}", None)
    progress = ga.list_answers(store)[0]
    assert (progress.phase, progress.sent, progress.queued) == ("paused", 2, 4)
    ga.resume(store, answer.id, "bo")
    resumed = claim_due(store, None, limit=1)
    assert len(resumed) == 1
    taken = ga.cancel(store, answer.id, "bo")
    assert taken == 3
    progress = ga.progress(store, ga.get_answer(store, answer.id))
    assert (progress.phase, progress.sent, progress.sending, progress.queued, progress.cancelled) == \
        ("cancelled", 2, 1, 0, 3)
    with pytest.raises(ActionError, match="is cancelled: it cannot be resumed"):
        ga.resume(store, answer.id, "alice")


def test_cancel_fails_rather_than_forgets_a_reply_that_may_have_been_posted(store):
    ids = people(store, 2)
    answer = ga.draft_answer(store, Target(members=tuple(ids)), BODY, "alice").answer
    store.conn.execute("UPDATE replies SET uncertain = 1 WHERE mention_id = ?", (ids[0],))
    assert ga.cancel(store, answer.id, "alice") == 1
    assert store.conn.execute("SELECT mention_id, state FROM replies").fetchall() == [(ids[0], "failed")]


def test_bad_input_is_one_line(store):
    ids = people(store, 2)
    with pytest.raises(ActionError, match=r"unknown variable \{autor\}"):
        ga.draft_answer(store, Target(members=tuple(ids)), "Hi {autor}", "alice")
    with pytest.raises(ActionError, match="no group with id 99"):
        ga.draft_answer(store, Target(99), BODY, "alice")
    with pytest.raises(ActionError, match="no answer with id 5"):
        ga.pause(store, 5, "alice")
    assert store.conn.execute("SELECT count(*) FROM group_answers").fetchone()[0] == 0


def test_an_incident_counts_the_people_its_group_answer_reached_skipped_and_failed(store, clock):
    from store.handover import handover_report, lead_lines
    from store.incidents import incident_stats, stats_line
    from store.outbox import mark_failed

    ids = people(store, 8)
    nameless, = insert_mentions(store, [new_mention(author_handle="@anon", author_name="", text="refund?")])
    again, = insert_mentions(store, [new_mention(author_handle="@fan0", author_name="Fan 0", text="hello??",
                                                 created_at="2025-03-14T09:30:00.000Z")])
    group = make_group(store, [*ids, nameless, again])
    with store.write():
        incident = store.conn.execute(
            """INSERT INTO incidents (title, kind, topic, started_at, detected_at, updated_at, baseline, peak, group_id)
               VALUES ('Spike: show cancelled', 'topic', ?, ?, ?, ?, 0, 10, ?)""",
            (str(group), "2025-03-14T09:20:00.000Z", "2025-03-14T09:22:00.000Z", store.now(), group)).lastrowid
    ga.draft_answer(store, Target(group), BODY, "alice")
    clock.advance(minutes=1)
    first = claim_due(store, None, limit=3)
    for reply in first[:2]:
        mark_sent(store, reply, f"remote-{reply.id}", None)
    mark_failed(store, first[2], "HTTP 422")
    clock.advance(minutes=4)
    for reply in claim_due(store, None, limit=2):
        mark_sent(store, reply, f"remote-{reply.id}", None)
    stats = incident_stats(store, incident)
    # 9 people: fan0 (twice: answered on the latest only) ... fan7 and @anon (no name: skipped).
    assert (stats.people, stats.answered, stats.by_group_answers, stats.failed, stats.queued, stats.skipped) == \
        (9, 4, 4, 1, 3, 1)
    assert stats.last_answer_seconds - stats.first_answer_seconds == pytest.approx(240)
    line = stats_line(stats)
    assert line.startswith("9 people: answered 4 (4 by group answers), queued 3, failed 1, skipped 1; first answer")
    report = handover_report(store, "2025-03-14T00:00:00.000Z", "bo")
    lines = lead_lines(report, str)
    at = next(i for i, text in enumerate(lines) if text.startswith(f"  #{incident} open"))
    assert lines[at + 1] == f"    {line}"  # under the incident it measures


def test_the_progress_line_says_when_the_last_reply_goes_at_the_accounts_pace(store):
    from store.pacing import PaceState, pacing_eta, save_pace

    answer = ga.draft_answer(store, Target(members=tuple(people(store, 6))), BODY, "alice").answer
    assert "pace not known yet" in ga.progress(store, answer).line()  # no leader has sent on the account yet
    [account] = pacing_eta(store, answer.id)
    save_pace(store, account.source, PaceState(label="Mastodon limit", rate="30/min", interval=2.0,
                                               next_send_at=None, updated_at=store.now()))
    line = ga.progress(store, answer).line()
    assert line.endswith("6 queued, 0 sending, 0 sent, 0 failed, 0 skipped · ~10 s at 30/min (Mastodon limit)")
    ga.pause(store, answer.id, "alice")
    assert "·" not in ga.progress(store, ga.get_answer(store, answer.id)).line()  # paused: no time to finish


def test_a_drafter_cannot_raise_the_desks_approval_bar_by_editing_their_own_config(store):
    ga.record_approve_over(store, "bo", 5)  # a colleague's console started with [flood] approve_over = 5
    drafted = ga.draft_answer(store, Target(members=tuple(people(store, 8))), BODY, "alice", approve_over=1000)
    assert not drafted.queued and drafted.answer.state == "awaiting_approval" and drafted.answer.approve_over == 5
    with pytest.raises(ActionError):
        ga.approve(store, drafted.answer.id, "alice")  # the drafter still cannot approve it
