"""A local fake Mastodon server speaking the real wire format, for adapter tests.

It serves what the adapter uses (verify_credentials, instance v2/v1,
notifications with min_id/max_id/since_id/limit/types[] and Link headers,
SSE and WebSocket streaming, statuses, context, account statuses) and lets a
test inject the trouble real servers cause: errors with their headers,
dropped streams, ignored Idempotency-Keys, hung responses. Everything runs on
127.0.0.1 and nothing waits on the wall clock: the test drives time.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

TOKEN = "tok-Secr3t-9f8e7d6c5b4a"
DOMAIN = "example.social"
REMOTE = "remote.example"
OWN_ID = "1"


# `version` and `source_url` as each server writes them in its instance documents.
SOFTWARE = {
    "mastodon": {"version": "4.3.2", "source_url": "https://github.com/mastodon/mastodon"},
    "gotosocial": {"version": "0.17.3 git-4c0ff1a", "source_url": "https://github.com/superseriousbusiness/gotosocial"},
    "takahe": {"version": "takahe/0.11.0", "source_url": "https://github.com/jointakahe/takahe"},
    "akkoma": {"version": "2.7.2 (compatible; Akkoma 3.13.2)"},
}


def id_key(value: str) -> tuple[int, str]:
    return len(value), value


@dataclass
class Recorded:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    host: str
    body: Any = None
    at: datetime | None = None  # the server's clock when it came (`FakeMastodon.clock`)


@dataclass
class Failure:
    status: int  # 0: drop the connection without answering
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    after: bool = False  # run the handler first (the action happens), then fail
    content_type: str = "text/html"  # of a str body


_BODY = web.RequestKey("body", object)
_DROP = object()
_CLOSED = object()
_HEARTBEAT = object()


class FakeMastodon:
    """State plus two aiohttp apps: the API host and (optionally) a streaming host."""

    def __init__(self, *, start_id: int = 9950, max_chars: int = 500):
        self.token = TOKEN
        self.scopes = {"read", "write"}
        self.own = {"id": OWN_ID, "username": "brand", "acct": "brand", "display_name": "Brand",
                    "url": f"https://{DOMAIN}/@brand", "source": {"privacy": "public"}}
        self.max_chars = max_chars
        self.v1_only = False
        self.sse_enabled = True
        self.ws_enabled = True
        self.ws_auth = "any"  # "any" | "protocol" (Pleroma: subprotocol or query only)
        self.honor_idempotency = True
        self.replay_on_connect = 0
        self.separate_streaming_host = False
        self.streaming_override: str | None = None
        self.echo_token_in_errors = False
        self.rewrite = "mastodon"  # "gotosocial" | "takahe": see render()
        self.software = "mastodon"  # what the instance documents say it runs (SOFTWARE)
        self._presented = ""
        # Rate limit of status posts, as Mastodon counts it: `post_limit` per fixed window of `post_window`
        # seconds on `clock`, stated in X-RateLimit-* headers on every answer; over it, 429 and Retry-After.
        self.clock: Any = lambda: datetime.now(UTC)
        self.post_limit: int | None = None
        self.post_window = 300.0
        self.say_limits = True
        self._window_start: datetime | None = None
        self._window_posts = 0
        self.refused: list[datetime] = []  # when a post was refused 429
        self.requests: list[Recorded] = []
        self.entries: list[dict[str, Any]] = []  # {"sort": id, "type": t, "payload": obj}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, str] = {}
        self.failures: dict[tuple[str, str], list[Failure]] = {}
        self.holds: dict[str, asyncio.Event] = {}
        self.stream_clients: list[tuple[str, asyncio.Queue[Any]]] = []
        self.stream_connects: list[tuple[str, str]] = []  # (kind, host)
        self.stream_connected = asyncio.Event()
        self._next = start_id
        self._runners: list[web.AppRunner] = []
        self.base = ""
        self.stream_base = ""

    # --- lifecycle ------------------------------------------------------------

    async def start(self, port: int = 0) -> str:
        """Serve the API (on `port`, to come back where an outage left it)."""
        self._runners = []
        self.base = await self._run(self._api_app(), port)
        if self.separate_streaming_host:
            self.stream_base = await self._run(self._streaming_app())
        return self.base

    async def _run(self, app: web.Application, port: int = 0) -> str:
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        self._runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def stop(self) -> None:
        for _, queue in list(self.stream_clients):
            queue.put_nowait(_DROP)
        for runner in self._runners:
            await runner.cleanup()

    def _api_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/api/v1/accounts/verify_credentials", self.verify_credentials)
        app.router.add_get("/api/v1/apps/verify_credentials", self.app_credentials)
        app.router.add_get("/api/v2/instance", self.instance_v2)
        app.router.add_get("/api/v1/instance", self.instance_v1)
        app.router.add_get("/api/v1/notifications", self.notifications)
        app.router.add_post("/api/v1/statuses", self.post_status)
        app.router.add_get("/api/v1/statuses/{id}/context", self.context)
        app.router.add_get("/api/v1/accounts/{id}/statuses", self.account_statuses)
        if not self.separate_streaming_host:
            self._add_stream_routes(app)
        return app

    def _streaming_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        self._add_stream_routes(app)
        return app

    def _add_stream_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v1/streaming/user/notification", self.sse)
        app.router.add_get("/api/v1/streaming", self.websocket)

    # --- test controls ----------------------------------------------------------

    def new_id(self) -> str:
        self._next += 1
        return str(self._next)

    def fail(self, method: str, path: str, status: int, *, body: Any = None, headers: dict[str, str] | None = None,
             times: int = 1, after: bool = False, content_type: str = "text/html") -> None:
        queue = self.failures.setdefault((method, path), [])
        queue.extend(Failure(status, body, headers or {}, after, content_type) for _ in range(times))

    def hold(self, path: str) -> asyncio.Event:
        """Requests to `path` wait until the returned event is set (a slow server)."""
        event = asyncio.Event()
        self.holds[path] = event
        return event

    def remote_status(self, text: str = "hello", *, acct: str = f"alice@{REMOTE}", visibility: str = "public",
                      in_reply_to_id: str | None = None, spoiler_text: str = "", content: str | None = None,
                      mention_us: bool = True, extra_mentions: list[dict[str, str]] | None = None,
                      language: str | None = "en") -> dict[str, Any]:
        status_id = self.new_id()
        user, _, host = acct.partition("@")
        host = host or DOMAIN
        mentions = list(extra_mentions or [])
        if mention_us:
            mentions.insert(0, {"id": OWN_ID, "username": "brand", "acct": "brand", "url": f"https://{DOMAIN}/@brand"})
        if content is None:
            prefix = ('<span class="h-card"><a href="https://example.social/@brand" class="u-url mention">'
                      '@<span>brand</span></a></span> ') if mention_us else ""
            content = f"<p>{prefix}{html.escape(text)}</p>"
        status = {
            "id": status_id,
            "uri": f"https://{host}/users/{user}/statuses/{status_id}",
            "url": f"https://{host}/@{user}/{status_id}",
            "created_at": "2026-05-01T10:00:00.000Z",
            "content": content,
            "spoiler_text": spoiler_text,
            "visibility": visibility,
            "language": language,
            "in_reply_to_id": in_reply_to_id,
            "account": {"id": f"acc-{user}", "username": user, "acct": acct,
                        "display_name": user.title(), "url": f"https://{host}/@{user}"},
            "mentions": mentions,
            "media_attachments": [],
        }
        self.statuses[status_id] = status
        return status

    def add_mention(self, text: str = "hello", **status_fields: Any) -> dict[str, Any]:
        status = self.remote_status(text, **status_fields)
        notification = {"id": self.new_id(), "type": "mention", "created_at": status["created_at"],
                        "account": status["account"], "status": status}
        self._append(notification["id"], "mention", notification)
        return notification

    def add_notification(self, kind: str = "favourite") -> dict[str, Any]:
        notification: dict[str, Any] = {"id": self.new_id(), "type": kind, "created_at": "2026-05-01T10:00:00.000Z",
                         "account": {"id": "acc-x", "acct": f"x@{REMOTE}", "username": "x"}}
        self._append(notification["id"], kind, notification)
        return notification

    def add_raw(self, payload: Any, *, kind: str = "mention", push: bool = True) -> str:
        """A notification as given (maybe malformed), listed under a fresh id."""
        sort = self.new_id()
        self.entries.append({"sort": sort, "type": kind, "payload": payload})
        if push:
            self._push(payload)
        return sort

    def _append(self, sort: str, kind: str, payload: dict[str, Any]) -> None:
        self.entries.append({"sort": sort, "type": kind, "payload": payload})
        self._push(payload)

    def _push(self, payload: Any) -> None:
        for _, queue in list(self.stream_clients):
            queue.put_nowait(payload)

    def push_only(self, payload: Any) -> None:
        """Send on the streams without listing it (e.g. garbage a stream may carry)."""
        self._push(payload)

    def heartbeat(self) -> None:
        for _, queue in list(self.stream_clients):
            queue.put_nowait(_HEARTBEAT)

    def drop_streams(self) -> None:
        """Cut every open stream mid-flight (no clean end)."""
        for _, queue in list(self.stream_clients):
            queue.put_nowait(_DROP)

    def ours(self) -> list[dict[str, Any]]:
        return [s for s in self.statuses.values() if s["account"]["id"] == OWN_ID]

    def posts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/api/v1/statuses"]

    # --- plumbing -----------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        protocol = request.headers.get("Sec-WebSocket-Protocol", "")
        if request.path == "/api/v1/streaming":
            if self.ws_auth == "protocol":
                return protocol == self.token
            return header == f"Bearer {self.token}" or protocol == self.token
        return header == f"Bearer {self.token}"

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
        if self.echo_token_in_errors:  # a careless server quoting the credential it was given
            message = f"{message} (token {self._presented})"
        return web.json_response({"error": message}, status=status, headers=headers)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = None
        if request.method == "POST" and request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        self.requests.append(Recorded(request.method, request.path, list(request.query.items()),
                                      dict(request.headers), request.host, body, self.clock()))
        request[_BODY] = body
        self._presented = request.headers.get("Authorization", "").removeprefix("Bearer ")
        hold = self.holds.get(request.path)
        if hold is not None:
            await hold.wait()
        failure = None
        queue = self.failures.get((request.method, request.path))
        if queue:
            failure = queue.pop(0)
        if failure is not None and not failure.after:
            return await self._apply(request, failure)
        public = request.path in ("/api/v2/instance", "/api/v1/instance")
        if not public and not self._authorized(request):
            return self._error(401, "The access token is invalid")
        response = await handler(request)
        if failure is not None:
            return await self._apply(request, failure)
        return response

    async def _apply(self, request: web.Request, failure: Failure) -> web.StreamResponse:
        if failure.status == 0:
            if request.transport is not None:
                request.transport.abort()  # the client gets no answer at all
            return web.Response(status=500)
        body = failure.body if failure.body is not None else {"error": f"injected {failure.status}"}
        if isinstance(body, str):
            return web.Response(status=failure.status, text=body, headers=failure.headers,
                                content_type=failure.content_type)
        if self.echo_token_in_errors and isinstance(body, dict) and "error" in body:
            body = {**body, "error": f"{body['error']} (token {self._presented})"}
        return web.json_response(body, status=failure.status, headers=failure.headers)

    def _scope(self, *needed: str) -> web.Response | None:
        for scope in needed:
            family = scope.split(":")[0]
            if scope not in self.scopes and family not in self.scopes:
                return self._error(403, "This action is outside the authorized scopes")
        return None

    # --- REST handlers -------------------------------------------------------------

    async def verify_credentials(self, request: web.Request) -> web.Response:
        return self._scope("read:accounts") or web.json_response(self.own)

    async def app_credentials(self, request: web.Request) -> web.Response:
        return web.json_response({"name": "mentiondesk", "scopes": sorted(self.scopes)})

    def _stream_url(self) -> str:
        if self.streaming_override is not None:
            return self.streaming_override
        base = self.stream_base or self.base
        return base.replace("http://", "ws://")

    async def instance_v2(self, request: web.Request) -> web.Response:
        if self.v1_only:
            return web.Response(status=404, text="<html><body>Not found</body></html>", content_type="text/html")
        return web.json_response({
            "domain": DOMAIN,
            **SOFTWARE[self.software],
            "configuration": {
                "urls": {"streaming": self._stream_url()},
                "statuses": {"max_characters": self.max_chars, "characters_reserved_per_url": 23},
            },
        })

    async def instance_v1(self, request: web.Request) -> web.Response:
        return web.json_response({"uri": DOMAIN, **SOFTWARE[self.software],
                                  "urls": {"streaming_api": self._stream_url()},
                                  "max_toot_chars": self.max_chars})

    async def notifications(self, request: web.Request) -> web.Response:
        denied = self._scope("read:notifications")
        if denied:
            return denied
        query = request.query
        types = query.getall("types[]", [])
        excluded = query.getall("exclude_types[]", [])
        limit = min(int(query.get("limit", "40")), 80)
        items = [e for e in sorted(self.entries, key=lambda e: id_key(e["sort"]))
                 if (not types or e["type"] in types) and e["type"] not in excluded]
        if "max_id" in query:
            items = [e for e in items if id_key(e["sort"]) < id_key(query["max_id"])]
        if "since_id" in query:
            items = [e for e in items if id_key(e["sort"]) > id_key(query["since_id"])]
        if "min_id" in query:
            items = [e for e in items if id_key(e["sort"]) > id_key(query["min_id"])][:limit]
        else:
            items = items[-limit:]
        page = list(reversed(items))  # always newest first
        headers = {}
        if page:
            url = f"{self.base}/api/v1/notifications"
            headers["Link"] = (f'<{url}?max_id={page[-1]["sort"]}>; rel="next", '
                               f'<{url}?min_id={page[0]["sort"]}>; rel="prev"')
        return web.Response(text=json.dumps([e["payload"] for e in page]), headers=headers,
                            content_type="application/json")

    def _post_budget(self) -> tuple[bool, dict[str, str]]:
        """Count one post in the current window: (allowed, the X-RateLimit-* headers to answer with)."""
        if self.post_limit is None:
            return True, {}
        now = self.clock()
        if self._window_start is None or now >= self._window_start + timedelta(seconds=self.post_window):
            self._window_start, self._window_posts = now, 0
        reset = self._window_start + timedelta(seconds=self.post_window)
        allowed = self._window_posts < self.post_limit
        self._window_posts += allowed
        headers = {"X-RateLimit-Limit": str(self.post_limit),
                   "X-RateLimit-Remaining": str(self.post_limit - self._window_posts),
                   "X-RateLimit-Reset": reset.isoformat(timespec="microseconds").replace("+00:00", "Z")}
        if not allowed:
            self.refused.append(now)
            headers["Retry-After"] = str(max(1, round((reset - now).total_seconds())))
        return allowed, headers if self.say_limits or not allowed else {}

    async def post_status(self, request: web.Request) -> web.Response:
        denied = self._scope("write:statuses")
        if denied:
            return denied
        allowed, limits = self._post_budget()
        if not allowed:
            return self._error(429, "Too many requests", limits)
        response = await self._create_status(request)
        response.headers.update(limits)
        return response

    async def _create_status(self, request: web.Request) -> web.Response:
        body = request[_BODY]
        if not isinstance(body, dict):
            return self._error(422, "Validation failed: Text can't be blank")
        key = request.headers.get("Idempotency-Key")
        if self.honor_idempotency and key and key in self.idempotency:
            return web.json_response(self.statuses[self.idempotency[key]])
        text = body.get("status") or ""
        if not text.strip():
            return self._error(422, "Validation failed: Text can't be blank")
        if len(text) > self.max_chars:
            return self._error(422, f"Validation failed: Text character limit of {self.max_chars} exceeded")
        parent = body.get("in_reply_to_id")
        if parent is not None and parent not in self.statuses:
            return self._error(404, "Record not found")
        status_id = self.new_id()
        content, mentions = self.render(text)
        status = {
            "id": status_id,
            "uri": f"https://{DOMAIN}/users/brand/statuses/{status_id}",
            "url": f"https://{DOMAIN}/@brand/{status_id}",
            # The server's own clock, as real servers stamp posts (reply lookup compares it with the key).
            "created_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "content": content,
            "spoiler_text": "",
            "visibility": body.get("visibility", "public"),
            "in_reply_to_id": parent,
            "account": self.own,
            "mentions": mentions,
        }
        self.statuses[status_id] = status
        if self.honor_idempotency and key:
            self.idempotency[key] = status_id
        return web.json_response(status)

    def render(self, text: str) -> tuple[str, list[dict[str, str]]]:
        """A posted text as this server stores it: HTML content and the mentions it resolved.

        `rewrite` imitates what servers do to the text they are given:
        "mastodon" keeps it; "gotosocial" unescapes entities, links bare
        domains as http:// and shortens local `@user@domain` to `@user`;
        "takahe" lengthens every local `@user` to `@user@domain`.
        """
        if self.rewrite == "gotosocial":
            text = html.unescape(text)
        mentions: list[dict[str, str]] = []

        def mention(match: re.Match[str]) -> str:
            user, host = match.group(1), match.group(2) or DOMAIN
            acct = user if host == DOMAIN and self.rewrite != "takahe" else f"{user}@{host}"
            mentions.append({"id": f"acc-{user}", "username": user, "acct": acct, "url": f"https://{host}/@{user}"})
            shown = f"{user}@{host}" if self.rewrite == "takahe" else user
            return (f'<span class="h-card"><a href="https://{host}/@{user}" class="u-url mention">'
                    f'@<span>{html.escape(shown)}</span></a></span>')

        def link(match: re.Match[str]) -> str:
            address = match.group(0)
            if "://" not in address:
                if self.rewrite != "gotosocial":
                    return html.escape(address)  # Mastodon links only what has a scheme
                address = "http://" + address
            escaped = html.escape(address)
            return f'<a href="{escaped}" rel="nofollow noopener noreferrer" target="_blank">{escaped}</a>'

        def hashtag(match: re.Match[str]) -> str:
            tag = match.group(1)
            return (f'<a href="https://{DOMAIN}/tags/{tag.lower()}" class="mention hashtag" rel="tag">'
                    f'#<span>{html.escape(tag)}</span></a>')

        pattern = re.compile(r"(?P<mention>(?<![\w@/])@(\w+)(?:@([\w.-]+\.\w+))?)"
                             r"|(?P<link>(?:https?://|www\.)[^\s<>\"]+|\b[\w-]+\.(?:com|org|net)(?:/[^\s<>\"]*)?)"
                             r"|(?P<tag>(?<![\w&])#(\w+))")

        def piece(match: re.Match[str]) -> str:
            if match.group("mention"):
                return mention(_matched(r"@(\w+)(?:@([\w.-]+\.\w+))?", match.group("mention")))
            if match.group("link"):
                return link(match)
            return hashtag(_matched(r"#(\w+)", match.group("tag")))

        paragraphs = []
        for block in re.split(r"\n{2,}", text.strip()):
            out, last = [], 0
            for match in pattern.finditer(block):
                out.append(html.escape(block[last:match.start()]))
                out.append(piece(match))
                last = match.end()
            out.append(html.escape(block[last:]))
            paragraphs.append("<p>" + "".join(out).replace("\n", "<br>") + "</p>")
        return "".join(paragraphs), mentions

    def _ancestors(self, status: dict[str, Any]) -> list[dict[str, Any]]:
        chain = []
        parent = status.get("in_reply_to_id")
        while parent and parent in self.statuses:
            chain.append(self.statuses[parent])
            parent = self.statuses[parent].get("in_reply_to_id")
        return list(reversed(chain))

    async def context(self, request: web.Request) -> web.Response:
        denied = self._scope("read:statuses")
        if denied:
            return denied
        status = self.statuses.get(request.match_info["id"])
        if status is None:
            return self._error(404, "Record not found")
        descendants = [s for s in self.statuses.values()
                       if any(a["id"] == status["id"] for a in self._ancestors(s))]
        return web.json_response({"ancestors": self._ancestors(status),
                                  "descendants": sorted(descendants, key=lambda s: id_key(s["id"]))})

    async def account_statuses(self, request: web.Request) -> web.Response:
        denied = self._scope("read:statuses")
        if denied:
            return denied
        account_id = request.match_info["id"]
        limit = min(int(request.query.get("limit", "20")), 40)
        mine = [s for s in self.statuses.values() if s["account"]["id"] == account_id]
        mine.sort(key=lambda s: id_key(s["id"]), reverse=True)
        return web.json_response(mine[:limit])

    # --- streaming -----------------------------------------------------------------

    def _subscribe(self, kind: str, host: str) -> asyncio.Queue[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self.stream_clients.append((kind, queue))
        self.stream_connects.append((kind, host))
        if self.replay_on_connect:
            # Like a stream that repeats what the catch-up will also return.
            for entry in [e for e in self.entries if e["type"] == "mention"][-self.replay_on_connect:]:
                queue.put_nowait(entry["payload"])
        self.stream_connected.set()
        return queue

    def _unsubscribe(self, queue: asyncio.Queue[Any]) -> None:
        self.stream_clients[:] = [(k, q) for k, q in self.stream_clients if q is not queue]

    async def sse(self, request: web.Request) -> web.StreamResponse:
        if not self.sse_enabled:
            return self._error(404, "Not found")
        if self._scope("read:notifications"):
            return self._error(401, "Error: Missing access token")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        await response.write(b":)\n")
        queue = self._subscribe("SSE", request.host)
        try:
            while True:
                item = await queue.get()
                if item is _DROP:
                    if request.transport is not None:
                        request.transport.close()
                    break
                if item is _HEARTBEAT:
                    await response.write(b":thump\n")
                    continue
                data = item if isinstance(item, str) else json.dumps(item)
                await response.write(f"event: notification\ndata: {data}\n\n".encode())
        finally:
            self._unsubscribe(queue)
        return response

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if not self.ws_enabled:
            return self._error(404, "Not found")
        if request.query.get("stream") != "user:notification":
            return self._error(400, "Unknown stream type")
        offered = request.headers.get("Sec-WebSocket-Protocol", "")
        ws = web.WebSocketResponse(protocols=(offered,) if offered == self.token else ())
        await ws.prepare(request)
        queue = self._subscribe("WebSocket", request.host)

        async def read() -> None:
            # Answers the client's close frame (aiohttp does it while receiving).
            async for _ in ws:
                pass
            queue.put_nowait(_CLOSED)

        reader = asyncio.ensure_future(read())
        try:
            while True:
                item = await queue.get()
                if item is _CLOSED:
                    break
                if item is _DROP:
                    if request.transport is not None:
                        request.transport.close()
                    break
                if item is _HEARTBEAT:
                    await ws.send_str("")  # Pleroma-style keep-alive
                    continue
                if isinstance(item, dict) and item.get("__ws_raw__"):
                    await ws.send_str(item["__ws_raw__"])
                    continue
                payload = item if isinstance(item, str) else json.dumps(item)
                await ws.send_str(json.dumps({"stream": ["user:notification"], "event": "notification",
                                              "payload": payload}))
        finally:
            reader.cancel()
            self._unsubscribe(queue)
        return ws


# --- time, for tests that must not wait -----------------------------------------------

class FakeClock:
    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeSleep:
    """Records every wait; returns at once, except waits over `block_over` never end."""

    def __init__(self, block_over: float | None = 200.0, clock: FakeClock | None = None):
        self.calls: list[float] = []
        self.block_over = block_over
        self.clock = clock

    def waits(self) -> list[float]:
        """The waits that ended (backoffs, polls), without the blocked safety-net timers."""
        return [s for s in self.calls if self.block_over is None or s <= self.block_over]

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.block_over is not None and seconds > self.block_over:
            await asyncio.Event().wait()
        if self.clock is not None:
            self.clock.advance(seconds)
        await asyncio.sleep(0)


def _matched(pattern: str, text: str) -> re.Match[str]:
    """re.match where the caller's own pattern already guarantees a match."""
    found = re.match(pattern, text)
    assert found is not None, (pattern, text)
    return found
