"""A local reply bridge for the webhook adapter's outbound URL, as badly behaved as real ones.

It checks signatures, then *ignores Idempotency-Key*: every POST that it
lets through is a new public post. Each reply key can be given a script of
what its successive POSTs meet:

- "ok": posted, 201 with the post's id and url;
- "500": not posted, 500;
- "429": not posted, 429 with Retry-After: `retry_after` (default 0; seconds or an HTTP date);
- "500-posted": posted, then 500 (the bridge's upstream failed after posting);
- "drop-posted": posted, then the connection is dropped with no answer;
- "hold-posted": posted, then no answer until `release` is set (kill the sender meanwhile).

With `lookup=True`, `GET /replies?idempotency_key=KEY` answers 200 with
the first post for that key, or 404.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from adapters.webhook.bridge import SIGNATURE_HEADER
from adapters.webhook.inbound import signature_valid


class FakeBridge:
    def __init__(self, secret: str, *, lookup: bool = True):
        self.secret = secret
        self.lookup = lookup
        self.script: dict[str, list[str]] = {}
        self.posts: dict[str, list[str]] = defaultdict(list)  # reply key -> ids of the posts made for it
        self.attempts: dict[str, int] = defaultdict(int)
        self.lookups: list[str] = []
        self.lookup_status: int | None = None  # answer every lookup with this status instead
        self.retry_after = "0"
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.posted_at: list[tuple[str, datetime]] = []  # (reply key, clock) of every post made
        self.holding = asyncio.Event()
        self.release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base = ""

    @property
    def outbound_url(self) -> str:
        return f"{self.base}/replies"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/replies", self._post)
        app.router.add_get("/replies", self._lookup)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def _publish(self, key: str) -> str:
        self.posted_at.append((key, self.clock()))
        post_id = f"post-{key}-{len(self.posts[key]) + 1}"
        self.posts[key].append(post_id)
        return post_id

    async def _post(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if not signature_valid(self.secret, body, request.headers.get(SIGNATURE_HEADER)):
            return web.json_response({"error": "bad signature"}, status=401)
        key = json.loads(body)["reply_key"]  # Idempotency-Key is ignored: that is the point
        self.attempts[key] += 1
        steps = self.script.get(key) or ["ok"]
        mode = steps.pop(0) if len(steps) > 1 else steps[0]
        if mode == "500":
            return web.json_response({"error": "upstream down"}, status=500)
        if mode == "429":
            return web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": self.retry_after})
        post_id = self._publish(key)
        if mode == "500-posted":
            return web.json_response({"error": "upstream timed out"}, status=500)
        if mode == "drop-posted":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if mode == "hold-posted":
            self.holding.set()
            await self.release.wait()
        return web.json_response({"id": post_id, "url": f"https://net.example/p/{post_id}"}, status=201)

    async def _lookup(self, request: web.Request) -> web.StreamResponse:
        key = request.query.get("idempotency_key", "")
        if not self.lookup:
            return web.json_response({"error": "no such route"}, status=405)
        if not signature_valid(self.secret, key.encode("utf-8"), request.headers.get(SIGNATURE_HEADER)):
            return web.json_response({"error": "bad signature"}, status=401)
        self.lookups.append(key)
        if self.lookup_status is not None:
            return web.json_response({"error": "lookup unavailable"}, status=self.lookup_status)
        if not self.posts.get(key):
            return web.json_response({"error": "no post for that key"}, status=404)
        post_id = self.posts[key][0]
        return web.json_response({"id": post_id, "url": f"https://net.example/p/{post_id}"})
