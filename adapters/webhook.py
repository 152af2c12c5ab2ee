"""The signed webhook adapter: how networks without a native adapter deliver.

A small aiohttp server (127.0.0.1 by default; put a TLS reverse proxy in
front of it for the internet) takes signed POSTs, turns them into
NewMention batches and yields them from `stream()`. A request is answered
200 only once its batch is committed, which is when the ingest runner
resumes the generator after the `yield`; if the stream ends first the
answer is 503, so the sender retries and nothing acknowledged is ever lost.
Replies go to an optional outbound URL, signed the same way.

Routes and the generic shape are documented in docs/webhooks.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from adapters.base import (
    Adapter,
    Batch,
    ManualReply,
    ReplyError,
    ReplyRequest,
    SentReply,
    SourceState,
    StatusCallback,
    TextRule,
)
from adapters.textcount import graphemes
from adapters.webhook_shapes import NETWORK_PREFIX, Parsed, ShapeError, decode_json, parse_generic, parse_meta
from store.db import utc_now
from store.sanitize import clean_line

GENERIC_PATH = "/webhook/generic"
META_PATH = "/webhook/meta"
HEALTH_PATH = "/healthz"
SIGNATURE_HEADER = "X-Mentiondesk-Signature"
META_SIGNATURE_HEADER = "X-Hub-Signature-256"
# Instagram's comment limit; the bridge behind outbound_url enforces stricter per-network ones.
TEXT_RULE = TextRule(2200, graphemes, "2,200 characters")
_CHUNK = 64 * 1024
_REPLY_BODY_LIMIT = 64 * 1024


def sign(secret: str | bytes, body: bytes) -> str:
    """The signature header value for `body`: "sha256=" + hex HMAC-SHA256."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


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


@dataclass(eq=False, slots=True)
class _Delivery:
    """One accepted request, waiting for its batch to be committed."""

    parsed: Parsed
    answer: asyncio.Future[bool]  # True: committed; False: the stream stopped first


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class WebhookAdapter(Adapter):
    """Signed JSON webhooks in (generic shape and Meta Graph), signed JSON replies out."""

    network = "webhook"

    def __init__(self, *, account: str = "webhook", secret: str, host: str = "127.0.0.1", port: int = 8787,
                 verify_token: str | None = None, max_body: int = 1_048_576, outbound_url: str | None = None,
                 outbound_secret: str | None = None, session: aiohttp.ClientSession | None = None,
                 on_status: StatusCallback | None = None, clock: Callable[[], datetime] = utc_now,
                 reply_timeout: float = 30.0, meta_secret: str | None = None):
        super().__init__(account=account, on_status=on_status)
        if not secret:
            raise ValueError("the webhook secret must not be empty (anyone could sign)")
        if outbound_url and not outbound_secret:
            raise ValueError("outbound_url needs an outbound_secret to sign replies with")
        if max_body < 1:
            raise ValueError("max_body must be at least 1 byte")
        self.host = host
        #: the configured port until the server starts, then the bound one (port 0 picks a free one)
        self.port = port
        self.started = asyncio.Event()
        self.max_body = max_body
        self._configured_port = port
        self._secret = secret
        # Meta signs with the App Secret, which generic senders should not need to know.
        self._meta_secret = meta_secret or secret
        self._verify_token = verify_token
        self._outbound_url = outbound_url
        self._outbound_secret = outbound_secret
        self._session = session
        self._own_session: aiohttp.ClientSession | None = None
        self._clock = clock
        self._reply_timeout = reply_timeout
        self._inbox: asyncio.Queue[_Delivery] | None = None
        self._runner: web.AppRunner | None = None
        self._unanswered: set[_Delivery] = set()
        self._arrival = asyncio.Event()

    @property
    def text_rule(self) -> TextRule:
        return TEXT_RULE

    @property
    def pending(self) -> int:
        """Accepted requests still waiting for their batch to be committed."""
        return len(self._unanswered)

    async def until_pending(self, count: int) -> None:
        """Wait until at least `count` accepted requests await commit (tests, diagnostics)."""
        while len(self._unanswered) < count:
            await self._arrival.wait()

    # --- inbound ---------------------------------------------------------

    def _application(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body)
        app.router.add_post(GENERIC_PATH, self._handle_generic)
        app.router.add_post(META_PATH, self._handle_meta)
        app.router.add_get(META_PATH, self._handle_meta_verification)
        app.router.add_get(HEALTH_PATH, self._handle_health)
        return app

    async def stream(self, cursor: str | None) -> AsyncIterator[Batch]:
        """Listen, and yield what arrives; webhooks have no cursor (senders retry instead)."""
        if self._runner is not None:
            raise RuntimeError("this webhook adapter is already listening")
        self.report(SourceState.CONNECTING, f"starting listener on {self.host}:{self._configured_port}")
        runner = web.AppRunner(self._application(), access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._configured_port).start()
        except OSError as exc:
            await runner.cleanup()
            self.report(SourceState.STOPPED,
                        f"cannot listen on {self.host}:{self._configured_port}: {exc.strerror or exc}")
            raise
        inbox: asyncio.Queue[_Delivery] = asyncio.Queue()
        self._runner, self._inbox = runner, inbox
        self.port = runner.addresses[0][1]
        self.started.set()
        self.report(SourceState.LIVE, f"listening on http://{self.host}:{self.port}")
        taken: list[_Delivery] = []
        try:
            while True:
                taken = [await inbox.get()]
                while not inbox.empty():  # everything that arrived meanwhile goes in one commit
                    taken.append(inbox.get_nowait())
                yield Batch(
                    mentions=[mention for delivery in taken for mention in delivery.parsed.mentions],
                    skipped=[reason for delivery in taken for reason in delivery.parsed.skipped],
                )
                # Resumed: the runner has committed the batch.
                for delivery in taken:
                    self._answer(delivery, True)
                taken = []
                if self._inbox is not inbox:
                    return  # aclose() stopped the listener while the batch was committing
        finally:
            for delivery in taken:
                self._answer(delivery, False)
            await self._shutdown()

    def _answer(self, delivery: _Delivery, committed: bool) -> None:
        self._unanswered.discard(delivery)
        if not delivery.answer.done():
            delivery.answer.set_result(committed)

    async def _shutdown(self) -> None:
        """Stop accepting, answer everything still waiting with 503, close the server."""
        runner, inbox = self._runner, self._inbox
        if runner is None:
            return
        self._runner = self._inbox = None
        self.started.clear()
        if inbox is not None:
            while not inbox.empty():
                self._answer(inbox.get_nowait(), False)
        for delivery in list(self._unanswered):
            self._answer(delivery, False)
        await runner.cleanup()
        self.report(SourceState.STOPPED, "listener stopped")

    async def _handle_generic(self, request: web.Request) -> web.Response:
        return await self._receive(request, SIGNATURE_HEADER, self._secret, parse_generic)

    async def _handle_meta(self, request: web.Request) -> web.Response:
        return await self._receive(request, META_SIGNATURE_HEADER, self._meta_secret, parse_meta)

    async def _receive(self, request: web.Request, header: str, secret: str,
                       parse: Callable[..., Parsed]) -> web.Response:
        if self._inbox is None:
            return _error(503, "not accepting deliveries; retry later")
        body = await _read_capped(request, self.max_body)
        if body is None:
            return _error(413, f"body larger than {self.max_body} bytes")
        # Over the raw bytes, before any parsing: re-encoded JSON would not match.
        if not signature_valid(secret, body, request.headers.get(header)):
            return _error(401, f"missing or invalid {header}")
        try:
            parsed = parse(decode_json(body), account=self.account, received_at=self._clock())
        except ShapeError as exc:
            return _error(400, str(exc))
        if parsed.mentions or parsed.skipped:
            inbox = self._inbox
            if inbox is None:  # the stream stopped while the body was being read
                return _error(503, "not accepting deliveries; retry later")
            delivery = _Delivery(parsed, asyncio.get_running_loop().create_future())
            self._unanswered.add(delivery)
            inbox.put_nowait(delivery)
            self._arrival.set()
            self._arrival = asyncio.Event()
            if not await delivery.answer:
                return _error(503, "stopped before the delivery was stored; retry")
        return web.json_response({"accepted": len(parsed.mentions), "skipped": parsed.skipped})

    async def _handle_meta_verification(self, request: web.Request) -> web.Response:
        query = request.query
        token = query.get("hub.verify_token", "")
        if (self._verify_token and query.get("hub.mode") == "subscribe"
                and hmac.compare_digest(token.encode("utf-8", "replace"),
                                        self._verify_token.encode("utf-8", "replace"))):
            return web.Response(text=query.get("hub.challenge", ""), content_type="text/plain")
        return web.Response(status=403, text="verification failed", content_type="text/plain")

    async def _handle_health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "pending": self.pending})

    # --- outbound --------------------------------------------------------

    async def send_reply(self, request: ReplyRequest) -> SentReply:
        """POST the reply, signed, to the outbound URL; the key makes a resend harmless."""
        if not self._outbound_url:
            raise ManualReply(f"reply by hand: {request.network} has no outbound URL")
        body = outbound_body(request)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._outbound_secret or "", body),
            "Idempotency-Key": request.key,
        }
        session = self._reply_session()
        try:
            async with session.post(self._outbound_url, data=body, headers=headers, allow_redirects=False,
                                    timeout=aiohttp.ClientTimeout(total=self._reply_timeout)) as response:
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"))
                answer = await _json_answer(response)
        except aiohttp.ClientConnectorError as exc:
            raise ReplyError(f"outbound URL unreachable: {exc}") from exc  # nothing was sent
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ReplyError(f"outbound URL did not answer: {type(exc).__name__}: {exc}",
                             unknown_outcome=True) from exc
        if 200 <= status < 300:
            remote_id = answer.get("id")
            if isinstance(remote_id, int) and not isinstance(remote_id, bool):
                remote_id = str(remote_id)
            remote_id = clean_line(remote_id, 1000) if isinstance(remote_id, str) else ""
            url = answer.get("url")
            url = clean_line(url, 2000) if isinstance(url, str) and url.startswith(("https://", "http://")) else None
            return SentReply(remote_id or request.key, url)
        reason = clean_line(answer.get("error"), 200) if isinstance(answer.get("error"), str) else ""
        message = f"outbound URL answered {status}" + (f": {reason}" if reason else "")
        if status in (408, 425, 429):  # not processed; worth another try later
            raise ReplyError(message, retry_after=retry_after)
        if status < 500:
            raise ReplyError(message, permanent=True)
        raise ReplyError(message, retry_after=retry_after, unknown_outcome=True)

    def _reply_session(self) -> aiohttp.ClientSession:
        if self._session is not None:
            return self._session
        if self._own_session is None or self._own_session.closed:
            self._own_session = aiohttp.ClientSession()
        return self._own_session

    async def aclose(self) -> None:
        await self._shutdown()
        if self._own_session is not None:
            await self._own_session.close()
            self._own_session = None


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


async def _read_capped(request: web.Request, limit: int) -> bytes | None:
    """The body, or None once it is known to exceed `limit` (declared or actual size)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = bytearray()
    while chunk := await request.content.read(_CHUNK):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def _json_answer(response: aiohttp.ClientResponse) -> dict[str, Any]:
    raw = await response.content.read(_REPLY_BODY_LIMIT)
    try:
        answer = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return answer if isinstance(answer, dict) else {}


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None  # an HTTP date: the sender's backoff applies instead
    return seconds if seconds is not None and 0 <= seconds < 86_400 else None
