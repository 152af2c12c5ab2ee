"""Issue 13's "done when", with real processes: a group answer to 60 people through a Mastodon-API server.

A real `mentiondesk serve` ingests 60 mentions from a local fake Mastodon (which counts every
request and, like several compatible servers, ignores Idempotency-Key). Operator alice drafts an
answer to their group with `mentiondesk answer` (over approve_over: it waits), her own approval is
refused, bob approves from another process. The leader sends; after 30 replies the server holds
the 31st request open and the leader is killed with SIGKILL mid-request; the held post is then
made (nobody heard back). A second `serve` takes over: every member ends with exactly one reply
on the server — no double, none lost — and the database says the same.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Literal

import pytest

from store.db import open_store
from store.groups import move_member, split_member
from tests.mastodon_server import TOKEN, FakeMastodon
from tests.procs import clean_env, cli_command, query
from tests.support import until

pytestmark = pytest.mark.serial

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

PEOPLE = 60
FIRST_BATCH = 30


class Gate(asyncio.Event):
    """A hold on the server's status endpoint that lets the first `limit` requests through."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit
        self.passed = 0
        self.blocked = 0

    async def wait(self) -> Literal[True]:
        if self.passed < self.limit:
            self.passed += 1
            return True
        self.blocked += 1
        return await super().wait()


def one_group(db: Path | str) -> int:
    """Put every mention in one group, through the operators' corrections (split, then move)."""
    store = open_store(db)
    try:
        ids = [row[0] for row in store.conn.execute("SELECT id FROM mentions ORDER BY id")]
        biggest = store.conn.execute("SELECT group_id FROM group_members GROUP BY group_id "
                                     "ORDER BY count(*) DESC LIMIT 1").fetchone()
        group = biggest[0] if biggest else split_member(store, ids[0], "alice")
        placed = {row[0] for row in store.conn.execute("SELECT mention_id FROM group_members WHERE group_id = ?",
                                                       (group,))}
        for mention_id in ids:
            if mention_id not in placed:
                move_member(store, mention_id, group, "alice")
        return group
    finally:
        store.close()


async def cli(home: Path, db: Path | str, *args: str, operator: str) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(subprocess.run, cli_command(db, *args, operator=operator), capture_output=True,
                                   text=True, env=clean_env(home), cwd=home, timeout=60)


def serve(home: Path, db: Path | str, config: Path, log: Path) -> subprocess.Popen:
    env = clean_env(home, TEST_MASTODON_TOKEN=TOKEN, MENTIONDESK_LEASE_TTL="1", MENTIONDESK_OPERATOR="leader")
    with log.open("a", encoding="utf-8") as out:
        return subprocess.Popen([*cli_command(db, "serve"), "--config", str(config)], stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=home)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def test_a_group_answer_reaches_each_member_once_across_a_kill_9_of_the_leader(tmp_path, desk_db):
    server = FakeMastodon()
    server.honor_idempotency = False  # the key alone would not save a resend: the lookup must
    # A stated budget of 100 posts a second: the answer goes at that pace, not the default one a second
    # (a minute of the suite per backend); pacing itself is tests/test_paced_processes.py's.
    server.post_limit, server.post_window = 6000, 60.0
    await server.start()
    leaders: list[subprocess.Popen] = []
    try:
        asked = {server.add_mention(f"is the show cancelled?? refund please ({n})", acct=f"fan{n}@remote.example")
                 ["status"]["id"] for n in range(PEOPLE)}
        db, config, log = desk_db, tmp_path / "config.toml", tmp_path / "serve.log"
        config.write_text(f"""
[[accounts]]
network = "mastodon"
server = "{server.base}"
handle = "@brand@example.social"
secret_env = "TEST_MASTODON_TOKEN"
poll_interval = 0.5
""")
        leaders.append(serve(tmp_path, db, config, log))
        await until(lambda: query(db, "SELECT count(*) FROM mentions")[0][0] == PEOPLE, 30, "the mentions ingested")
        await until(lambda: query(db, "SELECT grouped_up_to FROM grouping_state")[0][0] >=
                    query(db, "SELECT max(id) FROM mentions")[0][0], 30, "the leader to group them")
        group = one_group(db)

        drafted = await cli(tmp_path, db, "answer", "--group", str(group), "--text",
                            "Hi {author}, the show moves to Sunday and your ticket stays valid.", operator="alice")
        assert drafted.returncode == 0, drafted.stderr
        assert "waits for another operator's approval (60 people" in drafted.stdout
        own = await cli(tmp_path, db, "approve", "1", operator="alice")
        assert own.returncode == 2 and own.stderr.strip() == \
            "mentiondesk: you drafted answer 1: another operator must approve it"
        gate = Gate(FIRST_BATCH)
        server.holds["/api/v1/statuses"] = gate
        approved = await cli(tmp_path, db, "approve", "1", operator="bob")
        assert approved.returncode == 0, approved.stderr

        await until(lambda: gate.blocked >= 1, 60, "the leader to be mid-request after 30 replies")
        leaders[0].send_signal(signal.SIGKILL)
        leaders[0].wait(10)
        sent_before = query(db, "SELECT count(*) FROM replies WHERE state = 'sent'")[0][0]
        assert sent_before <= FIRST_BATCH  # killed halfway: the rest is the next leader's
        del server.holds["/api/v1/statuses"]
        gate.set()  # the held request completes: the post exists, its sender is dead
        await until(lambda: len(server.ours()) == FIRST_BATCH + 1, 10, "the held post to be made")
        assert query(db, "SELECT count(*) FROM replies WHERE state = 'sending' AND uncertain = 1")[0][0] >= 1

        leaders.append(serve(tmp_path, db, config, log))
        await until(lambda: query(db, "SELECT count(*) FROM replies WHERE answer_id = 1 AND state = 'sent'")[0][0]
                    == PEOPLE, 90, "every reply of the answer sent")

        per_status = Counter(status["in_reply_to_id"] for status in server.ours())
        assert set(per_status) == asked, "a member got no reply"
        assert max(per_status.values()) == 1, f"doubles: {[k for k, n in per_status.items() if n > 1]}"
        assert len(server.posts()) == PEOPLE  # the held one was found by lookup, never posted again
        rows = query(db, "SELECT remote_id, state FROM replies WHERE answer_id = 1")
        assert {state for _, state in rows} == {"sent"} and len(rows) == PEOPLE
        assert {remote for remote, _ in rows} == {status["uri"] for status in server.ours()}
        adopted = sum(bool(json.loads(detail or "{}").get("adopted"))
                      for detail, in query(db, "SELECT detail FROM events WHERE action = 'reply.sent'"))
        assert adopted == 1  # the held post, found in the thread by the new leader
        who = query(db, "SELECT operator, action FROM events WHERE action IN ('answer.draft', 'answer.approve')")
        assert who == [("alice", "answer.draft"), ("bob", "answer.approve")]
        answers = await cli(tmp_path, db, "answers", operator="carol")
        assert answers.stdout.startswith(f"answer 1 (group {group}) finished: 0 queued, 0 sending, 60 sent, 0 failed")
    finally:
        for leader in leaders:
            stop(leader)
        await server.stop()
