"""Mastodon (and API-compatible servers: GoToSocial, Akkoma, Pleroma...).

Ingest: REST catch-up with `min_id` (gapless, newest-first pages walked
forward), then a live stream, with REST catch-up again after every
reconnect because streams have no replay. Transports, in order, remembered
per adapter: SSE (`/api/v1/streaming/user/notification`, Mastodon only),
WebSocket (`/api/v1/streaming?stream=user:notification`, Mastodon 3.3+,
GoToSocial, Pleroma/Akkoma), REST polling every `poll_interval`. A transport
the server refuses (404, wrong content type, token not accepted by the
streaming server) is skipped from then on; one that is merely down is
retried with backoff while REST polling keeps mentions flowing. While live,
a REST catch-up also runs every few minutes as a safety net.

Identifiers (the thread-link scheme):
- `remote_id` of a mention, and `SentReply.remote_id` of our replies, is
  the status `uri` (ActivityPub id, the same on every server). Only when a
  server sends no usable uri is it the local placeholder
  `mastodon-id:<api host>/<local status id>`.
- `parent_remote_id` is the parent's uri. The notification only carries
  the parent's *local* id (`in_reply_to_id`), so it is resolved through a
  cache of statuses this adapter has seen (mentions, our own replies,
  thread ancestors) and, failing that, one `GET /statuses/:id/context`
  call for the mention (ancestors[-1] is the parent, ancestors[0] the
  root). If that is impossible (no `read:statuses` scope, parent deleted,
  rate limit, more than `CONTEXT_LOOKUPS_PER_BATCH` unknown parents in a
  catch-up) the parent is the placeholder above, which a stored mention
  can only match when its own uri was missing too.
- `root_remote_id` is the thread root's uri (the parent when the root is
  unknown), None when the mention starts a thread.
- `reply_ref` = {status_id, visibility, acct, mentions, in_reply_to_id,
  uri, root_uri}: the local status id is what `in_reply_to_id` needs.

Replies: visibility is the narrower of the mention's and the brand
account's default posting visibility (`source.privacy`), as Mastodon's own
composer does; unknown visibilities are answered `direct`. So a public
mention gets a public reply only if the account posts public by default;
Mastodon keeps replies out of the public timelines either way.

Streaming addresses: the advertised streaming URL, then the configured
server, each with SSE and WebSocket (servers advertise hosts that do not
resolve from here); the status names what failed.

A reply whose answer was lost is looked up before it is sent again
(`find_reply`): recognised by account, `in_reply_to_id` and time, text
only breaking ties; when unsure it is held for the operator.

This module is the adapter itself (REST calls, catch-up, live loop,
replies, check); notification -> mention mapping is in parse.py,
opening and decoding the SSE/WebSocket streams in stream.py, which
answered threads to re-read for follow-ups in threads.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import ssl
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
from cachetools import LRUCache
from yarl import URL

from adapters.base import (
    Adapter,
    Batch,
    Capabilities,
    Ingest,
    LimitFrom,
    ReplyError,
    ReplyNeedsCheck,
    ReplyRequest,
    SentReply,
    SourceState,
    StatusCallback,
    TextRule,
)
from adapters.http import (
    REQUEST_TIMEOUT,
    STREAM_TIMEOUT,
    USER_AGENT,
    AuthError,
    Backoff,
    Links,
    human_seconds,
    jitter,
    links_of,
    rate_limit_reset,
    read_capped,
    redact,
    seconds_until,
)
from adapters.mastodon import threads
from adapters.mastodon.html import html_to_text
from adapters.mastodon.parse import (
    NETWORK,
    Identity,
    Parsed,
    acct_of,
    ancestor_chain,
    comparable_text,
    domain_of,
    id_key,
    key_time,
    local_part,
    max_id,
    min_id_of,
    parse_notifications,
    status_time,
    text_id,
    web_url,
    with_author_mention,
)
from adapters.mastodon.stream import (
    Connection,
    StreamDown,
    StreamDropped,
    StreamUnsupported,
    open_sse,
    open_ws,
    transport_reason,
)
from adapters.rules import stored_rule
from adapters.wire import as_dict
from store.account_settings import TextLimits
from store.db import iso, utc_now
from store.records import NewMention
from store.sanitize import clean_line

if TYPE_CHECKING:
    from adapters.accounts import Account

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 500
# A desk answers in minutes, so a mention should show within seconds even
# without streaming. One poll is one paging request (min_id): 15 s is 20 per
# 5 min against 300 per 5 min per token, 60 per 15 min against Mastodon's
# 300 paging requests per 15 min, leaving room for catch-up pages, thread
# watching and replies.
DEFAULT_POLL = 15.0
DEFAULT_URL_WEIGHT = 23
PAGE_LIMIT = 80
MAX_BODY = 8 * 1024 * 1024
CONTEXT_LOOKUPS_PER_BATCH = 20
# Notification ids seen and statuses whose thread we know, kept for dedupe and linking.
REMEMBERED = 20_000
# A server that is starting answers 502-504 for a while: `check` asks again before giving up.
CHECK_ATTEMPTS = 3
# How far a server's clock may lag ours when telling our earlier post from older ones.
CLOCK_SLACK = 600.0
# Stream paths a server may not have; re-probed after this long on polling.
STREAM_REPROBE_SECONDS = 1800.0

_VISIBILITY_RANK = {"public": 0, "unlisted": 1, "private": 2, "direct": 3}
# Ids are opaque, but anything we put in a URL path must stay one segment.
_PATH_ID = re.compile(r"^[A-Za-z0-9_~-][A-Za-z0-9_.~-]{0,127}$")

# --- internal errors ----------------------------------------------------------

class _ApiError(Exception):
    """A non-2xx answer (or a 2xx that is not the JSON we need)."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None,
                 *, not_api: bool = False, location: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.not_api = not_api
        self.location = location


class _Unreachable(Exception):
    """The request failed in transport. `sent`: it may have reached the server."""

    def __init__(self, message: str, *, sent: bool, tls: bool = False):
        super().__init__(message)
        self.message = message
        self.sent = sent
        self.tls = tls


class _Transient(Exception):
    pass


class _RateLimited(Exception):
    def __init__(self, until: datetime | None):
        super().__init__("rate limited")
        self.until = until


class _AuthRejected(Exception):
    pass


def _server_base(server: str) -> URL:
    text = server.strip()
    if "://" not in text:
        text = "https://" + text
    url = URL(text)
    if url.scheme not in ("https", "http") or not url.host:
        raise ValueError(f"not a server address: {server!r}")
    if url.scheme == "http" and url.host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"refusing to send the access token over plain http to {url.host}; use https")
    return url.with_path(url.path.rstrip("/")).with_query(None).with_fragment(None)


class MastodonAdapter(Adapter):
    """One Mastodon-API account: mentions in, replies out."""

    network = NETWORK

    def __init__(self, *, account: str, server: str, token: str, session: aiohttp.ClientSession,
                 on_status: StatusCallback | None = None, sleep: Callable[[float], Any] = asyncio.sleep,
                 clock: Callable[[], datetime] = utc_now, poll_interval: float = DEFAULT_POLL,
                 streaming: bool = True, thread_watch_interval: float = threads.INTERVAL):
        super().__init__(account=account, on_status=on_status)
        self._base = _server_base(server)
        self._token = token
        self._session = session
        self._sleep = sleep
        self._clock = clock
        self.poll_interval = max(1.0, float(poll_interval))
        self._streaming = streaming
        self.request_timeout = REQUEST_TIMEOUT
        self.stream_timeout = STREAM_TIMEOUT
        self.ws_handshake_timeout = 20.0
        self.ws_heartbeat = 30.0
        host = self._base.host or ""
        self._me = Identity(account=account, domain=domain_of(account) or host, host=host,
                            own_acct=local_part(account))
        self._default_visibility = "public"
        self._verified = False
        self._identity_denied = False
        self._instance_loaded = False
        self._max_chars = DEFAULT_LIMIT
        self._url_weight = DEFAULT_URL_WEIGHT
        self._counting = "mastodon"
        self._software = ""
        self._stream_base: URL | None = None
        self._unsupported: dict[str, str] = {}
        self._unsupported_at: datetime | None = None
        self._preferred_pair: tuple[URL, str] | None = None  # (streaming base, transport) that last worked
        self._stream_note = ""  # which address/transport failed before the one that works
        self._cursor: str | None = None
        self._seen: LRUCache[str, None] = LRUCache(REMEMBERED)
        self._threads: LRUCache[str, tuple[str, str]] = LRUCache(REMEMBERED)  # local id -> (uri, root uri)
        self._context_allowed = True
        self._watch = threads.ThreadWatch(thread_watch_interval)
        self._polling_steady = False
        self._rest_backoff = Backoff(base=2.0, cap=300.0)
        self._stream_backoff = Backoff(base=1.0, cap=300.0)
        self._auth_backoff = Backoff(base=300.0, cap=3600.0)

    # --- public API ---------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(Ingest.STREAMING if self._streaming else Ingest.POLLING, LimitFrom.SERVER,
                            "links count 23 (or the server's weight), mention domains free", finds_replies=True)

    @property
    def max_request_time(self) -> float:
        return float(self.request_timeout.total or 0.0)

    def limit_request_time(self, seconds: float) -> None:
        old = self.request_timeout
        self.request_timeout = aiohttp.ClientTimeout(
            total=seconds, connect=min(seconds, old.connect or seconds),
            sock_connect=min(seconds, old.sock_connect or seconds), sock_read=min(seconds, old.sock_read or seconds))

    @property
    def text_rule(self) -> TextRule:
        limits = self.text_limits or TextLimits(self._max_chars, self._counting, self._url_weight, self._me.domain)
        return stored_rule(limits)

    @property
    def text_limits(self) -> TextLimits | None:
        if not self._instance_loaded:
            return None
        return TextLimits(self._max_chars, self._counting, self._url_weight, self._me.domain, self._software)

    @property
    def transport(self) -> str:
        """How live mentions currently arrive: "SSE", "WebSocket" or "polling"."""
        return self._preferred_pair[1] if self._preferred_pair else "polling"

    async def check(self) -> str:
        """Verify token, scopes and server; one line on success, AuthError otherwise."""
        host = self._base.host
        try:
            for attempt in range(1, CHECK_ATTEMPTS + 1):
                try:
                    await self._verify(strict=True)
                    await self._probe_notifications()
                    await self._check_app_scopes()
                    await self._load_instance()
                    break
                except _ApiError as exc:
                    if exc.status not in (502, 503, 504) or attempt == CHECK_ATTEMPTS:
                        raise
                    await self._sleep(_retry_after(exc.headers, default=2.0 * attempt))  # starting up
        except _ApiError as exc:
            raise AuthError(self._describe(exc)) from None
        except _Unreachable as exc:
            raise AuthError(self._describe_unreachable(exc)) from None
        handle = "@" + self._me.full_acct(self._me.own_acct)
        configured = acct_of(self.account)  # None when the account is a free-form label
        if configured and self._me.full_acct(configured).lower() != handle[1:].lower():
            raise AuthError(f"the token belongs to {handle}, not @{self._me.full_acct(configured)}")
        connection, why, _ = await self._connect_stream()
        if connection is not None:
            await connection.close()
            live = self._live_detail(connection)
        else:
            live = f"no streaming ({why}), polling every {human_seconds(self.poll_interval)}"
        return f"ok: {handle} on {host}, limit {self._max_chars} chars, {live}"

    async def stream(self, cursor: str | None) -> AsyncGenerator[Batch, None]:
        self._cursor = text_id(cursor)
        self.report(SourceState.CONNECTING, f"connecting to {self._base.host}")
        while True:
            try:
                async with contextlib.aclosing(self._cycle()) as cycle:
                    async for batch in cycle:
                        yield batch
            except _RateLimited as exc:
                now = self._clock()
                wait = jitter(seconds_until(exc.until, now, default=60.0, high=3600.0))
                until = now + timedelta(seconds=wait)
                self.report(SourceState.RATE_LIMITED, f"until {until:%H:%M:%S}Z", until=iso(until))
                await self._sleep(wait)
            except _AuthRejected as exc:
                await self._wait(SourceState.AUTH_FAILED, str(exc), self._auth_backoff.next())
            except StreamDropped as exc:
                await self._wait(SourceState.RECONNECTING, f"stream lost ({exc})", self._stream_backoff.next())
            except _Transient as exc:
                await self._wait(SourceState.RECONNECTING, str(exc), self._rest_backoff.next())
            except Exception as exc:  # noqa: BLE001 - a bug must not silently end ingest
                log.exception("unexpected error in the %s stream", self.source)
                await self._wait(SourceState.RECONNECTING, f"unexpected {type(exc).__name__}",
                                 self._rest_backoff.next())

    async def send_reply(self, request: ReplyRequest) -> SentReply:
        ref = request.reply_ref if isinstance(request.reply_ref, dict) else {}
        status_id = text_id(ref.get("status_id"))
        if status_id is None:
            raise ReplyError("this mention has no status id to reply to", permanent=True)
        text = request.text.strip()
        if not text:
            raise ReplyError("the reply is empty", permanent=True)
        with contextlib.suppress(_ApiError, _Unreachable):
            await self._verify()  # learn the default visibility; posting works without it
        body = {
            "status": self.reply_text(text, ref),
            "in_reply_to_id": status_id,
            "visibility": self.reply_visibility(ref.get("visibility")),
        }
        key = {"Idempotency-Key": request.key} if request.key else {}
        try:
            data, _ = await self._call("POST", "api/v1/statuses", json_body=body, extra_headers=key)
        except _ApiError as exc:
            raise self._reply_error(exc) from None
        except _Unreachable as exc:
            raise ReplyError(f"could not post to {self._base.host}: {exc.message}",
                             unknown_outcome=exc.sent, not_sent=not exc.sent) from None
        sent = self._sent_reply(data, ref)
        if sent is None:
            raise ReplyError(f"{self._base.host} accepted the reply but its answer is unreadable",
                             unknown_outcome=True)
        return sent

    async def find_reply(self, request: ReplyRequest) -> SentReply | None:
        """Our earlier post of this reply, None when there is none, ReplyNeedsCheck when unsure.

        Recognised by what a server cannot rewrite: our account, replying to
        this very status, created after the reply was queued (its key's time,
        less CLOCK_SLACK for servers whose clocks differ). Text only breaks
        ties, after comparable_text evens out the servers' rewriting. One
        candidate whose text matches is adopted; anything else that could be
        ours (two matches, or a match only by the rest) is held for the
        operator rather than posted again.
        """
        ref = request.reply_ref if isinstance(request.reply_ref, dict) else {}
        status_id = text_id(ref.get("status_id"))
        if status_id is None:
            return None
        try:
            await self._verify(strict=True)
            candidates = await self._own_replies_to(status_id)
        except _ApiError as exc:
            error = self._reply_error(exc)
            raise ReplyError(f"cannot check for an earlier reply: {error}", permanent=error.permanent,
                             retry_after=error.retry_after) from None
        except _Unreachable as exc:
            # Nothing was posted by the lookup; the reply keeps its own "may have been posted".
            raise ReplyError(f"cannot check for an earlier reply: {exc.message}", not_sent=not exc.sent) from None
        queued = key_time(request.key)
        if queued is not None:
            earliest = queued - timedelta(seconds=CLOCK_SLACK)
            candidates = [s for s in candidates if (status_time(s) or earliest) >= earliest]
        if not candidates:
            return None
        wanted = comparable_text(self.reply_text(request.text.strip(), ref))
        same = [s for s in candidates
                if comparable_text(html_to_text(s.get("content"), s.get("mentions"))) == wanted]
        if len(same) == 1:
            return self._sent_reply(same[0], ref)
        links = ", ".join(web_url(s.get("url")) or web_url(s.get("uri")) or str(s.get("id")) for s in
                          (same or candidates)[:3])
        why = "posts" if len(same) > 1 else "a post with different text"
        raise ReplyNeedsCheck(f"held: an earlier attempt may have posted it; {self._base.host} shows {why} "
                              f"of ours in reply ({clean_line(links, 300)}); check before replying again")

    async def _own_replies_to(self, status_id: str) -> list[dict[str, Any]]:
        """Our statuses replying to `status_id`, from its thread and our recent posts, once each."""
        found: dict[str, dict[str, Any]] = {}
        pages: list[Any] = []
        if _PATH_ID.match(status_id):
            try:
                context, _ = await self._call("GET", f"api/v1/statuses/{status_id}/context")
                if isinstance(context, dict) and isinstance(context.get("descendants"), list):
                    pages.append(context["descendants"])
            except _ApiError as exc:
                if exc.status not in (404, 410):
                    raise
        if self._me.own_id and _PATH_ID.match(self._me.own_id):
            recent, _ = await self._call("GET", f"api/v1/accounts/{self._me.own_id}/statuses",
                                         params=[("limit", "40"), ("exclude_reblogs", "true")])
            if isinstance(recent, list):
                pages.append(recent)
        for page in pages:
            for status in page:
                if not isinstance(status, dict) or text_id(status.get("in_reply_to_id")) != status_id:
                    continue
                author = as_dict(status.get("account"))
                own_id = text_id(status.get("id"))
                if own_id and self._me.is_own(author.get("id"), author.get("acct")):
                    found.setdefault(own_id, status)
        return list(found.values())

    # --- reply helpers --------------------------------------------------------------

    def reply_text(self, text: str, reply_ref: Mapping[str, Any]) -> str:
        """`text` with the author @-mentioned first (they are not notified otherwise)."""
        acct = acct_of(reply_ref.get("acct"))
        if acct and self._me.is_own(None, acct):
            return text
        return with_author_mention(text, acct, self._me.domain)

    def reply_visibility(self, original: object) -> str:
        """Never wider than the mention, nor than the account's default."""
        rank = _VISIBILITY_RANK.get(original if isinstance(original, str) else "", 3)
        rank = max(rank, _VISIBILITY_RANK.get(self._default_visibility, 0))
        return next(name for name, value in _VISIBILITY_RANK.items() if value == rank)

    def _sent_reply(self, data: Any, ref: Mapping[str, Any]) -> SentReply | None:
        if not isinstance(data, dict):
            return None
        status_id = text_id(data.get("id"))
        if status_id is None:
            return None
        uri = web_url(data.get("uri")) or self._me.local_ref(status_id)
        root = ref.get("root_uri") or ref.get("uri") or uri
        self._remember(status_id, uri, root if isinstance(root, str) else uri)
        return SentReply(remote_id=uri, url=web_url(data.get("url")))

    def _reply_error(self, exc: _ApiError) -> ReplyError:
        host = self._base.host
        if exc.status == 429:
            wait = seconds_until(rate_limit_reset(exc.headers, self._clock()), self._clock(), default=60.0)
            return ReplyError(f"{host} is rate-limiting posts: {exc.message}", retry_after=wait)
        if _token_refused(exc):
            return ReplyError(f"{host} rejected the access token ({exc.status}): {exc.message}", permanent=True)
        if exc.status == 403:
            return ReplyError(f"not allowed (403, is write:statuses granted?): {exc.message}", permanent=True)
        if exc.status == 404:
            return ReplyError(f"the post no longer exists or is not visible (404): {exc.message}", permanent=True)
        if exc.status == 422:
            return ReplyError(f"{host} refused the reply (422): {exc.message}", permanent=True)
        if exc.status in (408, 409, 425) or exc.status >= 500:
            return ReplyError(f"{host} answered HTTP {exc.status}{_words(exc)}", unknown_outcome=True)
        if 300 <= exc.status < 400:
            return ReplyError(f"{host} redirected the request (HTTP {exc.status})", permanent=True)
        return ReplyError(f"{host} refused the reply (HTTP {exc.status}): {exc.message}", permanent=True)

    # --- the ingest loop -----------------------------------------------------------

    async def _wait(self, state: SourceState, why: str, delay: float) -> None:
        until = self._clock() + timedelta(seconds=delay)
        self.report(state, f"{why}; next try in {human_seconds(delay)}", until=iso(until))
        await self._sleep(delay)

    async def _cycle(self) -> AsyncGenerator[Batch, None]:
        """One connection's life: open stream, catch up, then live until it drops."""
        await self._prepare()
        connection, why, down = await self._connect_stream()
        steady = self._polling_steady and connection is None and not down
        self._polling_steady = False
        try:
            async for batch in self._catch_up(announce=not steady):
                yield batch
            self._rest_backoff.reset()
            if connection is None and self._watch.due(self._clock()):
                follow_ups = await self._watch_threads()
                if follow_ups is not None:
                    yield follow_ups
            if connection is None:
                if down:
                    delay = min(self._stream_backoff.next(), self.poll_interval)
                    await self._wait(SourceState.RECONNECTING, f"streaming unavailable ({why}), polling", delay)
                else:
                    if not steady:  # one status line, not a flicker every poll
                        self.report(SourceState.LIVE,
                                    f"polling every {human_seconds(self.poll_interval)} ({why})")
                    self._polling_steady = True
                    await self._sleep(self.poll_interval)
                return
            self.report(SourceState.LIVE, self._live_detail(connection))
            async for batch in self._live(connection):
                yield batch
        finally:
            if connection is not None:
                await connection.close()

    async def _prepare(self) -> None:
        try:
            await self._verify()
            await self._load_instance()
        except _ApiError as exc:
            raise self._ingest_error(exc) from None
        except _Unreachable as exc:
            raise _Transient(self._describe_unreachable(exc)) from None
        self._auth_backoff.reset()

    def _ingest_error(self, exc: _ApiError) -> Exception:
        if _token_refused(exc):
            return _AuthRejected(f"{self._base.host} rejected the access token ({exc.status}{_words(exc)})")
        if exc.status == 403:
            return _AuthRejected(f"the token may not read notifications (403): {exc.message}")
        if exc.status == 429:
            return _RateLimited(rate_limit_reset(exc.headers, self._clock()))
        if exc.status >= 500:  # retried with backoff: no "try again later"
            return _Transient(f"{self._base.host} is unavailable (HTTP {exc.status}{_words(exc)})")
        return _Transient(self._describe(exc))

    async def _catch_up(self, *, announce: bool = True) -> AsyncGenerator[Batch, None]:
        if announce:
            self.report(SourceState.CATCHING_UP, "since the last mention" if self._cursor else "newest mentions")
        if self._cursor is None:
            items, _ = await self._notifications([])
            batch = await self._batch(items)
            if batch is not None:
                yield batch
            return
        query_from = self._cursor
        while True:
            items, links = await self._notifications([("min_id", query_from)])
            if isinstance(items, list) and not items:
                return
            before = self._cursor
            batch = await self._batch(items)
            if batch is not None:
                yield batch
            if self._cursor is None or before is not None and id_key(self._cursor) <= id_key(before):
                return  # nothing newer in this page: the server ignored min_id, or sent junk
            query_from = self._cursor
            prev = links.get("prev")
            hint = min_id_of(str(prev["url"])) if prev and "url" in prev else None
            if hint and id_key(hint) > id_key(query_from):
                query_from = hint

    async def _notifications(self, extra: list[tuple[str, str]]) -> tuple[Any, Links]:
        params = [("types[]", "mention"), ("limit", str(PAGE_LIMIT)), *extra]
        try:
            return await self._call("GET", "api/v1/notifications", params=params)
        except _ApiError as exc:
            raise self._ingest_error(exc) from None
        except _Unreachable as exc:
            raise _Transient(self._describe_unreachable(exc)) from None

    async def _batch(self, items: Any) -> Batch | None:
        """Parse, dedupe, resolve thread links; None when nothing changes."""
        parsed, skipped, top = parse_notifications(items, self._me, self._clock())
        fresh = []
        for entry in sorted(parsed, key=lambda p: id_key(p.notification_id)):
            if entry.notification_id in self._seen:
                continue
            self._mark_seen(entry.notification_id)
            fresh.append(entry)
        mentions = await self._link_threads(fresh)
        cursor = None
        if top and (self._cursor is None or id_key(top) > id_key(self._cursor)):
            cursor = self._cursor = top
        if not mentions and not skipped and cursor is None:
            return None
        return Batch(mentions=mentions, cursor=cursor, skipped=skipped)

    async def _live(self, connection: Connection) -> AsyncGenerator[Batch, None]:
        events = connection.events()
        opened = self._clock()
        safety_interval = max(300.0, 5 * self.poll_interval)
        next_event = asyncio.ensure_future(anext(events))
        safety = asyncio.ensure_future(self._sleep(safety_interval))
        watch = asyncio.ensure_future(asyncio.sleep(0) if self._watch.due(self._clock()) else self._next_watch())
        try:
            while True:
                done, _ = await asyncio.wait({next_event, safety, watch}, return_when=asyncio.FIRST_COMPLETED)
                if watch in done:
                    batch = await self._watch_threads()
                    if batch is not None:
                        yield batch
                    watch = asyncio.ensure_future(self._next_watch())
                if next_event in done:
                    try:
                        kind, payload = next_event.result()
                    except Exception as exc:  # noqa: BLE001 - whatever broke the stream, reconnect
                        if (self._clock() - opened).total_seconds() >= 60:
                            self._stream_backoff.reset()  # it was a good connection; start over
                        if isinstance(exc, StreamDropped):
                            raise
                        reason = "the server closed it" if isinstance(exc, StopAsyncIteration) \
                            else transport_reason(exc)
                        raise StreamDropped(reason) from None
                    self._stream_backoff.reset()
                    next_event = asyncio.ensure_future(anext(events))
                    batch = await self._stream_batch(kind, payload)
                    if batch is not None:
                        yield batch
                if safety in done:
                    async for batch in self._catch_up(announce=False):
                        yield batch
                    safety = asyncio.ensure_future(self._sleep(safety_interval))
        finally:
            for task in (next_event, safety, watch):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await events.aclose()

    async def _stream_batch(self, kind: str, payload: Any) -> Batch | None:
        if kind == "skip":
            return Batch(mentions=[], cursor=None, skipped=[clean_line(payload, 500)])
        if isinstance(payload, dict) and payload.get("type") != "mention":
            return None  # favourites, follows...: not ours, and no cursor move
        parsed, skipped, _ = parse_notifications([payload], self._me, self._clock())
        fresh = [entry for entry in parsed if entry.notification_id not in self._seen]
        for entry in fresh:
            self._mark_seen(entry.notification_id)
        mentions = await self._link_threads(fresh)
        top = max_id(entry.notification_id for entry in fresh)
        cursor = None
        if top and (self._cursor is None or id_key(top) > id_key(self._cursor)):
            cursor = self._cursor = top
        if not mentions and not skipped:
            return None
        return Batch(mentions=mentions, cursor=cursor, skipped=skipped)

    # --- follow-ups in threads we answered ------------------------------------------

    async def _next_watch(self) -> None:
        if self._watch.interval <= 0:
            await asyncio.Event().wait()  # watching is off
        await self._sleep(self._watch.interval)

    async def _watch_threads(self) -> Batch | None:
        """Follow-ups in threads we answered that no notification announced (threads.py).

        The store ignores one it already has (same uri), so a notification
        and this watch may both deliver it.
        """
        now = self._watch.last = self._clock()
        if not self._context_allowed or not self._me.own_id or not _PATH_ID.match(self._me.own_id):
            return None
        try:
            recent, _ = await self._call("GET", f"api/v1/accounts/{self._me.own_id}/statuses",
                                         params=[("limit", "40"), ("exclude_reblogs", "true")])
        except (_ApiError, _Unreachable):
            return None  # the next round asks again; mentions keep flowing meanwhile
        replies, own_ids = self._watch.to_watch(recent, now)
        follow_ups: list[dict[str, Any]] = []
        for reply in replies:
            reply_id = text_id(reply.get("id")) or ""
            if not _PATH_ID.match(reply_id):
                continue
            try:
                context, _ = await self._call("GET", f"api/v1/statuses/{reply_id}/context")
            except _ApiError as exc:
                if exc.status in (401, 403):
                    self._context_allowed = False
                if exc.status in (404, 410):
                    continue  # our reply was deleted
                break
            except _Unreachable:
                break
            follow_ups.extend(self._watch.follow_ups(context, reply, own_ids, self._me, self._remember))
        if not follow_ups:
            return None
        notifications = [{"id": f"thread:{s.get('id')}", "type": "mention", "created_at": s.get("created_at"),
                          "account": s.get("account"), "status": s} for s in follow_ups]
        parsed, skipped, _ = parse_notifications(notifications, self._me, now)
        mentions = await self._link_threads(parsed)
        self._watch.handed_out([mention.remote_id for mention in mentions])
        return Batch(mentions=mentions, cursor=None, skipped=skipped) if mentions or skipped else None

    def _mark_seen(self, notification_id: str) -> None:
        self._seen[notification_id] = None

    # --- thread links ----------------------------------------------------------------

    def _remember(self, status_id: str, uri: str, root: str) -> None:
        self._threads[status_id] = (uri, root)

    async def _link_threads(self, entries: list[Parsed]) -> list[NewMention]:
        budget = CONTEXT_LOOKUPS_PER_BATCH
        mentions = []
        for entry in entries:
            mention = entry.mention
            parent = root = None
            if entry.in_reply_to_id:
                known = self._threads.get(entry.in_reply_to_id)
                if known is None and budget > 0 and self._context_allowed:
                    budget -= 1
                    known, keep_asking = await self._lookup_parent(entry)
                    if not keep_asking:
                        budget = 0
                parent, root = known if known else (self._me.local_ref(entry.in_reply_to_id),) * 2
            self._remember(entry.status_id, mention.remote_id, root or mention.remote_id)
            reply_ref = dict(mention.reply_ref, root_uri=root or mention.remote_id)
            mentions.append(replace(mention, parent_remote_id=parent, root_remote_id=root,
                                    reply_ref=reply_ref).cleaned())
        return mentions

    async def _lookup_parent(self, entry: Parsed) -> tuple[tuple[str, str] | None, bool]:
        """((parent uri, root uri) or None, whether more lookups are worth it now)."""
        if not _PATH_ID.match(entry.status_id):
            return None, True
        try:
            context, _ = await self._call("GET", f"api/v1/statuses/{entry.status_id}/context")
        except _ApiError as exc:
            if exc.status in (401, 403):
                self._context_allowed = False  # no read:statuses: placeholders from now on
            # A deleted parent is one miss; a struggling server is a reason to stop.
            return None, exc.status in (404, 410)
        except _Unreachable:
            return None, False
        chain = ancestor_chain(context)
        if not chain:
            return None, True
        root = chain[0][1]
        for status_id, uri in chain:
            self._remember(status_id, uri, root)
        return self._threads.get(entry.in_reply_to_id or ""), True

    # --- identity and instance -------------------------------------------------------

    async def _verify(self, *, strict: bool = False) -> None:
        if self._verified or self._identity_denied and not strict:
            return
        try:
            data, _ = await self._call("GET", "api/v1/accounts/verify_credentials")
        except _ApiError as exc:
            if exc.status == 403 and not strict:
                # Streaming works without our own id (the configured handle stands in); don't ask every poll.
                self._identity_denied = True
                return
            raise
        if not isinstance(data, dict):
            raise _ApiError(200, "verify_credentials did not return an account", not_api=True)
        own_id, acct = text_id(data.get("id")), acct_of(data.get("acct"))
        if own_id is None or acct is None:
            raise _ApiError(200, "verify_credentials returned an account without id/acct", not_api=True)
        self._me = replace(self._me, own_id=own_id, own_acct=acct.split("@")[0])
        source = data.get("source")
        privacy = source.get("privacy") if isinstance(source, dict) else None
        if privacy in _VISIBILITY_RANK:
            self._default_visibility = privacy
        self._verified = True

    async def _probe_notifications(self) -> None:
        await self._call("GET", "api/v1/notifications", params=[("types[]", "mention"), ("limit", "1")])

    async def _check_app_scopes(self) -> None:
        try:
            data, _ = await self._call("GET", "api/v1/apps/verify_credentials")
        except _ApiError as exc:
            if exc.status in (401,):
                raise
            return  # older servers: scopes unknown, the first reply will tell
        scopes = data.get("scopes") if isinstance(data, dict) else None
        if isinstance(scopes, list) and scopes and all(isinstance(s, str) for s in scopes):
            if not {"write", "write:statuses"} & set(scopes):
                raise _ApiError(403, "the token has no write:statuses scope, so replies would fail")

    async def _load_instance(self) -> None:
        if self._instance_loaded:
            return
        v2: Any = None
        try:
            v2, _ = await self._call("GET", "api/v2/instance")
        except _ApiError as exc:
            if exc.status in (401, 429):
                raise
        if isinstance(v2, dict) and v2.get("configuration") is not None:
            config = as_dict(v2.get("configuration"))
            self._apply_limits(as_dict(config.get("statuses")), v2)
            self._set_domain(v2.get("domain"))
            self._stream_base = self._streaming_url(as_dict(config.get("urls")).get("streaming"))
            self._instance_loaded = True
            return
        try:
            v1, _ = await self._call("GET", "api/v1/instance")
        except _ApiError as exc:
            if exc.status in (401, 429):
                raise
            return  # defaults for now; asked again on the next connection
        if isinstance(v1, dict):
            self._apply_limits(as_dict(as_dict(v1.get("configuration")).get("statuses")), v1)
            self._set_domain(v1.get("uri"))
            self._stream_base = self._streaming_url(as_dict(v1.get("urls")).get("streaming_api"))
            self._instance_loaded = True

    def _apply_limits(self, statuses: dict[str, Any], top: dict[str, Any]) -> None:
        self._software, self._counting = _software(top)
        limit = _positive(statuses.get("max_characters")) or _positive(top.get("max_toot_chars"))
        if limit:
            self._max_chars = limit
        weight = statuses.get("characters_reserved_per_url")
        if isinstance(weight, int) and not isinstance(weight, bool) and 0 <= weight <= 10_000:
            self._url_weight = weight

    def _set_domain(self, value: object) -> None:
        if isinstance(value, str) and value.strip():
            given = value.strip()
            domain = URL(given).host if "://" in given else given.split("/")[0]
            if domain and re.fullmatch(r"[\w.-]+(?::\d{1,5})?", domain):
                self._me = replace(self._me, domain=domain.lower())

    def _streaming_url(self, value: object) -> URL | None:
        if not isinstance(value, str) or not value.strip():
            return None
        try:
            url = URL(value.strip())
        except ValueError:
            return None
        if url.scheme not in ("wss", "https", "ws", "http") or not url.host:
            return None
        if self._base.scheme == "https" and url.scheme in ("ws", "http"):
            return None  # never downgrade the token to plain text
        scheme = "https" if url.scheme in ("wss", "https") else "http"
        return url.with_scheme(scheme).with_path(url.path.rstrip("/")).with_query(None).with_fragment(None)

    # --- streaming transports ------------------------------------------------------

    async def _connect_stream(self) -> tuple[Connection | None, str, bool]:
        """(connection, why not, streaming merely down).

        Every transport (SSE, WebSocket) on every address: the advertised
        streaming URL first, then the configured server, since servers
        advertise hosts that do not resolve from here (GoToSocial advertises
        `wss://<its domain>`). The last pair that worked is tried first. A
        pair the server lacks is skipped until STREAM_REPROBE_SECONDS pass.
        """
        if not self._streaming:
            return None, "streaming disabled", False
        pairs = [(base, kind) for base in self._stream_bases() for kind in ("SSE", "WebSocket")]
        if self._preferred_pair in pairs:
            pairs.remove(self._preferred_pair)
            pairs.insert(0, self._preferred_pair)
        if all(_pair_label(*pair) in self._unsupported for pair in pairs):
            now = self._clock()
            if self._unsupported_at and (now - self._unsupported_at).total_seconds() < STREAM_REPROBE_SECONDS:
                return None, self._unsupported_reason(), False
            self._unsupported.clear()
        down: list[str] = []
        for base, kind in pairs:
            label = _pair_label(base, kind)
            if label in self._unsupported:
                continue
            try:
                connection = await (self._open_sse(base) if kind == "SSE" else self._open_ws(base))
            except StreamUnsupported as exc:
                self._unsupported[label] = str(exc)
                self._unsupported_at = self._clock()
                if self._preferred_pair == (base, kind):
                    self._preferred_pair = None
                continue
            except StreamDown as exc:
                down.append(f"{label}: {str(exc).split(': ', 1)[-1]}")
                continue
            self._preferred_pair = (base, kind)
            if down or base == self._stream_base:  # a fallback keeps naming what failed before it
                self._stream_note = "; ".join(down)
            return connection, "", False
        if down:
            return None, "; ".join(down), True
        return None, self._unsupported_reason(), False

    def _stream_bases(self) -> list[URL]:
        bases = [self._stream_base] if self._stream_base is not None else []
        return bases + [self._base] if self._base not in bases else bases

    def _live_detail(self, connection: Connection) -> str:
        base = self._preferred_pair[0] if self._preferred_pair else self._base
        detail = f"streaming via {connection.kind}"
        if self._stream_base is not None and base != self._stream_base or self._stream_note:
            detail += f" on {base.host}"
        return f"{detail} ({self._stream_note} failed)" if self._stream_note else detail

    def _unsupported_reason(self) -> str:
        return "; ".join(f"{label}: {why}" for label, why in self._unsupported.items()) or "no streaming API"

    async def _open_sse(self, base: URL) -> Connection:
        return await open_sse(self._session, base, self._headers({}),
                              timeout=self.stream_timeout, error_text=self._error_text)

    async def _open_ws(self, base: URL) -> Connection:
        return await open_ws(self._session, base, self._headers({}),
                             token=self._token, handshake_timeout=self.ws_handshake_timeout,
                             heartbeat=self.ws_heartbeat, max_size=MAX_BODY)

    # --- HTTP ----------------------------------------------------------------------

    def _headers(self, extra: Mapping[str, str]) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", "User-Agent": USER_AGENT, **extra}

    async def _call(self, method: str, path: str, *, params: list[tuple[str, str]] | None = None,
                    json_body: Any = None, extra_headers: Mapping[str, str] | None = None
                    ) -> tuple[Any, Links]:
        """One REST call: parsed JSON and the Link header's links by rel, or _ApiError / _Unreachable."""
        url = self._base / path
        headers = self._headers({"Accept": "application/json", **(extra_headers or {})})
        try:
            async with self._session.request(method, url, params=params, json=json_body, headers=headers,
                                             timeout=self.request_timeout, allow_redirects=False) as response:
                body = await _read_capped(response)
                status, response_headers, links = response.status, response.headers, links_of(response)
        except _ApiError:
            raise
        except (TimeoutError, aiohttp.ClientError, OSError, ssl.SSLError) as exc:
            raise _Unreachable(self._scrub(transport_reason(exc)), sent=_maybe_sent(exc),
                               tls=_is_tls(exc)) from None
        text = body.decode("utf-8", "replace")
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = None
            if 200 <= status < 300:
                raise _ApiError(status, "the answer is not JSON", response_headers,
                                not_api=text.lstrip().startswith("<")) from None
        if 200 <= status < 300:
            return data, links
        message = _error_field(data) or _plain_words(text) or f"HTTP {status}"
        raise _ApiError(status, self._scrub(message), response_headers,
                        not_api=data is None and text.lstrip().startswith("<"),
                        location=response_headers.get("Location", ""))

    async def _error_text(self, response: aiohttp.ClientResponse) -> str:
        try:
            text = (await _read_capped(response, 64 * 1024)).decode("utf-8", "replace")
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            return self._scrub(_error_field(data) or _plain_words(text))
        except Exception:  # noqa: BLE001 - only for a message
            return ""

    def _scrub(self, text: str) -> str:
        return clean_line(redact(text, self._token), 300)

    def _describe(self, exc: _ApiError) -> str:
        host = self._base.host
        if _token_refused(exc):
            return f"{host} rejected the access token ({exc.status}: {exc.message}); create a new token"
        if exc.status == 403:
            return (f"the access token lacks a scope ({exc.message}); it needs read:accounts (or profile), "
                    "read:notifications, read:statuses and write:statuses")
        if 300 <= exc.status < 400:
            target = URL(exc.location).host if exc.location else "elsewhere"
            return f"{host} redirects API calls to {target}; use that as the server address"
        if exc.status == 429:
            reset = rate_limit_reset(exc.headers, self._clock())
            when = f"until {reset:%H:%M:%S}Z" if reset else "for now"
            return f"{host} is rate-limiting this token {when}; try again later"
        if exc.status >= 500:  # before the HTML test: a server starting up answers 503 with a page
            return f"{host} is unavailable (HTTP {exc.status}{_words(exc)}); try again later"
        if exc.not_api or exc.status in (404, 405, 410):
            return f"{host} does not look like a Mastodon API (HTTP {exc.status}); check the server address"
        return f"{host} answered HTTP {exc.status}{_words(exc)}"

    def _describe_unreachable(self, exc: _Unreachable) -> str:
        host = self._base.host
        if exc.tls:
            return f"TLS error talking to {host}: {exc.message}"
        return f"cannot reach {host}: {exc.message}"


# --- small helpers ---------------------------------------------------------------------

def _pair_label(base: URL, kind: str) -> str:
    return f"{kind} to {base.host}" + (f":{base.port}" if base.port and not base.is_default_port() else "")


# How servers other than Mastodon count a status (their validators, read 2026):
# GoToSocial len([]rune(status)), Takahē the text with mentions expanded to
# their full acct, Pleroma/Akkoma String.length (graphemes); none weighs URLs.
_SOFTWARE_COUNTING = (("gotosocial", "codepoints"), ("takahe", "full_mentions"),
                      ("akkoma", "graphemes"), ("pleroma", "graphemes"))


def _software(instance: dict[str, Any]) -> tuple[str, str]:
    """(software name, counting rule) from what an instance document says it runs."""
    said = " ".join(v for v in (instance.get("version"), instance.get("source_url")) if isinstance(v, str))
    said = said.lower().replace("ē", "e")
    for name, counting in _SOFTWARE_COUNTING:
        if name in said:
            return name, counting
    return ("mastodon" if said else ""), "mastodon"


def _positive(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 10_000_000:
        return value
    return None


def _token_refused(exc: _ApiError) -> bool:
    # Takahē answers a bad token with 400 "Invalid Bearer token", not 401.
    return exc.status == 401 or exc.status == 400 and "token" in exc.message.lower()


def _retry_after(headers: Mapping[str, str], *, default: float) -> float:
    value = headers.get("Retry-After", "").strip()
    return min(30.0, float(value)) if value.isdigit() else default


def _words(exc: _ApiError) -> str:
    """": <the server's own words>", or nothing when it said nothing but its status."""
    return "" if not exc.message or exc.message == f"HTTP {exc.status}" else f": {exc.message}"


def _plain_words(text: str) -> str:
    """What a non-JSON error body says (Takahē answers "Invalid Bearer token" as plain text;
    proxies answer HTML pages): its text, cleaned, on one line."""
    if not text.strip():
        return ""
    if text.lstrip().startswith("<"):
        text = html_to_text(text)
    return clean_line(" ".join(text.split()), 200)


def _error_field(data: Any) -> str:
    if isinstance(data, dict):
        for key in ("error_description", "error"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return ""


async def _read_capped(response: aiohttp.ClientResponse, cap: int = MAX_BODY) -> bytes:
    body = await read_capped(response.content, cap, response.content_length)
    if body is None:
        raise _ApiError(response.status, "the answer is too large", response.headers)
    return body


def _is_tls(exc: BaseException) -> bool:
    return isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError) or isinstance(
        getattr(exc, "os_error", None), ssl.SSLError)


def _maybe_sent(exc: BaseException) -> bool:
    """Could the server have received (and acted on) the request?"""
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError | aiohttp.ClientSSLError):
        return False
    return not isinstance(exc, ssl.SSLError)


def from_account(account: Account, session: aiohttp.ClientSession) -> MastodonAdapter:
    """The adapter for a [[accounts]] entry (registry); reads its secret now."""
    options = account.options
    return MastodonAdapter(account=account.handle, server=account.server, token=account.secret(),
                           session=session, streaming=bool(options.get("streaming", True)),
                           poll_interval=float(options.get("poll_interval", DEFAULT_POLL)))
