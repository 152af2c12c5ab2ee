"""Bluesky: mentions from the notification list, replies as posts (XRPC over aiohttp).

The adapter is the polling loop; the pieces it stands on live in their
own modules:

- `session`: XRPC calls to the account's PDS under an app-password
  session (created once, refreshed before it lapses, renewed on 401).
- `paging`: the notification list read down to the stored cursor and
  cut into batches (a base class of the adapter).
- `notifications`: the stored cursor (listNotifications cannot be
  resumed by itself) and notification -> NewMention.
- `replies`: sending a reply under a record key chosen beforehand, and
  finding it again (a base class of the adapter).
- `records`: at-URIs and strong refs, read from mentions and written
  into replies.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp

from adapters import registry
from adapters.base import (
    Batch,
    Capabilities,
    Ingest,
    LimitFrom,
    SourceState,
    StatusCallback,
    TextRule,
)
from adapters.bluesky.notifications import DEFAULT_BACKFILL, MAX_BACKFILL, NotificationCursor
from adapters.bluesky.paging import NotificationPaging
from adapters.bluesky.records import LANG_TAG
from adapters.bluesky.replies import ReplySending
from adapters.bluesky.session import XrpcClient
from adapters.bluesky.xrpc_errors import Unreachable, XrpcError
from adapters.http import AuthError, rate_limit_reset, seconds_until
from adapters.retry import Backoff, human_seconds, jitter
from adapters.runtime.account_values import AccountValues
from store.db import iso, utc_now

if TYPE_CHECKING:
    from adapters.accounts import Account

log = logging.getLogger(__name__)


def _session_shaped(exc: Exception) -> bool:
    """An answer that a lost account or session gives: a server error, or a refusal other than a rate limit."""
    return isinstance(exc, XrpcError) and exc.xrpc and (exc.status >= 500 or exc.status in (400, 401, 403))


def _clock_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%SZ")


class BlueskyAdapter(NotificationPaging, ReplySending):
    network = "bluesky"

    #: consecutive session-shaped poll failures before asking whether the PDS still knows the session
    suspect_after = 3
    #: least seconds between two sign-ins made because the PDS lost the session (doubles, up to an hour)
    relogin_spacing = 300.0

    def __init__(self, *, account: str, pds: str, password: str, session: aiohttp.ClientSession,
                 on_status: StatusCallback | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], datetime] = utc_now, poll_interval: float = 15.0,
                 backfill: int = DEFAULT_BACKFILL, lang: str | None = None):
        super().__init__(account=account, on_status=on_status)
        if not 0 <= backfill <= MAX_BACKFILL:
            raise ValueError(f"backfill must be 0 to {MAX_BACKFILL}")
        if lang is not None and not LANG_TAG.fullmatch(lang):
            raise ValueError(f"lang {lang!r} is not a language tag")
        #: how many of the newest mentions a new database takes
        self.backfill = backfill
        #: the language of replies to mentions that declare none
        self.lang = lang
        self._xrpc = XrpcClient(account=account, pds=pds, password=password, http=session, clock=clock)
        self._sleep = sleep
        self._clock = clock
        self.poll_interval = poll_interval
        self._send_reasons = True
        self._handles: dict[str, tuple[str | None, datetime]] = {}
        self._reported: set[str] = set()
        self._last_status: tuple | None = None
        self._rng = random.Random()
        self._relogin_backoff = Backoff(base=self.relogin_spacing, cap=3600.0, rand=self._rng.random)
        self._next_relogin: datetime | None = None
        self._signed_in_again: datetime | None = None

    def bind_values(self, values: AccountValues) -> None:
        self._xrpc.values = values

    async def check(self) -> str:
        """Sign in and describe the account in one line, or raise AuthError saying why not."""
        try:
            info = await self._xrpc.authed("GET", "com.atproto.server.getSession")
        except AuthError:
            raise
        except Unreachable as exc:
            raise AuthError(f"PDS unreachable: {exc}") from None
        except XrpcError as exc:
            if exc.status == 429:
                now = self._clock()
                until = rate_limit_reset(exc.headers, now)
                when = f" until {_clock_text(until)}" if until else ""
                raise AuthError(f"rate limited by {self._xrpc.host}{when}: wait before signing in again") from None
            if not exc.xrpc:
                raise AuthError(f"not an XRPC server: {self._xrpc.base} answered {exc.message}") from None
            if exc.status >= 500:
                raise AuthError(f"PDS error at {self._xrpc.host}: {exc}") from None
            raise AuthError(f"{self._xrpc.host} refused: {exc}") from None
        session = self._xrpc.session
        assert session is not None
        handle = info.get("handle") if isinstance(info.get("handle"), str) else session.handle
        did = info.get("did") if isinstance(info.get("did"), str) else session.did
        status = info.get("status") if isinstance(info.get("status"), str) else session.status
        if info.get("active") is False and not status:
            status = "inactive"
        note = f" (account {status})" if status else ""
        return f"@{handle} ({did}) on {self._xrpc.host}{note}"

    # -- incoming ------------------------------------------------------------------

    capabilities = Capabilities(Ingest.POLLING, LimitFrom.NETWORK, "graphemes, and bytes: 10 bytes = 1",
                                finds_replies=True)  # the record key is chosen before sending

    @property
    def max_request_time(self) -> float:
        return float(self._xrpc.request_timeout)

    def limit_request_time(self, seconds: float) -> None:
        self._xrpc.request_timeout = seconds

    @property
    def text_rule(self) -> TextRule:
        return registry.NETWORKS["bluesky"].rule

    def _status(self, state: SourceState, detail: str = "", until: str | None = None) -> None:
        if (state, detail, until) != self._last_status:
            self._last_status = (state, detail, until)
            self.report(state, detail, until)

    async def stream(self, cursor: str | None) -> AsyncGenerator[Batch, None]:
        """Mentions, replies and quotes from the notification list, forever.

        A sign-in failure is reported as AUTH_FAILED and retried only every
        5 to 60 minutes: createSession is limited to 30 per 5 minutes and
        300 a day, and a wrong password will not fix itself quickly.
        """
        state: NotificationCursor | None = None
        notes: list[str] = []
        if cursor:
            try:
                state = NotificationCursor.load(cursor)
            except ValueError as exc:
                notes.append(f"stored cursor unusable ({exc}); starting from the newest notifications")
        stored = cursor if state is not None else None
        catching_up = state is not None
        backoff = Backoff(rand=self._rng.random)
        auth_backoff = Backoff(base=300.0, cap=3600.0, rand=self._rng.random)
        troubled = 0  # polls failed in a row with an answer that may mean a lost session
        self._status(SourceState.CONNECTING, f"signing in to {self._xrpc.host}")
        while True:
            if catching_up:
                self._status(SourceState.CATCHING_UP, "fetching notifications since the last poll")
            try:
                sifted, lower = await self._walk(state)
            except (AuthError, XrpcError, Unreachable) as exc:
                troubled = troubled + 1 if _session_shaped(exc) else 0
                if troubled >= self.suspect_after:
                    try:
                        renewed = await self._recover_session()
                    except AuthError as failed:
                        exc = failed
                    except (XrpcError, Unreachable):
                        renewed = False  # cannot tell now: back off as for the first error
                    else:
                        if renewed:
                            troubled = 0
                            continue
                now = self._clock()
                if isinstance(exc, AuthError):
                    delay = auth_backoff.next()
                    self._status(SourceState.AUTH_FAILED, f"{exc}; next try in {human_seconds(delay)}",
                                 iso(now + timedelta(seconds=delay)))
                elif isinstance(exc, XrpcError) and exc.status == 429:
                    reset = rate_limit_reset(exc.headers, now)
                    delay = jitter(seconds_until(reset, now, default=60.0), self._rng.random, spread=1.0)
                    until = now + timedelta(seconds=delay)
                    self._status(SourceState.RATE_LIMITED, f"until {_clock_text(until)}", iso(until))
                else:
                    delay = backoff.next()
                    self._status(SourceState.RECONNECTING, f"{exc}; next try in {human_seconds(delay)}",
                                 iso(now + timedelta(seconds=delay)))
                catching_up = state is not None
                await self._sleep(delay)
                continue
            backoff.reset()
            auth_backoff.reset()
            troubled = 0
            skipped = notes + self._loose_reasons(sifted.loose)
            notes = []
            views = await self._quoted_views(sifted)
            for mentions, reasons, new_state in self._batches(state, sifted, lower, views):
                text = new_state.dump()
                state = new_state
                if mentions or reasons or skipped or text != stored:
                    yield Batch(mentions, cursor=text if text != stored else None, skipped=skipped + reasons)
                    skipped, stored = [], text
            if skipped:
                yield Batch([], skipped=skipped)
            catching_up = False
            again = f"signed in again at {_clock_text(self._signed_in_again)}; " if self._signed_in_again else ""
            self._status(SourceState.LIVE, f"{again}polling every {human_seconds(self.poll_interval)}")
            await self._sleep(self.poll_interval)

    async def _recover_session(self) -> bool:
        """After repeated failures, sign in again if the PDS no longer knows our session.

        A PDS that lost the account answers 500 to data calls and 400 to
        getSession, so the errors alone look transient. createSession is
        limited (30 per 5 minutes), so this runs at most once per
        `relogin_spacing`, doubling while it keeps happening. True when a
        new session was made.
        """
        now = self._clock()
        if self._next_relogin is not None and now < self._next_relogin:
            return False
        refusal = await self._xrpc.session_refusal()
        if refusal is None:
            return False
        if self._next_relogin is not None and now - self._next_relogin > timedelta(hours=1):
            self._relogin_backoff.reset()
        self._next_relogin = now + timedelta(seconds=self._relogin_backoff.next())
        self._status(SourceState.RECONNECTING,
                     f"{self._xrpc.host} no longer knows this session ({refusal}); signing in again")
        await self._xrpc.sign_in_again()
        self._signed_in_again = self._clock()
        log.warning("%s: %s had lost the session; signed in again", self.source, self._xrpc.host)
        return True

    async def aclose(self) -> None:
        # The aiohttp session belongs to the caller; forget the tokens.
        self._xrpc.forget()


def from_account(account: Account, session: aiohttp.ClientSession) -> BlueskyAdapter:
    """The adapter for a [[accounts]] entry (registry); reads its secret now."""
    options = account.options
    return BlueskyAdapter(account=account.handle, pds=account.server, password=account.secret(),
                          session=session, poll_interval=float(options.get("poll_interval", 15.0)),
                          backfill=options.get("backfill", DEFAULT_BACKFILL), lang=options.get("lang"))
