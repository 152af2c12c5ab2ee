"""Small HTTP helpers any network adapter can share.

Nothing here knows about a particular network: the User-Agent, parsing of
rate-limit and Link headers, a tolerant server-sent-events decoder, and keeping secrets out of messages.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from adapters.base import CleanError

USER_AGENT = "mentiondesk/0.1 (+https://example.invalid/mentiondesk)"

# One REST call: fail fast on connect, never hang forever on a response.
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10, sock_connect=10, sock_read=30)
# A long-lived stream: no total, but a read timeout well above the server's
# heartbeat (15 s for Mastodon SSE) so a dead connection is noticed.
STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_connect=10, sock_read=90)


class AuthError(CleanError):
    """The account cannot be used as configured; the message says why (one line, no secrets).

    It often quotes the server's error body, so it is cleaned when made (see CleanError).
    """


def redact(text: str, *secrets: str) -> str:
    """`text` with every secret replaced, so it can go into a message or a log."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


# --- Link headers -------------------------------------------------------------

#: aiohttp's `ClientResponse.links`: rel -> {"url": absolute URL, other params}
Links = Mapping[str, Mapping[str, Any]]


def links_of(response: aiohttp.ClientResponse) -> Links:
    """The Link header by rel (aiohttp parses it); none when a server sends a URL yarl refuses."""
    try:
        return response.links
    except ValueError:  # e.g. a port out of range: hostile or broken, never a crash
        return {}


# --- Bodies -------------------------------------------------------------------

async def read_capped(content: aiohttp.StreamReader, limit: int, declared: int | None = None) -> bytes | None:
    """A body of at most `limit` bytes, or None once it is known to be longer (declared or actual size).

    Requests and answers alike: nothing from outside may make us buffer without bound.
    """
    if declared is not None and declared > limit:
        return None
    body = bytearray()
    async for chunk in content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


# --- Rate limits -------------------------------------------------------------

def parse_http_time(value: str | None, now: datetime) -> datetime | None:
    """A reset/retry time in any form servers use, as an aware datetime.

    Accepts ISO 8601 (Mastodon's X-RateLimit-Reset), epoch seconds (large
    numbers), delta seconds (small numbers, Retry-After) and HTTP-dates.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if number != number or number in (float("inf"), float("-inf")) or number < 0:
            return None
        if number > 1_000_000_000:
            try:
                return datetime.fromtimestamp(number, UTC)
            except (OverflowError, OSError, ValueError):
                return None
        return now + timedelta(seconds=number)
    try:
        moment = datetime.fromisoformat(text.upper())  # 3.11 reads Z, not z
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


_RESET_HEADERS = ("X-RateLimit-Reset", "RateLimit-Reset", "Retry-After")


def rate_limit_reset(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """When a rate limit ends, from whichever header the server sent."""
    for name in _RESET_HEADERS:
        moment = parse_http_time(headers.get(name), now)
        if moment is not None:
            return moment
    return None


def seconds_until(moment: datetime | None, now: datetime, *, default: float, low: float = 1.0,
                  high: float = 3600.0) -> float:
    """Seconds to wait for `moment`, clamped: a skewed clock never means 0 or a day."""
    if moment is None:
        return default
    return min(high, max(low, (moment - now).total_seconds()))


# --- Server-sent events --------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str
    data: str


class SSEDecoder:
    """Incremental text/event-stream decoder (WHATWG rules, tolerant of CRLF).

    `feed(bytes)` returns the complete events; comment lines (heartbeats)
    count as activity via `comments`. An event larger than `max_event`
    bytes is dropped and reported through `oversized`.
    """

    def __init__(self, max_event: int = 4 * 1024 * 1024):
        self.max_event = max_event
        self.comments = 0
        self.oversized = 0
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self._size = 0
        self._skipping = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        self._buffer += chunk
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                if len(self._buffer) > self.max_event:
                    # A line that never ends: drop it rather than grow forever.
                    self._buffer = b""
                    self._skipping = True
                break
            end, skip = cut
            line = self._buffer[:end].decode("utf-8", "replace")
            self._buffer = self._buffer[end + skip:]
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._size += len(value) + 1
            if self._size > self.max_event:
                self._skipping = True
                self._data = []
            elif not self._skipping:
                self._data.append(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        event, data, skipping = self._event or "message", self._data, self._skipping
        self._event, self._data, self._size, self._skipping = "", [], 0, False
        if skipping:
            self.oversized += 1
            return None
        if not data:
            return None
        return SSEEvent(event, "\n".join(data))


def _line_end(buffer: bytes) -> tuple[int, int] | None:
    newline = buffer.find(b"\n")
    carriage = buffer.find(b"\r")
    if carriage != -1 and (newline == -1 or carriage < newline):
        if carriage + 1 == len(buffer):
            return None  # might be the first half of CRLF
        return carriage, 2 if buffer[carriage + 1:carriage + 2] == b"\n" else 1
    if newline == -1:
        return None
    return newline, 1

