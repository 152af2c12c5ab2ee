"""The Mastodon REST API as the adapter calls it: one request, its errors, and what to tell a person.

Every call sends the bearer token, never follows a redirect (it would carry
the token elsewhere) and caps the body at MAX_BODY. An answer is parsed
JSON; anything else is an `ApiError` (the server answered) or an
`Unreachable` (it may not have: `sent` says whether it could have acted).
`RestClient` is a mixin of `MastodonAdapter`, which sets the attributes
declared here.
"""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Callable, Mapping, MutableMapping
from datetime import datetime
from typing import Any

import aiohttp
from yarl import URL

from adapters.http import USER_AGENT, Links, links_of, rate_limit_reset, read_capped, redact
from adapters.mastodon.html import html_to_text
from adapters.mastodon.stream import transport_reason
from store.sanitize import clean_line

MAX_BODY = 8 * 1024 * 1024
# Ids are opaque, but anything we put in a URL path must stay one segment.
PATH_ID = re.compile(r"^[A-Za-z0-9_~-][A-Za-z0-9_.~-]{0,127}$")

class ApiError(Exception):
    """A non-2xx answer (or a 2xx that is not the JSON we need)."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None,
                 *, not_api: bool = False, location: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.not_api = not_api
        self.location = location


class Unreachable(Exception):
    """The request failed in transport. `sent`: it may have reached the server."""

    def __init__(self, message: str, *, sent: bool, tls: bool = False):
        super().__init__(message)
        self.message = message
        self.sent = sent
        self.tls = tls


def server_base(server: str) -> URL:
    text = server.strip()
    if "://" not in text:
        text = "https://" + text
    url = URL(text)
    if url.scheme not in ("https", "http") or not url.host:
        raise ValueError(f"not a server address: {server!r}")
    if url.scheme == "http" and url.host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"refusing to send the access token over plain http to {url.host}; use https")
    return url.with_path(url.path.rstrip("/")).with_query(None).with_fragment(None)


class RestClient:
    """REST calls for one account on one server."""

    _base: URL
    _token: str
    _session: aiohttp.ClientSession
    _clock: Callable[[], datetime]
    request_timeout: aiohttp.ClientTimeout

    def _headers(self, extra: Mapping[str, str]) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", "User-Agent": USER_AGENT, **extra}

    async def _call(self, method: str, path: str, *, params: list[tuple[str, str]] | None = None,
                    json_body: Any = None, extra_headers: Mapping[str, str] | None = None,
                    answer_headers: MutableMapping[str, str] | None = None) -> tuple[Any, Links]:
        """One REST call: parsed JSON and the Link header's links by rel, or ApiError / Unreachable.

        `answer_headers`, when given, receives the answer's headers (its rate-limit budget)."""
        url = self._base / path
        headers = self._headers({"Accept": "application/json", **(extra_headers or {})})
        try:
            async with self._session.request(method, url, params=params, json=json_body, headers=headers,
                                             timeout=self.request_timeout, allow_redirects=False) as response:
                body = await _read_capped(response)
                status, response_headers, links = response.status, response.headers, links_of(response)
                if answer_headers is not None:
                    answer_headers.update(response_headers)
        except ApiError:
            raise
        except (TimeoutError, aiohttp.ClientError, OSError, ssl.SSLError) as exc:
            raise Unreachable(self._scrub(transport_reason(exc)), sent=_maybe_sent(exc),
                               tls=_is_tls(exc)) from None
        text = body.decode("utf-8", "replace")
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = None
            if 200 <= status < 300:
                raise ApiError(status, "the answer is not JSON", response_headers,
                                not_api=text.lstrip().startswith("<")) from None
        if 200 <= status < 300:
            return data, links
        message = _error_field(data) or _plain_words(text) or f"HTTP {status}"
        raise ApiError(status, self._scrub(message), response_headers,
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

    def _describe(self, exc: ApiError) -> str:
        host = self._base.host
        if token_refused(exc):
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
            return f"{host} is unavailable (HTTP {exc.status}{words(exc)}); try again later"
        if exc.not_api or exc.status in (404, 405, 410):
            return f"{host} does not look like a Mastodon API (HTTP {exc.status}); check the server address"
        return f"{host} answered HTTP {exc.status}{words(exc)}"

    def _describe_unreachable(self, exc: Unreachable) -> str:
        host = self._base.host
        if exc.tls:
            return f"TLS error talking to {host}: {exc.message}"
        return f"cannot reach {host}: {exc.message}"


def token_refused(exc: ApiError) -> bool:
    # Takahē answers a bad token with 400 "Invalid Bearer token", not 401.
    return exc.status == 401 or exc.status == 400 and "token" in exc.message.lower()


def retry_after(headers: Mapping[str, str], *, default: float) -> float:
    value = headers.get("Retry-After", "").strip()
    return min(30.0, float(value)) if value.isdigit() else default


def words(exc: ApiError) -> str:
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
        raise ApiError(response.status, "the answer is too large", response.headers)
    return body


def _is_tls(exc: BaseException) -> bool:
    return isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError) or isinstance(
        getattr(exc, "os_error", None), ssl.SSLError)


def _maybe_sent(exc: BaseException) -> bool:
    """Could the server have received (and acted on) the request?"""
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError | aiohttp.ClientSSLError):
        return False
    return not isinstance(exc, ssl.SSLError)
