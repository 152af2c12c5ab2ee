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

Replies (visibility, finding an earlier reply) are explained in replies.py,
streaming addresses in transports.py.

This module is the adapter itself: its state, limits and `check`. The rest
of it is mixins, one responsibility each: the REST client and its errors
(rest.py), identity and the server's limits (instance.py), which streaming
transport to use (transports.py), the catch-up/live/poll loop and thread
watching (ingest.py), thread links (links.py), sending and finding replies
(replies.py). Notification -> mention mapping is in parse.py, opening and
decoding the SSE/WebSocket streams in stream.py, which answered threads to
re-read for follow-ups in threads.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from cachetools import LRUCache

from adapters.base import Capabilities, Ingest, LimitFrom, StatusCallback, TextRule
from adapters.http import REQUEST_TIMEOUT, STREAM_TIMEOUT, AuthError
from adapters.mastodon import threads
from adapters.mastodon.ingest import IngestLoop
from adapters.mastodon.instance import DEFAULT_LIMIT, DEFAULT_URL_WEIGHT
from adapters.mastodon.parse import NETWORK, Identity, acct_of, domain_of, local_part
from adapters.mastodon.replies import ReplySending
from adapters.mastodon.rest import ApiError, Unreachable, retry_after, server_base
from adapters.retry import Backoff, human_seconds
from adapters.rules import stored_rule
from store.account_settings import TextLimits
from store.db import utc_now

if TYPE_CHECKING:
    from adapters.accounts import Account

# A desk answers in minutes, so a mention should show within seconds even
# without streaming. One poll is one paging request (min_id): 15 s is 20 per
# 5 min against 300 per 5 min per token, 60 per 15 min against Mastodon's
# 300 paging requests per 15 min, leaving room for catch-up pages, thread
# watching and replies.
DEFAULT_POLL = 15.0
# Notification ids seen and statuses whose thread we know, kept for dedupe and linking.
REMEMBERED = 20_000
# A server that is starting answers 502-504 for a while: `check` asks again before giving up.
CHECK_ATTEMPTS = 3


class MastodonAdapter(ReplySending, IngestLoop):
    """One Mastodon-API account: mentions in, replies out."""

    network = NETWORK

    def __init__(self, *, account: str, server: str, token: str, session: aiohttp.ClientSession,
                 on_status: StatusCallback | None = None, sleep: Callable[[float], Any] = asyncio.sleep,
                 clock: Callable[[], datetime] = utc_now, poll_interval: float = DEFAULT_POLL,
                 streaming: bool = True, thread_watch_interval: float = threads.INTERVAL):
        super().__init__(account=account, on_status=on_status)
        self._base = server_base(server)
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
        self._stream_base = None
        self._unsupported = {}
        self._unsupported_at = None
        self._preferred_pair = None  # (streaming base, transport) that last worked
        self._stream_note = ""  # which address/transport failed before the one that works
        self._cursor = None
        self._seen = LRUCache(REMEMBERED)
        self._threads = LRUCache(REMEMBERED)  # local id -> (uri, root uri)
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
                except ApiError as exc:
                    if exc.status not in (502, 503, 504) or attempt == CHECK_ATTEMPTS:
                        raise
                    await self._sleep(retry_after(exc.headers, default=2.0 * attempt))  # starting up
        except ApiError as exc:
            raise AuthError(self._describe(exc)) from None
        except Unreachable as exc:
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


def from_account(account: Account, session: aiohttp.ClientSession) -> MastodonAdapter:
    """The adapter for a [[accounts]] entry (registry); reads its secret now."""
    options = account.options
    return MastodonAdapter(account=account.handle, server=account.server, token=account.secret(),
                           session=session, streaming=bool(options.get("streaming", True)),
                           poll_interval=float(options.get("poll_interval", DEFAULT_POLL)))
