"""`mentiondesk web`: an aiohttp server that signs operators in and gives each browser tab a console.

Where authentication happens: one middleware (`_guard`) runs before every
route but the sign-in page and the static files (textual-serve's terminal
script, its CSS and font: nothing secret). A request without a live session
cookie gets the sign-in page (for `/`) or 401 — the websocket route included,
so an unauthenticated upgrade is refused before the websocket is accepted and
before any process starts. The websocket also checks Origin, and the console
process is started with the operator of the session found by the middleware:
nothing in the request names it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from textual_serve.server import Server

from tui.web.console_process import ConsoleService, cells
from tui.web.pages import console_page, content_security_policy, signin_page
from tui.web.passwords import MAX_LENGTH, WebUsers, verify
from tui.web.sessions import Brake, FormTokens, Session, Sessions

log = logging.getLogger("mentiondesk.web")

SESSION_COOKIE = "mentiondesk_session"
FORM_COOKIE = "mentiondesk_form"
PUBLIC = ("/signin", "/static/", "/favicon.ico")
HASHING_AT_ONCE = 2  # scrypt takes 16 MiB and a core: a burst of sign-ins waits instead of exhausting them


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_note(host: str) -> str | None:
    """The one line said when the server can be reached from other machines."""
    if is_loopback(host):
        return None
    return (f"{host} is reachable from other machines: put a TLS proxy in front (else passwords and the "
            "console cross the network in clear) and pass --public-url https://...")


class WebConsole(Server):
    """textual-serve's Server, with our routes: its static files, AppService and downloads are reused."""

    def __init__(self, *, host: str, port: int, users: Callable[[], WebUsers],
                 argv_for: Callable[[str], Sequence[str]], environment: Mapping[str, str] | None = None,
                 public_url: str | None = None, sessions: Sessions | None = None, brake: Brake | None = None) -> None:
        super().__init__("mentiondesk", host=host, port=port, title="mentiondesk", public_url=public_url)
        self.origin_fixed = _origin(public_url) if public_url else None
        self.users = users
        self.argv_for = argv_for
        self.environment = dict(environment or {})
        self.sessions = sessions or Sessions()
        self.brake = brake or Brake()
        self.forms = FormTokens()
        self.hashing = asyncio.Semaphore(HASHING_AT_ONCE)
        self.sockets: dict[str, set[web.WebSocketResponse]] = {}  # session token -> its open consoles

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/signin", self.handle_signin_form),
            web.post("/signin", self.handle_signin),
            web.post("/signout", self.handle_signout),
            web.get("/ws", self.handle_websocket, name="websocket"),
            web.get("/favicon.ico", self.handle_favicon),
            web.get("/download/{key}", self.handle_download, name="download"),
            web.static("/static", self.statics_path, name="static"),
        ])
        app.on_shutdown.append(self.on_shutdown)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler) -> web.StreamResponse:
        if not any(request.path == p or (p.endswith("/") and request.path.startswith(p)) for p in PUBLIC):
            self._signed_in(request)
        response = await handler(request)
        if not response.prepared:  # a websocket's headers are already sent
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers["Content-Security-Policy"] = content_security_policy(self._websocket_origin(request))
            response.headers["X-Content-Type-Options"] = "nosniff"
            # Not no-referrer: with it, Chromium sends "Origin: null" on form posts, which _same_origin refuses.
            response.headers["Referrer-Policy"] = "same-origin"
        return response

    def _signed_in(self, request: web.Request) -> Session:
        """The request's live session (its operator still in the password file), else the sign-in page
        for `/` and 401 for everything else."""
        session = self.sessions.find(request.cookies.get(SESSION_COOKIE))
        if session is None or session.operator not in self.users().hashes:
            if request.path == "/":
                raise web.HTTPSeeOther("/signin")
            raise web.HTTPUnauthorized(text="sign in first\n")
        return session

    async def handle_favicon(self, request: web.Request) -> web.Response:
        return web.Response(status=204)  # none, rather than a 401 in the browser's console

    async def handle_index(self, request: web.Request) -> web.Response:
        session = self._signed_in(request)
        websocket_url = self._websocket_origin(request) + str(request.app.router["websocket"].url_for())
        token = self.forms.for_form(session.token, "signout")
        return web.Response(text=console_page(session.operator, websocket_url, token), content_type="text/html")

    async def handle_signin_form(self, request: web.Request) -> web.Response:
        return self._signin(request, "", "", 200)

    def _signin(self, request: web.Request, problem: str, name: str, status: int) -> web.Response:
        cookie = request.cookies.get(FORM_COOKIE) or self.forms.new_cookie()
        response = web.Response(text=signin_page(self.forms.for_form(cookie, "signin"), problem, name),
                                content_type="text/html", status=status)
        self._set_cookie(request, response, FORM_COOKIE, cookie, None)
        return response

    async def handle_signin(self, request: web.Request) -> web.Response:
        form = await request.post()
        # NFC, as the password file stores names (store/operators.py): "Zoë" typed either way is one operator.
        name = unicodedata.normalize("NFC", str(form.get("operator", ""))[:100].strip())
        password = str(form.get("password", ""))
        if not self._same_origin(request) or not self.forms.valid(
                request.cookies.get(FORM_COOKIE), "signin", str(form.get("form_token", ""))):
            return self._signin(request, "The form had expired: sign in again.", name, 403)
        address = f"address:{self._client_address(request)}"
        if (wait := self.brake.wait(address, f"operator:{name}")) > 0:
            return self._signin(request, f"Too many wrong passwords: try again in {int(wait) + 1} s.", name, 429)
        encoded = self.users().hashes.get(name)
        async with self.hashing:
            right = await asyncio.to_thread(verify, password[:MAX_LENGTH + 1], encoded)
        if not right:
            self.brake.failed(address, f"operator:{name}")
            log.info("event=signin_refused operator=%s address=%s", json.dumps(name), request.remote)
            return self._signin(request, "Wrong operator name or password.", name, 401)
        session = self.sessions.start(name)
        log.info("event=signin operator=%s address=%s", json.dumps(name), request.remote)
        response = web.Response(status=303, headers={"Location": "/"})
        self._set_cookie(request, response, SESSION_COOKIE, session.token, self.sessions.seconds_left(session))
        response.del_cookie(FORM_COOKIE, path="/")
        return response

    async def handle_signout(self, request: web.Request) -> web.Response:
        session = self._signed_in(request)
        form = await request.post()
        if not self._same_origin(request) or not self.forms.valid(
                session.token, "signout", str(form.get("form_token", ""))):
            raise web.HTTPForbidden(text="the sign-out form had expired: reload the page\n")
        self.sessions.end(session.token)
        for socket in list(self.sockets.pop(session.token, ())):
            await socket.close()
        response = web.Response(status=303, headers={"Location": "/signin"})
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        session = self._signed_in(request)  # the middleware refused the request without one
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="the console opens only from its own page\n")
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=1024 * 1024)
        await websocket.prepare(request)
        service = ConsoleService(self.argv_for(session.operator), {**self.environment,
                                                                   "MENTIONDESK_OPERATOR": session.operator},
                                 write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                                 close=websocket.close, download_manager=self.download_manager)
        self.sockets.setdefault(session.token, set()).add(websocket)
        expiry = asyncio.get_running_loop().call_later(  # the console ends with the session
            self.sessions.seconds_left(session), lambda: asyncio.ensure_future(websocket.close()))
        try:
            await service.start(cells(request.query.get("width"), 80), cells(request.query.get("height"), 24))
            log.info("event=console_started operator=%s pid=%s", json.dumps(session.operator), service.pid)
            await self._relay(websocket, service)
        finally:
            expiry.cancel()
            self.sockets.get(session.token, set()).discard(websocket)
            await service.stop()
            log.info("event=console_stopped operator=%s pid=%s", json.dumps(session.operator), service.pid)
        return websocket

    @staticmethod
    async def _relay(websocket: web.WebSocketResponse, service: ConsoleService) -> None:
        """The browser's keys and size to the console; anything malformed is dropped, not fatal."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                kind, data = json.loads(message.data)
            except (ValueError, TypeError):
                continue
            if kind == "stdin" and isinstance(data, str):
                await service.send_bytes(data.encode("utf-8", "replace"))
            elif kind == "resize" and isinstance(data, dict):
                await service.set_terminal_size(cells(data.get("width"), 80), cells(data.get("height"), 24))
            elif kind == "ping":
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await service.blur()
            elif kind == "focus":
                await service.focus()

    async def on_shutdown(self, app: web.Application) -> None:
        for sockets in list(self.sockets.values()):
            for socket in list(sockets):
                await socket.close()  # each console is told to quit: leases and claims are released

    async def on_startup(self, app: web.Application) -> None:
        pass  # textual-serve prints its logo here

    def _client_address(self, request: web.Request) -> str:
        """Who is signing in, for the brake. Behind a TLS proxy on this machine (--public-url), the proxy's
        X-Forwarded-For names the browser; from anywhere else that header could be made up, so it is ignored."""
        remote = request.remote or ""
        forwarded = request.headers.get("X-Forwarded-For", "")
        if self.origin_fixed and forwarded and is_loopback(remote):
            return forwarded.rsplit(",", 1)[-1].strip()[:64]  # the proxy appends the address it saw
        return remote

    def _websocket_origin(self, request: web.Request) -> str:
        origin = self.origin_fixed or f"{request.scheme}://{request.host}"
        return origin.replace("https://", "wss://", 1).replace("http://", "ws://", 1)

    def _same_origin(self, request: web.Request) -> bool:
        """Browsers send Origin on websocket upgrades and form posts: it must be this server's page."""
        sent = request.headers.get("Origin")
        return sent is not None and sent == (self.origin_fixed or f"{request.scheme}://{request.host}")

    def _set_cookie(self, request: web.Request, response: web.StreamResponse, name: str, value: str,
                    max_age: float | None) -> None:
        secure = request.secure or (self.origin_fixed or "").startswith("https://")
        response.set_cookie(name, value, path="/", httponly=True, samesite="Strict", secure=secure,
                            max_age=int(max_age) if max_age is not None else None)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def run(console: WebConsole, ready: Callable[[], None]) -> None:
    """Serve until cancelled; OSError (the port is taken) reaches the caller before anything is served."""
    runner = web.AppRunner(await console._make_app(), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, console.host, console.port).start()
        ready()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
