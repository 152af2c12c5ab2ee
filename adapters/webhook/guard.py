"""Keeping the webhook listener answerable when clients misbehave.

aiohttp never times out a connection that is still sending its request
headers, and logs every client that vanishes mid-body with a traceback:
1,100 slow-header connections once used up the file limit (no delivery got
through) and wrote 40 MB of log in 30 s. `GuardedSite` puts each
connection under a guard that

- closes it when no request has started within `header_timeout` (slow
  headers, or idle keep-alive);
- caps open connections: at the cap the oldest connection that is still
  sending (headers or body) is closed to make room, and when every one is
  a delivery waiting for its commit the newcomer gets a canned 503 and is
  closed at once, so descriptors never pile up and slow senders cannot
  crowd out a prompt one.

`QuietLog` turns client misbehaviour into one warning line per kind of
problem, at most once a minute, counting the ones it held back.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal, TypedDict

from aiohttp import web

log = logging.getLogger("adapters.webhook.adapter")

# Listener limits a webhook account may tune (seconds); see docs/webhooks.md.
ListenerSecond = Literal["commit_timeout", "header_timeout", "body_timeout", "retry_after"]
LISTENER_SECONDS: tuple[ListenerSecond, ...] = ("commit_timeout", "header_timeout", "body_timeout", "retry_after")


class ListenerSeconds(TypedDict, total=False):
    """The tuned ones among LISTENER_SECONDS, as keyword arguments of WebhookAdapter."""

    commit_timeout: float
    header_timeout: float
    body_timeout: float
    retry_after: float

_FULL = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: application/json\r\n"
         b"Connection: close\r\nContent-Length: 46\r\n\r\n"
         b'{"error": "too many connections; retry later"}')


class QuietLog:
    """One line per kind of problem, at most once per `every` seconds; no tracebacks."""

    def __init__(self, logger: logging.Logger = log, *, every: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self._logger = logger
        self._every = every
        self._clock = clock
        self._last: dict[str, float] = {}
        self._held: Counter[str] = Counter()
        #: every problem seen, by kind (diagnostics and tests)
        self.counts: Counter[str] = Counter()

    def problem(self, kind: str) -> None:
        self.counts[kind] += 1
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self._every:
            self._held[kind] += 1
            return
        self._last[kind] = now
        held = self._held.pop(kind, 0)
        self._logger.warning("webhook listener: %s%s", kind, f" ({held} more since the last report)" if held else "")


class QuietServerLogger:
    """Stands in for aiohttp's server logger: what it reports about clients, one quiet line each."""

    def __init__(self, quiet: QuietLog):
        self._quiet = quiet

    def _report(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        error = sys.exc_info()[1]
        kind = str(msg).splitlines()[0][:120] if msg else "server problem"
        self._quiet.problem(f"{kind}: {type(error).__name__}" if error is not None else kind)

    exception = error = warning = critical = _report

    def info(self, *args: Any, **kwargs: Any) -> None:
        pass

    debug = info

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging.Logger's name
        return level >= logging.WARNING


class _Guarded(asyncio.Protocol):
    """One connection: aiohttp's protocol inside, with a deadline for each request to start."""

    def __init__(self, guard: ConnectionGuard):
        self.guard = guard
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a request is being handled (its headers arrived)
        self.sending = True  # still receiving from the client: may be closed to make room
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if not self.guard.admit(self):
            transport.write(_FULL)  # type: ignore[attr-defined]
            transport.close()
            return
        self.inner = self.guard.factory()
        self.inner.connection_made(transport)
        self.waiting()

    def waiting(self) -> None:
        """Between requests: the next one's headers must arrive in time."""
        self.busy = False
        self.sending = True
        self._cancel()
        self._timer = asyncio.get_running_loop().call_later(self.guard.header_timeout, self._expire)

    def serving(self) -> None:
        self.busy = True
        self._cancel()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if not self.busy:
            self.guard.quiet.problem(f"closed connections that sent no complete request within "
                                     f"{self.guard.header_timeout:g} s")
            self.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        self.guard.release(self)
        if self.inner is not None:
            self.inner.connection_lost(exc)


class ConnectionGuard:
    """The open connections of one listener, and the middleware that marks them busy."""

    def __init__(self, *, max_connections: int, header_timeout: float, quiet: QuietLog):
        #: aiohttp's protocol factory, set when the site starts
        self.factory: Callable[[], asyncio.Protocol] = lambda: asyncio.Protocol()
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.quiet = quiet
        self._open: dict[asyncio.BaseTransport, _Guarded] = {}  # insertion order: oldest first

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def admit(self, connection: _Guarded) -> bool:
        if len(self._open) >= self.max_connections:
            oldest = next((c for c in self._open.values() if c.sending), None)
            if oldest is None:
                self.quiet.problem(f"refused connections: all {self.max_connections} are deliveries being stored")
                return False
            self.quiet.problem(f"closed the oldest connection still sending: {self.max_connections} open")
            self.release(oldest)
            oldest.close()
        assert connection.transport is not None
        self._open[connection.transport] = connection
        return True

    def received(self, request: web.Request) -> None:
        """The request is complete: its connection is no longer one to close for room."""
        connection = self._open.get(request.transport) if request.transport is not None else None
        if connection is not None:
            connection.sending = False

    def release(self, connection: _Guarded) -> None:
        if connection.transport is not None and self._open.get(connection.transport) is connection:
            del self._open[connection.transport]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        transport = request.transport
        connection = self._open.get(transport) if transport is not None else None
        if connection is not None:
            connection.serving()
        try:
            return await handler(request)
        finally:
            if connection is not None and transport is not None and self._open.get(transport) is connection:
                connection.waiting()


class GuardedSite(web.BaseSite):
    """aiohttp's TCPSite, with every connection under `guard`."""

    def __init__(self, runner: web.BaseRunner, guard: ConnectionGuard, host: str, port: int, *,
                 backlog: int = 128):
        super().__init__(runner, backlog=backlog)
        self._host, self._port = host, port
        self.guard = guard

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        guard = self.guard
        guard.factory = server
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Guarded(guard), self._host, self._port, backlog=self._backlog)

