"""One inbound webhook request before it becomes a delivery.

Its body read within a size and time limit, its signature checked over
the raw bytes, and the JSON error answers the listener gives.
"""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import web

from adapters.http import read_capped
from adapters.webhook.bridge import sign


def signature_valid(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """Constant-time check of a "sha256=<hex>" header against the raw body bytes."""
    if not header:
        return False
    header = header.strip()
    if header[:7].lower() != "sha256=":
        return False
    expected = sign(secret, body)[7:].encode("ascii")
    given = header[7:].strip().lower().encode("ascii", "replace")
    return hmac.compare_digest(expected, given)


class TooSlow(Exception):
    """The client took longer than body_timeout to send its body."""


async def read_within(request: web.Request, limit: int, timeout: float) -> bytes | None:
    """The body, or None when it exceeds `limit`; TooSlow when it takes over `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            return await read_capped(request.content, limit, request.content_length)
    except TimeoutError:
        raise TooSlow from None


def error_response(status: int, message: str, *, retry_after: float | None = None) -> web.Response:
    headers = {"Retry-After": f"{max(1, round(retry_after))}"} if retry_after is not None else None
    return web.json_response({"error": message}, status=status, headers=headers)
