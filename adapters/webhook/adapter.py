"""The signed webhook adapter: how networks without a native adapter deliver.

A small aiohttp server (127.0.0.1 by default; put a TLS reverse proxy in
front of it for the internet) takes signed POSTs, turns them into
NewMention batches and yields them from `stream()`. A request is answered
200 only once its batch is committed, which is when the ingest runner
resumes the generator after the `yield`; if the stream ends first, or the
commit takes longer than `commit_timeout`, the answer is 503 with
Retry-After, so the sender retries and nothing acknowledged is ever lost.

The listener outlives the stream: when a commit fails (a stalled or full
database ends the runner's loop) it keeps answering 503 and reports
"degraded", and a new `stream()` picks up where it left; only `aclose()`
stops it. Replies go to the bridge (adapters/webhook/bridge.py).

Routes and the generic shape are documented in docs/webhooks.md.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from adapters.base import (
    Adapter,
    Batch,
    Capabilities,
    Ingest,
    LimitFrom,
    ManualReply,
    ReplyRequest,
    SentReply,
    SourceState,
    StatusCallback,
    TextRule,
)
from adapters.textcount import graphemes
from adapters.webhook.bridge import SIGNATURE_HEADER, Bridge
from adapters.webhook.generic_shape import parse_generic
from adapters.webhook.guard import (
    LISTENER_SECONDS,
    ConnectionGuard,
    GuardedSite,
    ListenerSeconds,
    QuietLog,
    QuietServerLogger,
)
from adapters.webhook.inbound import TooSlow, error_response, read_within, signature_valid
from adapters.webhook.meta_shape import parse_meta
from adapters.webhook.shapes import Parsed, ShapeError, decode_json
from store.db import utc_now

if TYPE_CHECKING:
    from adapters.accounts import Account

GENERIC_PATH = "/webhook/generic"
META_PATH = "/webhook/meta"
HEALTH_PATH = "/healthz"
META_SIGNATURE_HEADER = "X-Hub-Signature-256"
# Instagram's comment limit; the bridge behind outbound_url enforces stricter per-network ones.
TEXT_RULE = TextRule(2200, graphemes, "2,200 characters")

@dataclass(eq=False, slots=True)
class _Delivery:
    """One accepted request, waiting for its batch to be committed."""

    parsed: Parsed
    answer: asyncio.Future[bool]  # True: committed; False: not (stream stopped, or too slow)


class WebhookAdapter(Adapter):
    """Signed JSON webhooks in (generic shape and Meta Graph), signed JSON replies out."""

    network = "webhook"

    def __init__(self, *, account: str = "webhook", secret: str, host: str = "127.0.0.1", port: int = 8787,
                 verify_token: str | None = None, max_body: int = 1_048_576, outbound_url: str | None = None,
                 outbound_secret: str | None = None, session: aiohttp.ClientSession | None = None,
                 on_status: StatusCallback | None = None, clock: Callable[[], datetime] = utc_now,
                 reply_timeout: float = 30.0, meta_secret: str | None = None, lookup_url: str | None = None,
                 commit_timeout: float = 20.0, retry_after: float = 5.0, header_timeout: float = 10.0,
                 body_timeout: float = 30.0, max_connections: int = 256, quiet: QuietLog | None = None):
        super().__init__(account=account, on_status=on_status)
        if not secret:
            raise ValueError("the webhook secret must not be empty (anyone could sign)")
        if outbound_url and not outbound_secret:
            raise ValueError("outbound_url needs an outbound_secret to sign replies with")
        if lookup_url and not outbound_url:
            raise ValueError("lookup_url needs an outbound_url (it looks up what was posted there)")
        if max_body < 1:
            raise ValueError("max_body must be at least 1 byte")
        if min(commit_timeout, header_timeout, body_timeout) <= 0 or max_connections < 1:
            raise ValueError("timeouts must be positive and max_connections at least 1")
        self.host = host
        #: the configured port until the server starts, then the bound one (port 0 picks a free one)
        self.port = port
        self.started = asyncio.Event()
        self.max_body = max_body
        self.commit_timeout = commit_timeout
        self.retry_after = retry_after
        self.body_timeout = body_timeout
        self.quiet = quiet or QuietLog()
        self._guard = ConnectionGuard(max_connections=max_connections, header_timeout=header_timeout,
                                      quiet=self.quiet)
        self._configured_port = port
        self._secret = secret
        # Meta signs with the App Secret, which generic senders should not need to know.
        self._meta_secret = meta_secret or secret
        self._verify_token = verify_token
        self._bridge = (Bridge(outbound_url, outbound_secret or "", lookup_url=lookup_url, clock=clock)
                        if outbound_url else None)
        self._reply_timeout = reply_timeout
        self._session = session
        self._own_session: aiohttp.ClientSession | None = None
        self._clock = clock
        self._inbox: asyncio.Queue[_Delivery] | None = None  # set while a stream() takes deliveries
        self._runner: web.AppRunner | None = None  # the listener: up from the first stream() to aclose()
        self._unanswered: set[_Delivery] = set()
        self._arrival = asyncio.Event()
        #: why deliveries are answered 503 now ("" while healthy)
        self.degraded = ""

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(Ingest.LISTENING, LimitFrom.NETWORK, "characters (graphemes)",
                            finds_replies=self._bridge is not None and self._bridge.lookup_url is not None)

    @property
    def max_request_time(self) -> float:
        return self._reply_timeout

    def limit_request_time(self, seconds: float) -> None:
        self._reply_timeout = seconds

    @property
    def text_rule(self) -> TextRule:
        return TEXT_RULE

    @property
    def pending(self) -> int:
        """Accepted requests still waiting for their batch to be committed."""
        return len(self._unanswered)

    @property
    def open_connections(self) -> int:
        return self._guard.open_connections

    async def until_pending(self, count: int) -> None:
        """Wait until at least `count` accepted requests await commit (tests, diagnostics)."""
        while len(self._unanswered) < count:
            await self._arrival.wait()

    # --- inbound ---------------------------------------------------------

    def _application(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body, middlewares=[self._guard.middleware])
        app.router.add_post(GENERIC_PATH, self._handle_generic)
        app.router.add_post(META_PATH, self._handle_meta)
        app.router.add_get(META_PATH, self._handle_meta_verification)
        app.router.add_get(HEALTH_PATH, self._handle_health)
        return app

    async def _listen(self) -> None:
        if self._runner is not None:
            return
        self.report(SourceState.CONNECTING, f"starting listener on {self.host}:{self._configured_port}")
        # keepalive_timeout: an idle connection is closed by the guard's header deadline anyway.
        # lingering_time: after an early answer (413, 408) aiohttp reads what the client still
        # sends so it sees the answer; a slow client would hold the connection for its default 10 s.
        runner = web.AppRunner(self._application(), access_log=None, shutdown_timeout=5.0,
                               logger=QuietServerLogger(self.quiet), max_headers=64,
                               keepalive_timeout=self._guard.header_timeout, lingering_time=1.0)
        await runner.setup()
        try:
            await GuardedSite(runner, self._guard, self.host, self._configured_port).start()
        except OSError as exc:
            await runner.cleanup()
            self.report(SourceState.STOPPED,
                        f"cannot listen on {self.host}:{self._configured_port}: {exc.strerror or exc}")
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        self.started.set()

    async def stream(self, cursor: str | None) -> AsyncGenerator[Batch, None]:
        """Listen, and yield what arrives; webhooks have no cursor (senders retry instead)."""
        if self._inbox is not None:
            raise RuntimeError("this webhook adapter is already streaming")
        await self._listen()
        inbox: asyncio.Queue[_Delivery] = asyncio.Queue()
        self._inbox = inbox
        if self.degraded:  # streaming again after a failed commit: healthy once a commit succeeds
            self._set_degraded(self.degraded, again=True)
        else:
            self._set_healthy()
        taken: list[_Delivery] = []
        try:
            while True:
                taken = [await inbox.get()]
                while not inbox.empty():  # everything that arrived meanwhile goes in one commit
                    taken.append(inbox.get_nowait())
                taken = [delivery for delivery in taken if not delivery.answer.done()]  # 503'd while queued
                if not taken:
                    continue
                yield Batch(
                    mentions=[mention for delivery in taken for mention in delivery.parsed.mentions],
                    skipped=[reason for delivery in taken for reason in delivery.parsed.skipped],
                )
                # Resumed: the runner has committed the batch.
                for delivery in taken:
                    self._answer(delivery, True)
                taken = []
                if self.degraded:
                    self._set_healthy()  # a slow commit finished: the store is back
                if self._inbox is not inbox:
                    return  # aclose() stopped the listener while the batch was committing
        finally:
            for delivery in taken:
                self._answer(delivery, False)
            if self._inbox is inbox:
                # Failed commit or shutdown look alike from here: say "degraded" when a delivery meets it.
                self._detach()

    def _set_healthy(self) -> None:
        self.degraded = ""
        self.report(SourceState.LIVE, f"listening on http://{self.host}:{self.port}")

    def _set_degraded(self, reason: str, *, again: bool = False) -> None:
        if self.degraded != reason or again:
            self.degraded = reason
            self.report(SourceState.DEGRADED, f"{reason}; answering 503 on http://{self.host}:{self.port}")

    def _detach(self) -> None:
        """The stream ended: answer what waits with 503 and keep listening until a new stream()."""
        inbox, self._inbox = self._inbox, None
        if inbox is not None:
            while not inbox.empty():
                self._answer(inbox.get_nowait(), False)
        for delivery in list(self._unanswered):
            self._answer(delivery, False)

    def _answer(self, delivery: _Delivery, committed: bool) -> None:
        self._unanswered.discard(delivery)
        if not delivery.answer.done():
            delivery.answer.set_result(committed)

    async def _shutdown(self) -> None:
        """Stop accepting, answer everything still waiting with 503, close the server."""
        runner, self._runner = self._runner, None
        self._detach()
        if runner is None:
            return
        self.started.clear()
        await runner.cleanup()
        self.report(SourceState.STOPPED, "listener stopped")

    async def _handle_generic(self, request: web.Request) -> web.Response:
        return await self._receive(request, SIGNATURE_HEADER, self._secret, parse_generic)

    async def _handle_meta(self, request: web.Request) -> web.Response:
        return await self._receive(request, META_SIGNATURE_HEADER, self._meta_secret, parse_meta)

    def _unavailable(self) -> web.Response:
        if self._inbox is None and self._runner is not None:
            self._set_degraded("the database is not taking deliveries (its last write failed)")
        reason = self.degraded or "not accepting deliveries"
        return error_response(503, f"{reason}; retry later", retry_after=self.retry_after)

    async def _receive(self, request: web.Request, header: str, secret: str,
                       parse: Callable[..., Parsed]) -> web.Response:
        if self._inbox is None:
            return self._unavailable()
        try:
            body = await read_within(request, self.max_body, self.body_timeout)
        except TooSlow:
            self.quiet.problem(f"closed connections whose body took over {self.body_timeout:g} s")
            response = error_response(408, f"body not received within {self.body_timeout:g} s")
            response.force_close()
            return response
        except Exception as exc:  # the client went away or sent a broken body: its problem, one quiet line
            self.quiet.problem(f"dropped a request whose body could not be read: {type(exc).__name__}")
            response = error_response(400, "request body could not be read")
            response.force_close()
            return response
        self._guard.received(request)
        if body is None:
            return error_response(413, f"body larger than {self.max_body} bytes")
        # Over the raw bytes, before any parsing: re-encoded JSON would not match.
        if not signature_valid(secret, body, request.headers.get(header)):
            return error_response(401, f"missing or invalid {header}")
        try:
            parsed = parse(decode_json(body), account=self.account, received_at=self._clock())
        except ShapeError as exc:
            return error_response(400, str(exc))
        if parsed.mentions or parsed.skipped:
            inbox = self._inbox
            if inbox is None:  # the stream stopped while the body was being read
                return self._unavailable()
            delivery = _Delivery(parsed, asyncio.get_running_loop().create_future())
            self._unanswered.add(delivery)
            inbox.put_nowait(delivery)
            self._arrival.set()
            self._arrival = asyncio.Event()
            try:
                committed = await asyncio.wait_for(asyncio.shield(delivery.answer), self.commit_timeout)
            except TimeoutError:
                # Still queued or committing: answered 503 now, and dropped if not yet taken.
                self._answer(delivery, False)
                self._set_degraded(f"the database took over {self.commit_timeout:g} s to store a delivery")
                committed = False
            if not committed:
                return self._unavailable()
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
        if self.degraded or self._inbox is None:
            return web.json_response({"ok": False, "state": "degraded", "reason": self.degraded or "not streaming",
                                      "pending": self.pending}, status=503)
        return web.json_response({"ok": True, "state": "ok", "pending": self.pending})

    # --- outbound --------------------------------------------------------

    async def send_reply(self, request: ReplyRequest) -> SentReply:
        """POST the reply, signed, to the bridge (the contract: docs/webhooks.md)."""
        if self._bridge is None:
            raise ManualReply(f"reply by hand: {request.network} has no outbound URL")
        return await self._bridge.post(self._reply_session(), request, self._reply_timeout)

    async def find_reply(self, request: ReplyRequest) -> SentReply | None:
        """Ask the bridge's lookup_url; without one an uncertain reply is held (ReplyNeedsCheck)."""
        if self._bridge is None:
            return None
        self._bridge.check_lookup()  # before making a session it would not use
        return await self._bridge.lookup(self._reply_session(), request, self._reply_timeout)

    def _reply_session(self) -> aiohttp.ClientSession:
        if self._session is not None:
            return self._session
        if self._own_session is None or self._own_session.closed:
            self._own_session = aiohttp.ClientSession()
        return self._own_session

    async def reset(self) -> None:
        """Before the runner streams again after a failure: the listener stays up (it answers 503 meanwhile)."""
        if self._own_session is not None:
            await self._own_session.close()
            self._own_session = None

    async def aclose(self) -> None:
        await self._shutdown()
        await self.reset()


def from_account(account: Account, session: aiohttp.ClientSession) -> WebhookAdapter:
    """The adapter for a [[accounts]] entry (registry); reads its secrets now."""
    options = account.options
    seconds: ListenerSeconds = {}
    for name in LISTENER_SECONDS:
        if name in options:
            seconds[name] = float(options[name])
    return WebhookAdapter(account=account.handle, secret=account.secret(),
                          host=str(options.get("host", "127.0.0.1")), port=int(options.get("port", 8787)),
                          verify_token=account.option_secret("verify_token"),
                          meta_secret=account.option_secret("meta_secret"),
                          max_body=int(options.get("max_body", 1_048_576)),
                          outbound_url=options.get("outbound_url"), lookup_url=options.get("lookup_url"),
                          outbound_secret=account.option_secret("outbound_secret"), session=session,
                          **seconds,
                          max_connections=int(options.get("max_connections", 256)))
