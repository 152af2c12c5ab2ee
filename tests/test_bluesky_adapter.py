"""The Bluesky adapter against a fake PDS speaking the real XRPC wire format."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import registry
from adapters.accounts import ConfigError, load_config
from adapters.base import Batch, ReplyError, ReplyRequest, SourceState
from adapters.bluesky.adapter import BlueskyAdapter
from adapters.bluesky.facets import LINK, MENTION
from adapters.bluesky.notifications import (
    MalformedNotification,
    NotificationCursor,
    mention_from_notification,
    sift_page,
)
from adapters.bluesky.records import post_url
from adapters.http import USER_AGENT, AuthError
from adapters.runtime.runner import IngestRunner
from adapters.runtime.sender import ReplySender
from adapters.textcount import bluesky_length, graphemes
from store.account_state import get_account_value
from store.actions import queue_reply
from store.db import open_store
from store.ingest import save_batch
from store.keys import new_reply_key
from store.records import NewMention
from store.transfer import iter_export
from store.worker import StoreWorker
from tests.bluesky_server import POST, Drop, Fail, FakePds, Hold, iso_ms
from tests.procs import clean_env, cli_command
from tests.support import until
from tests.tui_support import frozen_clock, screen_text, wait_until
from tests.tui_support import mention as tui_mention
from tui.app import ConsoleApp
from tui.screens.main import MainScreen
from tui.widgets.composer import ReplyComposer

BRAND = "brand.bsky.social"
PASSWORD = "abcd-efgh-ijkl-mnop"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIST = "app.bsky.notification.listNotifications"
CREATE = "com.atproto.repo.createRecord"


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Stop(Exception):
    """Raised by the fake sleep to end a stream after a number of waits."""


class FakeSleep:
    def __init__(self, clock: Clock):
        self.clock = clock
        self.delays: list[float] = []
        self.stop_after: int | None = None

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.clock.now += timedelta(seconds=delay)
        if self.stop_after is not None and len(self.delays) >= self.stop_after:
            raise Stop
        await asyncio.sleep(0)


@pytest.fixture
def clock():
    return Clock(T0 + timedelta(hours=1))


@pytest.fixture
async def pds(clock):
    server = FakePds(clock)
    server.add_account(BRAND, PASSWORD)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


class SleepyAdapter(BlueskyAdapter):
    """The adapter under test, keeping the fake sleep it waits on so tests can read its delays."""

    def __init__(self, *, test_sleep: FakeSleep, **options: Any) -> None:
        super().__init__(sleep=test_sleep, **options)
        self.test_sleep = test_sleep


class Harness:
    def __init__(self, pds: FakePds, http: aiohttp.ClientSession, clock: Clock):
        self.pds, self.http, self.clock = pds, http, clock
        self.statuses: list = []

    def adapter(self, **overrides: Any) -> SleepyAdapter:
        options: dict[str, Any] = dict(account=BRAND, pds=self.pds.url, password=PASSWORD, session=self.http,
                                       on_status=self.statuses.append, test_sleep=FakeSleep(self.clock),
                                       clock=self.clock, poll_interval=15.0)
        options.update(overrides)
        return SleepyAdapter(**options)

    async def polls(self, adapter: SleepyAdapter, cursor: str | None, waits: int = 1) -> list[Batch]:
        """Run the stream until it has waited `waits` more times; return what it yielded."""
        sleep = adapter.test_sleep
        sleep.stop_after = len(sleep.delays) + waits
        batches = []
        with pytest.raises(Stop):
            async for batch in adapter.stream(cursor):
                batches.append(batch)
        return batches

    def states(self) -> list[SourceState]:
        return [status.state for status in self.statuses]


@pytest.fixture
def h(pds, http, clock):
    return Harness(pds, http, clock)


def uris(batches: list[Batch]) -> list[str]:
    return [m.remote_id for batch in batches for m in batch.mentions]


def last_cursor(batches: list[Batch]) -> str:
    return [b.cursor for b in batches if b.cursor is not None][-1]


def request_for(mention, text: str, key: str | None = None) -> ReplyRequest:
    return ReplyRequest(reply_id=1, key=key or new_reply_key(), text=text, network="bluesky",
                        mention_remote_id=mention.remote_id, author_handle=mention.author_handle,
                        reply_ref=mention.reply_ref, mention_url=mention.url)


def mention_of(pds: FakePds, **kwargs):
    payload = pds.post_notification(BRAND, **{"author": "alice.bsky.social", "text": "hi @brand.bsky.social",
                                              "at": T0, **kwargs})
    return mention_from_notification(payload, BRAND)


# --- session ---------------------------------------------------------------------------

async def test_check_signs_in_once_and_refreshes_an_expired_token(h, pds, clock):
    adapter = h.adapter()
    assert await adapter.check() == f"@{BRAND} ({pds.accounts[BRAND].did}) on 127.0.0.1"
    assert (pds.logins, pds.refreshes) == (1, 0)

    pds.expire_access_tokens()  # the server says ExpiredToken (HTTP 400) before our clock does
    await adapter.check()
    assert (pds.logins, pds.refreshes) == (1, 1)
    refresh_call = pds.calls("com.atproto.server.refreshSession")[0]
    assert refresh_call.headers["Authorization"].removeprefix("Bearer ") not in pds.access
    assert len(pds.calls("com.atproto.server.getSession")) == 3  # ok, expired, retried

    clock.now += timedelta(hours=3)  # past the JWT's exp: renewed before asking
    await adapter.check()
    assert (pds.logins, pds.refreshes) == (1, 2)
    assert len(pds.calls("com.atproto.server.getSession")) == 4

    pds.revoke_refresh_tokens()
    pds.expire_access_tokens()
    await adapter.check()  # refresh refused: a new session instead
    assert (pds.logins, pds.refreshes) == (2, 3)
    assert all(call.headers.get("User-Agent") == USER_AGENT for call in pds.requests)


@pytest.mark.parametrize("setup, expected", [
    (lambda pds: None, None),
    (lambda pds: setattr(pds.accounts[BRAND], "password", "other"), "wrong app password for @brand.bsky.social"),
    (lambda pds: (pds.accounts.pop(BRAND), pds.handles.pop(BRAND)), "account @brand.bsky.social not found"),
    (lambda pds: setattr(pds, "html_only", True), "not an XRPC server"),
    (lambda pds: pds.faults["com.atproto.server.createSession"].append(
        Fail(429, "RateLimitExceeded", "Rate Limit Exceeded",
             headers={"RateLimit-Reset": str(int((T0 + timedelta(hours=1, minutes=5)).timestamp()))})),
     "rate limited by 127.0.0.1 until 13:05:00Z"),
    (lambda pds: pds.faults["com.atproto.server.createSession"].append(
        Fail(401, "AccountTakedown", "Account has been taken down")), "has been taken down"),
    (lambda pds: pds.faults["com.atproto.server.createSession"].append(
        Fail(401, "AuthFactorTokenRequired", "A sign in code has been sent")), "create an app password"),
    (lambda pds: pds.faults["com.atproto.server.createSession"].append(
        Fail(400, "InvalidRequest", f"bad password {PASSWORD}")), "refused to sign in"),
])
async def test_check_says_precisely_what_is_wrong(h, pds, setup, expected):
    setup(pds)
    adapter = h.adapter()
    if expected is None:
        assert (await adapter.check()).startswith("@brand.bsky.social (did:plc:")
        return
    with pytest.raises(AuthError) as caught:
        await adapter.check()
    assert expected in str(caught.value)
    assert PASSWORD not in str(caught.value) and "\n" not in str(caught.value)


async def test_check_reports_an_unreachable_pds(h):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = h.adapter(pds=f"http://127.0.0.1:{port}")
    with pytest.raises(AuthError, match=r"PDS unreachable: cannot connect to 127\.0\.0\.1"):
        await adapter.check()


async def test_secrets_never_reach_messages_or_logs(h, pds, caplog):
    caplog.set_level(logging.DEBUG)
    adapter = h.adapter()
    await adapter.check()
    tokens = list(pds.access) + list(pds.refresh)
    pds.faults[LIST] += [Fail(500, "InternalServerError", f"oops {tokens[0]}")]
    pds.accounts[BRAND].password = "changed"
    pds.revoke_refresh_tokens()
    pds.expire_access_tokens()
    await h.polls(adapter, None, waits=3)
    texts = [caplog.text] + [s.detail for s in h.statuses]
    for secret in [PASSWORD, *tokens]:
        assert all(secret not in text for text in texts)
    assert h.states()[-1] == SourceState.AUTH_FAILED


# --- a session kept across restarts ------------------------------------------------------

SESSION_SOURCE = f"bluesky:{BRAND}"


@pytest.fixture
def worker(tmp_path):
    store_worker = StoreWorker(str(tmp_path / "desk.db"))
    yield store_worker
    store_worker.close()


async def run_once(h: Harness, worker: StoreWorker, **overrides) -> SleepyAdapter:
    """One start of the ingest runner with a fresh adapter: one poll, then the adapter stops."""
    adapter = h.adapter(**overrides)
    adapter.test_sleep.stop_after = 1
    runner = IngestRunner(worker, [adapter], give_up_after=1)  # no restart: this start is the test
    runner.start()
    await asyncio.wait_for(asyncio.gather(*runner._tasks), 10)
    await runner.stop()
    return adapter


async def kept_session(worker: StoreWorker) -> dict:
    found = await worker.run(get_account_value, SESSION_SOURCE, "session")
    assert found is not None
    return json.loads(found.value)


async def test_restarts_refresh_the_kept_session_instead_of_signing_in(h, pds, worker, caplog):
    caplog.set_level(logging.DEBUG)
    add_mentions(pds, 2, T0)
    pds.did_doc = True
    for _ in range(6):
        await run_once(h, worker)
    assert (pds.logins, pds.refreshes) == (1, 5)
    assert await worker.run(lambda store: store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0]) == 2
    kept = await kept_session(worker)
    assert kept["refresh"] in pds.refresh  # the rotated token is written back every time
    assert (kept["did"], kept["pds"]) == (pds.accounts[BRAND].did, pds.url)
    stored = (await worker.run(get_account_value, SESSION_SOURCE, "session")).value
    assert PASSWORD not in stored and not any(token in stored for token in pds.access)
    assert not any(token in caplog.text for token in [*pds.access, *pds.refresh, PASSWORD])
    exported = json.dumps(await worker.run(lambda store: [r.as_json() for r in iter_export(store)]))
    assert kept["refresh"] not in exported and "refresh" not in exported


async def test_a_refused_kept_session_falls_back_to_signing_in(h, pds, worker):
    await run_once(h, worker)
    pds.revoke_refresh_tokens()  # e.g. revoked from the app's settings, or older than 90 days
    await run_once(h, worker)
    assert (pds.logins, pds.refreshes) == (2, 1)
    assert (await kept_session(worker))["refresh"] in pds.refresh
    await run_once(h, worker)
    assert (pds.logins, pds.refreshes) == (2, 2)


async def test_a_kept_session_survives_a_pds_outage_and_is_not_used_for_another_account(h, pds, worker):
    await run_once(h, worker)
    pds.faults["com.atproto.server.refreshSession"].append(Fail(502, "UpstreamFailure", "busy"))
    await run_once(h, worker)  # the refresh failed for the server's reasons: the token is kept, not replaced
    assert pds.logins == 1 and (await kept_session(worker))["refresh"] in pds.refresh
    await run_once(h, worker)
    assert (pds.logins, pds.refreshes) == (1, 1)
    assert len(pds.calls("com.atproto.server.refreshSession")) == 2

    other = pds.add_account("other.bsky.social", "pass-word-other-1")
    await run_once(h, worker, account="other.bsky.social", password="pass-word-other-1")
    assert pds.logins == 2 and pds.calls("com.atproto.server.createSession")[-1].body["identifier"] == other.handle


async def test_serve_restarted_in_a_crash_loop_signs_in_once(tmp_path):
    """`mentiondesk serve` killed (-9) right after each first poll, as under a supervisor's restart loop."""
    pds = FakePds()  # the real clock: the processes read token expiry with theirs
    pds.add_account(BRAND, PASSWORD)
    await pds.start()
    try:
        add_mentions(pds, 2, datetime.now(UTC) - timedelta(minutes=5))
        config = tmp_path / "config.toml"
        config.write_text(f'[[accounts]]\nnetwork = "bluesky"\nserver = "{pds.url}"\nhandle = "{BRAND}"\n'
                          'secret_env = "TEST_BSKY_PASSWORD"\n')
        env = clean_env(tmp_path, TEST_BSKY_PASSWORD=PASSWORD, MENTIONDESK_LEASE_TTL="1")
        for _ in range(3):
            polled = len(pds.calls(LIST))
            process = await asyncio.create_subprocess_exec(
                *cli_command(tmp_path / "desk.db", "serve"), "--config", str(config), env=env, cwd=tmp_path,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            try:
                async with asyncio.timeout(30):
                    while len(pds.calls(LIST)) == polled:
                        await asyncio.sleep(0.02)
            finally:
                process.kill()
                await process.wait()
        assert (pds.logins, pds.refreshes) == (1, 2)
    finally:
        await pds.close()


# --- a PDS that lost the account ------------------------------------------------------------

async def test_a_lost_account_is_signed_in_again_after_repeated_errors(h, pds):
    adapter = h.adapter()
    cursor = last_cursor(await h.polls(adapter, None))
    assert pds.logins == 1
    pds.lose_account(BRAND)  # 500 on listNotifications, 400 "Could not find user info" on getSession
    added = add_mentions(pds, 2, T0 + timedelta(minutes=5))
    batches = await h.polls(adapter, cursor, waits=3)
    assert pds.logins == 2
    assert uris(batches) == added
    details = [s.detail for s in h.statuses]
    assert any("no longer knows this session" in d and "Could not find user info" in d for d in details)
    assert h.states()[-1] == SourceState.LIVE and "signed in again at" in h.statuses[-1].detail
    # the first poll's wait, two back-offs, then the third failure signs in again and polls at once
    assert adapter.test_sleep.delays[-1] == 15.0 and len(adapter.test_sleep.delays) == 4


async def test_signing_in_again_is_bounded(h, pds, clock):
    adapter = h.adapter()
    cursor = last_cursor(await h.polls(adapter, None))
    pds.lose_account(BRAND, recreate=False)  # gone for good: createSession is refused too
    await h.polls(adapter, cursor, waits=40)
    logins = [call.at for call in pds.calls("com.atproto.server.createSession")]
    assert len(logins) >= 3
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(logins[1:])]
    assert min(gaps) >= 150  # bsky.social allows 30 per 5 minutes: never close to it
    assert h.states()[-1] == SourceState.AUTH_FAILED


async def test_server_errors_alone_do_not_sign_in_again(h, pds):
    adapter = h.adapter()
    cursor = last_cursor(await h.polls(adapter, None))
    pds.faults[LIST] += [Fail(500)] * 6
    await h.polls(adapter, cursor, waits=7)
    assert pds.logins == 1  # getSession still answers: the session is fine, the server is not
    assert len(pds.calls("com.atproto.server.getSession")) >= 1
    assert h.states()[-1] == SourceState.LIVE


# --- stream ----------------------------------------------------------------------------

def add_mentions(pds: FakePds, count: int, start: datetime, *, step: float = 1.0, reason: str = "mention",
                 prefix: str = "m") -> list[str]:
    return [pds.post_notification(BRAND, author=f"{prefix}{i % 7}.bsky.social", text=f"{prefix} {i}",
                                  at=start + timedelta(seconds=i * step), reason=reason, clock_id=i)["uri"]
            for i in range(count)]


async def test_without_a_cursor_only_the_newest_page_is_taken(h, pds):
    added = add_mentions(pds, 150, T0)
    adapter = h.adapter()
    batches = await h.polls(adapter, None)
    assert uris(batches) == added[50:]  # the newest page, oldest first
    assert len(pds.calls(LIST)) == 1
    cursor = last_cursor(batches)

    assert await h.polls(adapter, cursor) == []  # nothing new: nothing yielded, nothing rewritten
    newer = add_mentions(pds, 2, T0 + timedelta(minutes=30), prefix="n")
    assert uris(await h.polls(adapter, cursor)) == newer


async def test_an_empty_account_takes_everything_that_arrives_later(h, pds):
    adapter = h.adapter()
    batches = await h.polls(adapter, None)
    assert [b.mentions for b in batches] == [[]] and batches[0].cursor
    later = add_mentions(pds, 130, T0)
    assert uris(await h.polls(h.adapter(), batches[0].cursor)) == later


async def test_catch_up_pages_back_and_a_restart_leaves_no_gap_and_no_duplicate(h, pds):
    first = add_mentions(pds, 5, T0)
    cursor = last_cursor(await h.polls(h.adapter(), None))
    before = len(pds.calls(LIST))

    newer = add_mentions(pds, 250, T0 + timedelta(minutes=1), prefix="x")
    add_mentions(pds, 40, T0 + timedelta(minutes=1, seconds=1), reason="like", prefix="l")
    h.statuses.clear()
    batches = await h.polls(h.adapter(), cursor)
    assert [len(b.mentions) for b in batches] == [100, 100, 50]
    assert uris(batches) == newer
    assert h.states()[:3] == [SourceState.CONNECTING, SourceState.CATCHING_UP, SourceState.LIVE]
    pages = pds.calls(LIST)[before:]  # this run's: it stops on the page reaching what it had
    assert [("cursor" in call.query) for call in pages] == [False, True, True]

    # A crash after committing only the first batch: the next run resumes right there.
    resumed = await h.polls(h.adapter(), batches[0].cursor)
    assert uris(resumed) == newer[100:]
    assert not set(uris(resumed)) & set(first + newer[:100])

    # And a run from the last cursor finds nothing to take.
    assert await h.polls(h.adapter(), last_cursor(resumed)) == []


async def test_a_late_indexed_post_below_the_newest_is_still_taken(h, pds):
    adapter = h.adapter()
    cursor = last_cursor(await h.polls(adapter, None))
    add_mentions(pds, 3, T0)
    cursor = last_cursor(await h.polls(adapter, cursor))
    # Indexed after our poll but sorted 2 minutes back (the AppView sorts by min(createdAt, indexedAt)).
    late = pds.post_notification(BRAND, author="slow.bsky.social", text="late", at=T0 - timedelta(minutes=2))
    too_late = pds.post_notification(BRAND, author="slow.bsky.social", text="days", at=T0 - timedelta(days=2))
    batches = await h.polls(adapter, cursor)
    assert uris(batches) == [late["uri"]]
    assert too_late["uri"] not in uris(batches)  # beyond the late window: documented limit


async def test_only_mentions_replies_and_quotes_are_taken(h, pds):
    taken = [pds.post_notification(BRAND, author="a.bsky.social", text=r, at=T0 + timedelta(seconds=i),
                                   reason=r)["uri"]
             for i, r in enumerate(["mention", "reply", "quote"])]
    for i, reason in enumerate(["like", "repost", "follow", "starterpack-joined", "brand-new-reason"]):
        pds.post_notification(BRAND, author="b.bsky.social", text=reason, at=T0 + timedelta(seconds=10 + i),
                              reason=reason)
    batches = await h.polls(h.adapter(), None)
    assert uris(batches) == taken
    assert pds.calls(LIST)[0].query.getall("reasons") == ["mention", "reply", "quote"]

    pds.honour_reasons = False  # an AppView that ignores the filter: we filter ourselves
    assert uris(await h.polls(h.adapter(), None)) == taken

    pds.reject_reasons = True  # one that refuses the parameter: asked again without it
    assert uris(await h.polls(h.adapter(), None)) == taken
    assert "reasons" not in pds.calls(LIST)[-1].query


async def test_notification_maps_to_a_new_mention(h, pds):
    thread_root = {"uri": f"at://did:plc:root/{POST}/3kabcdefghij2", "cid": "bafyroot"}
    parent = {"uri": f"at://did:plc:parent/{POST}/3kabcdefghij3", "cid": "bafyparent"}
    text = "Le café ✨ example.com/long... @brand.bsky.social"
    link_at = text.encode().index(b"example.com")
    payload = pds.post_notification(
        BRAND, author="zoé.example.com".replace("é", "e"), text=text, at=T0, reason="reply",
        reply={"root": thread_root, "parent": parent}, langs=["fr", "en"], display_name="Zoé \x1b[31mRed",
        created_at=T0 - timedelta(seconds=5),
        facets=[{"index": {"byteStart": link_at, "byteEnd": link_at + len("example.com/long...")},
                 "features": [{"$type": LINK, "uri": "https://example.com/long/path"}]}])
    payload["record"]["createdAt"] = "2026-03-01T13:59:55.000+02:00"
    batches = await h.polls(h.adapter(), None)
    (mention,) = batches[0].mentions
    rkey = payload["uri"].rsplit("/", 1)[1]
    assert mention.network == "bluesky" and mention.account == BRAND
    assert mention.remote_id == payload["uri"]
    assert mention.url == f"https://bsky.app/profile/zoe.example.com/post/{rkey}"
    assert mention.author_handle == "@zoe.example.com"
    assert mention.author_name == "Zoé Red"  # escape sequence made inert
    assert mention.text == "Le café ✨ https://example.com/long/path @brand.bsky.social"
    assert mention.created_at == "2026-03-01T11:59:55.000Z"
    assert mention.lang == "fr"
    assert (mention.parent_remote_id, mention.root_remote_id) == (parent["uri"], thread_root["uri"])
    assert mention.reply_ref == {"uri": payload["uri"], "cid": payload["cid"], "root": thread_root,
                                 "author_did": payload["author"]["did"], "langs": ["fr", "en"]}
    assert mention.raw == payload


def test_created_at_falls_back_to_indexed_at_and_never_lies_in_the_future():
    base = {"uri": f"at://did:plc:a/{POST}/3kabcdefghij2", "cid": "bafy", "reason": "mention",
            "author": {"did": "did:plc:a", "handle": "handle.invalid"}, "indexedAt": "2026-03-01T12:00:00.000Z"}
    missing = mention_from_notification({**base, "record": {"text": "x"}}, BRAND)
    assert missing.created_at == "2026-03-01T12:00:00.000Z"
    assert missing.author_handle == "@did:plc:a"  # a broken handle is shown as the DID
    future = mention_from_notification({**base, "record": {"text": "x", "createdAt": "2099-01-01T00:00:00Z"}}, BRAND)
    assert future.created_at == "2026-03-01T12:00:00.000Z"


async def test_malformed_notifications_are_skipped_with_a_reason_and_the_rest_kept(h, pds):
    good = add_mentions(pds, 2, T0)
    bad_items = [
        {"reason": "mention", "indexedAt": iso_ms(T0 + timedelta(seconds=5)), "uri": "not-an-at-uri"},
        {"reason": "mention", "indexedAt": iso_ms(T0 + timedelta(seconds=6)), "uri": f"at://did:plc:x/{POST}/3kaa",
         "cid": "bafy", "author": {"did": "did:plc:x", "handle": "x.test"}, "record": {"text": 42}},
        {"reason": "reply", "indexedAt": "yesterday", "uri": f"at://did:plc:y/{POST}/3kab"},
        "just a string",
        None,
    ]
    for i, item in enumerate(bad_items):
        pds.add_notification(BRAND, item, T0 + timedelta(seconds=5 + i))
    adapter = h.adapter()
    batches = await h.polls(adapter, None)
    assert uris(batches) == good
    skipped = [reason for b in batches for reason in b.skipped]
    assert any("not-an-at-uri" in r and "at-uri" in r for r in skipped)
    assert any("record text is not a string" in r for r in skipped)
    assert sum("no valid indexedAt" in r for r in skipped) == 3
    # Each problem is reported once, not on every poll.
    again = await h.polls(adapter, last_cursor(batches), waits=2)
    assert [r for b in again for r in b.skipped] == []


async def test_an_unusable_stored_cursor_is_reported_and_the_newest_page_taken(h, pds):
    added = add_mentions(pds, 3, T0)
    batches = await h.polls(h.adapter(), '{"since_id": "12"}')
    assert uris(batches) == added
    assert "stored cursor unusable" in batches[0].skipped[0]


# --- stream trouble ---------------------------------------------------------------------

async def test_rate_limit_waits_until_the_reset(h, pds, clock):
    add_mentions(pds, 1, T0)
    reset = clock.now + timedelta(seconds=120)
    pds.faults[LIST].append(Fail(429, "RateLimitExceeded", "Rate Limit Exceeded",
                                 headers={"RateLimit-Reset": str(int(reset.timestamp())),
                                          "RateLimit-Remaining": "0"}))
    adapter = h.adapter()
    batches = await h.polls(adapter, None, waits=2)
    assert len(uris(batches)) == 1
    limited = [s for s in h.statuses if s.state == SourceState.RATE_LIMITED][0]
    assert limited.detail.startswith("until 13:02:0") and limited.until.startswith("2026-03-01T13:02:0")
    assert 120 <= adapter.test_sleep.delays[0] < 121
    assert h.states()[-1] == SourceState.LIVE


async def test_server_errors_and_dropped_connections_back_off_then_recover(h, pds):
    added = add_mentions(pds, 2, T0)
    pds.faults[LIST] += [Fail(500), Fail(502, None, raw=b"<html>bad gateway</html>", content_type="text/html"),
                         Drop(), Drop(), Fail(503, "NotEnoughResources", "busy")]
    adapter = h.adapter()
    batches = await h.polls(adapter, None, waits=6)
    assert uris(batches) == added
    backoffs = adapter.test_sleep.delays[:5]
    assert all(2 ** i / 2 <= delay <= 2 ** i for i, delay in enumerate(backoffs))  # doubling, jittered
    reconnecting = [s for s in h.statuses if s.state == SourceState.RECONNECTING]
    assert any("connection to 127.0.0.1 failed" in s.detail for s in reconnecting)
    assert any("HTTP 502" in s.detail for s in reconnecting)
    assert h.states()[-1] == SourceState.LIVE
    assert adapter.test_sleep.delays[-1] == 15.0


async def test_a_refused_sign_in_is_retried_rarely_and_recovers(h, pds):
    added = add_mentions(pds, 1, T0)
    refusal = Fail(401, "AuthenticationRequired", "Invalid identifier or password")
    pds.faults["com.atproto.server.createSession"] += [refusal, refusal]
    adapter = h.adapter()
    batches = await h.polls(adapter, None, waits=3)
    failed = [s for s in h.statuses if s.state == SourceState.AUTH_FAILED]
    assert len(failed) == 2 and "wrong app password for @brand.bsky.social" in failed[0].detail
    first, second = adapter.test_sleep.delays[:2]
    assert 150 <= first <= 300 and 300 <= second <= 600  # sign-in is rate limited: no hammering
    assert len(pds.calls("com.atproto.server.createSession")) == 3
    assert uris(batches) == added and h.states()[-1] == SourceState.LIVE


async def test_a_slow_answer_is_waited_for(h, pds):
    added = add_mentions(pds, 1, T0)
    hold = Hold()
    pds.faults[LIST].append(hold)
    adapter = h.adapter()
    task = asyncio.ensure_future(h.polls(adapter, None))
    await hold.entered.wait()
    assert not task.done()
    hold.release.set()
    assert uris(await task) == added


# --- replies -----------------------------------------------------------------------------

async def test_reply_record_shape_threading_facets_and_record_key(h, pds):
    thread_root = {"uri": f"at://did:plc:root/{POST}/3kabcdefghij2", "cid": "bafyroot"}
    parent = {"uri": f"at://did:plc:parent/{POST}/3kabcdefghij3", "cid": "bafyparent"}
    mention = mention_of(pds, reason="reply", reply={"root": thread_root, "parent": parent})
    pds.add_account("carol.test")
    text = "Héllo 👋🏽 @alice.bsky.social! Ça va? cc @carol.test @nobody.example.org → https://help.example/ça."
    request = request_for(mention, text)
    adapter = h.adapter()

    sent = await adapter.send_reply(request)

    did = pds.accounts[BRAND].did
    assert sent.remote_id == f"at://{did}/{POST}/{request.key}"
    assert sent.url == f"https://bsky.app/profile/{BRAND}/post/{request.key}"
    (create,) = pds.calls(CREATE)
    assert set(create.body) == {"repo", "collection", "rkey", "record"}
    assert (create.body["repo"], create.body["collection"], create.body["rkey"]) == (did, POST, request.key)
    record = pds.records[(did, POST, request.key)][1]
    assert record["$type"] == POST and record["text"] == text
    assert record["createdAt"] == "2026-03-01T13:00:00.000Z"
    assert record["reply"] == {"root": thread_root, "parent": {"uri": mention.remote_id,
                                                               "cid": mention.reply_ref["cid"]}}
    data = text.encode()
    pieces = [(data[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode(), f["features"])
              for f in record["facets"]]
    assert pieces == [
        ("@alice.bsky.social", [{"$type": MENTION, "did": pds.accounts["alice.bsky.social"].did}]),
        ("@carol.test", [{"$type": MENTION, "did": pds.accounts["carol.test"].did}]),
        ("https://help.example/ça", [{"$type": LINK, "uri": "https://help.example/ça"}]),
    ]
    # The mention's author came with its DID: only the others were looked up.
    resolved = [c.query["handle"] for c in pds.calls("com.atproto.identity.resolveHandle")]
    assert resolved == ["carol.test", "nobody.example.org"]
    assert all(call.headers.get("User-Agent") == USER_AGENT for call in pds.requests)


async def test_a_top_level_post_is_its_own_root(h, pds):
    mention = mention_of(pds)
    adapter = h.adapter()
    request = request_for(mention, "Thanks!")
    await adapter.send_reply(request)
    record = pds.records[(pds.accounts[BRAND].did, POST, request.key)][1]
    strong = {"uri": mention.remote_id, "cid": mention.reply_ref["cid"]}
    assert record["reply"] == {"root": strong, "parent": strong}
    assert "facets" not in record


async def test_a_retry_after_an_unknown_outcome_makes_exactly_one_post(h, pds):
    mention = mention_of(pds)
    request = request_for(mention, "We are on it.")
    adapter = h.adapter()
    pds.faults[CREATE].append(Drop(after_work=True))  # written, then the answer is lost

    with pytest.raises(ReplyError) as caught:
        await adapter.send_reply(request)
    assert caught.value.unknown_outcome and not caught.value.permanent

    found = await adapter.find_reply(request)
    assert found is not None and found.remote_id.endswith("/" + request.key)
    again = await adapter.send_reply(request)  # a sender that resends anyway adopts the same post
    assert again == found
    assert len(pds.records) == 1


async def test_a_lost_request_is_not_found_and_the_resend_posts_once(h, pds):
    mention = mention_of(pds)
    request = request_for(mention, "We are on it.")
    adapter = h.adapter()
    pds.faults[CREATE].append(Drop())
    with pytest.raises(ReplyError) as caught:
        await adapter.send_reply(request)
    assert caught.value.unknown_outcome
    assert await adapter.find_reply(request) is None
    await adapter.send_reply(request)
    assert len(pds.records) == 1


async def test_a_key_holding_another_post_is_not_adopted(h, pds):
    mention = mention_of(pds)
    request = request_for(mention, "Hello")
    did = pds.accounts[BRAND].did
    pds.put_record(did, request.key, {"$type": POST, "text": "other", "createdAt": "2026-01-01T00:00:00Z",
                                      "reply": {"root": {"uri": f"at://did:plc:z/{POST}/3kz", "cid": "c"},
                                                "parent": {"uri": f"at://did:plc:z/{POST}/3kz", "cid": "c"}}})
    with pytest.raises(ReplyError, match="already holds a reply to another post") as caught:
        await h.adapter().send_reply(request)
    assert caught.value.permanent


async def test_the_300_grapheme_and_3000_byte_limits(h, pds):
    mention = mention_of(pds)
    adapter = h.adapter()
    assert adapter.text_rule.limit == 300 and adapter.text_rule.count("e\u0301" * 3) == 3
    accented = "e\u0301" * 300  # 600 code points, 300 graphemes
    await adapter.send_reply(request_for(mention, accented))
    for text, problem in [("e\u0301" * 301, "301 graphemes"), ("👩‍👩‍👧‍👦" * 150, "bytes"), ("  ", "empty"),
                          ("bad \ud800", "not valid Unicode")]:
        with pytest.raises(ReplyError, match=problem) as caught:
            await adapter.send_reply(request_for(mention, text))
        assert caught.value.permanent
    assert len(pds.calls(CREATE)) == 1


@pytest.mark.parametrize("faults, check", [
    ([Fail(400, "InvalidRequest", "Invalid app.bsky.feed.post record")],
     lambda e: e.permanent and "InvalidRequest" in str(e)),
    ([Fail(404, "NotFound", "no such thing")], lambda e: e.permanent),
    ([Fail(401, "InvalidToken", "Token could not be verified")] * 2,
     lambda e: not e.permanent and e.retry_after == 300.0),
    ([Fail(429, "RateLimitExceeded", "Rate Limit Exceeded",
           headers={"ratelimit-reset": str(int((T0 + timedelta(hours=1, seconds=90)).timestamp()))})],
     lambda e: not e.permanent and e.retry_after == 90 and not e.unknown_outcome),
    ([Fail(500)], lambda e: e.unknown_outcome and not e.permanent),
    ([Fail(504, None, raw=b"<html>gateway timeout</html>", content_type="text/html")],
     lambda e: e.unknown_outcome and not e.permanent),
    ([Drop()], lambda e: e.unknown_outcome),
])
async def test_send_errors_are_mapped(h, pds, faults, check):
    mention = mention_of(pds)
    adapter = h.adapter()
    pds.faults[CREATE] += faults
    with pytest.raises(ReplyError) as caught:
        await adapter.send_reply(request_for(mention, "hello"))
    assert check(caught.value), str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert pds.records == {}


async def test_a_rejected_token_is_refreshed_and_the_send_retried_once(h, pds):
    mention = mention_of(pds)
    adapter = h.adapter()
    pds.faults[CREATE].append(Fail(401, "InvalidToken", "Token could not be verified"))
    sent = await adapter.send_reply(request_for(mention, "hello"))
    assert sent.remote_id.startswith("at://")
    assert (pds.refreshes, len(pds.calls(CREATE)), len(pds.records)) == (1, 2, 1)


async def test_a_slow_create_is_waited_for_and_a_timeout_is_an_unknown_outcome(h, pds):
    mention = mention_of(pds)
    adapter = h.adapter()
    hold = Hold()
    pds.faults[CREATE].append(hold)
    task = asyncio.ensure_future(adapter.send_reply(request_for(mention, "slow")))
    await hold.entered.wait()
    assert not task.done()
    hold.release.set()
    assert (await task).remote_id.startswith("at://")

    request = request_for(mention, "slower")
    never = Hold()
    pds.faults[CREATE].append(never)
    adapter.limit_request_time(0.2)
    with pytest.raises(ReplyError, match="did not answer") as caught:
        await adapter.send_reply(request)
    assert caught.value.unknown_outcome
    never.release.set()  # the server finishes the write after we gave up
    await never.finished.wait()
    adapter.limit_request_time(30.0)
    assert await adapter.find_reply(request) is not None


async def test_find_reply_before_and_after(h, pds):
    mention = mention_of(pds)
    adapter = h.adapter()
    request = request_for(mention, "hello")
    assert await adapter.find_reply(request) is None
    sent = await adapter.send_reply(request)
    assert await adapter.find_reply(request) == sent


async def test_a_reply_needs_a_strong_ref_and_a_tid_key(h, pds):
    mention = mention_of(pds)
    adapter = h.adapter()
    broken = ReplyRequest(1, new_reply_key(), "hi", "bluesky", mention.remote_id, mention.author_handle,
                          {"uri": mention.remote_id})
    with pytest.raises(ReplyError, match="uri and cid") as caught:
        await adapter.send_reply(broken)
    assert caught.value.permanent
    with pytest.raises(ReplyError, match="not a TID") as caught:
        await adapter.send_reply(request_for(mention, "hi", key="not-a-tid"))
    assert caught.value.permanent
    assert pds.calls(CREATE) == []


# --- languages ----------------------------------------------------------------------------

@pytest.mark.parametrize("mention_langs, desk_lang, expected", [
    (["pt-BR", "en"], "en", ["pt-BR"]),  # the mention's language first
    (None, "de", ["de"]),                # else the desk's
    (["not a tag!"], "fr", ["fr"]),
    (None, None, None),                  # else none: the AppView guesses
])
async def test_replies_carry_a_language(h, pds, mention_langs, desk_lang, expected):
    mention = mention_of(pds, langs=mention_langs)
    request = request_for(mention, "Obrigado!")
    await h.adapter(lang=desk_lang).send_reply(request)
    record = pds.records[(pds.accounts[BRAND].did, POST, request.key)][1]
    assert record.get("langs") == expected


async def test_a_mention_stored_before_languages_were_kept_gets_the_desk_language(h, pds):
    mention = mention_of(pds, langs=["es"])
    old_ref = {k: v for k, v in mention.reply_ref.items() if k != "langs"}
    request = ReplyRequest(1, new_reply_key(), "Hi", "bluesky", mention.remote_id, mention.author_handle, old_ref)
    await h.adapter(lang="en").send_reply(request)
    assert pds.records[(pds.accounts[BRAND].did, POST, request.key)][1]["langs"] == ["en"]


# --- embeds in the mention ------------------------------------------------------------------

def blob(mime: str = "image/jpeg") -> dict:
    return {"$type": "blob", "ref": {"$link": "bafkreiblob"}, "mimeType": mime, "size": 1234}


async def test_quotes_links_and_images_show_in_the_mention_and_its_export(h, pds, worker, tmp_path):
    quoted = pds.add_post("carol.bsky.social", text="Our  new\nstore opens today", at=T0 - timedelta(days=1),
                          embed={"$type": "app.bsky.embed.images",
                                 "images": [{"image": blob(), "alt": "the shop front"}]})
    gone = f"at://{pds.accounts['carol.bsky.social'].did}/{POST}/3kgonegonego2"
    images = {"$type": "app.bsky.embed.images", "images": [
        {"image": blob(), "alt": "a broken \x1b[31mbox\nwith a dent"}, {"image": blob(), "alt": ""}]}
    shapes = [
        ("look at this", {"$type": "app.bsky.embed.record", "record": {"uri": quoted["uri"], "cid": quoted["cid"]}},
         ["↪ quoting @carol.bsky.social: Our new store opens today [image: the shop front]"]),
        ("and this", {"$type": "app.bsky.embed.recordWithMedia",
                      "record": {"$type": "app.bsky.embed.record", "record": {"uri": gone, "cid": "bafygone"}},
                      "media": images},
         [f"↪ quoting a post that is not available: https://bsky.app/profile/{gone[5:].split('/')[0]}"
          "/post/3kgonegonego2", "↪ image: a broken box with a dent", "↪ image (no description)"]),
        ("", {"$type": "app.bsky.embed.external",
              "external": {"uri": "https://shop.example/deal", "title": "50% off", "description": "d"}},
         ["↪ link: 50% off <https://shop.example/deal>"]),
        ("a list", {"$type": "app.bsky.embed.record",
                    "record": {"uri": "at://did:plc:x/app.bsky.graph.list/3kl", "cid": "bafylist"}},
         ["↪ embeds a list: at://did:plc:x/app.bsky.graph.list/3kl"]),
        ("clip", {"$type": "app.bsky.embed.video", "video": blob("video/mp4"), "alt": "unboxing"},
         ["↪ video: unboxing"]),
        ("odd", {"$type": "app.bsky.embed.images", "images": "not a list"}, []),
    ]
    for i, (text, embed, _) in enumerate(shapes):
        pds.post_notification(BRAND, author="alice.bsky.social", text=f"@brand.bsky.social {text}".strip(),
                              at=T0 + timedelta(seconds=i), clock_id=i, embed=embed)
    await run_once(h, worker)
    rows = await worker.run(
        lambda store: [r[0] for r in store.conn.execute("SELECT text FROM mentions ORDER BY id")])
    for row, (text, _, lines) in zip(rows, shapes, strict=True):
        head = f"@brand.bsky.social {text}".strip()
        assert row == (head + "\n\n" + "\n".join(lines) if lines else head)
    (fetch,) = pds.calls("app.bsky.feed.getPosts")
    assert sorted(fetch.query.getall("uris")) == sorted([quoted["uri"], gone])
    exported = await worker.run(lambda store: [r.text for r in iter_export(store)])
    assert exported == rows


async def test_a_failed_quote_lookup_still_takes_the_mention(h, pds):
    quoted = pds.add_post("carol.bsky.social", text="original", at=T0 - timedelta(days=1))
    pds.post_notification(BRAND, author="alice.bsky.social", text="see", at=T0,
                          embed={"$type": "app.bsky.embed.record", "record": {"uri": quoted["uri"], "cid": "c"}})
    pds.faults["app.bsky.feed.getPosts"].append(Fail(502, "UpstreamFailure", "appview down"))
    (mention,) = (await h.polls(h.adapter(), None))[0].mentions
    assert mention.text == "see\n\n↪ quoting a post that is not available: " + post_url(
        pds.accounts["carol.bsky.social"].did, quoted["uri"].rsplit("/", 1)[1])


# --- the 3,000-byte limit, before queuing ----------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(["e", "\u0301", "👩", "\u200d", "漢", " ", "a", "🏽"]), max_size=900))
def test_the_bluesky_count_is_over_300_exactly_when_the_post_is_too_long(text):
    too_long = graphemes(text) > 300 or len(text.encode()) > 3000
    assert (bluesky_length(text) > 300) == too_long
    assert (registry.NETWORKS["bluesky"].rule.remaining(text) < 0) == too_long


def test_the_cli_refuses_a_reply_of_300_graphemes_but_over_3000_bytes(tmp_path):
    db = tmp_path / "desk.db"
    store = open_store(db)
    mention = mention_from_notification({
        "uri": f"at://did:plc:alice/{POST}/3kabcdefghij2", "cid": "bafy", "reason": "mention",
        "author": {"did": "did:plc:alice", "handle": "alice.bsky.social"}, "indexedAt": iso_ms(T0),
        "record": {"$type": POST, "text": "hi", "createdAt": iso_ms(T0)}}, BRAND)
    (mention_id,) = save_batch(store, "bluesky:" + BRAND, [mention], None)
    store.close()
    family = "👩‍👩‍👧‍👦"  # one grapheme, 25 bytes
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENTIONDESK_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path))

    def reply(text: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tui", "reply", str(mention_id), text, "--db", str(db)],
                              capture_output=True, text=True, env=env, timeout=60)

    refused = reply(family * 130)  # 130 graphemes, 3,250 bytes
    assert refused.returncode != 0 and "nothing queued" in refused.stderr and "3,000 bytes" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert reply(family * 120).returncode == 0  # 3,000 bytes exactly
    store = open_store(db)
    assert [r[0] for r in store.conn.execute("SELECT length(text) FROM replies")] == [len(family * 120)]
    store.close()


async def test_the_console_composer_counts_bytes_too(tmp_path):
    db = str(tmp_path / "desk.db")
    store = open_store(db, clock=frozen_clock)
    save_batch(store, "bluesky:" + BRAND, [replace(tui_mention(1), network="bluesky", account=BRAND)], None)
    store.close()
    family = "👩‍👩‍👧‍👦"
    app = ConsoleApp(db, operator="ana", clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.inbox.ids)
        await pilot.press("r")
        composer = app.screen.query_one(ReplyComposer)
        composer.query_one("TextArea").load_text(family * 130)  # 130 graphemes, 3,250 bytes
        await pilot.pause()
        assert "325/300" in screen_text(app)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert composer.display and composer.text == family * 130  # refused, text kept
        composer.query_one("TextArea").load_text(family * 120)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not composer.display)
    store = open_store(db)
    assert [r[0] for r in store.conn.execute("SELECT text FROM replies")] == [family * 120]
    store.close()


# --- how far a new database reaches back ---------------------------------------------------

@pytest.mark.parametrize("backfill", [0, 1, 180, 250, 400])
async def test_a_new_database_takes_the_newest_backfill_mentions(h, pds, backfill):
    added = add_mentions(pds, 250, T0)
    add_mentions(pds, 60, T0 + timedelta(seconds=0.5), reason="like", prefix="l")
    pds.honour_reasons = False  # likes fill the pages too: paging goes on until enough mentions
    adapter = h.adapter(backfill=backfill)
    batches = await h.polls(adapter, None)
    assert uris(batches) == (added[max(0, len(added) - backfill):] if backfill else [])
    assert all(len(b.mentions) <= 100 for b in batches)
    later = add_mentions(pds, 3, T0 + timedelta(hours=1), prefix="n")
    assert uris(await h.polls(h.adapter(backfill=backfill), last_cursor(batches))) == later


def test_backfill_and_lang_come_from_the_config(tmp_path, monkeypatch):
    monkeypatch.setenv("BSKY_PW", PASSWORD)
    config = tmp_path / "config.toml"
    base = '[[accounts]]\nnetwork = "bluesky"\nserver = "https://bsky.social"\nhandle = "b.bsky.social"\n' \
           'secret_env = "BSKY_PW"\n'
    config.write_text('lang = "pt-BR"\n' + base + "backfill = 2500\n")
    (account,) = load_config(config).accounts
    adapter = registry.build(account, session=None)
    assert (adapter.backfill, adapter.lang) == (2500, "pt-BR")
    config.write_text(base + 'lang = "en"\n')
    adapter = registry.build(load_config(config).accounts[0], session=None)
    assert (adapter.backfill, adapter.lang) == (100, "en")
    for bad, message in [("backfill = 20000", "backfill must be a whole number from 0 to 10,000"),
                         ("backfill = -1", "backfill must be"), ('backfill = "all"', "backfill must be"),
                         ('lang = "english please"', "lang must be a language tag")]:
        config.write_text(base + bad + "\n")
        with pytest.raises(ConfigError, match=message):
            load_config(config)


# --- replies nobody would see -------------------------------------------------------------

THREAD = "app.bsky.feed.getPostThread"


def _deleted_in_not_found_shape(pds: FakePds, m: NewMention, root: dict[str, Any]) -> None:
    pds.deleted.add(m.remote_id)
    pds.not_found_shape = True


def thread_mention(pds: FakePds):
    """A reply to the brand inside carol's thread: the parent is alice's, the root carol's."""
    root = pds.add_post("carol.bsky.social", text="a thread", at=T0 - timedelta(hours=1))
    ref = {"uri": root["uri"], "cid": root["cid"]}
    return mention_of(pds, reason="reply", reply={"root": ref, "parent": ref}), root


@pytest.mark.parametrize("setup, expected", [
    (lambda pds, m, root: pds.gated_roots.add(root["uri"]), "limits who can reply (threadgate)"),
    (lambda pds, m, root: pds.blocked_by.add(m.reply_ref["author_did"]), "@alice.bsky.social blocks the brand"),
    (lambda pds, m, root: pds.blocking.add(m.reply_ref["author_did"]), "the brand blocks @alice.bsky.social"),
    (lambda pds, m, root: pds.deleted.add(m.remote_id), "the post was deleted"),
    (_deleted_in_not_found_shape, "the post was deleted"),
    (lambda pds, m, root: pds.blocked_by.add(root["author"]["did"]), "blocks the brand (it started the thread)"),
])
async def test_a_reply_nobody_would_see_is_refused_before_sending(h, pds, setup, expected):
    mention, root = thread_mention(pds)
    setup(pds, mention, root)
    with pytest.raises(ReplyError) as caught:
        await h.adapter().send_reply(request_for(mention, "Sorry to hear that!"))
    assert caught.value.permanent and not caught.value.unknown_outcome
    assert expected in str(caught.value) and "show the reply to nobody" in str(caught.value)
    assert pds.calls(CREATE) == [] and pds.records == {}


async def test_the_outbox_marks_a_reply_into_a_gated_thread_failed_not_sent(h, pds, worker):
    mention, root = thread_mention(pds)
    pds.gated_roots.add(root["uri"])
    (mention_id,) = await worker.run(save_batch, SESSION_SOURCE, [mention], None)
    await worker.run(queue_reply, mention_id, "Thanks for the feedback!", "ana")
    assert await ReplySender(worker, [h.adapter()]).run_once() == 1
    state, error = await worker.run(
        lambda store: store.conn.execute("SELECT state, error FROM replies").fetchone())
    assert state == "failed" and "threadgate" in error
    assert pds.records == {}


async def test_a_visible_thread_is_checked_and_answered(h, pds):
    mention, root = thread_mention(pds)
    await h.adapter().send_reply(request_for(mention, "On it!"))
    checked = pds.calls(THREAD)
    assert [c.query["uri"] for c in checked] == [mention.remote_id, root["uri"]]
    assert all((c.query["depth"], c.query["parentHeight"]) == ("0", "0") for c in checked)
    assert len(pds.records) == 1

    pds.deleted.add(root["uri"])  # a deleted root still shows its replies
    await h.adapter().send_reply(request_for(mention, "Still on it!"))
    assert len(pds.records) == 2


async def test_an_appview_that_cannot_answer_does_not_stop_a_reply(h, pds):
    mention, _ = thread_mention(pds)
    pds.faults[THREAD] += [Fail(502, "UpstreamFailure", "appview down"), Fail(501, "MethodNotImplemented", "no")]
    await h.adapter().send_reply(request_for(mention, "Hello"))
    assert len(pds.records) == 1
    pds.faults[THREAD].append(Fail(429, "RateLimitExceeded", "slow down"))
    with pytest.raises(ReplyError) as caught:
        await h.adapter().send_reply(request_for(mention, "Hello again"))
    assert not caught.value.permanent and caught.value.retry_after and not caught.value.unknown_outcome
    assert len(pds.records) == 1


# --- properties ----------------------------------------------------------------------------

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
JSON = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


def good_notification(i: int) -> dict:
    return {"uri": f"at://did:plc:good{i}/{POST}/3kabcdefghi{i:02d}", "cid": f"bafygood{i}",
            "reason": "mention", "author": {"did": f"did:plc:good{i}", "handle": f"good{i}.test"},
            "record": {"$type": POST, "text": f"good {i}", "createdAt": "2026-03-01T12:00:00Z"},
            "isRead": False, "indexedAt": iso_ms(T0 - timedelta(seconds=i))}


FIELDS = ["uri", "cid", "reason", "author", "record", "indexedAt"]


@st.composite
def damaged(draw):
    item = good_notification(draw(st.integers(50, 99)))
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, unique=True)):
        if draw(st.booleans()):
            item.pop(name)
        else:
            item[name] = draw(JSON)
    if draw(st.booleans()) and isinstance(item.get("record"), dict):
        item["record"] = {**item["record"], draw(st.sampled_from(["text", "reply", "facets", "langs",
                                                                    "createdAt", "$type", "embed"])): draw(JSON)}
    if draw(st.booleans()) and isinstance(item.get("record"), dict):
        kind = draw(st.sampled_from(["images", "external", "record", "recordWithMedia", "video", "nope"]))
        item["record"] = {**item["record"], "embed": {"$type": f"app.bsky.embed.{kind}",
                                                      draw(st.sampled_from(["images", "external", "record",
                                                                            "media", "alt"])): draw(JSON)}}
    return item


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(JSON, damaged()), max_size=8), st.integers(0, 5))
def test_malformed_items_never_crash_and_good_ones_are_kept(bad, good_count):
    good = [good_notification(i) for i in range(good_count)]
    page = good + bad
    sifted = sift_page(page, None, set())
    kept = []
    views = {f"at://did:plc:good{i}/{POST}/3kabcdefghi{i:02d}": item for i, item in enumerate(bad)
             if isinstance(item, dict)}
    for _, _, item in sifted.fresh:
        try:
            kept.append(mention_from_notification(item, BRAND, views).remote_id)
        except MalformedNotification as exc:
            assert str(exc)
    assert {g["uri"] for g in good} <= set(kept)
    for reason, _ in sifted.loose:
        assert reason


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 30)), max_size=60), st.integers(1, 20))
def test_cursor_floor_only_rises_and_keeps_everything_above_it(events, cap):
    cursor = NotificationCursor()
    for step, (offset, _n) in enumerate(events):
        moment = T0 + timedelta(seconds=offset)
        previous = cursor
        cursor = cursor.advanced([(f"at://u{step}", moment)], None, late_window=timedelta(seconds=600), cap=cap)
        assert previous.floor is None or cursor.floor >= previous.floor
        assert all(m >= cursor.floor for m in cursor.seen.values())
        assert set(previous.seen) - set(cursor.seen) <= {u for u, m in previous.seen.items() if m < cursor.floor}
        assert NotificationCursor.load(cursor.dump()) == cursor


# --- the write budget -----------------------------------------------------------------------

async def test_a_reply_reports_the_pds_write_budget_in_points_and_a_429_holds_for_its_reset(h, pds, clock):
    from adapters.bluesky.replies import CREATE_POINTS, WRITE_POINTS
    from adapters.budget import parse_rate

    pds.write_points, pds.write_window = 9, 3600  # three creates an hour
    adapter = h.adapter()
    adapter.send_rate = parse_rate("100/min")
    assert adapter.send_rates() == (*WRITE_POINTS, parse_rate("100/min"))  # the documented budget, always
    await adapter.send_reply(request_for(mention_of(pds), "Thanks!"))
    budget = adapter.take_budget()
    assert budget is not None and adapter.take_budget() is None  # taken once
    assert (budget.limit, budget.remaining, budget.cost, budget.window, budget.label) == (9, 6, CREATE_POINTS,
                                                                                          3600, "PDS limit")
    assert budget.reset == (clock.now + timedelta(hours=1)).replace(microsecond=0)
    for _ in range(2):
        await adapter.send_reply(request_for(mention_of(pds), "Thanks!"))
    clock.now += timedelta(minutes=10)
    with pytest.raises(ReplyError) as refused:
        await adapter.send_reply(request_for(mention_of(pds), "Thanks!"))
    assert pds.refused_writes == 1
    assert refused.value.retry_after == pytest.approx(50 * 60, abs=2)  # until the window's reset, not a guess
    spent = adapter.take_budget()
    assert spent is not None and spent.remaining == 0


async def test_the_sender_keeps_a_group_answer_within_the_pds_write_budget(h, pds, clock, tmp_path):
    """25 replies against a PDS allowing 30 points (10 posts) a minute: never refused, spread, each once."""
    from store.queue_bulk import queue_bulk_replies
    from tests.virtual_time import VirtualTime

    pds.write_points, pds.write_window = 30, 60
    worker = StoreWorker(str(tmp_path / "paced.db"), clock=clock)
    try:
        mentions = [mention_of(pds, text=f"hi @brand.bsky.social {n}", at=T0 + timedelta(seconds=n))
                    for n in range(25)]
        ids = await worker.run(save_batch, SESSION_SOURCE, mentions, None)
        await worker.run(queue_bulk_replies, 1, [(m, "Sorry, refunds go out this week") for m in ids], "ana")
        start = clock.now
        sender = ReplySender(worker, [h.adapter()],
                             pause=VirtualTime(clock, 1, set_time=lambda at: setattr(clock, "now", at)).pause)
        task = asyncio.create_task(sender.run())
        try:
            await until(lambda: len(pds.records) >= 25, seconds=30, what="25 posts")
        finally:
            sender.close()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        worker.close()
    assert pds.refused_writes == 0
    times = [call.at for call in pds.calls(CREATE) if call.at is not None]
    assert len(times) == 25 == len({rkey for (_, _, rkey) in pds.records})
    for at in times:
        assert sum(0 <= (at - t).total_seconds() < 60 for t in times) <= 10
    assert (times[-1] - start).total_seconds() >= 2 * 60
