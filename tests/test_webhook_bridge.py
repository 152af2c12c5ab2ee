"""Replies through a bridge that ignores Idempotency-Key: looked up when uncertain, never posted twice.

The bridge (tests/bridge_server.py) posts on every POST it lets through.
Against it, real `mentiondesk serve` processes send five replies through
500 (posted or not), 429, "posted, then the connection dropped" and kill -9
of the sender while the bridge holds the answer. With a lookup_url every
reply is published exactly once; without one no reply is published twice:
the uncertain ones are held for the operator.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from adapters.base import ReplyError, ReplyNeedsCheck, ReplyRequest
from adapters.webhook.adapter import WebhookAdapter
from store.actions import queue_reply
from store.db import open_store
from store.ingest import save_batch
from store.records import NewMention
from tests.bridge_server import FakeBridge
from tests.procs import clean_env
from tests.webhook_support import reply_request

pytestmark = pytest.mark.serial
OUT_SECRET = "bridge-secret"


def request_for(key: str) -> ReplyRequest:
    return reply_request(key=key)


async def test_find_reply_asks_the_lookup_url_and_reads_200_404_and_errors():
    bridge = FakeBridge(OUT_SECRET)
    await bridge.start()
    try:
        async with aiohttp.ClientSession() as session:
            adapter = WebhookAdapter(secret="s", outbound_url=bridge.outbound_url, outbound_secret=OUT_SECRET,
                                     lookup_url=bridge.outbound_url + "?network=tiktok", session=session)
            assert await adapter.find_reply(request_for("k-none")) is None
            bridge.script["k-1"] = ["drop-posted"]
            with pytest.raises(ReplyError) as dropped:
                await adapter.send_reply(request_for("k-1"))
            assert dropped.value.unknown_outcome and "may have posted" in str(dropped.value)
            found = await adapter.find_reply(request_for("k-1"))
            assert found is not None and found.remote_id == "post-k-1-1"
            assert found.url == "https://net.example/p/post-k-1-1"
            bridge.lookup_status = 503
            with pytest.raises(ReplyError) as unavailable:
                await adapter.find_reply(request_for("k-1"))
            assert unavailable.value.unknown_outcome and not unavailable.value.permanent
            bridge.lookup_status = 403
            with pytest.raises(ReplyNeedsCheck) as refused:
                await adapter.find_reply(request_for("k-1"))
            assert str(refused.value).startswith("held: lookup URL http://127.0.0.1:")
            assert bridge.lookups == ["k-none", "k-1", "k-1", "k-1"]
    finally:
        await bridge.stop()


async def test_without_a_lookup_url_an_uncertain_reply_is_held_not_resent():
    adapter = WebhookAdapter(secret="s", outbound_url="http://127.0.0.1:1/replies", outbound_secret=OUT_SECRET)
    with pytest.raises(ReplyNeedsCheck) as held:
        await adapter.find_reply(request_for("k"))
    assert "may have been posted" in str(held.value) and "lookup_url" in str(held.value)
    await adapter.aclose()
    with pytest.raises(ValueError, match="lookup_url needs an outbound_url"):
        WebhookAdapter(secret="s", lookup_url="http://127.0.0.1:1/replies")


# --- real processes ---------------------------------------------------------

SCRIPTS = {"r1": ["500-posted", "ok"], "r2": ["429", "ok"], "r3": ["drop-posted", "ok"],
           "r4": ["hold-posted", "ok"], "r5": ["500", "ok"]}


def rows(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []  # still being created or migrated by a child
    finally:
        conn.close()


def seed(db: Path) -> dict[str, str]:
    """Five webhook mentions with a queued reply each; returns reply key -> the script's name."""
    store = open_store(db)
    try:
        mentions = [NewMention(network="webhook:tiktok", account="bridge", remote_id=name, author_handle="ana",
                               text=f"question {name}", created_at="2026-03-01T12:00:00.000Z",
                               reply_ref={"kind": "generic", "network": "tiktok", "id": name})
                    for name in SCRIPTS]
        ids = save_batch(store, "webhook:bridge", mentions, None)
        return {queue_reply(store, mention_id, f"answer to {name}", "alice").key: name
                for mention_id, name in zip(ids, SCRIPTS, strict=True)}
    finally:
        store.close()


def serve(tmp_path: Path, db: Path, config: Path, name: str) -> subprocess.Popen:
    env = clean_env(tmp_path, MENTIONDESK_WEBHOOK_SECRET="wh-secret", MENTIONDESK_BRIDGE_SECRET=OUT_SECRET,
                    MENTIONDESK_LEASE_TTL="2", MENTIONDESK_REQUEST_TIMEOUT="0.5", MENTIONDESK_RESTART_BASE="0.2")
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen([sys.executable, "-m", "tui", "serve", "--db", str(db), "--config", str(config)],
                            env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)


async def until(condition, seconds: float = 60.0, what: str = "condition"):
    async with asyncio.timeout(seconds):
        while not (value := condition()):
            await asyncio.sleep(0.05)
    return value


@pytest.mark.parametrize("lookup", [True, False], ids=["with-lookup", "without-lookup"])
async def test_replies_through_a_key_ignoring_bridge_are_never_published_twice(tmp_path, lookup):
    bridge = FakeBridge(OUT_SECRET, lookup=lookup)
    await bridge.start()
    db = tmp_path / "desk.db"
    keys = seed(db)
    for key, name in keys.items():
        bridge.script[key] = list(SCRIPTS[name])
    config = tmp_path / "config.toml"
    config.write_text(f"""
[[accounts]]
network = "webhook"
handle = "bridge"
port = 0
secret_env = "MENTIONDESK_WEBHOOK_SECRET"
outbound_url = "{bridge.outbound_url}"
outbound_secret_env = "MENTIONDESK_BRIDGE_SECRET"
{f'lookup_url = "{bridge.outbound_url}"' if lookup else ""}
""", encoding="utf-8")
    processes = []
    try:
        processes.append(serve(tmp_path, db, config, "first"))
        await until(bridge.holding.is_set, what="the held POST")  # r4 is posted, its answer held
        processes[0].send_signal(signal.SIGKILL)
        processes[0].wait(10)
        processes.append(serve(tmp_path, db, config, "second"))
        settled = "SELECT count(*) FROM replies WHERE state IN ('pending', 'sending')"
        await until(lambda: rows(db, settled) == [(0,)], what="every reply settled")
        states = {keys[key]: (state, error) for key, state, error in
                  rows(db, "SELECT idem_key, state, error FROM replies")}
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
        await bridge.stop()

    published = {keys[key]: len(posts) for key, posts in bridge.posts.items()}
    assert all(count <= 1 for count in published.values()), f"published twice: {published}"
    if lookup:
        assert published == {name: 1 for name in SCRIPTS}
        assert {name: state for name, (state, _) in states.items()} == {name: "sent" for name in SCRIPTS}
        sent = dict(rows(db, "SELECT idem_key, remote_id FROM replies"))
        assert {keys[key]: remote for key, remote in sent.items()} == {
            name: f"post-{key}-1" for key, name in keys.items()}
    else:
        assert published == {"r1": 1, "r2": 1, "r3": 1, "r4": 1}  # r5's 500 posted nothing, and it stays so
        assert states["r2"][0] == "sent"
        for name in ("r1", "r3", "r4", "r5"):  # may have been posted: held for the operator, not resent
            state, error = states[name]
            assert state == "manual" and "held: the reply may have been posted" in error, (name, state, error)
