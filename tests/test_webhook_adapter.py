"""The signed webhook adapter, driven over real HTTP on 127.0.0.1.

A fake runner consumes the stream as the ingest runner does (commit, then
resume the generator); a test can hold the "commit" open to see what the
sender is told meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import ManualReply, ReplyError, SourceState, SourceStatus
from adapters.webhook.adapter import GENERIC_PATH, HEALTH_PATH, META_PATH, META_SIGNATURE_HEADER, WebhookAdapter
from adapters.webhook.bridge import SIGNATURE_HEADER, sign
from adapters.webhook.generic_shape import parse_generic
from adapters.webhook.meta_shape import parse_meta
from adapters.webhook.shapes import Parsed, ShapeError, decode_json
from store.db import open_store
from store.ingest import save_batch
from tests.webhook_support import (
    NOW,
    SECRET,
    FakeRunner,
    encode,
    generic,
    ingesting,
    only_batch,
    post,
    post_full,
    reply_request,
    serving,
    within,
)

# --- acknowledging after commit ------------------------------------------


async def test_signed_generic_mention_is_answered_only_after_the_commit():
    async with serving() as (adapter, runner, http, base):
        runner.hold = asyncio.Event()
        body = encode(generic(created_at="2026-02-28T09:30:00+01:00", url="https://tiktok.example/v/7301",
                              in_reply_to=7300, thread_root="7000", lang="es", reply_context={"video": "7000"}))
        sending = asyncio.create_task(post(http, base + GENERIC_PATH, body))

        batch = await only_batch(runner)
        [mention] = batch.mentions
        assert (mention.network, mention.remote_id, mention.author_handle, mention.author_name) == (
            "webhook:tiktok", "7301", "ana", "Ana")
        assert mention.created_at == "2026-02-28T08:30:00.000Z"
        assert (mention.parent_remote_id, mention.root_remote_id, mention.lang) == ("7300", "7000", "es")
        assert mention.url == "https://tiktok.example/v/7301"
        assert mention.reply_ref == {"kind": "generic", "network": "tiktok", "id": "7301",
                                     "context": {"video": "7000"}}
        assert mention.raw["id"] == "7301"

        # A full round trip through the same server: an early answer would have landed by now.
        async with http.get(base + HEALTH_PATH) as health:
            assert health.status == 200
            assert (await health.json())["pending"] == 1
        assert not sending.done()
        assert runner.commits == []

        runner.hold.set()
        status, answer = await within(sending)
        assert status == 200
        assert answer == {"accepted": 1, "skipped": []}
        assert runner.commits == [batch]
        assert adapter.pending == 0


async def test_requests_arriving_while_a_batch_commits_share_the_next_batch():
    async with serving() as (adapter, runner, http, base):
        runner.hold = asyncio.Event()
        first = asyncio.create_task(post(http, base + GENERIC_PATH, encode(generic("1"))))
        await only_batch(runner)
        later = [asyncio.create_task(post(http, base + GENERIC_PATH, encode(generic(str(n))))) for n in (2, 3)]
        await within(adapter.until_pending(3))
        runner.hold.set()
        coalesced = await only_batch(runner)
        assert sorted(m.remote_id for m in coalesced.mentions) == ["2", "3"]
        for sending in (first, *later):
            assert (await within(sending))[0] == 200
        assert len(runner.commits) == 2


async def test_a_stream_that_ends_answers_503_and_the_listener_keeps_listening_until_aclose():
    statuses: list[SourceStatus] = []
    async with serving(on_status=statuses.append) as (adapter, runner, http, base):
        runner.hold = asyncio.Event()
        yielded = asyncio.create_task(post(http, base + GENERIC_PATH, encode(generic("1"))))
        await only_batch(runner)
        queued = asyncio.create_task(post(http, base + GENERIC_PATH, encode(generic("2"))))
        await within(adapter.until_pending(2))

        runner.task.cancel()  # as when the runner's commit fails: the stream ends, the listener stays
        for sending in (yielded, queued):
            status, answer = await within(sending)
            assert status == 503
            assert "retry" in answer["error"]
        assert runner.commits == []
        assert adapter.pending == 0
        status, answer, headers = await post_full(http, base + GENERIC_PATH, encode(generic("3")))
        assert status == 503 and headers["Retry-After"] == "5"
        assert statuses[-1].state is SourceState.DEGRADED and "last write failed" in answer["error"]
        async with http.get(base + HEALTH_PATH) as health:
            assert health.status == 503 and (await health.json())["state"] == "degraded"

        runner.hold = None
        runner.restart()  # a new stream() on the same listener: deliveries are stored again
        status, _ = await within(post(http, base + GENERIC_PATH, encode(generic("3"))))
        assert status == 200 and [m.remote_id for m in runner.commits[-1].mentions] == ["3"]
        assert statuses[-1].state is SourceState.LIVE

        await adapter.aclose()
        assert not adapter.started.is_set()
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.get(base + HEALTH_PATH):
                pass


async def test_with_the_real_ingest_runner_a_200_means_the_row_is_stored(tmp_path):
    async with ingesting(tmp_path / "desk.db") as (adapter, worker, base):
        async with aiohttp.ClientSession() as http:
            for _ in range(2):  # a retried delivery is stored once
                status, answer = await post(http, base + GENERIC_PATH, encode(generic("db-1")))
                assert (status, answer["accepted"]) == (200, 1)
                rows = await worker.run(lambda store: store.conn.execute(
                    "SELECT network, remote_id, text FROM mentions").fetchall())
                assert rows == [("webhook:tiktok", "db-1", "@brand my order never arrived")]
    assert not adapter.started.is_set()


async def test_aclose_while_a_batch_commits_answers_503_and_ends_the_stream():
    adapter = WebhookAdapter(secret=SECRET, port=0)
    batches = adapter.stream(None)
    first = asyncio.create_task(anext(batches))
    await within(adapter.started.wait())
    async with aiohttp.ClientSession() as http:
        sending = asyncio.create_task(post(http, f"http://127.0.0.1:{adapter.port}{GENERIC_PATH}", encode(generic())))
        assert [m.remote_id for m in (await within(first)).mentions] == ["7301"]
        await adapter.aclose()  # what IngestRunner.stop does after cancelling its tasks
        status, _ = await within(sending)
        assert status == 503
    with pytest.raises(StopAsyncIteration):
        await within(anext(batches))


# --- rejections: nothing is yielded ---------------------------------------


async def assert_next_batch_is_only(runner: FakeRunner, http, base, remote_id: str) -> None:
    """Nothing rejected was yielded: the next batch holds only a fresh good delivery."""
    assert runner.received.empty()
    status, _ = await post(http, base + GENERIC_PATH, encode(generic(remote_id)))
    assert status == 200
    batch = await only_batch(runner)
    assert [m.remote_id for m in batch.mentions] == [remote_id]
    assert batch.skipped == []


async def test_unsigned_or_wrongly_signed_deliveries_are_refused_401():
    async with serving() as (adapter, runner, http, base):
        body = encode(generic("bad"))
        wrong = [
            {},
            {SIGNATURE_HEADER: ""},
            {SIGNATURE_HEADER: sign("another-secret", body)},
            {SIGNATURE_HEADER: sign(SECRET, body + b" ")},
            {SIGNATURE_HEADER: sign(SECRET, body).replace("sha256=", "sha1=")},
            {SIGNATURE_HEADER: sign(SECRET, body)[7:]},
            {SIGNATURE_HEADER: "sha256=zz"},
            {META_SIGNATURE_HEADER: sign(SECRET, body)},  # the other route's header
        ]
        for headers in wrong:
            status, answer = await post(http, base + GENERIC_PATH, body, headers)
            assert status == 401, headers
            assert SIGNATURE_HEADER in answer["error"]
        await assert_next_batch_is_only(runner, http, base, "good")


async def test_signature_hex_is_compared_case_insensitively():
    async with serving() as (adapter, runner, http, base):
        body = encode(generic("upper"))
        status, _ = await post(http, base + GENERIC_PATH, body, {SIGNATURE_HEADER: sign(SECRET, body).upper()})
        assert status == 200
        assert [m.remote_id for m in (await only_batch(runner)).mentions] == ["upper"]


async def test_oversized_bodies_are_refused_413_declared_or_streamed():
    async with serving(max_body=2048) as (adapter, runner, http, base):
        body = encode(generic("big", text="x" * 4000))
        status, answer = await post(http, base + GENERIC_PATH, body)
        assert status == 413
        assert "2048" in answer["error"]

        async def chunks():  # no Content-Length: the cap on the actual read must catch it
            for _ in range(8):
                yield b" " * 512

        async with http.post(base + GENERIC_PATH, data=chunks(), headers={SIGNATURE_HEADER: "sha256=00"}) as response:
            assert response.status == 413
        await assert_next_batch_is_only(runner, http, base, "small")


async def test_malformed_json_or_wrong_shape_is_refused_400():
    async with serving() as (adapter, runner, http, base):
        bodies = [
            b'{"network": "tiktok", "id": ',
            b"[1, 2]",
            b'"just a string"',
            b'{"mentions": {"id": "1"}}',
            b'{"network": "tiktok", "author": {"handle": "a"}, "text": "no id"}',
            b'{"network": "tiktok", "id": "1", "author": {"handle": "a"}, "text": "t", "created_at": NaN}',
            b'{"network": "tiktok", "id": "1", "author": {"handle": "a"}, "text": "\xff\xfe"}',
            b"[" * 100_000,
        ]
        for body in bodies:
            status, answer = await post(http, base + GENERIC_PATH, body)
            assert status == 400, body[:60]
            assert answer["error"]
        await assert_next_batch_is_only(runner, http, base, "fine")


async def test_mixed_payload_keeps_the_good_items_and_names_the_bad():
    async with serving() as (adapter, runner, http, base):
        payload = {"network": "reviews", "mentions": [
            {"id": "r1", "author": "bo", "text": "great", "created_at": 1772366400},
            {"id": "r2", "text": "no author"},
            "not an object",
            {"id": "r3", "author": {"handle": "cy"}, "text": "when?", "created_at": "last tuesday"},
            {"network": "trustpilot", "id": 4, "author": {"handle": "di"}, "text": "ok", "created_at": "1772366400000"},
        ]}
        status, answer = await post(http, base + GENERIC_PATH, encode(payload))
        assert status == 200
        assert answer["accepted"] == 2
        batch = await only_batch(runner)
        assert [(m.network, m.remote_id, m.created_at) for m in batch.mentions] == [
            ("webhook:reviews", "r1", "2026-03-01T12:00:00.000Z"),
            ("webhook:trustpilot", "4", "2026-03-01T12:00:00.000Z"),
        ]
        assert batch.skipped == answer["skipped"]
        assert [reason.split(":")[0] for reason in batch.skipped] == ["mentions[1]", "mentions[2]", "mentions[3]"]
        assert "author" in batch.skipped[0] and "created_at" in batch.skipped[2]


async def test_hostile_strings_are_made_inert_and_the_batch_stores(tmp_path):
    async with serving() as (adapter, runner, http, base):
        body = (b'{"network": "Tik Tok!!", "id": "h\\u001b[2J1", "author": {"handle": "@eve\\u202e"},'
                b' "text": "hi \\u001b]0;pwned\\u0007there \\ud800 end", "url": "javascript:alert(1)"}')
        status, answer = await post(http, base + GENERIC_PATH, body)
        assert status == 400 and "control" in answer["error"]  # an id is never cleaned into another one
        status, _ = await post(http, base + GENERIC_PATH, body.replace(b"\\u001b[2J", b""))
        assert status == 200
        [mention] = (await only_batch(runner)).mentions
        assert mention.network == "webhook:tik-tok"
        assert mention.remote_id == "h1"
        assert mention.author_handle == "eve"
        assert mention.text == "hi there \ufffd end"
        assert mention.url is None
    store = open_store(tmp_path / "desk.db")
    try:
        assert len(save_batch(store, "webhook:webhook", [mention], None)) == 1
    finally:
        store.close()


# --- Meta -----------------------------------------------------------------


async def test_meta_verification_handshake():
    async with serving() as (adapter, runner, http, base):
        good = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
        async with http.get(base + META_PATH, params=good) as response:
            assert response.status == 200
            assert response.content_type == "text/plain"
            assert await response.text() == "1158201444"
        for bad in ({**good, "hub.verify_token": "guess"}, {**good, "hub.mode": "unsubscribe"},
                    {"hub.challenge": "1"}):
            async with http.get(base + META_PATH, params=bad) as response:
                assert response.status == 403
                assert "1158201444" not in await response.text()
    async with serving(verify_token=None) as (adapter, runner, http, base):
        async with http.get(base + META_PATH, params={**good, "hub.verify_token": ""}) as response:
            assert response.status == 403


INSTAGRAM_COMMENTS = {
    "object": "instagram",
    "entry": [{
        "id": "17841400000000001", "time": 1772366400,
        "changes": [
            {"field": "comments", "value": {
                "id": "17865799348089039", "text": "Ca co\u00fbte combien ? \U0001F60D",
                "from": {"id": "232323232", "username": "lea.b"},
                "media": {"id": "123123123", "media_product_type": "FEED"}, "parent_id": "17865799340000000"}},
            {"field": "comments", "value": {  # our own reply coming back
                "id": "17865799348089040", "text": "Merci !", "from": {"id": "17841400000000001", "username": "brand"},
                "media": {"id": "123123123"}}},
            {"field": "mentions", "value": {"media_id": "999", "comment_id": "888"}},
            {"field": "comments", "value": {"id": "17865799348089041"}},
        ],
    }],
}


async def test_meta_instagram_comment_payload_is_parsed_from_escaped_bytes():
    async with serving() as (adapter, runner, http, base):
        # Meta sends non-ASCII \u-escaped; the signature covers exactly those bytes.
        body = json.dumps(INSTAGRAM_COMMENTS, ensure_ascii=True).encode("ascii")
        status, answer = await post(http, base + META_PATH, body, header=META_SIGNATURE_HEADER)
        assert status == 200
        assert answer["accepted"] == 2
        batch = await only_batch(runner)
        comment, mention = batch.mentions
        assert (comment.network, comment.remote_id, comment.author_handle) == (
            "webhook:instagram", "17865799348089039", "lea.b")
        assert comment.text == "Ca co\u00fbte combien ? \U0001F60D"
        assert comment.created_at == "2026-03-01T12:00:00.000Z"
        assert (comment.parent_remote_id, comment.root_remote_id) == ("17865799340000000", "123123123")
        assert comment.reply_ref == {"kind": "instagram_comment", "field": "comments",
                                     "comment_id": "17865799348089039", "media_id": "123123123",
                                     "account_id": "17841400000000001"}
        assert comment.raw["value"]["from"]["username"] == "lea.b"
        assert (mention.remote_id, mention.reply_ref["kind"], mention.reply_ref["media_id"]) == (
            "888", "instagram_mention", "999")
        assert "does not include the text" in mention.text
        assert batch.skipped == ["entry[0].changes[3]: value.text must be a string"]

        # The generic header does not sign the Meta route.
        status, _ = await post(http, base + META_PATH, body, header=SIGNATURE_HEADER)
        assert status == 401


async def test_meta_can_have_its_own_app_secret():
    async with serving(meta_secret="meta-app-secret") as (adapter, runner, http, base):
        body = json.dumps(INSTAGRAM_COMMENTS).encode()
        status, _ = await post(http, base + META_PATH, body, header=META_SIGNATURE_HEADER)
        assert status == 401
        status, _ = await post(http, base + META_PATH, body, header=META_SIGNATURE_HEADER, secret="meta-app-secret")
        assert status == 200
        assert len((await only_batch(runner)).mentions) == 2
        # The generic route keeps the webhook secret.
        status, _ = await post(http, base + GENERIC_PATH, encode(generic()), secret="meta-app-secret")
        assert status == 401


def test_meta_facebook_feed_comments_and_messages():
    payload = {"object": "page", "entry": [{
        "id": "555", "time": 1772366400,
        "changes": [
            {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "555_1_2", "post_id": "555_1",
                                        "parent_id": "555_1", "from": {"id": "42", "name": "Jo Doe"},
                                        "message": "Where is my refund?", "created_time": 1772366460}},
            {"field": "feed", "value": {"item": "reaction", "verb": "add", "post_id": "555_1"}},
            {"field": "feed", "value": {"item": "comment", "verb": "remove", "comment_id": "555_1_3"}},
            {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "555_1_4",
                                        "from": {"id": "555", "name": "Brand"}, "message": "Sorry!"}},
        ],
    }, {
        "id": "555", "time": 1772366400,
        "messaging": [
            {"sender": {"id": "9001"}, "recipient": {"id": "555"}, "timestamp": 1772366520000,
             "message": {"mid": "m_1", "text": "hello?"}},
            {"sender": {"id": "555"}, "recipient": {"id": "9001"}, "message": {"mid": "m_2", "text": "hi",
                                                                              "is_echo": True}},
            {"sender": {"id": "9001"}, "delivery": {"mids": ["m_2"]}},
        ],
    }]}
    parsed = parse_meta(payload, account="desk", received_at=NOW)
    assert parsed.skipped == []
    comment, message = parsed.mentions
    assert (comment.network, comment.remote_id, comment.author_handle, comment.text) == (
        "webhook:facebook", "555_1_2", "Jo Doe", "Where is my refund?")
    assert comment.created_at == "2026-03-01T12:01:00.000Z"
    assert (comment.parent_remote_id, comment.root_remote_id) == (None, "555_1")
    assert comment.reply_ref["kind"] == "facebook_comment" and comment.reply_ref["page_id"] == "555"
    assert (message.remote_id, message.author_handle, message.created_at) == (
        "m_1", "9001", "2026-03-01T12:02:00.000Z")
    assert message.reply_ref["kind"] == "messenger_message"


def test_meta_envelope_errors_and_unhandled_objects():
    for payload in ([], {"entry": []}, {"object": "page"}, {"object": "page", "entry": {}}):
        with pytest.raises(ShapeError):
            parse_meta(payload, account="desk", received_at=NOW)
    unhandled = parse_meta({"object": "whatsapp_business_account", "entry": [{}]}, account="desk",
                           received_at=NOW)
    assert unhandled.mentions == [] and "not handled" in unhandled.skipped[0]


# --- replies --------------------------------------------------------------


@asynccontextmanager
async def bridge(answer):
    """A local outbound receiver that checks signatures and records what it got."""
    seen: list[dict[str, Any]] = []

    async def receive(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        seen.append({"body": body, "headers": dict(request.headers)})
        return await answer(request)

    app = web.Application()
    app.router.add_post("/replies", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/replies", seen
    finally:
        await runner.cleanup()


async def test_reply_is_posted_signed_with_the_idempotency_key():
    async def created(request):
        return web.json_response({"id": "tt-reply-9", "url": "https://tiktok.example/r/9"}, status=201)

    async with bridge(created) as (url, seen), aiohttp.ClientSession() as session:
        adapter = WebhookAdapter(secret=SECRET, outbound_url=url, outbound_secret="out-secret", session=session)
        sent = await adapter.send_reply(reply_request())
        assert (sent.remote_id, sent.url) == ("tt-reply-9", "https://tiktok.example/r/9")
        [got] = seen
        assert got["headers"][SIGNATURE_HEADER] == sign("out-secret", got["body"])
        assert got["headers"][SIGNATURE_HEADER] != sign(SECRET, got["body"])
        assert got["headers"]["Idempotency-Key"] == "3lbtxkz2qn22c"
        assert got["body"].isascii()
        assert json.loads(got["body"]) == {
            "reply_key": "3lbtxkz2qn22c", "in_reply_to": "7301", "network": "tiktok",
            "text": "Sorry, Ana! DM us your order number \u00e9", "author": "ana", "mention_url": None,
            "reply_ref": {"kind": "generic", "network": "tiktok", "id": "7301"}}


@pytest.mark.parametrize(("status", "body", "headers", "expect"), [
    (200, "ok", {}, "sent-with-key"),
    (422, '{"error": "text too long for tiktok"}', {}, "permanent"),
    (404, "", {}, "permanent"),
    (429, "", {"Retry-After": "7"}, "retry"),
    (502, "", {}, "unknown"),
])
async def test_reply_outcomes_by_status(status, body, headers, expect):
    async def answer(request):
        return web.Response(status=status, text=body, headers=headers)

    async with bridge(answer) as (url, seen):
        adapter = WebhookAdapter(secret=SECRET, outbound_url=url, outbound_secret="out-secret")
        try:
            if expect == "sent-with-key":
                assert (await adapter.send_reply(reply_request())).remote_id == "3lbtxkz2qn22c"
                return
            with pytest.raises(ReplyError) as raised:
                await adapter.send_reply(reply_request())
        finally:
            await adapter.aclose()
    error = raised.value
    assert str(status) in str(error)
    assert error.permanent is (expect == "permanent")
    assert error.unknown_outcome is (expect == "unknown")
    if expect == "permanent" and body:
        assert "text too long for tiktok" in str(error)
    if expect == "retry":
        assert error.retry_after == 7


async def test_reply_with_a_dropped_connection_has_an_unknown_outcome_and_refused_does_not():
    async def hang_up(request):
        request.transport.close()
        return web.Response()

    async with bridge(hang_up) as (url, seen):
        adapter = WebhookAdapter(secret=SECRET, outbound_url=url, outbound_secret="out-secret")
        with pytest.raises(ReplyError) as dropped:
            await adapter.send_reply(reply_request())
        assert dropped.value.unknown_outcome and not dropped.value.permanent
    # The bridge is gone now: nothing can have been posted.
    with pytest.raises(ReplyError) as refused:
        await adapter.send_reply(reply_request())
    assert not refused.value.unknown_outcome and not refused.value.permanent
    await adapter.aclose()


async def test_without_an_outbound_url_replies_are_manual():
    adapter = WebhookAdapter(secret=SECRET)
    with pytest.raises(ManualReply, match="reply by hand: webhook:tiktok has no outbound URL"):
        await adapter.send_reply(reply_request())


def test_configuration_that_would_be_unsafe_is_refused():
    with pytest.raises(ValueError):
        WebhookAdapter(secret="")
    with pytest.raises(ValueError):
        WebhookAdapter(secret=SECRET, outbound_url="http://127.0.0.1:1/r")
    assert WebhookAdapter(secret=SECRET).text_rule.count("e\u0301\U0001F44D\U0001F3FD") == 2


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_the_documented_openssl_signing_matches():
    body = '{"network":"tiktok","id":"7301","author":{"handle":"ana"},"text":"@brand h\u00e9"}'
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", SECRET, "-r"], input=body.encode(),
                            capture_output=True, check=True).stdout.decode().split()[0]
    assert "sha256=" + digest == sign(SECRET, body.encode())


# --- parsers never crash ---------------------------------------------------

# Text as JSON can carry it: including lone surrogates, escapes and bidi overrides.
texts = st.lists(st.text(max_size=6) | st.sampled_from(["\ud800", "\udfff", "\x1b[2J", "\x1b]0;t\x07", "\u202e"]),
                 max_size=4).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=20,
)


def mostly(good, bad=json_values):
    """Usually a well-formed value, sometimes anything: most items parse, some do not."""
    return st.integers(0, 9).flatmap(lambda n: bad if n == 5 else good)


# Non-empty text that may still be hostile.
names = st.tuples(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8), texts).map("".join)


def sometimes(**fields):
    return st.fixed_dictionaries({}, optional=fields)


ids = mostly(st.one_of(names, st.integers(), st.sampled_from(["1", "17865799348089039"])))
times = mostly(st.one_of(st.integers(min_value=-10**13, max_value=10**13), st.floats(), texts,
                         st.datetimes().map(lambda d: d.isoformat()), st.sampled_from(["1772366400", "2026-03-01Z"])))
generic_items = mostly(st.fixed_dictionaries({
    "network": mostly(st.sampled_from(["tiktok", "Tik Tok!", "webhook:reviews", "---"]) | names),
    "id": ids,
    "author": mostly(st.fixed_dictionaries({"handle": mostly(names)}, optional={"name": texts}) | names),
    "text": mostly(texts),
}, optional={
    "url": st.one_of(texts, st.just("https://x.example/1"), json_values), "created_at": times,
    "in_reply_to": ids, "thread_root": ids, "lang": ids, "reply_context": json_values,
}))
generic_payloads = st.one_of(json_values, generic_items,
                             st.fixed_dictionaries({"mentions": st.lists(generic_items, max_size=5)},
                                                   optional={"network": mostly(st.just("tiktok"))}))
authors = mostly(sometimes(id=ids, username=mostly(names), name=mostly(names)))
meta_values = mostly(st.one_of(
    st.fixed_dictionaries({"id": ids, "text": mostly(texts), "from": authors},
                          optional={"media": mostly(sometimes(id=ids)), "parent_id": ids}),
    st.fixed_dictionaries({"media_id": ids}, optional={"comment_id": ids}),
    st.fixed_dictionaries({"item": mostly(st.just("comment")), "verb": mostly(st.sampled_from(["add", "remove"])),
                           "comment_id": ids, "from": authors},
                          optional={"message": mostly(texts), "post_id": ids, "parent_id": ids, "created_time": times}),
))
meta_changes = mostly(st.fixed_dictionaries({
    "field": mostly(st.sampled_from(["comments", "live_comments", "mentions", "feed", "other"])),
    "value": meta_values,
}))
meta_messages = mostly(st.fixed_dictionaries({
    "sender": mostly(st.fixed_dictionaries({"id": ids})),
    "message": mostly(st.fixed_dictionaries({"mid": ids}, optional={
        "text": mostly(texts), "is_echo": json_values, "attachments": json_values,
        "reply_to": mostly(sometimes(mid=ids))})),
}, optional={"timestamp": times}))
meta_entries = mostly(st.one_of(
    st.fixed_dictionaries({"id": ids, "time": times, "changes": mostly(st.lists(meta_changes, max_size=4))}),
    st.fixed_dictionaries({"id": ids, "time": times, "messaging": mostly(st.lists(meta_messages, max_size=4))}),
), sometimes(id=ids, time=times, changes=json_values, messaging=json_values) | json_values)
meta_payloads = mostly(st.fixed_dictionaries({
    "object": mostly(st.sampled_from(["instagram", "page"]), st.sampled_from(["user"]) | json_values),
    "entry": mostly(st.lists(meta_entries, max_size=3)),
}))


def check_parsed(parsed: Parsed) -> None:
    for mention in parsed.mentions:
        assert mention.network.startswith("webhook:")
        assert mention.remote_id and mention.author_handle
        assert datetime.fromisoformat(mention.created_at).tzinfo is not None
        assert "\x1b" not in mention.text + mention.author_handle
        # What the store writes must encode (no lone surrogates anywhere).
        json.dumps([mention.raw, mention.reply_ref, mention.text], ensure_ascii=False).encode("utf-8")
    for reason in parsed.skipped:
        assert reason and reason.encode("utf-8")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generic_payloads)
def test_generic_parser_never_crashes_and_accounts_for_every_item(payload):
    try:
        parsed = parse_generic(payload, account="desk", received_at=NOW)
    except ShapeError as exc:
        assert str(exc)
        return
    check_parsed(parsed)
    if isinstance(payload, dict) and "mentions" in payload:
        assert len(parsed.mentions) + len(parsed.skipped) == len(payload["mentions"])
    else:
        assert len(parsed.mentions) == 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meta_payloads)
def test_meta_parser_never_crashes(payload):
    try:
        parsed = parse_meta(payload, account="desk", received_at=NOW)
    except ShapeError as exc:
        assert str(exc)
        return
    check_parsed(parsed)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_decoding_any_bytes_either_succeeds_or_is_a_shape_error(body):
    try:
        decode_json(body)
    except ShapeError as exc:
        assert str(exc)


# --- ids are stored exactly as sent, or refused ----------------------------

# Pairs that the old cleaning collapsed into one stored mention (10 deliveries, 5 stored, all "accepted").
LOOKALIKE_IDS = [("a1", " a1"), ("caf\u00e9", "cafe\u0301"), ("b2", "b2\u200e"), ("c3", "c3\x00"), ("d 4", "d  4")]


async def test_ids_that_would_be_cleaned_into_another_are_refused_400_and_the_rest_stored_exactly(tmp_path):
    async with ingesting(tmp_path / "desk.db") as (adapter, worker, base):
        async with aiohttp.ClientSession() as http:
            for clean, lookalike in LOOKALIKE_IDS:
                status, answer = await within(post(http, base + GENERIC_PATH, encode(generic(clean))))
                assert (status, answer["accepted"]) == (200, 1)
                status, answer = await within(post(http, base + GENERIC_PATH, encode(generic(lookalike))))
                assert status == 400, lookalike
                assert answer["error"].startswith("id ") and "\n" not in answer["error"]
            batch = {"mentions": [generic("e5"), generic("e5\u200f")]}
            status, answer = await within(post(http, base + GENERIC_PATH, encode(batch)))
            assert status == 400 and answer["error"].startswith("mentions[1].id ")
        stored = await worker.run(lambda store: [row[0] for row in store.conn.execute(
            "SELECT remote_id FROM mentions ORDER BY id")])
        assert stored == [clean for clean, _ in LOOKALIKE_IDS]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=12), st.lists(st.sampled_from(["a", "1", " ", "\t", "\x00", "\u200e", "\u202e",
                                                                 "e\u0301", "\u00e9", "\ufeff", "\ud800", "\x1b[2J"]),
                                                max_size=5).map("".join)))
def test_an_id_is_stored_exactly_as_sent_or_the_payload_is_refused(remote_id):
    payload = generic(remote_id)
    try:
        parsed = parse_generic(payload, account="desk", received_at=NOW)
    except ShapeError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    [mention] = parsed.mentions
    assert mention.remote_id == remote_id  # exact: two different ids can never be stored as one


def test_outbound_urls_with_credentials_are_refused_at_config_load_in_one_line(tmp_path):
    from adapters.accounts import ConfigError, load_config

    for url, words in (("https://bob:hunter2@bridge.example/reply", "user:password@"),
                       ("https://bridge.example/reply?token=hunter2", "token="),
                       ("https://bridge.example/reply?api_key=hunter2&x=1", "token="),
                       ("ftp://bridge.example/reply", "http(s)"),
                       ("https://bridge.example:99999/reply", "not a valid URL")):
        config = tmp_path / "config.toml"
        config.write_text(f'[[accounts]]\nnetwork = "webhook"\nhandle = "bridge"\nsecret_env = "S"\n'
                          f'outbound_url = "{url}"\n', encoding="utf-8")
        with pytest.raises(ConfigError) as refused:
            load_config(config)
        message = str(refused.value)
        assert words in message and "\n" not in message, message
        assert "hunter2" not in message and "outbound_url" in message
        if "hunter2" in url:
            assert "outbound_secret_env" in message
    config.write_text('[[accounts]]\nnetwork = "webhook"\nhandle = "bridge"\nsecret_env = "S"\n'
                      'outbound_url = "https://bridge.example/reply?network=tiktok"\noutbound_secret_env = "O"\n'
                      'lookup_url = "https://bridge.example/replies"\ncommit_timeout = 2\n', encoding="utf-8")
    [account] = load_config(config).accounts
    assert account.options["lookup_url"] == "https://bridge.example/replies"
    config.write_text('[[accounts]]\nnetwork = "webhook"\nhandle = "bridge"\nsecret_env = "S"\n'
                      'commit_timeout = "soon"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="commit_timeout must be a positive number of seconds"):
        load_config(config)


async def test_reply_errors_never_carry_the_url_credentials():
    """Even a URL that slipped past config (built directly) never reaches an error string whole."""
    secretive = "http://bob:hunter2@127.0.0.1:1/reply?x=hunter2"
    with pytest.raises(ValueError) as refused:
        WebhookAdapter(secret=SECRET, outbound_url=secretive, outbound_secret="s")
    assert "hunter2" not in str(refused.value)

    async def hang_up(request):
        request.transport.close()
        return web.Response()

    async with bridge(hang_up) as (url, seen):
        adapter = WebhookAdapter(secret=SECRET, outbound_url=url + "?network=tiktok", outbound_secret="s")
        try:
            adapter._bridge.outbound_url = url.replace("http://", "http://bob:hunter2@") + "?sig=hunter2"
            with pytest.raises(ReplyError) as dropped:
                await adapter.send_reply(reply_request())
        finally:
            await adapter.aclose()
    assert "hunter2" not in str(dropped.value) and "127.0.0.1" in str(dropped.value)
    for malformed in ("http://bob:hunter2@127.0.0.1:1/reply?token=hunter2",  # refused
                      "http://bob:hunter2@127.0.0.1:99999/reply?token=hunter2",  # aiohttp: InvalidURL(the url)
                      "http://bob:hunter2@[::1/reply?token=hunter2"):
        adapter = WebhookAdapter(secret=SECRET, outbound_url="http://127.0.0.1:1/reply", outbound_secret="s")
        adapter._bridge.outbound_url = malformed
        try:
            with pytest.raises(ReplyError) as failed:
                await adapter.send_reply(reply_request())
        finally:
            await adapter.aclose()
        assert "hunter2" not in str(failed.value) and "outbound URL" in str(failed.value), malformed
