"""A reply queued while a Mastodon server or a Bluesky PDS is down waits for the network.

The issue: a reply queued during a PDS outage was marked failed after 8
attempts in under three minutes. A refused connection never reached the
server, so it must spend no attempt, wait ("waiting for network") and be
posted exactly once when the server is back.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import pytest

from adapters.base import ReplyError
from adapters.runtime.sender import ReplySender
from store.actions import queue_reply
from store.db import open_store
from store.ingest import save_batch
from store.worker import StoreWorker
from tests.bluesky_server import FakePds
from tests.mastodon_server import FakeMastodon
from tests.support import until
from tests.test_bluesky_adapter import BRAND, PASSWORD, T0, Clock, mention_of
from tests.test_bluesky_adapter import Harness as BlueskyHarness
from tests.test_bluesky_adapter import request_for as bluesky_request
from tests.test_mastodon_adapter import Harness, closed_port, first_mention, request_for


def reply_row(db: str, reply_id: int) -> tuple:
    store = open_store(db)
    try:
        return store.conn.execute("SELECT state, attempts, uncertain, waiting FROM replies WHERE id = ?",
                                  (reply_id,)).fetchone()
    finally:
        store.close()


def waits(db: str) -> int:
    store = open_store(db)
    try:
        return store.conn.execute("SELECT count(*) FROM events WHERE action = 'reply.waiting'").fetchone()[0]
    finally:
        store.close()


async def test_a_mastodon_server_that_refuses_connections_never_received_the_reply():
    async with aiohttp.ClientSession() as session:
        server = FakeMastodon()
        await server.start()
        try:
            h, mention = await first_mention(server, session)
        finally:
            await server.stop()
        down = Harness(f"http://127.0.0.1:{closed_port()}", session)
        with pytest.raises(ReplyError) as caught:
            await down.adapter.send_reply(request_for(mention))
        assert caught.value.not_sent and not caught.value.unknown_outcome and not caught.value.permanent


async def test_a_reply_queued_while_mastodon_is_down_is_posted_once_when_it_returns(tmp_path):
    db = str(tmp_path / "desk.db")
    async with aiohttp.ClientSession() as session:
        server = FakeMastodon()
        port = int((await server.start()).rsplit(":", 1)[1])
        h, mention = await first_mention(server, session)
        await server.stop()  # the outage starts: the port refuses connections
        store = open_store(db)
        try:
            [mention_id] = save_batch(store, h.adapter.source, [mention], None)
            reply_id = queue_reply(store, mention_id, "Thanks, on it", "carla").id
        finally:
            store.close()
        worker = StoreWorker(db)
        sender = ReplySender(worker, [h.adapter], poll_interval=0.05, network_retry_cap=0.05)
        task = asyncio.create_task(sender.run())
        try:
            # Far more refused tries than the 8 attempts that used to fail the reply.
            await until(lambda: waits(db) >= 12, what="a dozen refused tries")
            assert reply_row(db, reply_id) == ("pending", 0, 0, 1)
            await server.start(port)
            await until(lambda: reply_row(db, reply_id)[0] == "sent", what="the reply posted")
            assert len(server.ours()) == 1 and reply_row(db, reply_id) == ("sent", 1, 0, 0)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            worker.close()
            await server.stop()


@pytest.mark.parametrize("signed_in", [False, True])
async def test_a_bluesky_pds_that_refuses_connections_never_received_the_reply(tmp_path, signed_in):
    clock = Clock(T0 + timedelta(hours=1))
    pds = FakePds(clock)
    pds.add_account(BRAND, PASSWORD)
    await pds.start()
    async with aiohttp.ClientSession() as http:
        h = BlueskyHarness(pds, http, clock)
        mention = mention_of(pds)
        adapter = h.adapter()
        if signed_in:  # the outage starts after a reply went out on a live session
            await adapter.send_reply(bluesky_request(mention, "first"))
        await pds.close()
        with pytest.raises(ReplyError) as caught:
            await adapter.send_reply(bluesky_request(mention, "Thanks, on it"))
        assert caught.value.not_sent and not caught.value.unknown_outcome and not caught.value.permanent
