"""Replies to webhook mentions: the bridge behind `outbound_url`, and looking a reply up on it.

The contract the bridge must meet is in docs/webhooks.md ("The bridge
contract"). In short: `Idempotency-Key` is the reply's identity on every
attempt; 2xx means posted, 408/425/429 and other 4xx mean not posted, and
5xx, a timeout or a dropped connection mean *maybe* posted. A maybe is
settled by `GET lookup_url?idempotency_key=KEY` (200: the post, 404: none)
before anything is sent again; without a lookup_url it is held for the
operator (ReplyNeedsCheck), because a bridge that ignores the key would
post twice.

Nothing built here ever contains the configured URLs whole: a URL with
`user:pass@` or a `token=` query is refused at config load, and messages
name only the scheme, host and path (`safe_url`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from yarl import URL

from adapters.base import ReplyError, ReplyNeedsCheck, ReplyRequest, SentReply
from adapters.http import parse_http_time
from adapters.webhook.shapes import NETWORK_PREFIX
from store.sanitize import clean_line

SIGNATURE_HEADER = "X-Mentiondesk-Signature"
_REPLY_BODY_LIMIT = 64 * 1024
# Query keys that carry credentials; their values must come from outbound_secret_env instead.
_SECRET_KEY = re.compile(r"token|secret|pass|key|auth|sig|cred|session", re.IGNORECASE)


def sign(secret: str | bytes, body: bytes) -> str:
    """The signature header value for `body`: "sha256=" + hex HMAC-SHA256."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def safe_url(url: str) -> str:
    """scheme://host[:port]/path of `url`: no user, password, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unparsable URL)"
    path = clean_line(parts.path, 200)
    if not parts.scheme or not host:
        return "(a URL without a host)"
    return f"{parts.scheme}://{clean_line(host, 200)}{port}{path}"


def url_problem(url: Any, name: str) -> str | None:
    """Why `url` cannot be a bridge URL, in one line that never repeats its secrets; None if it can."""
    secret_hint = f"put the secret in outbound_secret_env (it signs every request), not in {name}"
    if not isinstance(url, str) or not url.strip():
        return f"{name} must be an http(s) URL"
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return f"{name} is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{name} must be an http(s) URL with a host"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return f"{name} must not contain credentials (user:password@): {secret_hint}"
    if any(_SECRET_KEY.search(key) for key, _ in parse_qsl(parts.query, keep_blank_values=True)):
        return f"{name} must not carry credentials in its query (token=...): {secret_hint}"
    return None


def outbound_body(request: ReplyRequest) -> bytes:
    """The reply as the bridge receives it: ASCII-only JSON, signed byte for byte."""
    payload = {
        "reply_key": request.key,
        "in_reply_to": request.mention_remote_id,
        "network": request.network.removeprefix(NETWORK_PREFIX),
        "text": request.text,
        "author": request.author_handle,
        "mention_url": request.mention_url,
        "reply_ref": request.reply_ref,
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("ascii")


class Bridge:
    """POSTs replies to `outbound_url`; looks them up at `lookup_url` when one is configured."""

    def __init__(self, outbound_url: str, secret: str, *, lookup_url: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        for url, name in ((outbound_url, "outbound_url"), (lookup_url, "lookup_url")):
            if url is not None and (problem := url_problem(url, name)):
                raise ValueError(problem)
        self.outbound_url = outbound_url.strip()
        self.lookup_url = lookup_url.strip() if lookup_url else None
        self._secret = secret
        self._clock = clock  # an HTTP-date Retry-After is read against it

    async def post(self, session: aiohttp.ClientSession, request: ReplyRequest, timeout: float) -> SentReply:
        body = outbound_body(request)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self._secret, body),
                   "Idempotency-Key": request.key}
        where = f"outbound URL {safe_url(self.outbound_url)}"
        try:
            async with session.post(self.outbound_url, data=body, headers=headers, allow_redirects=False,
                                    timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"), self._clock())
                answer = await _json_answer(response)
        except aiohttp.ClientConnectorError as exc:  # nothing was sent
            raise ReplyError(f"{where} unreachable: {_os_reason(exc)}", not_sent=True) from None
        except aiohttp.ConnectionTimeoutError:  # no connection within the time: nothing was sent either
            raise ReplyError(f"{where} unreachable: no connection within {timeout:g} s", not_sent=True) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ReplyError(f"{where} did not answer: {_client_reason(exc, timeout)}; it may have posted",
                             unknown_outcome=True) from None
        if 200 <= status < 300:
            return _sent(answer, request.key)
        message = f"{where} answered {status}" + _reason(answer)
        if status in (408, 425, 429):  # not processed; worth another try later
            raise ReplyError(message, retry_after=retry_after)
        if status == 409:  # a post for this key exists or is under way: look it up, never resend blindly
            raise ReplyError(message, retry_after=retry_after, unknown_outcome=True)
        if status < 500:
            raise ReplyError(message, permanent=True)
        raise ReplyError(message + "; it may have posted", retry_after=retry_after, unknown_outcome=True)

    def check_lookup(self) -> None:
        """Hold an uncertain reply for the operator when there is no way to look it up."""
        if self.lookup_url is None:
            raise ReplyNeedsCheck(
                "held: the reply may have been posted and the bridge offers no lookup_url to check; "
                "look on the network and post it by hand only if it is not there")

    async def lookup(self, session: aiohttp.ClientSession, request: ReplyRequest, timeout: float) -> SentReply | None:
        """The post made for `request.key` (200), None when the bridge has none (404)."""
        self.check_lookup()
        assert self.lookup_url is not None
        url = URL(self.lookup_url).update_query(idempotency_key=request.key)
        headers = {SIGNATURE_HEADER: sign(self._secret, request.key.encode("utf-8")), "Idempotency-Key": request.key}
        where = f"lookup URL {safe_url(self.lookup_url)}"
        try:
            async with session.get(url, headers=headers, allow_redirects=False,
                                   timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"), self._clock())
                answer = await _json_answer(response)
        except aiohttp.ClientConnectorError as exc:
            raise ReplyError(f"{where} unreachable: {_os_reason(exc)}; the reply may have been posted",
                             unknown_outcome=True) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ReplyError(f"{where} did not answer: {_client_reason(exc, timeout)}; "
                             "the reply may have been posted", unknown_outcome=True) from None
        if status == 200:
            return _sent(answer, request.key)
        if status == 404:
            return None
        message = f"{where} answered {status}" + _reason(answer) + "; the reply may have been posted"
        if status < 500 and status not in (408, 409, 425, 429):  # the lookup itself is refused: ask a person
            raise ReplyNeedsCheck(f"held: {message}; check on the network")
        raise ReplyError(message, retry_after=retry_after, unknown_outcome=True)


def _sent(answer: dict[str, Any], key: str) -> SentReply:
    remote_id = answer.get("id")
    if isinstance(remote_id, int) and not isinstance(remote_id, bool):
        remote_id = str(remote_id)
    remote_id = clean_line(remote_id, 1000) if isinstance(remote_id, str) else ""
    url = answer.get("url")
    url = clean_line(url, 2000) if isinstance(url, str) and url.startswith(("https://", "http://")) else None
    return SentReply(remote_id or key, url)


def _reason(answer: dict[str, Any]) -> str:
    reason = clean_line(answer.get("error"), 200) if isinstance(answer.get("error"), str) else ""
    return f": {reason}" if reason else ""


def _os_reason(exc: aiohttp.ClientConnectorError) -> str:
    # str(exc) names host:port and aiohttp's view of the URL; the OS error is all that is needed.
    error = exc.os_error
    return clean_line(error.strerror or type(error).__name__, 200) if error is not None else "cannot connect"


def _client_reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the connection closed before the answer"
    # Other client errors may quote the request URL (credentials included): only their kind.
    return type(exc).__name__


async def _json_answer(response: aiohttp.ClientResponse) -> dict[str, Any]:
    raw = await response.content.read(_REPLY_BODY_LIMIT)
    try:
        answer = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return answer if isinstance(answer, dict) else {}


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After in seconds, given as seconds or as an HTTP date (RFC 9110); None when unreadable."""
    moment = parse_http_time(value, now)
    if moment is None:
        return None
    return min(86_400.0, max(0.0, (moment - now).total_seconds()))
