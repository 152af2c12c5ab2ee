"""MastodonAdapter against a local fake server speaking the real wire format."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from adapters.base import Batch, ReplyError, ReplyNeedsCheck, ReplyRequest, SourceState, SourceStatus
from adapters.http import (
    USER_AGENT,
    AuthError,
    SSEDecoder,
    SSEEvent,
    links_of,
    parse_http_time,
    rate_limit_reset,
    read_capped,
    redact,
    seconds_until,
)
from adapters.mastodon.adapter import MastodonAdapter
from adapters.mastodon.parse import Identity, id_key, parse_notifications
from adapters.retry import Backoff
from adapters.textcount import count_as
from store.account_settings import TextLimits, get_text_limits
from store.db import iso
from store.keys import new_reply_key
from tests.mastodon_server import DOMAIN, OWN_ID, TOKEN, FakeClock, FakeMastodon, FakeSleep

NOTIFICATIONS = "/api/v1/notifications"


@pytest.fixture
async def server():
    fake = FakeMastodon()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


class Harness:
    """An adapter plus what it reported and how long it asked to sleep."""

    def __init__(self, server: FakeMastodon | str, session: aiohttp.ClientSession, **options: Any):
        self.statuses: list[SourceStatus] = []
        self.reached: dict[SourceState, asyncio.Event] = {state: asyncio.Event() for state in SourceState}
        self.sleep = options.pop("sleep", None) or FakeSleep()
        self.clock = options.pop("clock", None) or FakeClock()
        base = server if isinstance(server, str) else server.base
        options.setdefault("thread_watch_interval", 0)  # off; the tests of watching turn it on
        self.adapter = MastodonAdapter(
            account=options.pop("account", f"@brand@{DOMAIN}"), server=base, token=options.pop("token", TOKEN),
            session=session, on_status=self._status, sleep=self.sleep, clock=self.clock, **options)
        self.gen: AsyncGenerator[Batch, None] | None = None

    def _status(self, status: SourceStatus) -> None:
        self.statuses.append(status)
        self.reached[status.state].set()

    async def wait_for_state(self, state: SourceState) -> None:
        await asyncio.wait_for(self.reached[state].wait(), 5)
        self.reached[state].clear()

    def stream(self, cursor: str | None):
        self.gen = self.adapter.stream(cursor)
        return self

    async def next(self, timeout: float = 5.0) -> Batch:
        assert self.gen is not None, "call stream() first"
        return await asyncio.wait_for(anext(self.gen), timeout)

    async def close(self) -> None:
        if self.gen is not None:
            await self.gen.aclose()

    def states(self) -> list[SourceState]:
        return [status.state for status in self.statuses]


def request_for(mention, key: str = "3lbkeyabcdefg", text: str = "Thanks, we are on it!") -> ReplyRequest:
    return ReplyRequest(reply_id=1, key=key, text=text, network="mastodon", mention_remote_id=mention.remote_id,
                        author_handle=mention.author_handle, reply_ref=mention.reply_ref, mention_url=mention.url)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def no_token(*values: object) -> None:
    for value in values:
        assert TOKEN not in str(value) and TOKEN not in repr(value)


# --- catch-up and cursors ----------------------------------------------------------------

async def test_catch_up_pages_gaplessly_over_80_pending_after_opening_the_stream(server, session):
    start = server.add_mention("already processed")
    expected = []
    for index in range(200):
        expected.append(server.add_mention(f"m{index}")["status"]["uri"])
        if index % 7 == 0:
            server.add_notification("favourite")
    assert int(start["id"]) < 10_000 < int(server.entries[-1]["sort"])  # ids grow a digit mid-way
    h = Harness(server, session).stream(start["id"])
    got, sizes = [], []
    while len(got) < 200:
        batch = await h.next()
        sizes.append(len(batch.mentions))
        got.extend(m.remote_id for m in batch.mentions)
        assert batch.cursor and id_key(batch.cursor) > id_key(start["id"])
    assert got == expected and max(sizes) <= 80 and len(sizes) >= 3
    pages = [r for r in server.requests if r.path == NOTIFICATIONS]
    assert all(("types[]", "mention") in r.query and ("limit", "80") in r.query for r in pages)
    min_ids = [dict(r.query)["min_id"] for r in pages]
    assert min_ids[0] == start["id"] and all(id_key(a) < id_key(b) for a, b in pairwise(min_ids))
    first_page = server.requests.index(pages[0])
    first_stream = next(i for i, r in enumerate(server.requests) if r.path.startswith("/api/v1/streaming"))
    assert first_stream < first_page  # stream opened before the catch-up: nothing falls in between
    assert SourceState.CATCHING_UP in h.states()
    waiter = asyncio.ensure_future(h.next())
    await h.wait_for_state(SourceState.LIVE)
    assert h.statuses[-1] == SourceStatus(SourceState.LIVE, "streaming via SSE")
    live = server.add_mention("live one")  # caught up: this one can only come through the stream
    batch = await waiter
    assert [m.remote_id for m in batch.mentions] == [live["status"]["uri"]] and batch.cursor == live["id"]
    assert all(r.headers.get("User-Agent") == USER_AGENT for r in server.requests)
    await h.close()


async def test_without_a_cursor_only_the_newest_page_is_taken(server, session):
    created = [server.add_mention(f"m{i}") for i in range(200)]
    h = Harness(server, session).stream(None)
    batch = await h.next()
    assert [m.remote_id for m in batch.mentions] == [n["status"]["uri"] for n in created[-80:]]
    assert batch.cursor == created[-1]["id"]
    pages = [r for r in server.requests if r.path == NOTIFICATIONS]
    assert len(pages) == 1 and "max_id" not in dict(pages[0].query) and "min_id" not in dict(pages[0].query)
    await h.close()


async def test_cursor_resume_returns_only_what_came_after(server, session):
    first = [server.add_mention(f"a{i}") for i in range(5)]
    h = Harness(server, session, streaming=False, poll_interval=1).stream(first[2]["id"])
    batch = await h.next()
    assert [m.remote_id for m in batch.mentions] == [n["status"]["uri"] for n in first[3:]]
    await h.close()
    later = server.add_mention("after restart")
    again = Harness(server, session, streaming=False, poll_interval=1).stream(batch.cursor)
    batch = await again.next()
    assert [m.remote_id for m in batch.mentions] == [later["status"]["uri"]]
    await again.close()


async def test_reconnect_after_a_drop_misses_nothing_and_duplicates_nothing(server, session):
    server.replay_on_connect = 2  # the new stream repeats what the catch-up also returns
    h = Harness(server, session).stream(None)
    server.add_notification("follow")
    seen: list[str] = []
    first = server.add_mention("one")
    batch = await h.next()
    seen += [m.remote_id for m in batch.mentions]
    server.drop_streams()
    lost = [server.add_mention("two"), server.add_mention("three")]  # sent while the stream is down
    while len(seen) < 3:
        seen += [m.remote_id for m in (await h.next()).mentions]
    last = server.add_mention("four")
    batch = await h.next()
    seen += [m.remote_id for m in batch.mentions]
    assert seen == [n["status"]["uri"] for n in (first, *lost, last)]
    assert [kind for kind, _ in server.stream_connects] == ["SSE", "SSE"]
    reconnecting = [s for s in h.statuses if s.state is SourceState.RECONNECTING]
    assert reconnecting and "next try in" in reconnecting[0].detail and reconnecting[0].until
    assert h.sleep.waits() and 0.5 <= h.sleep.waits()[0] <= 1.0  # backoff with jitter, never a real wait
    await h.close()


async def test_drops_back_off_exponentially_until_a_connection_delivers(server, session):
    h = Harness(server, session).stream(None)
    waiter = asyncio.ensure_future(h.next(timeout=10))
    for _ in range(4):
        await h.wait_for_state(SourceState.LIVE)
        server.drop_streams()
    await h.wait_for_state(SourceState.LIVE)
    delays = h.sleep.waits()
    assert len(delays) == 4 and all(2 ** i / 2 <= d <= 2 ** i for i, d in enumerate(delays)), delays
    mention = server.add_mention("arrives live")
    batch = await waiter
    assert [m.remote_id for m in batch.mentions] == [mention["status"]["uri"]]
    server.drop_streams()
    waiter = asyncio.ensure_future(h.next(timeout=10))
    await h.wait_for_state(SourceState.LIVE)
    assert 0.5 <= h.sleep.waits()[-1] <= 1.0  # a connection that delivered resets the backoff
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_websocket_when_sse_is_missing_double_json_payload(server, session):
    server.sse_enabled = False
    server.ws_auth = "protocol"  # Pleroma/Akkoma: token as subprotocol, never in the query
    h = Harness(server, session).stream(None)
    first = server.add_mention("over ws")
    batch = await h.next()
    assert [m.remote_id for m in batch.mentions] == [first["status"]["uri"]]
    assert h.adapter.transport == "WebSocket"
    server.heartbeat()
    server.push_only({"__ws_raw__": json.dumps({"stream": ["user"], "event": "update", "payload": "{}"})})
    server.push_only({"__ws_raw__": "{not json"})
    batch = await h.next()
    assert batch.mentions == [] and batch.skipped == ["streamed message is not JSON"]
    server.add_notification("favourite")
    second = server.add_mention("again")
    batch = await h.next()
    assert [m.remote_id for m in batch.mentions] == [second["status"]["uri"]]
    ws_requests = [r for r in server.requests if r.path == "/api/v1/streaming"]
    assert all(r.query == [("stream", "user:notification")] for r in ws_requests)  # no access_token
    assert SourceStatus(SourceState.LIVE, "streaming via WebSocket") in h.statuses
    await h.close()


class LoopbackOnlyResolver(aiohttp.resolver.AbstractResolver):
    """Names other than localhost do not resolve (as a host only the server itself knows), without DNS."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET):
        if host != "localhost":
            raise OSError(-2, f"Name or service not known: {host}")
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        pass


async def live_then_mention(fake, client) -> tuple[Harness, str]:
    """Connect; then a mention must come through the stream (polling waits are blocked)."""
    h = Harness(fake, client).stream(None)
    waiter = asyncio.ensure_future(h.next())
    await h.wait_for_state(SourceState.LIVE)
    mention = fake.add_mention("through the stream")
    batch = await waiter
    assert [m.remote_id for m in batch.mentions] == [mention["status"]["uri"]]
    assert all(wait > 200 for wait in h.sleep.calls)  # no poll ran: it came by the stream
    return h, [s for s in h.statuses if s.state is SourceState.LIVE][-1].detail


@pytest.mark.parametrize("advertised", ["ws://streaming.gts.test", "closed-port"])
async def test_an_advertised_streaming_host_that_fails_falls_back_to_the_server(server, advertised):
    server.streaming_override = f"ws://127.0.0.1:{closed_port()}" if advertised == "closed-port" else advertised
    failed = URL(server.streaming_override).host
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=LoopbackOnlyResolver())) as client:
        h, detail = await live_then_mention(server, client)
        await h.close()
    host = server.base.removeprefix("http://")
    assert server.stream_connects == [("SSE", host)]
    assert detail.startswith(f"streaming via SSE on 127.0.0.1 (SSE to {failed}")
    assert f"WebSocket to {failed}" in detail and detail.endswith("failed)")


async def test_sse_refused_everywhere_websocket_on_the_server_carries_mentions(server):
    server.sse_enabled = False
    server.streaming_override = "ws://streaming.gts.test"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=LoopbackOnlyResolver())) as client:
        h, detail = await live_then_mention(server, client)
        await h.close()
    assert [kind for kind, _ in server.stream_connects] == ["WebSocket"]
    assert detail.startswith("streaming via WebSocket on 127.0.0.1 (SSE to streaming.gts.test: unknown host name")


async def test_websocket_in_band_error_reconnects(server, session):
    server.sse_enabled = False
    h = Harness(server, session).stream(None)
    first = server.add_mention("one")
    await h.next()
    server.push_only({"__ws_raw__": json.dumps({"error": "Token revoked?", "status": 400})})
    second = server.add_mention("two")
    batch = await h.next()
    assert [m.remote_id for m in batch.mentions] == [second["status"]["uri"]]
    assert any(s.state is SourceState.RECONNECTING and "Token revoked" in s.detail for s in h.statuses)
    assert first["id"] != second["id"]
    await h.close()


async def test_polling_when_no_streaming_api(server, session):
    server.sse_enabled = server.ws_enabled = False
    first = server.add_mention("first")
    h = Harness(server, session, poll_interval=7).stream(None)
    batch = await h.next()
    assert [m.remote_id for m in batch.mentions] == [first["status"]["uri"]]
    second = server.add_mention("second")
    batch = await h.next()
    assert [m.remote_id for m in batch.mentions] == [second["status"]["uri"]]
    assert 7 in h.sleep.waits()
    live = [s for s in h.statuses if s.state is SourceState.LIVE]
    assert live and live[0].detail.startswith("polling every 7s") and len(live) == 1  # no flicker per poll
    assert h.adapter.transport == "polling"
    streams = [r for r in server.requests if r.path.startswith("/api/v1/streaming")]
    assert len(streams) == 2  # each transport probed once, then remembered
    await h.close()


async def test_streaming_server_down_keeps_polling_and_retries(server, session):
    server.fail("GET", "/api/v1/streaming/user/notification", 502, times=2)
    server.fail("GET", "/api/v1/streaming", 502, times=2)
    first = server.add_mention("first")
    h = Harness(server, session, poll_interval=30).stream(None)
    batch = await h.next()
    assert [m.remote_id for m in batch.mentions] == [first["status"]["uri"]]
    second = server.add_mention("second")
    batch = await h.next()
    assert [m.remote_id for m in batch.mentions] == [second["status"]["uri"]]
    down = [s for s in h.statuses if s.state is SourceState.RECONNECTING]
    host = server.base.removeprefix("http://")
    assert down and (f"streaming unavailable (SSE to {host}: HTTP 502; WebSocket to {host}: HTTP 502), "
                     "polling; next try in") in down[0].detail
    assert all(wait <= 30 for wait in h.sleep.waits())  # polling goes on while the stream is down
    waiter = asyncio.ensure_future(h.next())
    await h.wait_for_state(SourceState.LIVE)
    assert h.adapter.transport == "SSE"
    third = server.add_mention("third")
    batch = await waiter
    assert [m.remote_id for m in batch.mentions] == [third["status"]["uri"]]
    await h.close()


async def test_v1_only_instance_and_separate_streaming_host(session):
    fake = FakeMastodon(max_chars=5000)
    fake.v1_only = True
    fake.separate_streaming_host = True
    await fake.start()
    try:
        h = Harness(fake, session).stream(None)
        assert h.adapter.text_rule.limit == 500  # before the instance is read
        mention = fake.add_mention("via the streaming host")
        batch = await h.next()
        assert [m.remote_id for m in batch.mentions] == [mention["status"]["uri"]]
        assert h.adapter.text_rule.limit == 5000
        stream_host = fake.stream_base.removeprefix("http://")
        assert fake.stream_connects == [("SSE", stream_host)]
        await h.close()
    finally:
        await fake.stop()


async def test_rate_limit_waits_until_the_iso_reset(server, session):
    clock = FakeClock()
    reset = clock.now + timedelta(seconds=30)
    server.fail("GET", NOTIFICATIONS, 429, body={"error": "Too many requests"},
                headers={"X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                         "X-RateLimit-Remaining": "0"})
    mention = server.add_mention("patience")
    h = Harness(server, session, clock=clock).stream(None)
    batch = await h.next()
    assert [m.remote_id for m in batch.mentions] == [mention["status"]["uri"]]
    limited = [s for s in h.statuses if s.state is SourceState.RATE_LIMITED]
    assert len(limited) == 1 and limited[0].detail.startswith("until 12:00:3")
    assert 30 <= h.sleep.waits()[0] <= 32 and limited[0].until.startswith("2026-05-01T12:00:3")
    await h.close()


async def test_bad_token_reports_auth_failed_and_retries_slowly(server, session):
    server.echo_token_in_errors = True
    h = Harness(server, session, token="wrong-token-123", sleep=FakeSleep(block_over=100)).stream(None)
    task = asyncio.ensure_future(h.next())
    await h.wait_for_state(SourceState.AUTH_FAILED)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    failed = [s for s in h.statuses if s.state is SourceState.AUTH_FAILED][0]
    assert "401" in failed.detail and "next try in" in failed.detail and failed.until
    assert len(h.sleep.calls) == 1 and h.sleep.calls[0] >= 150  # no fast retry loop
    assert "wrong-token-123" not in str(h.statuses)


async def test_server_errors_back_off_then_recover(server, session):
    server.fail("GET", NOTIFICATIONS, 503, times=2)
    server.fail("GET", "/api/v1/accounts/verify_credentials", 0, times=2)  # aiohttp retries a GET once
    mention = server.add_mention("eventually")
    h = Harness(server, session).stream(None)
    batch = await h.next()
    assert [m.remote_id for m in batch.mentions] == [mention["status"]["uri"]]
    details = [s.detail for s in h.statuses if s.state is SourceState.RECONNECTING]
    assert len(details) == 3 and "HTTP 503" in details[1]
    assert h.sleep.waits()[:3] == sorted(h.sleep.waits()[:3])


# --- parsing, mapping, thread links ----------------------------------------------------------

async def test_malformed_items_are_skipped_with_reasons_and_good_ones_kept(server, session):
    start = server.add_mention("before")
    good1 = server.add_mention("good one")
    server.add_raw("just a string", push=False)
    server.add_raw({"type": "mention", "id": server.new_id()}, push=False)
    server.add_raw({"type": "mention", "id": server.new_id(), "status": {"id": "5", "content": "x"}}, push=False)
    server.add_raw({"type": "mention", "id": server.new_id(),
                    "status": {"id": "6", "account": {"acct": "bad acct\x1b[31m"}}}, push=False)
    good2 = server.add_mention("good two")
    h = Harness(server, session, streaming=False, poll_interval=1).stream(start["id"])
    batch = await h.next()
    assert [m.remote_id for m in batch.mentions] == [good1["status"]["uri"], good2["status"]["uri"]]
    assert len(batch.skipped) == 4 and batch.cursor == good2["id"]
    assert any("not a JSON object" in r for r in batch.skipped)
    assert any("mention without a status" in r for r in batch.skipped)
    assert any("status without an author" in r for r in batch.skipped)
    assert any("author without a valid acct" in r for r in batch.skipped)
    assert all("\x1b" not in r for r in batch.skipped)
    await h.close()


async def test_malformed_stream_events_are_skipped_and_the_stream_goes_on(server, session):
    h = Harness(server, session).stream(None)
    server.add_notification("follow")
    waiter = asyncio.ensure_future(h.next())
    await h.wait_for_state(SourceState.LIVE)
    server.push_only("{broken json")
    batch = await waiter
    assert batch.mentions == [] and batch.skipped == ["streamed notification is not JSON"]
    server.push_only({"type": "mention", "id": "99999"})
    batch = await h.next()
    assert batch.mentions == [] and batch.skipped == ["notification 99999: mention without a status"]
    server.push_only(["not", "an", "object"])
    batch = await h.next()
    assert batch.skipped == ["notification #0: not a JSON object"]
    mention = server.add_mention("fine")
    batch = await h.next()
    assert [m.remote_id for m in batch.mentions] == [mention["status"]["uri"]]
    await h.close()


async def test_mapping_and_thread_links_through_our_reply(server, session):
    bob = {"id": "acc-bob", "username": "bob", "acct": "bob@other.example", "url": "https://other.example/@bob"}
    own_again = {"id": OWN_ID, "username": "brand", "acct": "brand", "url": "https://example.social/@brand"}
    question = server.add_mention("where is my order?", visibility="private", spoiler_text="order #12",
                                  extra_mentions=[bob, own_again])
    local = server.add_mention("hi from home", acct="carol")
    h = Harness(server, session).stream(None)
    batch = await h.next()
    a, c = batch.mentions
    status = question["status"]
    assert a.network == "mastodon" and a.account == f"@brand@{DOMAIN}"
    assert a.remote_id == status["uri"] and a.url == status["url"]
    assert a.author_handle == "@alice@remote.example" and a.author_name == "Alice"
    assert a.text == "CW: order #12\n\n@brand where is my order?"
    assert a.created_at == "2026-05-01T10:00:00.000Z" and a.lang == "en"
    assert a.parent_remote_id is None and a.root_remote_id is None
    assert a.reply_ref == {"status_id": status["id"], "visibility": "private", "acct": "alice@remote.example",
                           "mentions": ["bob@other.example"], "in_reply_to_id": None, "uri": status["uri"],
                           "root_uri": status["uri"]}
    assert a.raw == question
    assert c.author_handle == f"@carol@{DOMAIN}" and c.reply_ref["acct"] == "carol"
    assert local["status"]["uri"] == c.remote_id

    sent = await h.adapter.send_reply(request_for(a))
    ours = server.ours()[0]
    assert sent.remote_id == ours["uri"] and sent.url == ours["url"]
    follow_up = server.add_mention("thanks!", in_reply_to_id=ours["id"])
    batch = await h.next()
    (b,) = batch.mentions
    assert b.parent_remote_id == sent.remote_id and b.root_remote_id == a.remote_id
    assert b.reply_ref["in_reply_to_id"] == ours["id"] and b.reply_ref["root_uri"] == a.remote_id
    assert not [r for r in server.requests if r.path.endswith("/context")]  # known from our own reply
    await h.close()

    fresh = Harness(server, session, streaming=False, poll_interval=1).stream(local["id"])
    (b2,) = (await fresh.next()).mentions
    assert (b2.parent_remote_id, b2.root_remote_id) == (sent.remote_id, a.remote_id)
    assert [r.path for r in server.requests if r.path.endswith("/context")] == [
        f"/api/v1/statuses/{follow_up['status']['id']}/context"]
    await fresh.close()

    server.scopes = {"read:notifications", "read:accounts", "write:statuses"}  # no read:statuses
    blind = Harness(server, session, streaming=False, poll_interval=1).stream(local["id"])
    (b3,) = (await blind.next()).mentions
    placeholder = f"mastodon-id:127.0.0.1/{ours['id']}"
    assert (b3.parent_remote_id, b3.root_remote_id) == (placeholder, placeholder)
    await blind.close()


async def test_reply_to_a_mention_already_seen_links_without_lookups(server, session):
    root = server.add_mention("is the shop open?")
    h = Harness(server, session).stream(None)
    (a,) = (await h.next()).mentions
    child = server.add_mention("me too!", acct="dora@else.example", in_reply_to_id=root["status"]["id"])
    grandchild = server.add_mention("same", acct="eve@else.example", in_reply_to_id=child["status"]["id"])
    got = []
    while len(got) < 2:
        got += (await h.next()).mentions
    b, c = got
    assert (b.parent_remote_id, b.root_remote_id) == (a.remote_id, a.remote_id)
    assert (c.parent_remote_id, c.root_remote_id) == (b.remote_id, a.remote_id)
    assert grandchild["status"]["uri"] == c.remote_id
    assert not [r for r in server.requests if r.path.endswith("/context")]
    await h.close()


# --- replies -----------------------------------------------------------------------------------

async def first_mention(server, session, **fields):
    server.add_mention("help please", **fields)
    h = Harness(server, session, streaming=False, poll_interval=1).stream(None)
    batch = await h.next()
    await h.close()
    return h, batch.mentions[0]


async def test_reply_fields_mention_prefix_and_idempotency_key(server, session):
    h, mention = await first_mention(server, session, visibility="unlisted")
    sent = await h.adapter.send_reply(request_for(mention, key="3lbkeyaaaaaa2"))
    (post,) = server.posts()
    assert post.body == {"status": "@alice@remote.example Thanks, we are on it!",
                         "in_reply_to_id": mention.reply_ref["status_id"], "visibility": "unlisted"}
    assert post.headers["Idempotency-Key"] == "3lbkeyaaaaaa2"
    assert post.headers["User-Agent"] == USER_AGENT and post.headers["Authorization"] == f"Bearer {TOKEN}"
    again = await h.adapter.send_reply(request_for(mention, key="3lbkeyaaaaaa2"))
    assert again == sent and len(server.ours()) == 1  # the server honoured the key
    await h.adapter.send_reply(request_for(mention, key="3lbkeybbbbbb2", text="@Alice@remote.example ok"))
    assert server.posts()[-1].body["status"] == "@Alice@remote.example ok"


@pytest.mark.parametrize(("original", "default", "expected"), [
    ("public", "public", "public"),
    ("public", "unlisted", "unlisted"),
    ("unlisted", "public", "unlisted"),
    ("private", "public", "private"),
    ("private", "unlisted", "private"),
    ("direct", "public", "direct"),
    ("public", "private", "private"),
    ("local", "public", "direct"),
    (None, "public", "direct"),
])
async def test_reply_visibility_never_widens(server, session, original, default, expected):
    server.own["source"]["privacy"] = default
    h, mention = await first_mention(server, session)
    ref = dict(mention.reply_ref, visibility=original)
    await h.adapter.send_reply(ReplyRequest(
        reply_id=1, key="3lbkeyccccccc", text="ok", network="mastodon", mention_remote_id=mention.remote_id,
        author_handle=mention.author_handle, reply_ref=ref))
    assert server.posts()[-1].body["visibility"] == expected


async def test_reply_text_mentions_the_author_exactly_once(server, session):
    h = Harness(server, session)
    await h.adapter.check()
    text = h.adapter.reply_text
    assert text("Hi", {"acct": "alice@remote.example"}) == "@alice@remote.example Hi"
    assert text("@ALICE@remote.example hi", {"acct": "alice@remote.example"}) == "@ALICE@remote.example hi"
    assert text("@alice hi", {"acct": "alice@remote.example"}) == "@alice@remote.example @alice hi"
    assert text("cc @carol.", {"acct": "carol"}) == "cc @carol."
    assert text(f"@carol@{DOMAIN} hi", {"acct": "carol"}) == f"@carol@{DOMAIN} hi"
    assert text("mail carol@example.social", {"acct": "carol"}) == "@carol mail carol@example.social"
    assert text("@carolyn hi", {"acct": "carol"}) == "@carol @carolyn hi"
    assert text("hi", {"acct": "brand"}) == "hi"  # never mention ourselves
    assert text("hi", {"acct": "bad acct \x1b"}) == "hi"


async def test_find_reply_adopts_the_reply_a_key_ignoring_server_already_made(server, session):
    server.honor_idempotency = False
    h, mention = await first_mention(server, session)
    server.fail("POST", "/api/v1/statuses", 0, after=True)  # posted, then the answer is lost
    request = request_for(mention, text="We sent a new one!  ")
    with pytest.raises(ReplyError) as error:
        await h.adapter.send_reply(request)
    assert error.value.unknown_outcome and not error.value.permanent
    found = await h.adapter.find_reply(request)
    (ours,) = server.ours()
    assert found is not None and found.remote_id == ours["uri"] and found.url == ours["url"]
    with pytest.raises(ReplyNeedsCheck):  # ours, in reply, but other words: the operator decides
        await h.adapter.find_reply(request_for(mention, text="something else"))
    server.fail("GET", f"/api/v1/statuses/{mention.reply_ref['status_id']}/context", 404)
    assert (await h.adapter.find_reply(request)) == found  # via our own recent statuses
    assert len(server.ours()) == 1


async def test_find_reply_failure_is_an_error_not_a_miss(server, session):
    h, mention = await first_mention(server, session)
    server.fail("GET", f"/api/v1/statuses/{mention.reply_ref['status_id']}/context", 503)
    with pytest.raises(ReplyError) as error:
        await h.adapter.find_reply(request_for(mention))
    assert not error.value.permanent  # "not found" would make the sender post twice


@pytest.mark.parametrize(("status", "body", "permanent", "unknown", "fragment"), [
    (401, {"error": "The access token is invalid"}, True, False, "The access token is invalid"),
    (403, {"error": "This action is outside the authorized scopes"}, True, False, "outside the authorized"),
    (404, {"error": "Record not found"}, True, False, "Record not found"),
    (422, {"error": "Validation failed: Text character limit of 500 exceeded"}, True, False, "character limit"),
    (500, {"error": "We're sorry, but something went wrong"}, False, True, "HTTP 500"),
    (502, "<html>bad gateway</html>", False, True, "HTTP 502"),
])
async def test_reply_error_mapping(server, session, status, body, permanent, unknown, fragment):
    h, mention = await first_mention(server, session)
    server.echo_token_in_errors = True
    server.fail("POST", "/api/v1/statuses", status, body=body)
    with pytest.raises(ReplyError) as error:
        await h.adapter.send_reply(request_for(mention))
    assert (error.value.permanent, error.value.unknown_outcome) == (permanent, unknown)
    assert fragment in str(error.value)
    no_token(error.value, error.value.args, error.value.__cause__, error.value.__context__)


async def test_reply_rate_limit_gives_retry_after_from_iso_reset(server, session):
    h, mention = await first_mention(server, session)
    reset = h.clock.now + timedelta(seconds=120)
    server.fail("POST", "/api/v1/statuses", 429, body={"error": "Too many requests"},
                headers={"X-RateLimit-Reset": iso(reset)})
    with pytest.raises(ReplyError) as error:
        await h.adapter.send_reply(request_for(mention))
    assert error.value.retry_after == pytest.approx(120) and not error.value.permanent
    assert not error.value.unknown_outcome
    server.fail("POST", "/api/v1/statuses", 429, headers={"Retry-After": "7"})
    with pytest.raises(ReplyError) as error:
        await h.adapter.send_reply(request_for(mention))
    assert error.value.retry_after == pytest.approx(7)


async def test_reply_transport_failures_say_whether_it_may_have_been_sent(server, session):
    h, mention = await first_mention(server, session)
    server.fail("POST", "/api/v1/statuses", 0)
    with pytest.raises(ReplyError) as error:
        await h.adapter.send_reply(request_for(mention))
    assert error.value.unknown_outcome  # the request reached the server
    gate = server.hold("/api/v1/statuses")
    h.adapter.request_timeout = aiohttp.ClientTimeout(total=0.3)
    with pytest.raises(ReplyError) as error:
        await h.adapter.send_reply(request_for(mention))
    assert error.value.unknown_outcome and "no answer in time" in str(error.value)
    gate.set()
    offline = MastodonAdapter(account="@brand@example.social", server=f"http://127.0.0.1:{closed_port()}",
                              token=TOKEN, session=session)
    with pytest.raises(ReplyError) as error:
        await offline.send_reply(request_for(mention))
    assert not error.value.unknown_outcome and not error.value.permanent
    assert "cannot" in str(error.value) or "could not" in str(error.value)
    no_token(error.value)


async def test_reply_without_status_id_is_permanent(server, session):
    h = Harness(server, session)
    request = ReplyRequest(reply_id=1, key="k", text="x", network="mastodon", mention_remote_id="u",
                           author_handle="@a", reply_ref={})
    with pytest.raises(ReplyError) as error:
        await h.adapter.send_reply(request)
    assert error.value.permanent and not server.posts()


# --- check() and the length rule ------------------------------------------------------------

async def test_check_describes_a_working_account(server, session):
    server.max_chars = 1000
    h = Harness(server, session)
    assert h.adapter.text_rule.limit == 500
    line = await h.adapter.check()
    assert line == f"ok: @brand@{DOMAIN} on 127.0.0.1, limit 1000 chars, streaming via SSE"
    rule = h.adapter.text_rule
    assert rule.limit == 1000 and rule.count("hi https://example.com/" + "x" * 80) == 3 + 23
    assert rule.count("@someone@very.long.domain.example hi") == len("@someone hi")


async def test_check_reports_polling_when_no_stream(server, session):
    server.sse_enabled = server.ws_enabled = False
    line = await Harness(server, session).adapter.check()
    host = server.base.removeprefix("http://")
    assert line.endswith(f"no streaming (SSE to {host}: HTTP 404; WebSocket to {host}: HTTP 404), "
                         "polling every 15s")


async def html_app(status: int, body: str, headers: dict[str, str] | None = None) -> web.AppRunner:
    app = web.Application()

    async def any_path(request: web.Request) -> web.Response:
        return web.Response(status=status, text=body, content_type="text/html", headers=headers)

    app.router.add_route("*", "/{tail:.*}", any_path)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


@pytest.mark.parametrize(("setup", "fragment"), [
    ("bad_token", "rejected the access token (401"),
    ("no_accounts_scope", "lacks a scope"),
    ("no_write_scope", "no write:statuses"),
    ("wrong_account", f"belongs to @brand@{DOMAIN}, not @other@{DOMAIN}"),
    ("html_404", "does not look like a Mastodon API (HTTP 404)"),
    ("html_200", "does not look like a Mastodon API (HTTP 200)"),
    ("redirect", "redirects API calls to mastodon.example.social"),
    ("unreachable", "cannot reach 127.0.0.1: connection failed"),
    ("tls", "TLS error talking to 127.0.0.1: TLS handshake failed (WRONG_VERSION_NUMBER)"),
    ("rate_limited", "rate-limiting this token until 12:05:00Z"),
])
async def test_check_failures_are_precise_and_never_show_the_token(server, session, setup, fragment):
    options: dict[str, Any] = {}
    base = server.base
    runner = None
    if setup == "bad_token":
        options["token"] = "nope-" + TOKEN[::-1]
    elif setup == "no_accounts_scope":
        server.scopes = {"read:notifications", "write:statuses"}
    elif setup == "no_write_scope":
        server.scopes = {"read"}
    elif setup == "wrong_account":
        options["account"] = f"@other@{DOMAIN}"
    elif setup == "html_404":
        runner = await html_app(404, "<html><h1>Not Found</h1></html>")
    elif setup == "html_200":
        runner = await html_app(200, "<!doctype html><html>Welcome to my blog</html>")
    elif setup == "redirect":
        runner = await html_app(301, "", {"Location": "https://mastodon.example.social/api/v1/x"})
    elif setup == "unreachable":
        base = f"http://127.0.0.1:{closed_port()}"
    elif setup == "tls":
        base = server.base.replace("http://", "https://")
    elif setup == "rate_limited":
        server.fail("GET", "/api/v1/accounts/verify_credentials", 429,
                    headers={"X-RateLimit-Reset": "2026-05-01T12:05:00.000000Z"})
    if runner is not None:
        host, port = runner.addresses[0][:2]
        base = f"http://{host}:{port}"
    server.echo_token_in_errors = True
    try:
        with pytest.raises(AuthError) as error:
            await Harness(base, session, **options).adapter.check()
    finally:
        if runner is not None:
            await runner.cleanup()
    assert fragment in str(error.value)
    assert "\n" not in str(error.value)
    no_token(error.value, error.value.__cause__, error.value.__context__)
    assert options.get("token", TOKEN) not in str(error.value)


async def test_a_plain_text_refusal_keeps_the_servers_words(server, session):
    # Takahē: a bad token is a 400 with a plain-text body.
    server.fail("GET", "/api/v1/accounts/verify_credentials", 400, body="Invalid Bearer token",
                content_type="text/plain", times=2)
    h = Harness(server, session, sleep=FakeSleep(block_over=100))
    with pytest.raises(AuthError) as error:
        await h.adapter.check()
    assert str(error.value) == ("127.0.0.1 rejected the access token (400: Invalid Bearer token); "
                                "create a new token")
    task = asyncio.ensure_future(h.stream(None).next())
    await h.wait_for_state(SourceState.AUTH_FAILED)  # not a quick "reconnecting" loop
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    failed = [s for s in h.statuses if s.state is SourceState.AUTH_FAILED][0]
    assert failed.detail.startswith("127.0.0.1 rejected the access token (400: Invalid Bearer token)")


async def test_a_server_still_starting_is_unavailable_not_foreign_and_check_asks_again(server, session):
    page = "<html><head><title>503</title></head><body><h1>Service Unavailable</h1></body></html>"
    server.fail("GET", "/api/v1/accounts/verify_credentials", 503, body=page, headers={"Retry-After": "5"},
                times=2)
    h = Harness(server, session)
    assert (await h.adapter.check()).startswith("ok: @brand@example.social")
    assert h.sleep.calls == [5.0, 5.0]
    server.fail("GET", "/api/v1/accounts/verify_credentials", 503, body=page, times=3)
    h = Harness(server, session)
    with pytest.raises(AuthError) as error:
        await h.adapter.check()
    assert str(error.value) == ("127.0.0.1 is unavailable (HTTP 503: Service Unavailable); "
                                "try again later")
    assert h.sleep.calls == [2.0, 4.0]
    server.fail("GET", "/api/v1/accounts/verify_credentials", 503, body=page)
    server.add_mention("hello")
    h = Harness(server, session, streaming=False)
    h.stream(None)
    await h.next()  # retried after a backoff, then caught up
    (down,) = [s for s in h.statuses if s.state is SourceState.RECONNECTING]
    assert down.detail.startswith("127.0.0.1 is unavailable (HTTP 503: Service Unavailable); next try in")
    await h.close()


def test_server_address_rules(session):
    def make(server: str) -> MastodonAdapter:
        return MastodonAdapter(account="@b@x.example", server=server, token=TOKEN, session=session)

    assert str(make("example.social/")._base) == "https://example.social"
    assert str(make("https://example.social/sub/")._base) == "https://example.social/sub"
    with pytest.raises(ValueError, match="plain http"):
        make("http://example.social")
    with pytest.raises(ValueError):
        make("ftp://example.social")
    adapter = make("https://example.social")
    assert adapter._streaming_url("ws://evil.example") is None  # no downgrade to plain text
    assert str(adapter._streaming_url("wss://streaming.example.social/")) == "https://streaming.example.social"


# --- properties ------------------------------------------------------------------------------

ME = Identity(account="@brand@example.social", domain="example.social", host="example.social", own_id="1",
              own_acct="brand")
NOW = FakeClock().now
_SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_JSON = st.recursive(_SCALAR, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)
_FIELDS = ["id", "type", "status", "account", "acct", "content", "uri", "url", "created_at", "mentions",
           "visibility", "in_reply_to_id", "spoiler_text", "language", "display_name", "media_attachments"]
# Payloads shaped like notifications (the right keys, wrong or missing values).
_NEAR = st.recursive(
    _SCALAR | st.just("mention"),
    lambda inner: st.dictionaries(st.sampled_from(_FIELDS), inner, max_size=6) | st.lists(inner, max_size=3),
    max_leaves=12)


def good(index: int) -> dict[str, Any]:
    return {"id": str(1000 + index), "type": "mention", "created_at": "2026-05-01T10:00:00Z",
            "status": {"id": str(5000 + index), "uri": f"https://r.example/s/{index}",
                       "content": f"<p>good {index}</p>", "account": {"acct": f"u{index}@r.example"}}}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_NEAR, max_size=5), st.integers(0, 4))
def test_junk_never_crashes_and_good_items_in_the_page_are_kept(junk, goods):
    page: list[Any] = []
    for index in range(goods):
        page.append(good(index))
        page.extend(junk[index::max(goods, 1)] if goods else [])
    if not goods:
        page.extend(junk)
    parsed, skipped, top = parse_notifications(page, ME, NOW)
    ids = [p.notification_id for p in parsed]
    assert all(str(1000 + i) in ids for i in range(goods))
    assert len(parsed) + len(skipped) <= len(page)
    for item in page:
        if not isinstance(item, dict):
            assert skipped  # every non-object is reported
    for entry in parsed:
        mention = entry.mention.cleaned()
        assert mention.remote_id and mention.author_handle.startswith("@")
    if top is not None:
        assert all(id_key(i) <= id_key(top) for i in ids)


@settings(max_examples=200, deadline=None)
@given(_JSON)
def test_any_json_page_is_handled(value):
    parsed, skipped, _ = parse_notifications(value, ME, NOW)
    if not isinstance(value, list):
        assert not parsed and len(skipped) == 1


@given(st.integers(0, 10**20), st.integers(0, 10**20))
def test_id_order_matches_numeric_order_for_numeric_ids(a, b):
    assert (id_key(str(a)) < id_key(str(b))) == (a < b)


async def test_token_without_account_scope_still_ingests_and_asks_once(server, session):
    server.scopes = {"read:notifications", "read:statuses"}
    server.sse_enabled = server.ws_enabled = False
    first = server.add_mention("hello")
    h = Harness(server, session, poll_interval=5).stream(None)
    assert [m.remote_id for m in (await h.next()).mentions] == [first["status"]["uri"]]
    second = server.add_mention("again")
    assert [m.remote_id for m in (await h.next()).mentions] == [second["status"]["uri"]]
    verifies = [r for r in server.requests if r.path == "/api/v1/accounts/verify_credentials"]
    assert len(verifies) == 1
    await h.close()


# --- shared HTTP helpers -----------------------------------------------------------------------

@contextlib.asynccontextmanager
async def _loopback(handler):
    """A one-route loopback server answering `handler` at /page, and a client session."""
    app = web.Application()
    app.router.add_get("/page", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as session:
            yield session, f"http://127.0.0.1:{port}/page"
    finally:
        await runner.cleanup()


async def test_link_headers_come_from_aiohttp_and_a_hostile_one_is_ignored():
    async def page(request: web.Request) -> web.Response:
        return web.json_response([], headers={"Link": request.query["link"]})

    good = ('<https://x.example/api/v1/notifications?max_id=7>; rel="next", '
            '</api/v1/notifications?min_id=9>; rel="prev"')
    async with _loopback(page) as (session, base):
        async def links(value: str):
            async with session.get(base, params={"link": value}) as response:
                return links_of(response)

        found = await links(good)
        assert str(found["next"]["url"]) == "https://x.example/api/v1/notifications?max_id=7"
        assert str(found["prev"]["url"]) == base.replace("/page", "/api/v1/notifications?min_id=9")
        assert await links("<http://x.example:99999999/>; rel=prev") == {}  # yarl refuses the port


async def test_one_capped_reader_for_every_body_declared_or_streamed():
    async def body(request: web.Request) -> web.StreamResponse:
        size = int(request.query["size"])
        if "chunked" in request.query:  # no Content-Length: only counting can stop it
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            for _ in range(size // 1000):
                await response.write(b"x" * 1000)
            await response.write_eof()
            return response
        return web.Response(body=b"x" * size)

    async with _loopback(body) as (session, base):
        async def read(query: str, limit: int = 5000):
            async with session.get(f"{base}?{query}") as response:
                return await read_capped(response.content, limit, response.content_length)

        assert await read("size=5000") == b"x" * 5000
        assert await read("size=5001") is None  # declared
        assert await read("size=5000&chunked=1") == b"x" * 5000
        assert await read("size=200000&chunked=1") is None  # streamed past the cap


def test_reset_times_in_every_form_servers_use():
    now = FakeClock().now
    assert parse_http_time("2026-05-01T12:05:00.000000Z", now) == now + timedelta(minutes=5)
    assert parse_http_time("2026-05-01t12:05:00z", now) == now + timedelta(minutes=5)
    assert parse_http_time("2026-05-01T12:05:00", now) == now + timedelta(minutes=5)
    assert parse_http_time("30", now) == now + timedelta(seconds=30)
    assert parse_http_time(str(int((now + timedelta(hours=1)).timestamp())), now) == now + timedelta(hours=1)
    assert parse_http_time("Fri, 01 May 2026 12:00:10 GMT", now) == now + timedelta(seconds=10)
    assert all(parse_http_time(v, now) is None for v in ("", "soon", "-5", "nan", "inf", None))
    assert rate_limit_reset({"Retry-After": "12"}, now) == now + timedelta(seconds=12)
    assert seconds_until(now - timedelta(hours=1), now, default=60) == 1.0  # skewed clocks never mean 0
    assert seconds_until(now + timedelta(days=2), now, default=60) == 3600.0


def test_backoff_grows_with_jitter_and_resets():
    backoff = Backoff(base=1, cap=10, rand=lambda: 1.0)
    assert [backoff.next() for _ in range(6)] == [1, 2, 4, 8, 10, 10]
    backoff.reset()
    low = Backoff(base=1, cap=10, rand=lambda: 0.0)
    assert backoff.next() == 1 and low.next() == 0.5


def test_the_sender_retries_on_the_same_backoff(monkeypatch):
    from adapters.runtime import sender

    monkeypatch.setattr("adapters.retry.random.random", lambda: 1.0)
    assert [sender._retry_delay(n) for n in (1, 2, 3, 9, 40)] == [2, 4, 8, 300, 300]
    monkeypatch.setattr("adapters.retry.random.random", lambda: 0.0)
    assert [sender._retry_delay(n) for n in (1, 9)] == [1, 150]  # jittered, never zero


def test_sse_decoder_across_chunks_crlf_comments_and_oversize():
    decoder = SSEDecoder(max_event=64)
    stream = b':)\r\nevent: notification\r\ndata: {"a":\r\ndata: 1}\r\n\r\n:thump\nevent: update\ndata: x\n\n'
    events = []
    for index in range(len(stream)):  # one byte at a time: every split point
        events += decoder.feed(stream[index:index + 1])
    assert events == [SSEEvent("notification", '{"a":\n1}'), SSEEvent("update", "x")]
    assert decoder.comments == 2
    events = decoder.feed(b"event: notification\ndata: " + b"x" * 100 + b"\n\nevent: notification\ndata: ok\n\n")
    assert events == [SSEEvent("notification", "ok")] and decoder.oversized == 1
    assert decoder.feed(b"data: " + b"y" * 200) == [] and decoder.feed(b"\n\ndata: fine\n\n") == [
        SSEEvent("message", "fine")]


def test_redact_hides_secrets():
    assert redact(f"bad token {TOKEN}!", TOKEN) == "bad token ***!"
    assert redact("short abc", "abc") == "short abc"  # too short to be a secret worth hiding


# --- a lost answer: the next attempt finds the post however the server rewrote it ---------------

# Every shape servers rewrite: links without a scheme, entities, each mention form (remote full,
# local full, local bare), hashtags, emoji (with presentation selector and skin tone), line breaks.
TEXT_SHAPES = [
    "see www.example.com/help or shop.example.com for details",
    "Fish &amp; chips &lt;3 are on us",
    "thanks @alice@remote.example, @dave@example.social and @erin!",
    "#Deals today only, ask the #CareTeam",
    "🎉 fixed! 👍🏽 ❤️",
    "line one\nline two\n\nnew paragraph",
    "@alice@remote.example sorry: www.example.com &amp; #Help 🙏\nbye",
]


async def deliver_with_lost_answer(server, session, store, db_path, text: str):
    """Queue a reply, let the server post it but drop the answer, then run the sender again."""
    from adapters.runtime.sender import ReplySender
    from store.actions import queue_reply
    from store.ingest import save_batch
    from store.outbox import OutgoingReply, claim_due
    from store.worker import StoreWorker

    h, mention = await first_mention(server, session)
    [mention_id] = save_batch(store, "mastodon:@brand@example.social", [mention], None)
    reply = queue_reply(store, mention_id, text, "carla")
    worker = StoreWorker(str(db_path), clock=store.clock)
    try:
        sender = ReplySender(worker, [h.adapter])
        server.fail("POST", "/api/v1/statuses", 0, after=True)  # posted; the connection dies unanswered
        [first] = await worker.run(claim_due)
        assert await sender.deliver(first) == "pending"
        claimed: list[OutgoingReply | None] = [*await worker.run(claim_due, reclaim_sending=True, limit=10)]
        [again] = claimed or [None]
        if again is None:  # waiting out its backoff: a new leader takes it now
            store.conn.execute("UPDATE replies SET next_attempt_at = NULL WHERE id = ?", (reply.id,))
            [again] = await worker.run(claim_due)
        assert again.uncertain
        outcome = await sender.deliver(again)
    finally:
        worker.close()
    row = store.conn.execute("SELECT state, remote_id, error FROM replies WHERE id = ?", (reply.id,)).fetchone()
    return outcome, row


@pytest.mark.parametrize("rewrite", ["gotosocial", "takahe", "mastodon"])
@pytest.mark.parametrize("text", TEXT_SHAPES)
async def test_a_posted_reply_whose_answer_was_lost_is_adopted_never_posted_twice(
        server, session, store, db_path, rewrite, text):
    server.rewrite, server.honor_idempotency = rewrite, False  # GoToSocial and Takahē ignore the key
    outcome, (state, remote_id, _) = await deliver_with_lost_answer(server, session, store, db_path, text)
    (ours,) = server.ours()
    assert (outcome, state, remote_id) == ("sent", "sent", ours["uri"])
    assert len(server.posts()) == 1
    adopted = store.conn.execute("SELECT detail FROM events WHERE action = 'reply.sent'").fetchone()
    assert '"adopted": true' in adopted[0]


async def test_two_posts_of_ours_that_both_match_are_held_for_the_operator(server, session, store, db_path):
    server.honor_idempotency = False
    h, mention = await first_mention(server, session)
    text = "Fish &amp; chips"
    for _ in range(2):  # e.g. a colleague sent the same words by hand
        await h.adapter.send_reply(request_for(mention, text=text))
    with pytest.raises(ReplyNeedsCheck) as held:
        await h.adapter.find_reply(request_for(mention, key=new_reply_key(), text=text))
    assert "check before replying again" in str(held.value) and "example.social/@brand/" in str(held.value)


async def test_a_post_of_ours_with_other_words_is_held_and_the_sender_records_it(server, session, store, db_path):
    server.honor_idempotency = False
    original = server.render
    server.render = lambda text: original(text + " (edited by a moderator)")  # beyond any normalising
    outcome, (state, remote_id, error) = await deliver_with_lost_answer(server, session, store, db_path,
                                                                        "We are on it")
    assert (outcome, state, remote_id) == ("manual", "manual", None)
    assert "held: an earlier attempt may have posted it" in error
    assert len(server.posts()) == 1


async def test_an_older_post_of_ours_in_the_thread_is_not_taken_for_this_reply(server, session):
    server.honor_idempotency = False
    h, mention = await first_mention(server, session)
    await h.adapter.send_reply(request_for(mention, text="Earlier answer"))
    older = datetime.now(UTC) - timedelta(hours=2)
    for status in server.ours():
        status["created_at"] = iso(older)
    # Queued now: the two-hour-old reply is another one, so this one was never posted.
    assert await h.adapter.find_reply(request_for(mention, key=new_reply_key(), text="New answer")) is None


# --- length limits: the server's own rule, stored for every process ------------------------------

@pytest.mark.parametrize(("software", "counting"), [
    ("mastodon", "mastodon"), ("gotosocial", "codepoints"), ("takahe", "full_mentions"), ("akkoma", "graphemes"),
])
async def test_the_instance_says_how_its_server_counts(session, software, counting):
    fake = FakeMastodon(max_chars=5000)
    fake.software = software
    fake.v1_only = software == "akkoma"
    await fake.start()
    try:
        h = Harness(fake, session)
        await h.adapter.check()
        assert h.adapter.text_limits == TextLimits(5000, counting, 23, DOMAIN, software)
    finally:
        await fake.stop()


def test_counting_as_each_server_does():
    text = "@alice@remote.example @bob hi https://example.com/" + "x" * 40 + " 👍🏽"
    assert count_as(text, "mastodon") == len("@alice @bob hi ") + 23 + 2
    assert count_as(text, "codepoints") == len(text)
    assert count_as(text, "full_mentions", domain="takahe.test") == len(text) + len("@takahe.test")
    assert count_as(text, "graphemes") == len(text) - 1


async def stored_limits_and_mention(server, session, db_path) -> int:
    """Run the leader's ingest on `server` until the account's limits are stored; the mention's id."""
    from adapters.runtime.runner import IngestRunner
    from store.worker import StoreWorker

    server.add_mention("my order is late")
    worker = StoreWorker(str(db_path))
    h = Harness(server, session, poll_interval=1)
    runner = IngestRunner(worker, [h.adapter])
    runner.start()
    try:
        for _ in range(200):
            ids = await worker.run(lambda store: [r[0] for r in store.conn.execute("SELECT id FROM mentions")])
            stored = await worker.run(get_text_limits, "mastodon", f"@brand@{DOMAIN}")
            if ids and stored:
                break
            await asyncio.sleep(0.02)
        assert ids and stored == h.adapter.text_limits
    finally:
        await runner.stop()
        worker.close()
    return ids[0]


def cli_reply(tmp_path, db_path, mention_id: int, text: str):
    import os
    import subprocess
    import sys
    env = {key: value for key, value in os.environ.items() if not key.startswith("MENTIONDESK_")}
    env.update(MENTIONDESK_OPERATOR="cli", XDG_CONFIG_HOME=str(tmp_path / "cfg"), PYTHONUTF8="1")
    return subprocess.run([sys.executable, "-m", "tui", "reply", str(mention_id), text, "--db", str(db_path)],
                          capture_output=True, text=True, env=env, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize(("software", "max_chars", "fits", "too_long"), [
    # GoToSocial allows 5,000: 501 characters is fine (the default 500 refused it).
    ("gotosocial", 5000, 4000, 5000 - len("@alice@remote.example ") + 1),
    # Takahē counts the @alice@remote.example the CLI adds, domain and all.
    ("takahe", 500, 500 - len("@alice@remote.example "), 490),
    # Mastodon counts it as @alice.
    ("mastodon", 500, 500 - len("@alice "), 500 - len("@alice ") + 1),
])
async def test_the_cli_counts_a_reply_as_the_accounts_server_will(server, session, tmp_path, db_path, software,
                                                                   max_chars, fits, too_long):
    server.software, server.max_chars = software, max_chars
    mention_id = await stored_limits_and_mention(server, session, db_path)
    refused = await asyncio.to_thread(cli_reply, tmp_path, db_path, mention_id, "y" * too_long)
    assert refused.returncode != 0 and refused.stdout == ""
    line = refused.stderr.strip()
    assert "\n" not in line and "over the" in line and f"{max_chars} limit" in line and "nothing queued" in line
    queued = await asyncio.to_thread(cli_reply, tmp_path, db_path, mention_id, "y" * fits)
    assert queued.returncode == 0, queued.stderr
    import sqlite3
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT length(text) FROM replies").fetchall() == [(fits,)]


# --- follow-ups that notify nobody -----------------------------------------------------------------

@pytest.mark.parametrize("streaming", [False, True])
async def test_a_follow_up_that_does_not_mention_the_brand_still_reaches_the_desk(server, session, streaming):
    clock = FakeClock()
    h = Harness(server, session, streaming=streaming, poll_interval=15, thread_watch_interval=120,
                clock=clock, sleep=FakeSleep(clock=clock)).stream(None)
    question = server.add_mention("my order is late")
    (a,) = (await h.next()).mentions
    sent = await h.adapter.send_reply(request_for(a))
    ours = server.ours()[0]
    # GoToSocial: a reply to our reply without @brand makes no notification at all.
    follow = server.remote_status("still nothing arrived", in_reply_to_id=ours["id"], mention_us=False)
    server.remote_status("me too", acct="bob@other.example", in_reply_to_id=follow["id"], mention_us=False)
    assert [e["payload"]["status"]["id"] for e in server.entries] == [question["status"]["id"]]
    batch = await h.next()
    (b,) = batch.mentions
    assert (b.remote_id, b.parent_remote_id, b.root_remote_id) == (follow["uri"], sent.remote_id, a.remote_id)
    assert b.text == "still nothing arrived" and b.author_handle == "@alice@remote.example"
    assert b.reply_ref["status_id"] == follow["id"] and batch.cursor is None  # the notification cursor stays
    later = server.add_mention("another question")
    batch = await h.next()
    assert [m.remote_id for m in batch.mentions] == [later["status"]["uri"]]  # the follow-up only once
    watched = [r for r in server.requests if r.path == f"/api/v1/statuses/{ours['id']}/context"]
    assert watched and all(r.method == "GET" for r in watched)
    await h.close()


async def test_only_recent_replies_are_watched_and_a_bounded_number(server, session):
    clock = FakeClock()
    h = Harness(server, session, streaming=False, thread_watch_interval=120, clock=clock,
                sleep=FakeSleep(clock=clock)).stream(None)
    server.add_mention("first")
    (a,) = (await h.next()).mentions
    for index in range(14):
        await h.adapter.send_reply(request_for(a, key=new_reply_key(), text=f"answer {index}"))
    old, *_, newest = server.ours()
    old["created_at"] = iso(clock.now - timedelta(hours=49))
    server.remote_status("reply to an old answer", in_reply_to_id=old["id"], mention_us=False)
    follow = server.remote_status("reply to the newest", in_reply_to_id=newest["id"], mention_us=False)
    batch = await h.next()
    assert [m.remote_id for m in batch.mentions] == [follow["uri"]]
    contexts = [r.path for r in server.requests if r.path.endswith("/context")]
    assert len(contexts) == 10 and f"/api/v1/statuses/{old['id']}/context" not in contexts
    await h.close()


@pytest.mark.serial
@pytest.mark.parametrize("rewrite", ["gotosocial", "takahe"])
async def test_kill_9_mid_send_on_a_rewriting_server_posts_once(tmp_path, rewrite):
    """Real processes: `serve` is SIGKILLed while the server posts; the next leader adopts the post."""
    import signal
    import subprocess
    import sys

    from tests.test_crash_send import assert_adopted_once, restart_until_sent, rows, start_serve, until

    server = FakeMastodon()
    server.honor_idempotency, server.rewrite, server.software = False, rewrite, rewrite
    await server.start()
    try:
        server.add_mention("where is my refund?")
        db, config = str(tmp_path / "desk.db"), tmp_path / "config.toml"
        config.write_text(f'[[accounts]]\nnetwork = "mastodon"\nserver = "{server.base}"\n'
                          f'handle = "@brand@{DOMAIN}"\nsecret_env = "TEST_MASTODON_TOKEN"\npoll_interval = 0.5\n')
        env = {**__import__("os").environ, "TEST_MASTODON_TOKEN": TOKEN, "MENTIONDESK_LEASE_TTL": "1",
               "MENTIONDESK_OPERATOR": "alice", "MENTIONDESK_REPLY_RECALL": "0"}
        first = start_serve(db, str(config), env)
        try:
            mention_id = (await until(lambda: rows(db, "SELECT id FROM mentions"), what="the mention"))[0][0]
            release = server.hold("/api/v1/statuses")
            server.fail("POST", "/api/v1/statuses", 0, after=True)
            text = "Sorry &amp; thanks @erin: see www.example.com/refunds #Help 🙏\nbye"
            queued = subprocess.run([sys.executable, "-m", "tui", "--db", db, "reply", str(mention_id), text],
                                    env=env, capture_output=True, text=True)
            assert queued.returncode == 0, queued.stderr
            await until(lambda: server.posts(), what="the send to reach the server")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        server.holds.pop("/api/v1/statuses", None)
        release.set()
        await until(lambda: len(server.ours()) == 1, what="the held post to be created")
        await restart_until_sent(db, str(config), env)
        assert len(server.ours()) == 1 and len(server.posts()) == 1, "the reply was posted twice"
        assert rows(db, "SELECT remote_id FROM replies") == [(server.ours()[0]["uri"],)]
        assert_adopted_once(db)
    finally:
        await server.stop()


_TOKENS = ["thanks", "Order", "www.example.com", "shop.example.org/help", "https://x.org/a?b=1", "&amp;", "&lt;3",
           "@alice@remote.example", "@dave@example.social", "@erin", "#Tag", "#CareTeam", "🎉", "👍🏽", "❤️", "\n",
           "\n\n", "x&y", "100%", "a/b"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=12),
       st.sampled_from(["mastodon", "gotosocial", "takahe"]))
def test_any_text_is_recognised_after_each_servers_rewriting(tokens, rewrite):
    from adapters.mastodon.html import html_to_text
    from adapters.mastodon.parse import comparable_text

    text = " ".join(tokens).strip() or "x"
    fake = FakeMastodon()
    fake.rewrite = rewrite
    content, mentions = fake.render(text)
    assert comparable_text(html_to_text(content, mentions)) == comparable_text(text)
