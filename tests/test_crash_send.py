"""kill -9 between a reply's send and its commit: the restart posts nothing twice.

A real `mentiondesk serve` process ingests from a fake Bluesky PDS speaking
XRPC, sends a queued reply, and is SIGKILLed while the PDS holds the create
request; the PDS then completes it (the post exists, nobody heard back). A
second `serve` takes the lease, finds the reply 'sending' and uncertain,
looks for the post by its record key, adopts it, and never posts again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.bluesky_server import POST, FakePds, Hold, bluesky_desk
from tests.procs import query

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

pytestmark = pytest.mark.serial


def rows(db: str, sql: str, *params):
    if db.startswith("postgresql://"):
        return query(db, sql, *params)
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def until(condition, seconds: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
        except sqlite3.OperationalError:
            value = None  # the file is still being created by the child
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start_serve(db: str, config: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tui", "--db", db, "--config", config, "serve"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def restart_until_sent(db: str, config: str, env: dict) -> None:
    """A new leader adopts the in-flight reply; then it stops cleanly on SIGTERM."""
    second = start_serve(db, config, env)
    try:
        await until(lambda: rows(db, "SELECT 1 FROM replies WHERE state = 'sent'"), what="the reply adopted")
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0
    finally:
        if second.poll() is None:
            second.kill()


def assert_adopted_once(db: str) -> None:
    sent = rows(db, "SELECT detail FROM events WHERE action = 'reply.sent'")
    assert len(sent) == 1 and json.loads(sent[0][0])["adopted"] is True


async def test_kill_between_send_and_commit_posts_exactly_once(tmp_path, desk_db):
    pds = FakePds()
    await pds.start()
    try:
        brand, _file, config = bluesky_desk(pds, tmp_path)
        db = desk_db
        env = {**os.environ, "TEST_BSKY_PASSWORD": "app-pass-1234", "MENTIONDESK_LEASE_TTL": "1",
               "MENTIONDESK_OPERATOR": "alice", "MENTIONDESK_REPLY_RECALL": "0"}
        first = start_serve(db, str(config), env)
        try:
            mention_id = (await until(lambda: rows(db, "SELECT id FROM mentions WHERE network='bluesky'"),
                                      what="the mention to be ingested"))[0][0]
            hold = Hold()
            pds.faults["com.atproto.repo.createRecord"].append(hold)
            queued = subprocess.run([sys.executable, "-m", "tui", "--db", db, "reply", str(mention_id),
                                     "Sorry Ana, we are on it"], env=env, capture_output=True, text=True)
            assert queued.returncode == 0, queued.stderr
            await asyncio.wait_for(hold.entered.wait(), 30)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        hold.release.set()
        await asyncio.wait_for(hold.finished.wait(), 10)  # the post now exists; nobody was told
        assert rows(db, "SELECT state, uncertain FROM replies") == [("sending", 1)]
        posted = [key for key in pds.records if key[0] == brand.did and key[1] == POST]
        assert len(posted) == 1

        await restart_until_sent(db, str(config), env)
        posted = [key for key in pds.records if key[0] == brand.did and key[1] == POST]
        assert len(posted) == 1, "the reply was posted twice"
        (remote_id,), = rows(db, "SELECT remote_id FROM replies")
        assert remote_id == f"at://{brand.did}/{POST}/{posted[0][2]}"
        assert_adopted_once(db)
        creates = [r for r in pds.requests if r.nsid == "com.atproto.repo.createRecord"]
        assert len(creates) == 1  # the restart looked, found, and did not send again
    finally:
        await pds.close()


async def test_kill_mid_send_on_a_mastodon_server_that_ignores_idempotency_keys(tmp_path, desk_db):
    """The key alone would not save us here: the restart must find the post in the thread."""
    from tests.mastodon_server import TOKEN, FakeMastodon

    server = FakeMastodon()
    server.honor_idempotency = False  # like several Mastodon-compatible servers
    await server.start()
    try:
        notification = server.add_mention("where is my refund?")
        db = desk_db
        config = tmp_path / "config.toml"
        config.write_text(f"""
[[accounts]]
network = "mastodon"
server = "{server.base}"
handle = "@brand@example.social"
secret_env = "TEST_MASTODON_TOKEN"
poll_interval = 0.5
""")
        env = {**os.environ, "TEST_MASTODON_TOKEN": TOKEN, "MENTIONDESK_LEASE_TTL": "1",
               "MENTIONDESK_OPERATOR": "alice", "MENTIONDESK_REPLY_RECALL": "0"}
        first = start_serve(db, str(config), env)
        try:
            mention_id = (await until(lambda: rows(db, "SELECT id FROM mentions WHERE network='mastodon'"),
                                      what="the mention to be ingested"))[0][0]
            release = server.hold("/api/v1/statuses")
            server.fail("POST", "/api/v1/statuses", 0, after=True)  # do the work, then drop the answer
            queued = subprocess.run([sys.executable, "-m", "tui", "--db", db, "reply", str(mention_id),
                                     "@alice@remote.example sorry, refund is on its way"],
                                    env=env, capture_output=True, text=True)
            assert queued.returncode == 0, queued.stderr
            await until(lambda: [r for r in server.requests if r.method == "POST" and r.path == "/api/v1/statuses"],
                        what="the send to reach the server")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        server.holds.pop("/api/v1/statuses", None)
        release.set()
        await until(lambda: len(server.ours()) == 1, what="the held post to be created")
        assert rows(db, "SELECT state, uncertain FROM replies") == [("sending", 1)]

        await restart_until_sent(db, str(config), env)
        assert len(server.ours()) == 1, "the reply was posted twice"
        (remote_id,), = rows(db, "SELECT remote_id FROM replies")
        assert remote_id == server.ours()[0]["uri"]
        assert server.ours()[0]["in_reply_to_id"] == notification["status"]["id"]
        assert_adopted_once(db)
    finally:
        await server.stop()
