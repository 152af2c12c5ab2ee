"""Bluesky: mentions from the notification list, replies as posts (XRPC over aiohttp).

Everything goes to the account's PDS with an app-password session
(createSession once, then refreshSession; the access token's `exp` is read
so it is renewed before it lapses, and an ExpiredToken/401 answer renews
and retries once).

Incoming: `app.bsky.notification.listNotifications` is polled. It is
newest-first, has no "since" parameter, and its own cursor only pages
older, so where to resume is ours to keep (see `NotificationCursor`).

Outgoing: the reply's key (a TID stored before sending) is the record key,
so a retried create can never make a second post; a create that fails
because the key is taken adopts the record already there.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict

from adapters.base import (
    Adapter,
    Batch,
    ReplyError,
    ReplyRequest,
    SentReply,
    SourceState,
    StatusCallback,
    TextRule,
)
from adapters.bluesky_facets import build_facets, handles_in, is_handle, render_text
from adapters.http import (
    USER_AGENT,
    AuthError,
    Backoff,
    human_seconds,
    jitter,
    rate_limit_reset,
    redact,
    seconds_until,
)
from adapters.textcount import graphemes
from store.db import iso, utc_now
from store.records import NewMention

__all__ = ["AuthError", "BlueskyAdapter", "MalformedNotification", "NotificationCursor",
           "mention_from_notification", "sift_page"]

log = logging.getLogger(__name__)

POST = "app.bsky.feed.post"
TAKEN_REASONS = ("mention", "reply", "quote")
MAX_GRAPHEMES = 300
MAX_BYTES = 3000
MAX_BODY = 8 * 1024 * 1024

_TID = re.compile(r"[234567a-j][234567abcdefghijklmnopqrstuvwxyz]{12}")
_RKEY = re.compile(r"[A-Za-z0-9._:~-]{1,512}")
_DID = re.compile(r"did:[a-z]+:[A-Za-z0-9._:%-]{1,2048}")
_ONE_MICROSECOND = timedelta(microseconds=1)
# Answers meaning "that record key is taken": the reference PDS says a
# generic 500; others say 409 or one of these names.
_KEY_TAKEN = frozenset({"RecordAlreadyExists", "AlreadyExists", "InvalidSwap", "Conflict", "DuplicateRecord"})


# --- wire errors ----------------------------------------------------------------

class _XrpcError(Exception):
    """A non-2xx answer (or a 2xx that is not XRPC JSON). Messages are redacted."""

    def __init__(self, status: int, error: str | None, message: str, headers: CIMultiDict | None = None,
                 *, xrpc: bool = True):
        if not xrpc:
            text = f"unexpected answer: {message}"
        else:
            text = f"{error}: {message}" if message else str(error)
        super().__init__(text)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers if headers is not None else CIMultiDict()
        self.xrpc = xrpc  # False: the answer did not look like an XRPC server's

    @property
    def auth_expired(self) -> bool:
        # The reference PDS says 400 ExpiredToken for an expired access token.
        return self.status == 401 or (self.status == 400 and self.error in ("ExpiredToken", "InvalidToken"))


class _Unreachable(Exception):
    """No HTTP answer. `maybe_sent`: the request may have reached the server."""

    def __init__(self, message: str, *, maybe_sent: bool):
        super().__init__(message)
        self.maybe_sent = maybe_sent


class _TooLarge(Exception):
    pass


# --- time -----------------------------------------------------------------------

def _parse_time(value: object) -> datetime | None:
    """An RFC 3339 / ISO 8601 time as aware UTC; naive means UTC; junk is None."""
    if not isinstance(value, str) or not 10 <= len(value) <= 64:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _exact(moment: datetime) -> str:
    """Microsecond precision: notification times are compared, not shown."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _clock_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%SZ")


# --- where the stream resumes ---------------------------------------------------------

@dataclass(frozen=True)
class NotificationCursor:
    """What has been taken from the notification list, as a stored cursor.

    Notifications are ordered by their `indexedAt`, which the AppView sets
    to min(createdAt, indexedAt): a post indexed late (relay lag, a slow
    client clock) lands *below* newer ones already seen. So instead of a
    bare high-water mark the cursor keeps a floor and the URIs taken at or
    above it: a poll pages from the newest down to the first item older
    than `floor`, and takes every mention/reply/quote not in `seen`.

    Invariant: every such notification at or above `floor` that existed
    when it was examined is in `seen`. The floor only rises: to the lower
    edge of what was examined, to `late_window` below the newest item
    taken, or to the oldest kept entry when `seen` exceeds its cap.
    """

    floor: datetime | None = None
    seen: dict[str, datetime] = field(default_factory=dict)

    VERSION = 1

    def is_old(self, moment: datetime) -> bool:
        return self.floor is not None and moment < self.floor

    def has(self, uri: str) -> bool:
        return uri in self.seen

    def advanced(self, taken: Iterable[tuple[str, datetime]], lower: datetime | None, *,
                 late_window: timedelta, cap: int) -> NotificationCursor:
        seen = dict(self.seen)
        seen.update(taken)
        floors = [moment for moment in (self.floor, lower) if moment is not None]
        if seen:
            newest = max(seen.values())
            floors.append(newest - late_window)
            if len(seen) > cap:
                first_dropped = sorted(seen.values(), reverse=True)[cap]
                # Drop whole instants, never part of one; a tie larger than the cap stays.
                if first_dropped < newest:
                    floors.append(first_dropped + _ONE_MICROSECOND)
        floor = max(floors) if floors else None
        if floor is not None:
            seen = {uri: moment for uri, moment in seen.items() if moment >= floor}
        return NotificationCursor(floor, seen)

    def dump(self) -> str:
        newest_first = sorted(self.seen.items(), key=lambda item: (item[1], item[0]), reverse=True)
        return json.dumps({
            "v": self.VERSION,
            "floor": _exact(self.floor) if self.floor else None,
            "seen": [[_exact(moment), uri] for uri, moment in newest_first],
        }, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def load(cls, text: str) -> NotificationCursor:
        """Parse a stored cursor; ValueError says why it cannot be used."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            raise ValueError("not JSON") from None
        if not isinstance(data, dict) or data.get("v") != cls.VERSION:
            raise ValueError("not a Bluesky notification cursor of this version")
        floor = data.get("floor")
        parsed_floor = _parse_time(floor)
        if floor is not None and parsed_floor is None:
            raise ValueError("bad floor time")
        seen: dict[str, datetime] = {}
        entries = data.get("seen")
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], str):
                moment = _parse_time(entry[0])
                if moment is not None:
                    seen[entry[1]] = moment
        return cls(parsed_floor, seen)


# --- notifications -> mentions ------------------------------------------------------

class MalformedNotification(ValueError):
    """A notification that cannot become a mention; the message is the reason."""


def notification_time(raw: object) -> datetime | None:
    return _parse_time(raw.get("indexedAt")) if isinstance(raw, dict) else None


def _post_uri(value: object) -> tuple[str, str] | None:
    """(authority, rkey) of an at://…/app.bsky.feed.post/… URI, else None."""
    if not isinstance(value, str) or not value.startswith("at://") or len(value) > 3000:
        return None
    parts = value[len("at://"):].split("/")
    if len(parts) != 3 or parts[1] != POST or not _RKEY.fullmatch(parts[2]):
        return None
    if not (_DID.fullmatch(parts[0]) or is_handle(parts[0])):
        return None
    return parts[0], parts[2]


def _strong_ref(value: object) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    uri, cid = value.get("uri"), value.get("cid")
    if _post_uri(uri) is None or not isinstance(cid, str) or not cid.strip():
        return None
    return {"uri": uri, "cid": cid.strip()}


def post_url(actor: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{actor}/post/{rkey}"


def mention_from_notification(raw: object, account: str) -> NewMention:
    """Map one listNotifications item; MalformedNotification says what is wrong."""
    if not isinstance(raw, dict):
        raise MalformedNotification("not a JSON object")
    uri = raw.get("uri")
    target = _post_uri(uri)
    if target is None:
        raise MalformedNotification("uri is not an app.bsky.feed.post at-uri")
    cid = raw.get("cid")
    if not isinstance(cid, str) or not cid.strip():
        raise MalformedNotification("no cid (a reply needs one)")
    author = raw.get("author")
    if not isinstance(author, dict):
        raise MalformedNotification("no author")
    did = author.get("did")
    if not isinstance(did, str) or not _DID.fullmatch(did):
        raise MalformedNotification("author has no valid DID")
    handle = author.get("handle")
    # "handle.invalid" (a broken handle) is not a handle: show the DID.
    actor = handle.lower() if isinstance(handle, str) and is_handle(handle) else did
    record = raw.get("record")
    if not isinstance(record, dict):
        raise MalformedNotification("no record")
    if record.get("$type", POST) != POST:
        raise MalformedNotification("record is not a post")
    text = record.get("text", "")
    if not isinstance(text, str):
        raise MalformedNotification("record text is not a string")
    indexed = notification_time(raw)
    created = _parse_time(record.get("createdAt"))
    # A createdAt later than indexing is a wrong clock (or a pin-to-top trick).
    if created is None or (indexed is not None and created > indexed):
        created = indexed
    if created is None:
        raise MalformedNotification("neither createdAt nor indexedAt is a valid time")
    reply = record.get("reply") if isinstance(record.get("reply"), dict) else {}
    parent = reply.get("parent") if isinstance(reply.get("parent"), dict) else {}
    root = reply.get("root") if isinstance(reply.get("root"), dict) else {}
    langs = record.get("langs")
    lang = langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else None
    name = author.get("displayName")
    return NewMention(
        network="bluesky",
        account=account,
        remote_id=uri,
        author_handle="@" + actor,
        author_name=name if isinstance(name, str) else "",
        text=render_text(text, record.get("facets")),
        created_at=iso(created),
        url=post_url(actor, target[1]),
        parent_remote_id=parent.get("uri") if _post_uri(parent.get("uri")) else None,
        root_remote_id=root.get("uri") if _post_uri(root.get("uri")) else None,
        lang=lang,
        reply_ref={"uri": uri, "cid": cid.strip(), "root": _strong_ref(root), "author_did": did},
        raw=raw,
    ).cleaned()


@dataclass
class Sifted:
    """One page sorted out: new items to take, and items that cannot be placed."""

    fresh: list[tuple[datetime, str, dict]] = field(default_factory=list)
    loose: list[tuple[str, object]] = field(default_factory=list)  # (reason, item)
    reached_old: bool = False
    oldest: datetime | None = None


def sift_page(items: list, cursor: NotificationCursor | None, taken: set[str]) -> Sifted:
    """New mention/reply/quote items of one page, newest first.

    `taken` (URIs already taken in this walk) is updated. The whole page is
    looked at even after an old item, in case a server orders loosely.
    """
    result = Sifted()
    for item in items:
        moment = notification_time(item)
        if moment is None:
            result.loose.append(("no valid indexedAt", item))
            continue
        result.oldest = moment if result.oldest is None else min(result.oldest, moment)
        if cursor is not None and cursor.is_old(moment):
            result.reached_old = True
            continue
        if item.get("reason") not in TAKEN_REASONS:
            continue
        uri = item.get("uri")
        if not isinstance(uri, str) or not uri:
            result.loose.append(("no uri", item))
            continue
        if uri in taken or (cursor is not None and cursor.has(uri)):
            continue
        taken.add(uri)
        result.fresh.append((moment, uri, item))
    return result


# --- the adapter ---------------------------------------------------------------------

@dataclass
class _Session:
    did: str
    handle: str
    access: str = field(repr=False)
    refresh: str = field(repr=False)
    expires: datetime | None
    status: str | None = None


def _jwt_expiry(token: str) -> datetime | None:
    """`exp` of a JWT, read without verifying (only to renew in time)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and not isinstance(exp, bool):
            return datetime.fromtimestamp(exp, UTC)
    except (IndexError, ValueError, AttributeError, binascii.Error, OverflowError, OSError):
        pass
    return None


async def _read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    if response.content_length is not None and response.content_length > limit:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class BlueskyAdapter(Adapter):
    network = "bluesky"

    #: pages of listNotifications (the lexicon allows 1..100)
    page_limit = 100
    #: how far below the newest taken notification a late-indexed one is still caught
    late_window = timedelta(minutes=10)
    #: most URIs the stored cursor remembers
    seen_cap = 1000
    #: seconds one HTTP exchange may take
    request_timeout = 30.0
    #: renew the access token this long before its `exp`
    refresh_margin = timedelta(seconds=60)
    handle_ttl = timedelta(hours=24)
    handle_miss_ttl = timedelta(minutes=5)

    def __init__(self, *, account: str, pds: str, password: str, session: aiohttp.ClientSession,
                 on_status: StatusCallback | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], datetime] = utc_now, poll_interval: float = 15.0):
        super().__init__(account=account, on_status=on_status)
        self._identifier = account.strip().lstrip("@")
        self._base = pds.strip().rstrip("/")
        self._host = urlsplit(self._base).hostname or self._base
        self._password = password
        self._http = session
        self._sleep = sleep
        self._clock = clock
        self.poll_interval = poll_interval
        self._session: _Session | None = None
        self._auth_lock = asyncio.Lock()
        self._send_reasons = True
        self._handles: dict[str, tuple[str | None, datetime]] = {}
        self._reported: set[str] = set()
        self._last_status: tuple | None = None
        self._rng = random.Random()

    # -- plumbing ------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        secrets = [self._password]
        if self._session is not None:
            secrets += [self._session.access, self._session.refresh]
        return redact(text, *secrets)

    async def _request(self, method: str, nsid: str, *, params: list[tuple[str, str]] | None = None,
                       body: dict | None = None, token: str | None = None) -> dict:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        try:
            async with self._http.request(method, f"{self._base}/xrpc/{nsid}", params=params, json=body,
                                          headers=headers, timeout=timeout, allow_redirects=False) as response:
                status, answer_headers = response.status, CIMultiDict(response.headers)
                data = await _read_limited(response, MAX_BODY)
        except TimeoutError:
            raise _Unreachable(f"{self._host} did not answer within {self.request_timeout:g}s",
                               maybe_sent=True) from None
        except aiohttp.ClientConnectorError as exc:
            reason = getattr(exc.os_error, "strerror", None) or type(exc.os_error).__name__
            raise _Unreachable(f"cannot connect to {self._host} ({reason})", maybe_sent=False) from None
        except aiohttp.ClientError as exc:
            raise _Unreachable(f"connection to {self._host} failed ({type(exc).__name__})",
                               maybe_sent=True) from None
        except _TooLarge:
            raise _XrpcError(200, None, f"{nsid} over {MAX_BODY} bytes", xrpc=False) from None
        log.debug("%s %s -> %s", method, nsid, status)
        return self._decode(status, answer_headers, data)

    def _decode(self, status: int, headers: CIMultiDict, data: bytes) -> dict:
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        if 300 <= status < 400:
            where = self._redact(headers.get("Location", "?"))
            raise _XrpcError(status, None, f"HTTP {status} redirect to {where}", headers, xrpc=False)
        if 200 <= status < 300:
            if parsed is None and not data:
                return {}
            if not isinstance(parsed, dict):
                kind = headers.get("Content-Type", "no content type").split(";")[0]
                raise _XrpcError(status, None, f"HTTP {status} {kind}, not JSON", headers, xrpc=False)
            return parsed
        error = parsed.get("error") if isinstance(parsed, dict) else None
        message = parsed.get("message") if isinstance(parsed, dict) else None
        if not isinstance(error, str):
            kind = headers.get("Content-Type", "no content type").split(";")[0]
            raise _XrpcError(status, None, f"HTTP {status} {kind} without an XRPC error", headers, xrpc=False)
        text = message if isinstance(message, str) else ""
        raise _XrpcError(status, error[:100], self._redact(" ".join(text.split())[:300]), headers)

    # -- session -------------------------------------------------------------------

    def _session_from(self, body: dict) -> _Session:
        access, refresh, did = body.get("accessJwt"), body.get("refreshJwt"), body.get("did")
        if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh
                and isinstance(did, str) and _DID.fullmatch(did)):
            raise _XrpcError(200, None, "a session without accessJwt, refreshJwt or did", xrpc=False)
        handle = body.get("handle")
        status = body.get("status") if isinstance(body.get("status"), str) else None
        if body.get("active") is False and status is None:
            status = "inactive"
        return _Session(did, handle if isinstance(handle, str) and is_handle(handle) else self._identifier,
                        access, refresh, _jwt_expiry(access), status)

    async def _login(self) -> _Session:
        try:
            body = await self._request("POST", "com.atproto.server.createSession",
                                       body={"identifier": self._identifier, "password": self._password})
        except _XrpcError as exc:
            if exc.xrpc and exc.status in (400, 401, 403):
                raise await self._credentials_error(exc) from None
            raise
        return self._session_from(body)

    async def _credentials_error(self, exc: _XrpcError) -> AuthError:
        who = f"@{self._identifier}"
        if exc.error == "AccountTakedown":
            message = f"account {who} has been taken down by its PDS"
        elif exc.error == "AuthFactorTokenRequired":
            message = (f"{who} has email sign-in codes on: this is the main password; "
                       "create an app password (Settings > App passwords) and use that")
        elif exc.status == 401:
            exists = await self._handle_exists()
            if exists is False:
                message = f"account {who} not found: the handle does not resolve"
            elif exists:
                message = f"wrong app password for {who} (or the account is not hosted on {self._host})"
            else:
                message = f"wrong handle or app password for {who}"
        else:
            message = f"{self._host} refused to sign in {who}: {exc}"
        return AuthError(self._redact(message))

    async def _handle_exists(self) -> bool | None:
        if not is_handle(self._identifier):
            return None
        try:
            return await self._resolve_remote(self._identifier) is not None
        except (_XrpcError, _Unreachable):
            return None

    async def _signed_in(self) -> _Session:
        session = self._session
        if session is None:
            async with self._auth_lock:
                if self._session is None:
                    self._session = await self._login()
            return self._session
        if session.expires is not None and session.expires - self.refresh_margin <= self._clock():
            await self._renew(session.access)
        assert self._session is not None
        return self._session

    async def _renew(self, stale_access: str) -> None:
        """Refresh the session (falling back to a new one) unless someone already did."""
        async with self._auth_lock:
            current = self._session
            if current is not None and current.access != stale_access:
                return
            if current is not None:
                try:
                    body = await self._request("POST", "com.atproto.server.refreshSession", token=current.refresh)
                    self._session = self._session_from(body)
                    return
                except _XrpcError as exc:
                    if not (exc.xrpc and exc.status in (400, 401)):
                        raise
            self._session = None
            self._session = await self._login()

    async def _authed(self, method: str, nsid: str, **kwargs: Any) -> dict:
        session = await self._signed_in()
        try:
            return await self._request(method, nsid, token=session.access, **kwargs)
        except _XrpcError as exc:
            if not exc.auth_expired:
                raise
        await self._renew(session.access)
        assert self._session is not None
        try:
            return await self._request(method, nsid, token=self._session.access, **kwargs)
        except _XrpcError as exc:
            if exc.auth_expired:
                raise AuthError(self._redact(f"{self._host} rejected a fresh session for @{self._identifier}: {exc}"))
            raise

    async def check(self) -> str:
        """Sign in and describe the account in one line, or raise AuthError saying why not."""
        try:
            info = await self._authed("GET", "com.atproto.server.getSession")
        except AuthError:
            raise
        except _Unreachable as exc:
            raise AuthError(f"PDS unreachable: {exc}") from None
        except _XrpcError as exc:
            if exc.status == 429:
                now = self._clock()
                until = rate_limit_reset(exc.headers, now)
                when = f" until {_clock_text(until)}" if until else ""
                raise AuthError(f"rate limited by {self._host}{when}: wait before signing in again") from None
            if not exc.xrpc:
                raise AuthError(f"not an XRPC server: {self._base} answered {exc.message}") from None
            if exc.status >= 500:
                raise AuthError(f"PDS error at {self._host}: {exc}") from None
            raise AuthError(f"{self._host} refused: {exc}") from None
        assert self._session is not None
        handle = info.get("handle") if isinstance(info.get("handle"), str) else self._session.handle
        did = info.get("did") if isinstance(info.get("did"), str) else self._session.did
        status = info.get("status") if isinstance(info.get("status"), str) else self._session.status
        if info.get("active") is False and not status:
            status = "inactive"
        note = f" (account {status})" if status else ""
        return f"@{handle} ({did}) on {self._host}{note}"

    # -- identity ------------------------------------------------------------------

    async def _resolve_remote(self, handle: str) -> str | None:
        try:
            body = await self._request("GET", "com.atproto.identity.resolveHandle", params=[("handle", handle)])
        except _XrpcError as exc:
            if exc.status in (400, 404) and exc.xrpc:
                return None
            raise
        did = body.get("did")
        return did if isinstance(did, str) and _DID.fullmatch(did) else None

    async def _resolve(self, handle: str) -> str | None:
        """Handle -> DID, cached (24 h found, 5 min not found); network trouble raises."""
        now = self._clock()
        cached = self._handles.get(handle)
        if cached is not None and cached[1] > now:
            return cached[0]
        did = await self._resolve_remote(handle)
        self._handles[handle] = (did, now + (self.handle_ttl if did else self.handle_miss_ttl))
        return did

    # -- incoming ------------------------------------------------------------------

    @property
    def text_rule(self) -> TextRule:
        return TextRule(MAX_GRAPHEMES, graphemes, "300 graphemes")

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
                body = await self._authed("GET", "app.bsky.notification.listNotifications", params=params)
            except _XrpcError as exc:
                # An older AppView may not know `reasons`; we filter ourselves anyway.
                if exc.status == 400 and exc.error == "InvalidRequest" and self._send_reasons:
                    self._send_reasons = False
                    continue
                raise
            items = body.get("notifications")
            if not isinstance(items, list):
                raise _XrpcError(200, None, "notifications without a list", xrpc=False)
            cursor = body.get("cursor")
            return items, cursor if isinstance(cursor, str) and cursor else None

    async def _walk(self, cursor: NotificationCursor | None) -> tuple[Sifted, datetime | None]:
        """Page from the newest notification down to the cursor's floor.

        Without a cursor only the newest page is read; the returned lower
        edge says how far down that page reached.
        """
        whole = Sifted()
        taken: set[str] = set()
        api_cursor: str | None = None
        while True:
            items, next_cursor = await self._page(api_cursor)
            page = sift_page(items, cursor, taken)
            whole.fresh += page.fresh
            whole.loose += page.loose
            more = bool(items) and next_cursor is not None and next_cursor != api_cursor
            if cursor is None:
                lower = page.oldest + _ONE_MICROSECOND if more and page.oldest else None
                return whole, lower
            if page.reached_old or not more:
                return whole, None
            api_cursor = next_cursor

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

    def _batches(self, cursor: NotificationCursor | None, sifted: Sifted,
                 lower: datetime | None) -> list[tuple[list[NewMention], list[str], NotificationCursor]]:
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
                    mentions.append(mention_from_notification(item, self.account))
                except MalformedNotification as exc:
                    skipped.append(f"{uri[:300]}: {exc}")
            state = self._advance(state, taken, lower)
            out.append((mentions, skipped, state))
        return out

    def _advance(self, state: NotificationCursor, taken: list, lower: datetime | None) -> NotificationCursor:
        return state.advanced(taken, lower, late_window=self.late_window, cap=self.seen_cap)

    async def stream(self, cursor: str | None) -> AsyncIterator[Batch]:
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
        self._status(SourceState.CONNECTING, f"signing in to {self._host}")
        while True:
            if catching_up:
                self._status(SourceState.CATCHING_UP, "fetching notifications since the last poll")
            try:
                sifted, lower = await self._walk(state)
            except (AuthError, _XrpcError, _Unreachable) as exc:
                now = self._clock()
                if isinstance(exc, AuthError):
                    delay = auth_backoff.next()
                    self._status(SourceState.AUTH_FAILED, f"{exc}; next try in {human_seconds(delay)}",
                                 iso(now + timedelta(seconds=delay)))
                elif isinstance(exc, _XrpcError) and exc.status == 429:
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
            skipped = notes + self._loose_reasons(sifted.loose)
            notes = []
            for mentions, reasons, new_state in self._batches(state, sifted, lower):
                text = new_state.dump()
                state = new_state
                if mentions or reasons or skipped or text != stored:
                    yield Batch(mentions, cursor=text if text != stored else None, skipped=skipped + reasons)
                    skipped, stored = [], text
            if skipped:
                yield Batch([], skipped=skipped)
            catching_up = False
            self._status(SourceState.LIVE, f"polling every {human_seconds(self.poll_interval)}")
            await self._sleep(self.poll_interval)

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
        parent = _strong_ref(reply_ref)
        if parent is None:
            raise ReplyError("the mention has no post reference (uri and cid) to reply to", permanent=True)
        # The thread's root is the parent's own root, or the parent when it is top-level.
        root = _strong_ref(reply_ref.get("root")) if isinstance(reply_ref, dict) else None
        return parent, root or parent

    async def _facets(self, text: str, request: ReplyRequest, session: _Session) -> list[dict]:
        known = {session.handle.lower(): session.did}
        author_did = request.reply_ref.get("author_did") if isinstance(request.reply_ref, dict) else None
        if isinstance(author_did, str) and _DID.fullmatch(author_did):
            known[request.author_handle.lstrip("@").lower()] = author_did
        dids = {handle: known[handle] if handle in known else await self._resolve(handle)
                for handle in handles_in(text)}
        return build_facets(text, dids)

    def _url(self, uri: str) -> str | None:
        target = _post_uri(uri)
        if target is None:
            return None
        actor = self._session.handle if self._session is not None else target[0]
        return post_url(actor, target[1])

    def _adopt(self, found: dict, request: ReplyRequest, parent: dict[str, str]) -> SentReply:
        """Our record key already holds a post: it is ours unless it answers something else."""
        uri = found.get("uri")
        if not isinstance(uri, str) or _post_uri(uri) is None:
            raise ReplyError("getRecord answered without a post uri", unknown_outcome=True)
        value = found.get("value") if isinstance(found.get("value"), dict) else {}
        reply = value.get("reply") if isinstance(value.get("reply"), dict) else {}
        existing_parent = reply.get("parent", {}).get("uri") if isinstance(reply.get("parent"), dict) else None
        if existing_parent is not None and existing_parent != parent["uri"]:
            raise ReplyError(f"record key {request.key} already holds a reply to another post ({uri})",
                             permanent=True)
        return SentReply(uri, self._url(uri))

    async def _own_post(self, key: str) -> dict | None:
        session = await self._signed_in()
        try:
            return await self._request("GET", "com.atproto.repo.getRecord",
                                       params=[("repo", session.did), ("collection", POST), ("rkey", key)])
        except _XrpcError as exc:
            if exc.status == 404 or (exc.status == 400 and exc.error in ("RecordNotFound", "NotFound")):
                return None
            raise

    def _reply_error(self, exc: _XrpcError, writing: bool) -> ReplyError:
        if exc.status == 429:
            now = self._clock()
            wait = seconds_until(rate_limit_reset(exc.headers, now), now, default=60.0)
            return ReplyError(f"Bluesky rate limit: retry in {human_seconds(wait)}", retry_after=wait)
        if exc.status >= 500 or exc.status == 408:
            return ReplyError(f"Bluesky server error: {exc}", unknown_outcome=writing)
        return ReplyError(f"Bluesky refused the reply: {exc}", permanent=True)

    async def send_reply(self, request: ReplyRequest) -> SentReply:
        problem = self._text_problem(request.text)
        if problem:
            raise ReplyError(problem, permanent=True)
        if not _TID.fullmatch(request.key or ""):
            raise ReplyError(f"reply key {request.key!r} is not a TID record key", permanent=True)
        parent, root = self._reply_refs(request.reply_ref)
        writing = False
        try:
            session = await self._signed_in()
            record: dict[str, Any] = {
                "$type": POST,
                "text": request.text,
                "createdAt": iso(self._clock()),
                "reply": {"root": root, "parent": parent},
            }
            facets = await self._facets(request.text, request, session)
            if facets:
                record["facets"] = facets
            writing = True
            try:
                created = await self._authed("POST", "com.atproto.repo.createRecord", body={
                    "repo": session.did, "collection": POST, "rkey": request.key, "record": record,
                })
            except _XrpcError as exc:
                if not (exc.status >= 500 or exc.status == 409 or exc.error in _KEY_TAKEN
                        or "already" in exc.message.lower()):
                    raise
                # Maybe an earlier attempt of ours already wrote this key.
                try:
                    found = await self._own_post(request.key)
                except (_XrpcError, _Unreachable, AuthError) as lookup:
                    raise ReplyError(f"Bluesky answered {exc}; checking for the post failed: {lookup}",
                                     unknown_outcome=True) from None
                if found is None:
                    raise
                return self._adopt(found, request, parent)
            uri = created.get("uri")
            if not isinstance(uri, str) or _post_uri(uri) is None:
                uri = f"at://{session.did}/{POST}/{request.key}"
            return SentReply(uri, self._url(uri))
        except AuthError as exc:
            raise ReplyError(f"Bluesky sign-in failed: {exc}", retry_after=300.0) from None
        except _XrpcError as exc:
            raise self._reply_error(exc, writing) from None
        except _Unreachable as exc:
            raise ReplyError(f"Bluesky unreachable: {exc}", unknown_outcome=writing and exc.maybe_sent) from None

    async def find_reply(self, request: ReplyRequest) -> SentReply | None:
        """The post at our record key, if an earlier attempt made it."""
        if not _TID.fullmatch(request.key or ""):
            return None
        parent, _ = self._reply_refs(request.reply_ref)
        try:
            found = await self._own_post(request.key)
        except AuthError as exc:
            raise ReplyError(f"Bluesky sign-in failed: {exc}", retry_after=300.0) from None
        except _XrpcError as exc:
            error = self._reply_error(exc, writing=False)
            raise ReplyError(f"could not look for the reply: {error}", retry_after=error.retry_after,
                             unknown_outcome=True) from None
        except _Unreachable as exc:
            raise ReplyError(f"could not look for the reply: {exc}", unknown_outcome=True) from None
        return None if found is None else self._adopt(found, request, parent)

    async def aclose(self) -> None:
        # The aiohttp session belongs to the caller; forget the tokens.
        self._session = None
