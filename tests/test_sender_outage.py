"""The sender under outages and slow networks, against local bridges speaking the webhook wire format.

A refused connection never reached the server: the reply waits for the
network (no attempt spent) until the deadline, then fails; an attempt that
may have posted keeps saying so, failed or not; one hanging network does
not hold up another; no stored error carries a credential.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.base import Adapter, Batch, Capabilities, Ingest, LimitFrom, ReplyError, SentReply, TextRule
from adapters.runtime.sender import ReplySender
from adapters.webhook.adapter import WebhookAdapter
from store.actions import queue_reply, retry_reply
from store.db import open_store
from store.ingest import save_batch
from store.source_status import set_source_status
from store.transfer import iter_export
from store.worker import StoreWorker
from tests.conftest import new_mention
from tests.support import until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Bridge:
    """A reply bridge on 127.0.0.1: counts POSTs per Idempotency-Key; `hang` never answers."""

    def __init__(self, port: int = 0, *, hang: bool = False):
        self.port = port
        self.hang = hang
        self.posts: dict[str, int] = {}
        self._server: TestServer | None = None

    async def _reply(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        self.posts[key] = self.posts.get(key, 0) + 1
        if self.hang:
            await asyncio.Event().wait()
        return web.json_response({"id": f"bridge-{key}"})

    async def start(self) -> Bridge:
        app = web.Application()
        app.router.add_post("/reply", self._reply)
        self._server = TestServer(app, host="127.0.0.1", port=self.port)
        await self._server.start_server()
        assert self._server.port is not None  # set by start_server
        self.port = self._server.port
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/reply"

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()


def webhook(account: str, url: str, timeout: float = 5.0) -> WebhookAdapter:
    return WebhookAdapter(account=account, secret="inbound-secret", port=0, outbound_url=url,
                          outbound_secret="outbound-secret", reply_timeout=timeout)


def queue(db: str, account: str, text: str = "Thanks, on it") -> int:
    store = open_store(db)
    try:
        [mention_id] = save_batch(store, f"webhook:{account}", [new_mention(network="webhook", account=account)],
                                  None)
        return queue_reply(store, mention_id, text, "carla").id
    finally:
        store.close()


def reply_row(db: str, reply_id: int) -> dict:
    store = open_store(db)
    try:
        names = ("state", "attempts", "uncertain", "waiting", "error")
        row = store.conn.execute(f"SELECT {', '.join(names)} FROM replies WHERE id = ?", (reply_id,)).fetchone()
        return dict(zip(names, row, strict=True))
    finally:
        store.close()




async def running(sender: ReplySender) -> asyncio.Task:
    return asyncio.create_task(sender.run())


async def stop(task: asyncio.Task, *adapters: Adapter) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    for adapter in adapters:
        await adapter.aclose()


async def test_a_reply_queued_during_an_outage_is_sent_once_when_the_server_returns(db_path):
    db = str(db_path)
    port = free_port()  # nothing listens: every attempt is refused
    adapter = webhook("bridge", f"http://127.0.0.1:{port}/reply")
    reply_id = queue(db, "bridge")
    worker = StoreWorker(db)
    sender = ReplySender(worker, [adapter], poll_interval=0.05, network_retry_cap=0.05)
    task = await running(sender)
    bridge = None
    try:
        # A scaled outage: many more refused tries than the 8 attempts that used to fail the reply.
        await until(lambda: len(waits(db)) >= 12, what="a dozen refused tries")
        row = reply_row(db, reply_id)
        assert (row["state"], row["attempts"], row["uncertain"], row["waiting"]) == ("pending", 0, 0, 1)
        assert "unreachable" in row["error"]
        bridge = await Bridge(port).start()
        await until(lambda: reply_row(db, reply_id)["state"] == "sent", what="the reply sent")
        assert bridge.posts == {key_of(db, reply_id): 1}
        assert reply_row(db, reply_id)["waiting"] == 0
    finally:
        await stop(task, adapter)
        worker.close()
        if bridge:
            await bridge.close()


def waits(db: str) -> list:
    store = open_store(db)
    try:
        return store.conn.execute("SELECT id FROM events WHERE action = 'reply.waiting'").fetchall()
    finally:
        store.close()


def key_of(db: str, reply_id: int) -> str:
    store = open_store(db)
    try:
        return store.conn.execute("SELECT idem_key FROM replies WHERE id = ?", (reply_id,)).fetchone()[0]
    finally:
        store.close()


async def test_past_the_deadline_a_reply_that_never_reached_the_network_fails_saying_so(db_path):
    db = str(db_path)
    adapter = webhook("bridge", f"http://127.0.0.1:{free_port()}/reply")
    reply_id = queue(db, "bridge")
    worker = StoreWorker(db)
    sender = ReplySender(worker, [adapter], poll_interval=0.05, network_retry_cap=0.05, reply_deadline=0.3)
    task = await running(sender)
    try:
        await until(lambda: reply_row(db, reply_id)["state"] == "failed", what="the reply failed")
        row = reply_row(db, reply_id)
        assert row["error"].startswith("no network for 0s: ") and row["uncertain"] == 0 and row["waiting"] == 0
    finally:
        await stop(task, adapter)
        worker.close()


class Flaky(Adapter):
    """Posts nothing; answers each send with the next scripted error, and remembers lookups."""

    network = "webhook"

    def __init__(self, errors: list[ReplyError]):
        super().__init__(account="bridge")
        self.errors = errors
        self.sends = 0
        self.lookups = 0

    capabilities = Capabilities(Ingest.STREAMING, LimitFrom.NETWORK, "characters", finds_replies=False)

    @property
    def text_rule(self) -> TextRule:
        return TextRule(1000, len, "characters")

    async def stream(self, cursor):
        yield Batch([])

    async def send_reply(self, request) -> SentReply:
        self.sends += 1
        if self.errors:
            raise self.errors.pop(0)
        return SentReply("posted")

    async def find_reply(self, request):
        self.lookups += 1
        return None


async def test_a_failed_reply_that_may_have_posted_keeps_saying_so_and_is_looked_up_before_a_retry(db_path):
    db = str(db_path)
    adapter = Flaky([ReplyError("bridge answered 502", unknown_outcome=True, retry_after=0),
                     ReplyError("bridge answered 400: no such thread", permanent=True)])
    reply_id = queue(db, "bridge")
    worker = StoreWorker(db)
    sender = ReplySender(worker, [adapter], poll_interval=0.05)
    try:
        for _ in range(3):
            await sender.run_once(adapter)
            if reply_row(db, reply_id)["state"] == "failed":
                break
            await until(lambda: due(db), what="the retry to fall due")
        row = reply_row(db, reply_id)
        assert (row["state"], row["uncertain"]) == ("failed", 1), "may-have-posted was cleared on failure"
        store = open_store(db)
        retry_reply(store, reply_id, "carla")
        store.close()
        lookups = adapter.lookups
        await sender.run_once(adapter)
        assert adapter.lookups == lookups + 1, "retried without looking for the earlier post"
        assert reply_row(db, reply_id)["state"] == "sent"
    finally:
        worker.close()


class Remembers(Flaky):
    """A network where some keys' posts exist (the answer to them was lost)."""

    def __init__(self, errors: list[ReplyError], posted: set[str]):
        super().__init__(errors)
        self.posted = posted
        self.looked_for: list[tuple[str, str]] = []

    async def find_reply(self, request):
        self.looked_for.append((request.key, request.text))
        return SentReply(f"post-{request.key}") if request.key in self.posted else None


async def test_an_edited_retry_of_a_reply_that_may_have_posted_looks_for_the_old_text_first(db_path):
    db = str(db_path)
    reply_id = queue(db, "bridge", "Refund is on its way")
    old_key = key_of(db, reply_id)
    adapter = Remembers([ReplyError("bridge answered 400 after a timeout", permanent=True, unknown_outcome=True)],
                        posted={old_key})
    worker = StoreWorker(db)
    sender = ReplySender(worker, [adapter], poll_interval=0.05)
    try:
        await sender.run_once(adapter)
        assert reply_row(db, reply_id)["state"] == "failed"
        store = open_store(db)
        retry_reply(store, reply_id, "carla", new_text="Refund is on its way (3-5 days)")
        store.close()
        await sender.run_once(adapter)
        assert (old_key, "Refund is on its way") in adapter.looked_for
        assert adapter.sends == 1, "the edit was sent although the earlier text had been posted"
        row = reply_row(db, reply_id)
        assert row["state"] == "sent" and "the edit was not sent" in row["error"]
    finally:
        worker.close()


def due(db: str) -> bool:
    store = open_store(db)
    try:
        return bool(store.conn.execute(
            "SELECT 1 FROM replies WHERE state = 'pending' AND next_attempt_at <= ?", (store.now(),)).fetchone())
    finally:
        store.close()


async def test_a_hanging_network_does_not_delay_replies_to_another(db_path):
    db = str(db_path)
    slow_bridge, fast_bridge = await Bridge(hang=True).start(), await Bridge().start()
    slow, fast = webhook("slow", slow_bridge.url, timeout=30), webhook("fast", fast_bridge.url)
    slow_reply = queue(db, "slow")  # first in the outbox
    fast_reply = queue(db, "fast")
    worker = StoreWorker(db)
    task = await running(ReplySender(worker, [slow, fast], poll_interval=0.05))
    try:
        await until(lambda: slow_bridge.posts, what="the slow network to hold a reply")
        started = time.monotonic()
        await until(lambda: reply_row(db, fast_reply)["state"] == "sent", what="the other network's reply")
        assert time.monotonic() - started < 5, "the fast network waited for the slow one"
        assert reply_row(db, slow_reply)["state"] == "sending"
    finally:
        await stop(task, slow, fast)
        worker.close()
        await slow_bridge.close()
        await fast_bridge.close()


async def test_credentials_quoted_in_errors_never_reach_the_store_or_export(db_path):
    """Libraries quote URLs and headers whole (aiohttp: an invalid URL, with its user:pass@ and token=):
    whatever an adapter or a server says, the stored error, state and event carry no credential."""
    db = str(db_path)
    quoted = ("InvalidUrlClientError: http://bob:hunter2@[::1/reply?token=abc123XYZ&access_token=zz9 "
              "(Authorization: Bearer eyJsecretJWT)")
    adapter = Flaky([ReplyError(quoted, permanent=True)])
    reply_id = queue(db, "bridge")
    worker = StoreWorker(db)
    try:
        await ReplySender(worker, [adapter]).run_once(adapter)
        await worker.run(set_source_status, "webhook:bridge", "stopped", quoted)
    finally:
        worker.close()
    assert reply_row(db, reply_id)["state"] == "failed"
    store = open_store(db)
    try:
        stored = json.dumps([list(r) for r in store.conn.execute("SELECT * FROM replies")])
        stored += json.dumps([list(r) for r in store.conn.execute("SELECT * FROM events")])
        stored += json.dumps([list(r) for r in store.conn.execute("SELECT * FROM source_status")])
        stored += json.dumps([record.as_json() for record in iter_export(store)])
    finally:
        store.close()
    assert stored.count("/reply?token=***") == 4  # the error is kept where it is useful, masked
    for secret in ("hunter2", "abc123XYZ", "zz9", "eyJsecretJWT"):
        assert secret not in stored


@pytest.mark.parametrize(("raw", "secret"), [
    ("Cannot connect to host https://u:p4ss@h.example/x", "p4ss"),
    ("GET https://h.example/x?access_token=tok123&b=1 failed", "tok123"),
    ("headers {'Authorization': 'Bearer eyJhbGciOi.x.y'}", "eyJhbGciOi"),
    ("password=hunter2", "hunter2"),
    ("client secret: s3cr3t!", "s3cr3t"),
])
def test_redaction_masks_every_credential_shape(raw, secret):
    from store.redact import redact_error

    assert secret not in redact_error(raw)
