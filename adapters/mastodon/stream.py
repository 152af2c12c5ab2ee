"""Mastodon's live notification streams: opening them and decoding their events.

Two transports carry the same notifications: SSE
(`/api/v1/streaming/user/notification`, Mastodon only) and WebSocket
(`/api/v1/streaming?stream=user:notification`, Mastodon 3.3+, GoToSocial,
Pleroma/Akkoma). Opening one either yields a `Connection` or says whether
the server lacks it (`StreamUnsupported`: skip it from then on) or is
merely down (`StreamDown`: retry later); which one to try, and when, is
transports.py's business.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from yarl import URL

from adapters.base import CleanError
from adapters.http import SSEDecoder
from store.sanitize import clean_line

# No receive timeout (aiohttp's heartbeat pings find dead sockets); a server
# that never answers our close frame must not hold a reconnect for long.
_WS_TIMEOUT = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0)
_HEADER_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]{1,4096}$")


class StreamDropped(CleanError):
    pass


class StreamUnsupported(CleanError):
    pass


class StreamDown(CleanError):
    pass


class Connection:
    """An open stream: `events()` yields notification dicts or skip reasons."""

    kind = ""

    async def events(self) -> AsyncGenerator[tuple[str, Any], None]:
        raise NotImplementedError
        yield  # pragma: no cover

    async def close(self) -> None:
        raise NotImplementedError


class SSEConnection(Connection):
    kind = "SSE"

    def __init__(self, response: aiohttp.ClientResponse):
        self.response = response
        self.decoder = SSEDecoder()

    async def events(self) -> AsyncGenerator[tuple[str, Any], None]:
        async for chunk in self.response.content.iter_any():
            oversized = self.decoder.oversized
            for event in self.decoder.feed(chunk):
                if event.event != "notification":
                    continue
                try:
                    yield "notification", json.loads(event.data)
                except ValueError:
                    yield "skip", "streamed notification is not JSON"
            if self.decoder.oversized > oversized:
                yield "skip", "streamed event too large"

    async def close(self) -> None:
        self.response.close()


class WSConnection(Connection):
    kind = "WebSocket"

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws

    async def events(self) -> AsyncGenerator[tuple[str, Any], None]:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.ERROR:
                raise StreamDropped(f"websocket error: {type(self.ws.exception()).__name__}")
            if message.type != aiohttp.WSMsgType.TEXT or not message.data.strip():
                continue  # binary frames, Pleroma's empty keep-alive texts
            try:
                outer = json.loads(message.data)
            except ValueError:
                yield "skip", "streamed message is not JSON"
                continue
            if not isinstance(outer, dict):
                continue
            if "error" in outer and "event" not in outer:
                raise StreamDropped(f"stream error: {clean_line(outer.get('error'), 200)}")
            if outer.get("event") != "notification":
                continue
            payload = outer.get("payload")
            if isinstance(payload, str):
                try:
                    payload = json.loads(payload)
                except ValueError:
                    yield "skip", "streamed notification payload is not JSON"
                    continue
            yield "notification", payload

    async def close(self) -> None:
        await self.ws.close()


async def open_sse(session: aiohttp.ClientSession, base: URL, headers: Mapping[str, str], *,
                   timeout: aiohttp.ClientTimeout,
                   error_text: Callable[[aiohttp.ClientResponse], Awaitable[str]]) -> Connection:
    """`headers` authenticate; `error_text` reads a refusal's message (token scrubbed)."""
    url = base / "api/v1/streaming/user/notification"
    headers = {**headers, "Accept": "text/event-stream", "Cache-Control": "no-cache"}
    try:
        response = await session.get(url, headers=headers, timeout=timeout, allow_redirects=False)
    except (TimeoutError, aiohttp.ClientError, OSError, ssl.SSLError) as exc:
        raise StreamDown(f"SSE: {transport_reason(exc)}") from None
    if response.status == 200 and response.content_type == "text/event-stream":
        return SSEConnection(response)
    status = response.status
    message = await error_text(response)
    response.release()
    if status == 429 or status >= 500:
        raise StreamDown(f"SSE: HTTP {status}")
    if status in (401, 403):
        raise StreamUnsupported(f"token refused by the streaming server ({status}: {message})")
    raise StreamUnsupported(f"HTTP {status}" if status != 200 else "not an event stream")


async def open_ws(session: aiohttp.ClientSession, base: URL, headers: Mapping[str, str], *, token: str,
                  handshake_timeout: float, heartbeat: float, max_size: int) -> Connection:
    """`base` is the streaming server's https/http address; `headers` authenticate."""
    url = base.with_scheme("wss" if base.scheme == "https" else "ws") / "api/v1/streaming"
    url = url.with_query({"stream": "user:notification"})
    # Authorization for Mastodon/GoToSocial; the token as subprotocol for
    # Pleroma/Akkoma. Never the access_token query parameter (it is logged).
    protocols = (token,) if _HEADER_TOKEN.match(token) else ()
    try:
        async with asyncio.timeout(handshake_timeout):
            ws = await session.ws_connect(
                url, headers=headers, protocols=protocols, heartbeat=heartbeat,
                autoping=True, max_msg_size=max_size, timeout=_WS_TIMEOUT)
    except aiohttp.WSServerHandshakeError as exc:
        if exc.status == 429 or exc.status >= 500:
            raise StreamDown(f"WebSocket: HTTP {exc.status}") from None
        if exc.status in (401, 403):
            raise StreamUnsupported(f"token refused by the streaming server ({exc.status})") from None
        raise StreamUnsupported(f"HTTP {exc.status}") from None
    except (TimeoutError, aiohttp.ClientError, OSError, ssl.SSLError) as exc:
        raise StreamDown(f"WebSocket: {transport_reason(exc)}") from None
    return WSConnection(ws)


def transport_reason(exc: BaseException) -> str:
    """A failed connection in words; REST calls use it too, so both read alike."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        detail = getattr(exc.certificate_error, "verify_message", "") or type(exc.certificate_error).__name__
        return f"certificate not trusted ({detail})"
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        # aiohttp's SSL errors are also ssl.SSLError, but the reason is on os_error.
        detail = getattr(getattr(exc, "os_error", None), "reason", None) or getattr(exc, "reason", None) \
            or "certificate invalid, expired or for another name"
        return f"TLS handshake failed ({detail})"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connection timed out"
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return "no answer in time"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "unknown host name"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connection failed ({exc.os_error.strerror or type(exc.os_error).__name__})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the connection broke mid-answer"
    return type(exc).__name__
