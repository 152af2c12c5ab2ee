"""The shared desk with real processes on one SQLite file.

Every other process here is a real `mentiondesk` (`python -m tui ...`) or a
small worker from tests/procs.py; the test only reads the file and waits,
with a deadline, for what it expects to see.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from store import actions, desk
from store.db import iso, open_store
from store.ingest import save_batch
from tests.procs import (
    NOBODY,
    clean_env,
    cli_command,
    demo_seqs,
    holder_pid,
    lease,
    permission_runner,
    query,
    run_all,
    run_cli,
    run_worker,
    start,
    start_serve,
    wait_for,
    worker_command,
)
from tests.support import assert_one_line_refusal as one_line_refusal
from tests.tui_support import mention, screen_text, seed
from tui.app import ConsoleApp
from tui.widgets.mention_view import MentionView

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

pytestmark = pytest.mark.serial

LEASE_TTL = 2.0





def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


# -- 1. live propagation ------------------------------------------------------------------------------

async def within(pilot, condition, seconds: float, what: str) -> float:
    """Let the console run until `condition` holds; how long it took (fails after `seconds`)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"the console did not show {what} within {seconds:g} s")
        await pilot.pause(0.02)
    return time.monotonic() - started


async def test_console_shows_changes_from_other_processes_within_a_second(tmp_path, desk_db):
    db = desk_db
    seed(str(db))
    env = clean_env(tmp_path)
    app = ConsoleApp(str(db), operator="watcher", poll_interval=0.1)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = app.screen
        await pilot.press("0")  # all mentions: one marked done stays listed
        await within(pilot, lambda: screen.view == "all" and len(screen.inbox.ids) == 31
                     and screen.inbox.row(screen.inbox.ids[1]) is not None, 10, "the seeded inbox")
        target, other = screen.inbox.ids[0], screen.inbox.ids[1]
        assert screen.inbox.selected_id == target

        def row(mention_id):
            return screen.inbox.row(mention_id)

        def note_shown(text):
            detail = screen.query_one(MentionView).detail
            return detail is not None and any(note.text == text for note in detail.notes)

        new_ids = [32, 33]
        steps = [
            (cli_command(db, "tag", str(target), "care", operator="ann"),
             lambda: "care" in row(target).tags and "CARE" in screen_text(app), "the care tag"),
            (cli_command(db, "tag", str(other), "marketing", operator="bob"),
             lambda: "marketing" in row(other).tags, "the marketing tag"),
            (cli_command(db, "assign", str(target), "bob", operator="ann"),
             lambda: row(target).assignee == "bob", "the assignment"),
            (cli_command(db, "note", str(target), "called", "her", "back", operator="ann"),
             lambda: note_shown("called her back"), "the note"),
            (cli_command(db, "reply", str(target), "Sorry, sending a new pair today", operator="bob"),
             lambda: row(target).reply_state == "pending" and row(target).state == "queued", "the reply"),
            (cli_command(db, "done", str(other), operator="bob"),
             lambda: row(other).status == "done", "done"),
            (cli_command(db, "tag", str(target), "care", "--off", operator="ann"),
             lambda: "care" not in row(target).tags, "the care tag removed"),
            (worker_command("ingest", db, 40, 2),
             lambda: set(new_ids) <= set(screen.inbox.ids) and all(row(i) for i in new_ids), "new mentions"),
        ]
        lags = []
        for command, shown, what in steps:
            proc = await asyncio.create_subprocess_exec(*command, env=env, cwd=tmp_path,
                                                        stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, (command, err.decode())
            lags.append(await within(pilot, shown, 1.0, what))  # counted from the writer's exit
        assert max(lags) < 1.0
    assert query(db, "SELECT id FROM mentions WHERE id IN (32, 33)") == [(32,), (33,)]


def test_a_second_connection_in_one_process_keeps_the_first_in_sync(tmp_path):
    """What every console does: several connections (ui, search, ingest) to one file in one process."""
    db = tmp_path / "desk.db"
    seed(str(db), 5, hostile=False)
    ui = open_store(db)
    later = open_store(db)  # opened after the first, as the console's other threads do
    try:
        for mention_id in (1, 2):  # operators elsewhere: each command opens, commits, closes
            result = run_cli(tmp_path, db, "tag", str(mention_id), "care", operator="ann")
            assert result.returncode == 0, result.stderr
        ui_sees = ui.conn.execute("SELECT mention_id FROM tags ORDER BY mention_id").fetchall()
        actions.set_tag(ui, 3, "marketing", True, "watcher")
        others_see = run_worker(tmp_path, "sql", db, "SELECT mention_id, operator FROM tags ORDER BY mention_id")
    finally:
        later.close()
        ui.close()
    after_close = run_worker(tmp_path, "sql", db, "SELECT mention_id, operator FROM tags ORDER BY mention_id")
    integrity = run_worker(tmp_path, "sql", db, "PRAGMA integrity_check")
    assert ui_sees == [(1,), (2,)], "the console sees what other operators did"
    assert others_see["rows"] == [[1, "ann"], [2, "ann"], [3, "watcher"]], "others see what the console did"
    assert after_close["rows"] == [[1, "ann"], [2, "ann"], [3, "watcher"]]
    assert integrity["rows"] == [["ok"]]


# -- 2. leader failover ----------------------------------------------------------------------------

def test_leader_failover_resumes_the_demo_stream_without_a_gap(tmp_path, desk_db):
    db = desk_db
    # All start on a file that does not exist yet: creating and migrating it must not race.
    serves = [start_serve(tmp_path, db, tmp_path / f"serve-{n}.log", rate=1200, ttl=LEASE_TTL) for n in (1, 2, 3)]
    logs = {proc.pid: tmp_path / f"serve-{n}.log" for n, proc in zip((1, 2, 3), serves, strict=True)}
    try:
        holder, _ = wait_for(lambda: lease(db), timeout=15, what="a leader")
        leader = next(p for p in serves if p.pid == holder_pid(holder))
        survivors = [p for p in serves if p is not leader]
        wait_for(lambda: len(demo_seqs(db)) >= 15, timeout=10, what="mentions from the leader")
        assert lease(db)[0] == holder  # still the same one, renewing
        leading = [pid for pid, log in logs.items() if "event=leader state=acquired" in log.read_text()]
        assert leading == [leader.pid], "exactly one process ingests"

        leader.send_signal(signal.SIGKILL)
        leader.wait(timeout=10)
        killed = time.monotonic()
        last_of_dead_leader = demo_seqs(db)[-1]
        new_holder = wait_for(lambda: (row := lease(db)) and row[0] != holder and row[0],
                              timeout=LEASE_TTL * 1.5 + 3, what="a survivor taking over")
        takeover = time.monotonic() - killed
        assert takeover <= LEASE_TTL * 1.5 + 0.5, f"takeover took {takeover:.2f} s"
        new_leader = next(p for p in survivors if p.pid == holder_pid(new_holder))
        follower = next(p for p in survivors if p is not new_leader)
        wait_for(lambda: demo_seqs(db)[-1] >= last_of_dead_leader + 15, timeout=10,
                 what="mentions after the failover")

        for proc in (follower, new_leader):  # SIGTERM: prompt, clean, and only a leader's lease goes
            proc.send_signal(signal.SIGTERM)
            stopping = time.monotonic()
            assert proc.wait(timeout=10) == 0
            assert time.monotonic() - stopping < 3, "SIGTERM should stop serve promptly"
            if proc is follower:
                assert lease(db)[0] == new_holder, "a follower leaving does not touch the lease"
        assert lease(db) is None, "a cleanly stopped leader releases its lease"
        assert "event=leader state=acquired" not in logs[follower.pid].read_text()
    finally:
        for proc in serves:
            stop(proc)

    seqs = demo_seqs(db)
    assert seqs[0] == 1 and seqs[-1] > last_of_dead_leader + 15
    assert seqs == list(range(1, len(seqs) + 1)), "the new leader resumed exactly after the last commit"
    assert len(seqs) == query(db, "SELECT count(*) FROM mentions")[0][0]
    assert query(db, "SELECT cursor FROM cursors") == [(str(seqs[-1]),)]
    for log in logs.values():
        text = log.read_text()
        assert "Traceback" not in text and "locked" not in text, text


def test_a_paused_leader_that_wakes_up_steps_down_without_a_gap(tmp_path, desk_db):
    """A suspended laptop: the leader stops, loses the lease, then resumes and must follow."""
    db = desk_db
    first = start_serve(tmp_path, db, tmp_path / "first.log", rate=1200, ttl=LEASE_TTL)
    try:
        wait_for(lambda: lease(db), timeout=15, what="the first leader")
        second = start_serve(tmp_path, db, tmp_path / "second.log", rate=1200, ttl=LEASE_TTL)
    except BaseException:
        stop(first)
        raise
    try:
        wait_for(lambda: len(demo_seqs(db)) >= 10, timeout=10, what="mentions from the first leader")
        assert holder_pid(lease(db)[0]) == first.pid
        first.send_signal(signal.SIGSTOP)
        wait_for(lambda: (row := lease(db)) and holder_pid(row[0]) == second.pid, timeout=LEASE_TTL * 1.5 + 3,
                 what="the second taking over from the paused one")
        resumed_from = demo_seqs(db)[-1]
        wait_for(lambda: demo_seqs(db)[-1] >= resumed_from + 10, timeout=10, what="the second ingesting")
        first.send_signal(signal.SIGCONT)
        wait_for(lambda: "another process leads" in (tmp_path / "first.log").read_text(),
                 timeout=LEASE_TTL * 1.5 + 1, what="the woken leader stepping down")
        assert holder_pid(lease(db)[0]) == second.pid
        after_wake = demo_seqs(db)[-1]
        wait_for(lambda: demo_seqs(db)[-1] >= after_wake + 10, timeout=10, what="ingest going on")
        for proc in (first, second):
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
            stop(proc)
    seqs = demo_seqs(db)
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) == query(db, "SELECT count(*) FROM mentions")[0][0]
    # The woken one may commit one catch-up batch before it checks the lease; the cursor may then
    # trail the newest row (a later leader replays a little, harmlessly), never run ahead of it.
    assert 0 < int(query(db, "SELECT cursor FROM cursors")[0][0]) <= seqs[-1]
    assert (tmp_path / "first.log").read_text().count("event=leader state=acquired") == 1
    for log in ("first.log", "second.log"):
        text = (tmp_path / log).read_text()
        assert "Traceback" not in text and "locked" not in text, text


def test_serve_stopped_by_sigterm_does_not_say_another_process_leads(tmp_path, desk_db):
    db = desk_db
    log = tmp_path / "serve.log"
    proc = start_serve(tmp_path, db, log, rate=600, ttl=LEASE_TTL)
    try:
        wait_for(lambda: lease(db), timeout=15, what="the lease")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        stop(proc)
    assert lease(db) is None
    assert "another process leads" not in log.read_text(), log.read_text()


# -- 3. claims ----------------------------------------------------------------------------------------

def test_claims_hold_across_processes(tmp_path, desk_db):
    db = desk_db
    seed(str(db), 5, hostile=False)
    target = 3

    assert run_worker(tmp_path, "desk", db, "alice", "claim", target) == {"claim": None}
    other = run_worker(tmp_path, "desk", db, "bob", "claim", target)["claim"]
    assert other["operator"] == "alice", "bob is told who is replying instead of taking it"
    assert run_worker(tmp_path, "desk", db, "bob", "active", target)["claim"]["operator"] == "alice"

    refused = run_cli(tmp_path, db, "reply", str(target), "On", "it", operator="bob")
    line = one_line_refusal(refused)
    assert "alice" in line and "--force" in line
    assert query(db, "SELECT count(*) FROM replies") == [(0,)]

    forced = run_cli(tmp_path, db, "reply", str(target), "On", "it", "anyway", "--force", operator="bob")
    assert forced.returncode == 0, forced.stderr
    own = run_cli(tmp_path, db, "reply", str(target), "Mine", operator="alice")
    assert own.returncode == 0, own.stderr
    assert query(db, "SELECT operator, text FROM replies ORDER BY id") == [("bob", "On it anyway"),
                                                                          ("alice", "Mine")]
    # alice's console renews its claim while her composer is open (a slow machine can take
    # longer than the claim's ttl to run the commands above).
    assert run_worker(tmp_path, "desk", db, "alice", "claim", target) == {"claim": None}
    assert run_worker(tmp_path, "desk", db, "bob", "active", target)["claim"]["operator"] == "alice"

    run_worker(tmp_path, "desk", db, "alice", "release", target)
    assert run_worker(tmp_path, "desk", db, "bob", "claim", target) == {"claim": None}
    assert run_worker(tmp_path, "desk", db, "alice", "claim", target)["claim"]["operator"] == "bob"
    assert query(db, "SELECT operator, action FROM events WHERE action LIKE 'claim%' ORDER BY id") == [
        ("alice", "claim"), ("alice", "claim.release"), ("bob", "claim")]


CLAIM_TTL = 2.0


def test_a_live_consoles_claim_is_renewed_and_a_killed_ones_lapses(tmp_path, desk_db):
    db = desk_db
    seed(str(db), 5, hostile=False)
    console = start(worker_command("console-claim", db, "alice", CLAIM_TTL, CLAIM_TTL / 5), tmp_path,
                    tmp_path / "console.log")
    try:
        [(target, first_expiry)] = wait_for(lambda: query(db, "SELECT mention_id, expires_at FROM claims"),
                                            timeout=60, what="the console claims the mention")
        wait_for(lambda: iso(datetime.now(UTC)) > first_expiry, timeout=CLAIM_TTL + 1, what="the first expiry")
        live = run_worker(tmp_path, "desk", db, "bob", "claim", target)["claim"]
        assert live is not None and live["operator"] == "alice", "the heartbeat keeps the claim"
        console.send_signal(signal.SIGKILL)
        console.wait(timeout=10)
        killed_at = time.monotonic()
        wait_for(lambda: run_worker(tmp_path, "desk", db, "bob", "active", target) == {"claim": None},
                 timeout=CLAIM_TTL + 5, what="the dead console's claim lapses", interval=0.1)
        assert time.monotonic() - killed_at <= CLAIM_TTL + 5
        assert run_worker(tmp_path, "desk", db, "bob", "claim", target) == {"claim": None}
    finally:
        stop(console)


def test_simultaneous_guarded_replies_queue_one(tmp_path, desk_db):
    """Three operators send at once, each having opened the composer before any reply."""
    db = desk_db
    seed(str(db), 5, hostile=False)
    names = ["alice", "bob", "carol"]
    procs = {name: start(worker_command("guarded-reply", db, name, 2, 0, tmp_path), tmp_path,
                         tmp_path / f"{name}.out", err=tmp_path / f"{name}.err") for name in names}
    try:
        wait_for(lambda: all((tmp_path / f"{name}.ready").exists() for name in names), timeout=60,
                 what="every sender is ready")
        (tmp_path / "go").touch()
        for name, proc in procs.items():
            assert proc.wait(timeout=60) == 0, (tmp_path / f"{name}.err").read_text()
    finally:
        for proc in procs.values():
            stop(proc)
    outcomes = {name: json.loads((tmp_path / f"{name}.out").read_text())["outcome"] for name in names}
    queued = [name for name, outcome in outcomes.items() if outcome == "queued"]
    assert len(queued) == 1, outcomes
    assert all(outcome == f"answered by {queued[0]}" for name, outcome in outcomes.items() if name not in queued)
    assert query(db, "SELECT operator FROM replies") == [(queued[0],)]


def test_simultaneous_claims_have_one_winner(tmp_path, desk_db):
    db = desk_db
    seed(str(db), 5, hostile=False)
    names = ["alice", "bob", "carol"]
    results = run_all([worker_command("desk", db, name, "claim", 2) for name in names], tmp_path)
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    answers = {name: json.loads(r.stdout)["claim"] for name, r in zip(names, results, strict=True)}
    winners = [name for name, claim in answers.items() if claim is None]
    assert len(winners) == 1, answers
    assert all(claim["operator"] == winners[0] for claim in answers.values() if claim is not None)
    assert query(db, "SELECT operator FROM claims WHERE mention_id = 2") == [(winners[0],)]
    assert query(db, "SELECT operator FROM events WHERE action = 'claim'") == [(winners[0],)]


# -- 4. handover ------------------------------------------------------------------------------------

def _seed_for_handover(db: Path) -> dict[int, str]:
    """Mentions from two hours ago and from now, on three networks; returns id -> age bucket.

    Times are relative to now because the CLI reads the real clock.
    """
    now = datetime.now(UTC)
    earlier = now - timedelta(hours=2)
    ages = {"under 1h": timedelta(minutes=10), "1-4h": timedelta(hours=2), "4-24h": timedelta(hours=5),
            "over 24h": timedelta(hours=30)}
    plan = [  # (network, age bucket); ids follow this order
        ("demo", "over 24h"), ("demo", "over 24h"), ("demo", "4-24h"), ("demo", "4-24h"),  # 1-4: earlier
        ("demo", "under 1h"), ("demo", "under 1h"), ("demo", "1-4h"), ("demo", "1-4h"),  # 5-8
        ("demo", "under 1h"), ("demo", "under 1h"), ("demo", "4-24h"), ("demo", "under 1h"),  # 9-12
        ("mastodon", "under 1h"), ("mastodon", "1-4h"), ("mastodon", "under 1h"),  # 13-15
        ("bluesky", "under 1h"), ("bluesky", "4-24h"),  # 16-17
    ]
    records = [replace(mention(i), network=network, remote_id=f"{network}:{i}",
                       created_at=iso(now - ages[bucket])) for i, (network, bucket) in enumerate(plan, start=1)]
    old = open_store(db, clock=lambda: earlier)
    save_batch(old, "seed", records[:4], None)
    # Before the window: none of these may be counted.
    actions.queue_reply(old, 1, "An old reply", "dave")
    desk.add_note(old, 2, "old note", "dave")
    desk.leave_handover_note(old, "yesterday's news", "dave")
    actions.set_status(old, 4, "done", "dave")
    actions.set_status(old, 4, "open", "dave")
    old.close()
    fresh = open_store(db)
    save_batch(fresh, "seed", records[4:], None)
    fresh.close()
    return {i: bucket for i, (_, bucket) in enumerate(plan, start=1)}


def test_handover_reports_what_other_processes_did(tmp_path, desk_db):
    db = desk_db
    buckets = _seed_for_handover(db)

    config = tmp_path / "config.toml"
    config.write_text("reply_recall = 0\n", encoding="utf-8")  # the settle worker below takes the replies at once

    def cli(operator, *args):
        return cli_command(db, *args, "--config", str(config), operator=operator)

    first_wave = [
        cli("alice", "tag", "5", "care"), cli("alice", "tag", "6", "care"), cli("alice", "tag", "6", "marketing"),
        cli("alice", "tag", "7", "marketing"), cli("bob", "tag", "1", "care"), cli("bob", "tag", "8", "care"),
        cli("bob", "tag", "10", "care"),
        cli("bob", "done", "9"), cli("carol", "done", "10"), cli("carol", "done", "11"), cli("alice", "done", "2"),
        # All at once: whether a name has acted yet is a race, so no name counts as new.
        cli("alice", "assign", "5", "bob", "--new-operator"), cli("alice", "assign", "12", "carol", "--new-operator"),
        cli("carol", "assign", "9", "carol"), cli("bob", "assign", "13", "alice", "--new-operator"),
        cli("alice", "note", "5", "refund", "approved"), cli("bob", "note", "12", "VIP,", "be", "nice"),
        cli("alice", "reply", "5", "Refund on its way"), cli("alice", "reply", "6", "Thanks!"),
        cli("bob", "reply", "7", "Glad you like it"), cli("carol", "reply", "12", "Looking into it"),
        cli("carol", "handover", "--leave", "Mastodon", "account", "needs", "re-auth"),
        cli("bob", "handover", "--leave", "Giveaway", "winners", "at", "3pm"),
    ]
    second_wave = [  # each undoes or builds on something from the first
        cli("bob", "tag", "8", "care", "--off"), cli("alice", "done", "11", "--reopen"),
        cli("bob", "assign", "13", "-"),
    ]
    for wave in (first_wave, second_wave):
        results = run_all(wave, tmp_path)
        failed = [(r.args[3:], r.stderr) for r in results if r.returncode != 0 or r.stderr]
        assert not failed, failed

    reply_ids = dict(query(db, "SELECT mention_id, id FROM replies WHERE operator != 'dave'"))
    settled = run_worker(tmp_path, "settle", db, json.dumps({reply_ids[5]: "sent", reply_ids[7]: "failed"}))
    # dave's old reply was due too: held back, it stays pending (and outside the window).
    assert sorted(settled["settled"].values()) == ["failed", "pending", "pending", "pending", "sent"]

    report_json, report_text = run_all([cli("erin", "handover", "--json", "--since", "1h"),
                                        cli("erin", "handover", "--since", "1h")], tmp_path)
    assert report_json.returncode == 0 and report_text.returncode == 0, report_json.stderr + report_text.stderr
    report = json.loads(report_json.stdout)

    assert report["arrived"] == {"total": 13, "by_network": {"bluesky": 2, "demo": 8, "mastodon": 3}}
    tags = {1: {"care"}, 5: {"care"}, 6: {"care", "marketing"}, 7: {"marketing"}, 10: {"care"}}
    done = {2, 9, 10}
    open_ids = [i for i in buckets if i not in done]
    expected_by_tag = Counter("both" if len(tags.get(i, ())) == 2 else next(iter(tags[i])) if i in tags
                              else "untriaged" for i in open_ids)
    assert report["open"]["total"] == len(open_ids) == 14
    assert report["open"]["by_tag"] == {"care": 2, "marketing": 1, "both": 1, "untriaged": 10} == {
        key: expected_by_tag[key] for key in ("care", "marketing", "both", "untriaged")}
    ages = Counter(buckets[i] for i in open_ids)
    assert report["open"]["by_age"] == {"under 1h": 6, "1-4h": 3, "4-24h": 4, "over 24h": 1} == {
        label: ages[label] for label in ("under 1h", "1-4h", "4-24h", "over 24h")}
    assert report["open"]["oldest"]["id"] == 1
    assert report["replied"] == {"alice": {"sent": 1, "pending": 1}, "bob": {"failed": 1},
                                 "carol": {"pending": 1}}
    assert report["done"] == {"alice": 1, "bob": 1, "carol": 1}  # carol's #11 was reopened by alice
    assert report["assigned"] == {"bob": [5], "carol": [12]}
    assert sorted((n["mention_id"], n["operator"], n["text"]) for n in report["notes"]) == [
        (5, "alice", "refund approved"), (12, "bob", "VIP, be nice")]
    assert [(f["mention_id"], f["operator"], f["error"]) for f in report["failed_replies"]] == [
        (7, "bob", "demo.social said no")]
    assert sorted((n["operator"], n["text"]) for n in report["handover_notes"]) == [
        ("bob", "Giveaway winners at 3pm"), ("carol", "Mastodon account needs re-auth")]
    assert "Arrived: 13 (bluesky 2, demo 8, mastodon 3)" in report_text.stdout
    assert "yesterday's news" not in report_text.stdout and "dave" not in report_text.stdout


# -- 5. soak --------------------------------------------------------------------------------------------

WRITERS = 4
SOAK_SECONDS = 6.0


def test_writers_and_the_leader_hammer_one_file_without_losing_an_action(tmp_path, desk_db):
    db = desk_db
    serve = start_serve(tmp_path, db, tmp_path / "serve.log", rate=3000, ttl=LEASE_TTL)
    writers: list[tuple[str, subprocess.Popen]] = []
    try:
        wait_for(lambda: len(demo_seqs(db)) >= 40, timeout=15,
                 what="the leader ingesting")
        for n in range(WRITERS):
            name = f"writer{n}"
            command = worker_command("writer", db, name, n, WRITERS, SOAK_SECONDS, tmp_path, 1000 + n)
            writers.append((name, start(command, tmp_path, tmp_path / f"{name}.out", err=tmp_path / f"{name}.err")))
        wait_for(lambda: all((tmp_path / f"{name}.ready").exists() for name, _ in writers), timeout=20,
                 what="writers ready")
        arrived_before = len(demo_seqs(db))
        (tmp_path / "go").touch()
        for name, proc in writers:
            assert proc.wait(timeout=SOAK_SECONDS + 30) == 0, (tmp_path / f"{name}.err").read_text()
        arrived_during = len(demo_seqs(db)) - arrived_before
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=10) == 0
    finally:
        for _, proc in writers:
            stop(proc)
        stop(serve)

    serve_log = (tmp_path / "serve.log").read_text()
    assert "locked" not in serve_log and "Traceback" not in serve_log, serve_log
    assert arrived_during >= 50, "the leader kept ingesting while the writers worked"
    assert query(db, "SELECT count(*) FROM replies WHERE state = 'sent'")[0][0] > 0, "and kept sending"
    for n, (name, _) in enumerate(writers):
        errors = (tmp_path / f"{name}.err").read_text()
        assert errors == "", errors
        summary = json.loads((tmp_path / f"{name}.out").read_text())
        logged = [tuple(entry) for entry in map(json.loads, (tmp_path / f"{name}.jsonl").read_text().splitlines())]
        assert summary["actions"] == len(logged) >= 100, f"{name} did too little to be a soak"
        stored = query(db, "SELECT action, mention_id FROM events WHERE operator = ?", name)
        assert Counter(stored) == Counter(logged), f"{name}: events differ from what it did"
        kinds = Counter(action for action, _ in logged)
        assert query(db, "SELECT count(*) FROM replies WHERE operator = ?", name) == [(kinds["reply.queue"],)]
        assert query(db, "SELECT count(*) FROM notes WHERE operator = ?", name) == [(kinds["note.add"],)]
        own_tags = query(db, "SELECT mention_id, tag FROM tags WHERE mention_id % ? = ? ORDER BY mention_id, tag",
                         WRITERS, n)
        assert own_tags == [tuple(pair) for pair in summary["tags_on"]]
    seqs = demo_seqs(db)
    assert seqs == list(range(1, len(seqs) + 1))


# -- 6. unreadable database --------------------------------------------------------------------------

@pytest.fixture
def locked_out(tmp_path):
    """(runner, home): someone for whom a chmod 000 file is unreadable, and a folder they own."""
    root = os.geteuid() == 0
    # As root the runner is another user, who cannot enter pytest's private tmp_path.
    home = Path(tempfile.mkdtemp(prefix="mentiondesk-locked-")) if root else tmp_path
    try:
        home.chmod(0o755)
        runner = permission_runner()
        if runner is None:
            pytest.skip("running as root and no interpreter the unprivileged user can run")
        yield runner, home
    finally:
        for path in home.rglob("*"):
            path.chmod(0o700)
        if root:
            shutil.rmtree(home, ignore_errors=True)


def _hand_over(home: Path) -> None:
    if os.geteuid() == 0:
        for path in (home, *home.rglob("*")):
            os.chown(path, NOBODY, NOBODY)


def test_cli_on_an_unreadable_file_says_so_in_one_line(locked_out):
    runner, home = locked_out
    db = home / "desk.db"
    seed(str(db), 5, hostile=False)
    _hand_over(home)
    db.chmod(0)
    if runner.can_read(db, home):
        pytest.skip("permissions are not enforced for this user")
    before = db.stat()
    for args in (["--no-demo"], ["tag", "1", "care"], ["handover"], ["serve"], ["search", "refund"],
                 ["reply", "1", "hello"]):
        result = runner.run(["-m", "tui", *args, "--db", str(db)], home)
        line = one_line_refusal(result)
        assert "permission denied" in line and str(db) in line, (args, line)
    assert db.stat().st_mtime_ns == before.st_mtime_ns and db.stat().st_mode & 0o777 == 0


def test_running_console_survives_its_file_turning_unreadable(locked_out):
    runner, home = locked_out
    db = home / "desk.db"
    seed(str(db), 12, hostile=False)
    _hand_over(home)
    result = runner.run(["-m", "tests.procs", "console-unreadable", str(db)], home, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["running"] and report["return_code"] is None
    assert report["notifications"], "the operator is told the search failed"
    for message in report["notifications"]:
        assert "\n" not in message
    assert any("permission denied" in message for message in report["notifications"])
