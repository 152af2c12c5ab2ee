"""Paced sending across real processes: a `serve` leader paces a group answer by the server's stated limit,
`mentiondesk accounts` in another process shows the pace and the answer's ETA, and a kill -9 halfway
posts nothing twice and never goes over the limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from store.db import open_store
from store.ingest import save_batch
from store.queue_bulk import queue_bulk_replies
from tests.conftest import new_mention
from tests.mastodon_server import TOKEN, FakeMastodon
from tests.test_crash_send import rows, start_serve, until

pytestmark = pytest.mark.serial

ACCOUNT = "@brand@example.social"


async def test_a_leader_paces_an_answer_the_cli_shows_it_and_a_kill_9_posts_nothing_twice(tmp_path):
    server = FakeMastodon()
    server.post_limit, server.post_window = 20, 5.0
    await server.start()
    try:
        db = str(tmp_path / "desk.db")
        store = open_store(db)
        try:
            mentions = []
            for number in range(30):
                status = server.remote_status(f"cancelled?! {number}")
                mentions.append(new_mention(network="mastodon", account=ACCOUNT, remote_id=status["uri"],
                                            author_handle="@alice@remote.example",
                                            reply_ref={"status_id": status["id"], "acct": "alice@remote.example",
                                                       "visibility": "public"}))
            ids = save_batch(store, f"mastodon:{ACCOUNT}", mentions, None)
            queue_bulk_replies(store, 1, [(m, "Sorry: refunds go out this week.") for m in ids], "carla")
        finally:
            store.close()
        config = tmp_path / "config.toml"
        config.write_text(f'[[accounts]]\nnetwork = "mastodon"\nserver = "{server.base}"\nhandle = "{ACCOUNT}"\n'
                          'secret_env = "TEST_MASTODON_TOKEN"\nstreaming = false\npoll_interval = 5\n')
        env = {**os.environ, "TEST_MASTODON_TOKEN": TOKEN, "MENTIONDESK_LEASE_TTL": "1",
               "MENTIONDESK_OPERATOR": "alice"}
        first = start_serve(db, str(config), env)
        try:
            await until(lambda: len(server.ours()) >= 8, what="the answer under way")
            shown = subprocess.run([sys.executable, "-m", "tui", "--db", db, "--config", str(config), "accounts"],
                                   env=env, capture_output=True, text=True, timeout=60)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert lines[1].startswith("  sending pace: ") and "(Mastodon limit), " in lines[1]
        assert lines[2].startswith("answer #1: ") and " queued, ~" in lines[2], lines
        second = start_serve(db, str(config), env)
        try:
            await until(lambda: rows(db, "SELECT count(*) FROM replies WHERE state = 'sent'") == [(30,)],
                        seconds=60, what="every reply sent")
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0
        finally:
            if second.poll() is None:
                second.kill()
        assert len(server.ours()) == 30, "a reply was posted twice"
        assert server.refused == [], "over the server's limit"
    finally:
        await server.stop()
