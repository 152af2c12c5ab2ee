"""Bluesky: mentions from the notification list, replies as posts (XRPC over aiohttp).

The adapter is the polling loop and the sender; the pieces it stands on
live in their own modules:

- `session`: XRPC calls to the account's PDS under an app-password
  session (created once, refreshed before it lapses, renewed on 401).
- `notifications`: the stored cursor (listNotifications cannot be
  resumed by itself) and notification -> NewMention.
- `records`: at-URIs and strong refs, read from mentions and written
  into replies.

Outgoing: the reply's key (a TID stored before sending) is the record key,
so a retried create can never make a second post; a create that fails
because the key is taken adopts the record already there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp

from adapters import registry
from adapters.base import (
    Adapter,
    Batch,
    Capabilities,
    Ingest,
    LimitFrom,
    ReplyError,
    ReplyRequest,
    SentReply,
    SourceState,
    StatusCallback,
    TextRule,
)
from adapters.bluesky.embeds import quoted_uris
from adapters.bluesky.facets import build_facets, handles_in
from adapters.bluesky.notifications import (
    DEFAULT_BACKFILL,
    MAX_BACKFILL,
    ONE_MICROSECOND,
    TAKEN_REASONS,
    MalformedNotification,
    NotificationCursor,
    Sifted,
    mention_from_notification,
    post_langs,
    sift_page,
)
from adapters.bluesky.records import DID, LANG_TAG, POST, parse_post_uri, post_url, strong_ref
from adapters.bluesky.session import Session, Unreachable, XrpcClient, XrpcError
from adapters.bluesky.visibility import BLOCKED, DELETED, Hidden, hidden_reason
from adapters.http import (
    AuthError,
    Backoff,
    human_seconds,
    jitter,
    rate_limit_reset,
    seconds_until,
)
from adapters.runtime.account_values import AccountValues
from adapters.textcount import graphemes
from adapters.wire import as_dict
from store.db import iso, utc_now
from store.records import NewMention

if TYPE_CHECKING:
    from adapters.accounts import Account

log = logging.getLogger(__name__)

# The names tests and callers have always imported from here stay importable here.
MAX_GRAPHEMES = 300
MAX_BYTES = 3000

_TID = re.compile(r"[234567a-j][234567abcdefghijklmnopqrstuvwxyz]{12}")
# Answers meaning "that record key is taken": the reference PDS says a
# generic 500; others say 409 or one of these names.
_KEY_TAKEN = frozenset({"RecordAlreadyExists", "AlreadyExists", "InvalidSwap", "Conflict", "DuplicateRecord"})

def _session_shaped(exc: Exception) -> bool:
    """An answer that a lost account or session gives: a server error, or a refusal other than a rate limit."""
    return isinstance(exc, XrpcError) and exc.xrpc and (exc.status >= 500 or exc.status in (400, 401, 403))


def _clock_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%SZ")


class BlueskyAdapter(Adapter):
    network = "bluesky"

    #: pages of listNotifications (the lexicon allows 1..100)
    page_limit = 100
    #: how far below the newest taken notification a late-indexed one is still caught
    late_window = timedelta(minutes=10)
    #: most URIs the stored cursor remembers
    seen_cap = 1000
    #: consecutive session-shaped poll failures before asking whether the PDS still knows the session
    suspect_after = 3
    #: least seconds between two sign-ins made because the PDS lost the session (doubles, up to an hour)
    relogin_spacing = 300.0
    handle_ttl = timedelta(hours=24)
    handle_miss_ttl = timedelta(minutes=5)

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

    # -- identity ------------------------------------------------------------------

    async def _resolve(self, handle: str) -> str | None:
        """Handle -> DID, cached (24 h found, 5 min not found); network trouble raises."""
        now = self._clock()
        cached = self._handles.get(handle)
        if cached is not None and cached[1] > now:
            return cached[0]
        did = await self._xrpc.resolve_handle(handle)
        self._handles[handle] = (did, now + (self.handle_ttl if did else self.handle_miss_ttl))
        return did

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

    async def _page(self, api_cursor: str | None) -> tuple[list, str | None]:
        while True:
            params = [("limit", str(self.page_limit))]
            if self._send_reasons:
                params += [("reasons", reason) for reason in TAKEN_REASONS]
            if api_cursor:
                params.append(("cursor", api_cursor))
            try:
                body = await self._xrpc.authed("GET", "app.bsky.notification.listNotifications", params=params)
            except XrpcError as exc:
                # An older AppView may not know `reasons`; we filter ourselves anyway.
                if exc.status == 400 and exc.error == "InvalidRequest" and self._send_reasons:
                    self._send_reasons = False
                    continue
                raise
            items = body.get("notifications")
            if not isinstance(items, list):
                raise XrpcError(200, None, "notifications without a list", xrpc=False)
            cursor = body.get("cursor")
            return items, cursor if isinstance(cursor, str) and cursor else None

    async def _walk(self, cursor: NotificationCursor | None) -> tuple[Sifted, datetime | None]:
        """Page from the newest notification down to the cursor's floor.

        Without a cursor (a new database) the newest `backfill` mentions are
        taken, paging as far as needed; the returned lower edge is where the
        stream's floor starts, so what lies below is never taken later.
        """
        whole = Sifted()
        taken: set[str] = set()
        api_cursor: str | None = None
        pages = 0
        while True:
            items, next_cursor = await self._page(api_cursor)
            pages += 1
            page = sift_page(items, cursor, taken)
            whole.fresh += page.fresh
            whole.loose += page.loose
            if page.oldest is not None:
                whole.oldest = page.oldest if whole.oldest is None else min(whole.oldest, page.oldest)
            more = bool(items) and next_cursor is not None and next_cursor != api_cursor
            if cursor is None:
                enough = len(whole.fresh) > self.backfill or (len(whole.fresh) == self.backfill > 0)
                if more and not enough and pages < self._backfill_pages():
                    api_cursor = next_cursor
                    continue
                return self._backfilled(whole, more)
            if page.reached_old or not more:
                return whole, None
            api_cursor = next_cursor

    def _backfill_pages(self) -> int:
        # Pages also hold likes and follows when an AppView ignores `reasons`: allow some slack.
        return self.backfill // self.page_limit + 10

    def _backfilled(self, whole: Sifted, more: bool) -> tuple[Sifted, datetime | None]:
        """Keep the newest `backfill` of a first walk; the floor goes just above what is left out."""
        fresh = whole.fresh = sorted(whole.fresh, key=lambda entry: entry[0], reverse=True)
        if len(fresh) > self.backfill:
            lower = fresh[self.backfill][0] + ONE_MICROSECOND
            whole.fresh = fresh[:self.backfill]
            return whole, lower
        if not more:  # the whole history was read: nothing below it to look for
            return whole, whole.oldest + ONE_MICROSECOND if whole.oldest else None
        if fresh:
            return whole, fresh[-1][0]  # older ones may exist beyond what was read
        return whole, whole.oldest + ONE_MICROSECOND if whole.oldest else None

    async def _quoted_views(self, sifted: Sifted) -> dict[str, dict]:
        """AppView views of the posts the new mentions quote; what cannot be fetched is shown as a link."""
        wanted = list(dict.fromkeys(uri for _, _, item in sifted.fresh
                                    for uri in quoted_uris(item.get("record"))))
        views: dict[str, dict] = {}
        for start in range(0, len(wanted), 25):
            try:
                body = await self._xrpc.authed("GET", "app.bsky.feed.getPosts",
                                               params=[("uris", uri) for uri in wanted[start:start + 25]])
            except (XrpcError, Unreachable, AuthError) as exc:
                log.info("%s: quoted posts not fetched: %s", self.source, exc)
                break
            posts = body.get("posts")
            for view in posts if isinstance(posts, list) else []:
                if isinstance(view, dict) and isinstance(view.get("uri"), str):
                    views[view["uri"]] = view
        return views

    def _loose_reasons(self, loose: list[tuple[str, object]]) -> list[str]:
        """Reasons for unplaceable items, each reported once per run."""
        reasons = []
        for reason, item in loose:
            mark = json.dumps(item, sort_keys=True, default=str)[:2000]
            if mark in self._reported:
                continue
            if len(self._reported) > 10_000:
                self._reported.clear()
            self._reported.add(mark)
            uri = item.get("uri") if isinstance(item, dict) else None
            reasons.append(f"{uri if isinstance(uri, str) else 'notification'}: {reason}"[:500])
        return reasons

    def _batches(self, cursor: NotificationCursor | None, sifted: Sifted, lower: datetime | None,
                 views: dict[str, dict]) -> list[tuple[list[NewMention], list[str], NotificationCursor]]:
        """Oldest first, so each committed cursor is a valid resume point."""
        oldest_first = list(reversed(sifted.fresh))
        state = cursor or NotificationCursor()
        if not oldest_first:
            return [] if cursor is not None else [([], [], self._advance(state, [], lower))]
        out = []
        for start in range(0, len(oldest_first), self.page_limit):
            mentions, skipped, taken = [], [], []
            for moment, uri, item in oldest_first[start:start + self.page_limit]:
                taken.append((uri, moment))
                try:
                    mentions.append(mention_from_notification(item, self.account, views))
                except MalformedNotification as exc:
                    skipped.append(f"{uri[:300]}: {exc}")
            state = self._advance(state, taken, lower)
            out.append((mentions, skipped, state))
        return out

    def _advance(self, state: NotificationCursor, taken: list, lower: datetime | None) -> NotificationCursor:
        return state.advanced(taken, lower, late_window=self.late_window, cap=self.seen_cap)

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

    # -- outgoing ------------------------------------------------------------------

    @staticmethod
    def _text_problem(text: object) -> str | None:
        if not isinstance(text, str) or not text.strip():
            return "the reply is empty"
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            return "the reply contains characters that are not valid Unicode"
        count = graphemes(text)
        if count > MAX_GRAPHEMES:
            return f"the reply is {count} graphemes; Bluesky allows {MAX_GRAPHEMES}"
        if size > MAX_BYTES:
            return f"the reply is {size} bytes of UTF-8; Bluesky allows {MAX_BYTES}"
        return None

    @staticmethod
    def _reply_refs(reply_ref: object) -> tuple[dict[str, str], dict[str, str]]:
        parent = strong_ref(reply_ref)
        if parent is None:
            raise ReplyError("the mention has no post reference (uri and cid) to reply to", permanent=True)
        # The thread's root is the parent's own root, or the parent when it is top-level.
        root = strong_ref(reply_ref.get("root")) if isinstance(reply_ref, dict) else None
        return parent, root or parent

    async def _facets(self, text: str, request: ReplyRequest, session: Session) -> list[dict]:
        known = {session.handle.lower(): session.did}
        author_did = request.reply_ref.get("author_did") if isinstance(request.reply_ref, dict) else None
        if isinstance(author_did, str) and DID.fullmatch(author_did):
            known[request.author_handle.lstrip("@").lower()] = author_did
        dids = {handle: known[handle] if handle in known else await self._resolve(handle)
                for handle in handles_in(text)}
        return build_facets(text, dids)

    def _url(self, uri: str) -> str | None:
        target = parse_post_uri(uri)
        if target is None:
            return None
        session = self._xrpc.session
        actor = session.handle if session is not None else target[0]
        return post_url(actor, target[1])

    def _adopt(self, found: dict, request: ReplyRequest, parent: dict[str, str]) -> SentReply:
        """Our record key already holds a post: it is ours unless it answers something else."""
        uri = found.get("uri")
        if not isinstance(uri, str) or parse_post_uri(uri) is None:
            raise ReplyError("getRecord answered without a post uri", unknown_outcome=True)
        value = as_dict(found.get("value"))
        reply = as_dict(value.get("reply"))
        existing_parent = reply.get("parent", {}).get("uri") if isinstance(reply.get("parent"), dict) else None
        if existing_parent is not None and existing_parent != parent["uri"]:
            raise ReplyError(f"record key {request.key} already holds a reply to another post ({uri})",
                             permanent=True)
        return SentReply(uri, self._url(uri))

    async def _own_post(self, key: str) -> dict | None:
        session = await self._xrpc.signed_in()
        try:
            return await self._xrpc.request("GET", "com.atproto.repo.getRecord", base=self._xrpc.service(),
                                            params=[("repo", session.did), ("collection", POST), ("rkey", key)])
        except XrpcError as exc:
            if exc.status == 404 or (exc.status == 400 and exc.error in ("RecordNotFound", "NotFound")):
                return None
            raise

    def _reply_error(self, exc: XrpcError, writing: bool) -> ReplyError:
        if exc.status == 429:
            now = self._clock()
            wait = seconds_until(rate_limit_reset(exc.headers, now), now, default=60.0)
            return ReplyError(f"Bluesky rate limit: retry in {human_seconds(wait)}", retry_after=wait)
        if exc.status >= 500 or exc.status == 408:
            return ReplyError(f"Bluesky server error: {exc}", unknown_outcome=writing)
        return ReplyError(f"Bluesky refused the reply: {exc}", permanent=True)

    async def _thread_view(self, uri: str) -> dict | None:
        """The AppView's view of one post (as the brand); None when it cannot say."""
        try:
            return await self._xrpc.authed("GET", "app.bsky.feed.getPostThread",
                                           params=[("uri", uri), ("depth", "0"), ("parentHeight", "0")])
        except XrpcError as exc:
            if exc.xrpc and exc.status in (400, 404) and exc.error in ("NotFound", "RecordNotFound"):
                return {"thread": {"$type": "app.bsky.feed.defs#notFoundPost", "uri": uri, "notFound": True}}
            if exc.status == 429:
                raise
            # An AppView that is down or absent cannot veto: send as the PDS allows.
            log.info("%s: cannot check the thread of %s: %s", self.source, uri, exc)
            return None

    async def _check_visible(self, parent: dict[str, str], root: dict[str, str], author: str) -> None:
        """Refuse, for good, a reply the AppView would show to nobody."""
        hidden = hidden_reason(await self._thread_view(parent["uri"]), author)
        if hidden is None and root["uri"] != parent["uri"]:
            # A deleted root still shows its replies; a block with its author hides them.
            found = hidden_reason(await self._thread_view(root["uri"]))
            if found is not None and found.kind != DELETED:
                hidden = Hidden(found.kind, f"{found.reason} (it started the thread)" if found.kind == BLOCKED
                                else found.reason)
        if hidden is not None:
            raise ReplyError(f"not sent: {hidden.reason}, so Bluesky would show the reply to nobody", permanent=True)

    async def send_reply(self, request: ReplyRequest) -> SentReply:
        problem = self._text_problem(request.text)
        if problem:
            raise ReplyError(problem, permanent=True)
        if not _TID.fullmatch(request.key or ""):
            raise ReplyError(f"reply key {request.key!r} is not a TID record key", permanent=True)
        parent, root = self._reply_refs(request.reply_ref)
        writing = False
        try:
            session = await self._xrpc.signed_in()
            record: dict[str, Any] = {
                "$type": POST,
                "text": request.text,
                "createdAt": iso(self._clock()),
                "reply": {"root": root, "parent": parent},
            }
            langs = post_langs(request.reply_ref)[:1] or ([self.lang] if self.lang else [])
            if langs:
                record["langs"] = langs
            facets = await self._facets(request.text, request, session)
            if facets:
                record["facets"] = facets
            await self._check_visible(parent, root, request.author_handle)
            writing = True
            try:
                created = await self._xrpc.authed("POST", "com.atproto.repo.createRecord", body={
                    "repo": session.did, "collection": POST, "rkey": request.key, "record": record,
                })
            except XrpcError as exc:
                if not (exc.status >= 500 or exc.status == 409 or exc.error in _KEY_TAKEN
                        or "already" in exc.message.lower()):
                    raise
                # Maybe an earlier attempt of ours already wrote this key.
                try:
                    found = await self._own_post(request.key)
                except (XrpcError, Unreachable, AuthError) as lookup:
                    raise ReplyError(f"Bluesky answered {exc}; checking for the post failed: {lookup}",
                                     unknown_outcome=True) from None
                if found is None:
                    raise
                return self._adopt(found, request, parent)
            uri = created.get("uri")
            if not isinstance(uri, str) or parse_post_uri(uri) is None:
                uri = f"at://{session.did}/{POST}/{request.key}"
            return SentReply(uri, self._url(uri))
        except AuthError as exc:
            raise ReplyError(f"Bluesky sign-in failed: {exc}", retry_after=300.0) from None
        except XrpcError as exc:
            raise self._reply_error(exc, writing) from None
        except Unreachable as exc:
            reached = writing and exc.maybe_sent  # before the createRecord, nothing of the reply went out
            raise ReplyError(f"Bluesky unreachable: {exc}", unknown_outcome=reached, not_sent=not reached) from None

    async def find_reply(self, request: ReplyRequest) -> SentReply | None:
        """The post at our record key, if an earlier attempt made it."""
        if not _TID.fullmatch(request.key or ""):
            return None
        parent, _ = self._reply_refs(request.reply_ref)
        try:
            found = await self._own_post(request.key)
        except AuthError as exc:
            raise ReplyError(f"Bluesky sign-in failed: {exc}", retry_after=300.0) from None
        except XrpcError as exc:
            error = self._reply_error(exc, writing=False)
            raise ReplyError(f"could not look for the reply: {error}", retry_after=error.retry_after,
                             unknown_outcome=True) from None
        except Unreachable as exc:
            # A lookup posts nothing: the reply keeps its own "may have been posted" while it waits.
            raise ReplyError(f"could not look for the reply: {exc}", unknown_outcome=exc.maybe_sent,
                             not_sent=not exc.maybe_sent) from None
        return None if found is None else self._adopt(found, request, parent)

    async def aclose(self) -> None:
        # The aiohttp session belongs to the caller; forget the tokens.
        self._xrpc.forget()


def from_account(account: Account, session: aiohttp.ClientSession) -> BlueskyAdapter:
    """The adapter for a [[accounts]] entry (registry); reads its secret now."""
    options = account.options
    return BlueskyAdapter(account=account.handle, pds=account.server, password=account.secret(),
                          session=session, poll_interval=float(options.get("poll_interval", 15.0)),
                          backfill=options.get("backfill", DEFAULT_BACKFILL), lang=options.get("lang"))
