"""Which streaming address and transport to use, remembered per adapter.

Streaming addresses: the advertised streaming URL, then the configured
server, each with SSE and WebSocket (servers advertise hosts that do not
resolve from here); the status names what failed. Opening and decoding a
stream is stream.py. `StreamTransports` is a mixin of `MastodonAdapter`,
which sets the attributes declared here.
"""

from __future__ import annotations

from datetime import datetime

import aiohttp
from yarl import URL

from adapters.mastodon.rest import MAX_BODY, RestClient
from adapters.mastodon.stream import Connection, StreamDown, StreamUnsupported, open_sse, open_ws

# Stream paths a server may not have; re-probed after this long on polling.
STREAM_REPROBE_SECONDS = 1800.0


class StreamTransports(RestClient):
    """Picks, and falls back between, the live transports."""

    _streaming: bool
    _stream_base: URL | None
    _unsupported: dict[str, str]
    _unsupported_at: datetime | None
    _preferred_pair: tuple[URL, str] | None
    _stream_note: str
    stream_timeout: aiohttp.ClientTimeout
    ws_handshake_timeout: float
    ws_heartbeat: float

    async def _connect_stream(self) -> tuple[Connection | None, str, bool]:
        """(connection, why not, streaming merely down).

        Every transport (SSE, WebSocket) on every address: the advertised
        streaming URL first, then the configured server, since servers
        advertise hosts that do not resolve from here (GoToSocial advertises
        `wss://<its domain>`). The last pair that worked is tried first. A
        pair the server lacks is skipped until STREAM_REPROBE_SECONDS pass.
        """
        if not self._streaming:
            return None, "streaming disabled", False
        pairs = [(base, kind) for base in self._stream_bases() for kind in ("SSE", "WebSocket")]
        if self._preferred_pair in pairs:
            pairs.remove(self._preferred_pair)
            pairs.insert(0, self._preferred_pair)
        if all(_pair_label(*pair) in self._unsupported for pair in pairs):
            now = self._clock()
            if self._unsupported_at and (now - self._unsupported_at).total_seconds() < STREAM_REPROBE_SECONDS:
                return None, self._unsupported_reason(), False
            self._unsupported.clear()
        down: list[str] = []
        for base, kind in pairs:
            label = _pair_label(base, kind)
            if label in self._unsupported:
                continue
            try:
                connection = await (self._open_sse(base) if kind == "SSE" else self._open_ws(base))
            except StreamUnsupported as exc:
                self._unsupported[label] = str(exc)
                self._unsupported_at = self._clock()
                if self._preferred_pair == (base, kind):
                    self._preferred_pair = None
                continue
            except StreamDown as exc:
                down.append(f"{label}: {str(exc).split(': ', 1)[-1]}")
                continue
            self._preferred_pair = (base, kind)
            if down or base == self._stream_base:  # a fallback keeps naming what failed before it
                self._stream_note = "; ".join(down)
            return connection, "", False
        if down:
            return None, "; ".join(down), True
        return None, self._unsupported_reason(), False

    def _stream_bases(self) -> list[URL]:
        bases = [self._stream_base] if self._stream_base is not None else []
        return bases + [self._base] if self._base not in bases else bases

    def _live_detail(self, connection: Connection) -> str:
        base = self._preferred_pair[0] if self._preferred_pair else self._base
        detail = f"streaming via {connection.kind}"
        if self._stream_base is not None and base != self._stream_base or self._stream_note:
            detail += f" on {base.host}"
        return f"{detail} ({self._stream_note} failed)" if self._stream_note else detail

    def _unsupported_reason(self) -> str:
        return "; ".join(f"{label}: {why}" for label, why in self._unsupported.items()) or "no streaming API"

    async def _open_sse(self, base: URL) -> Connection:
        return await open_sse(self._session, base, self._headers({}),
                              timeout=self.stream_timeout, error_text=self._error_text)

    async def _open_ws(self, base: URL) -> Connection:
        return await open_ws(self._session, base, self._headers({}),
                             token=self._token, handshake_timeout=self.ws_handshake_timeout,
                             heartbeat=self.ws_heartbeat, max_size=MAX_BODY)


def _pair_label(base: URL, kind: str) -> str:
    return f"{kind} to {base.host}" + (f":{base.port}" if base.port and not base.is_default_port() else "")
