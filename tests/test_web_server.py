"""`mentiondesk web`'s guard, in process: sessions, form tokens, Origin, the brake, and which
operator a console is started for (a stand-in console process reports its own command line)."""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tui.web.passwords import WebUsers, hash_password
from tui.web.server import FORM_COOKIE, SESSION_COOKIE, WebConsole, exposure_note
from tui.web.sessions import FAILURE_WINDOW, MAX_FAILURES, SESSION_SECONDS, Brake, Sessions

PASSWORD = "correct horse battery staple"
HASHES = {"ana": hash_password(PASSWORD), "bo": hash_password("bo's own long password"),
          "Zo\u00eb": hash_password(PASSWORD)}
# A console stand-in: textual's web-driver prelude, then one data packet naming who it runs for.
FAKE_CONSOLE = r"""
import json, os, sys
sys.stdout.write("__GANGLION__\n"); sys.stdout.flush()
payload = json.dumps({"argv": sys.argv[1:], "env": os.environ.get("MENTIONDESK_OPERATOR")}).encode()
sys.stdout.buffer.write(b"D" + len(payload).to_bytes(4, "big") + payload); sys.stdout.flush()
sys.stdin.buffer.read()
"""
UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Desk:
    def __init__(self) -> None:
        self.clock = Clock()
        self.users = WebUsers(Path("web-users.toml"), dict(HASHES))
        self.started: list[str] = []
        self.console = FAKE_CONSOLE

    def argv_for(self, operator: str) -> list[str]:
        self.started.append(operator)
        return [sys.executable, "-c", self.console, operator]


@pytest.fixture
async def desk() -> AsyncIterator[tuple[Desk, TestClient]]:
    state = Desk()
    console = WebConsole(host="127.0.0.1", port=0, users=lambda: state.users, argv_for=state.argv_for,
                         sessions=Sessions(clock=state.clock), brake=Brake(clock=state.clock))
    client = TestClient(TestServer(await console._make_app()))
    await client.start_server()
    try:
        yield state, client
    finally:
        await client.close()


def origin(client: TestClient) -> dict[str, str]:
    return {"Origin": f"http://{client.host}:{client.port}"}


async def sign_in(client: TestClient, name: str, password: str, *, headers: dict[str, str] | None = None):
    form = await client.get("/signin")
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', await form.text())
    assert token is not None
    headers = origin(client) if headers is None else headers
    if "Secure" in form.headers["Set-Cookie"]:  # the test speaks http to what a browser reaches by https
        headers = {**headers, "Cookie": f"{FORM_COOKIE}={form.cookies[FORM_COOKIE].value}"}
    return await client.post("/signin", data={"form_token": token[1], "operator": name, "password": password},
                             headers=headers, allow_redirects=False)


async def test_every_route_but_sign_in_needs_a_session(desk):
    state, client = desk
    response = await client.get("/", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/signin")
    for method, path, headers in [("GET", "/ws", {**UPGRADE, **origin(client)}), ("GET", "/download/abc", {}),
                                  ("POST", "/signout", origin(client))]:
        assert (await client.request(method, path, headers=headers)).status == 401, path
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: "guessed-token"})
    assert (await client.get("/ws", headers={**UPGRADE, **origin(client)})).status == 401
    assert state.started == []  # the websocket was refused before any console started
    assert (await client.get("/signin")).status == 200
    assert (await client.get("/static/js/textual.js")).status == 200


async def test_wrong_password_refused_right_one_gets_a_strict_cookie(desk):
    state, client = desk
    refused = await sign_in(client, "ana", "not the password")
    assert refused.status == 401 and "Wrong operator name or password." in await refused.text()
    unknown = await sign_in(client, "zed", PASSWORD)
    assert unknown.status == 401 and "Wrong operator name or password." in await unknown.text()
    assert SESSION_COOKIE not in refused.cookies and SESSION_COOKIE not in unknown.cookies
    decomposed = await sign_in(client, "Zoe\u0308", PASSWORD)  # typed as e + combining diaeresis
    assert decomposed.status == 303
    accepted = await sign_in(client, "ana", PASSWORD)
    assert (accepted.status, accepted.headers["Location"]) == (303, "/")
    cookie = next(value for value in accepted.headers.getall("Set-Cookie") if value.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert f"Max-Age={int(SESSION_SECONDS)}" in cookie
    assert len(accepted.cookies[SESSION_COOKIE].value) >= 43  # 32 random bytes
    page = await client.get("/")
    assert page.status == 200 and "mentiondesk · ana" in await page.text()
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


async def test_sign_in_needs_the_form_token_and_this_origin(desk):
    state, client = desk
    no_token = await client.post("/signin", data={"operator": "ana", "password": PASSWORD}, headers=origin(client),
                                 allow_redirects=False)
    assert no_token.status == 403 and SESSION_COOKIE not in no_token.cookies
    other_site = await sign_in(client, "ana", PASSWORD, headers={"Origin": "https://evil.example"})
    assert other_site.status == 403 and SESSION_COOKIE not in other_site.cookies
    no_origin = await sign_in(client, "ana", PASSWORD, headers={})
    assert no_origin.status == 403


async def test_the_brake_refuses_even_the_right_password_until_the_window_passes(desk):
    state, client = desk
    for _ in range(MAX_FAILURES):
        assert (await sign_in(client, "ana", "a wrong guess")).status == 401
    braked = await sign_in(client, "ana", PASSWORD)
    assert braked.status == 429 and "Too many wrong passwords" in await braked.text()
    assert SESSION_COOKIE not in braked.cookies
    state.clock.now += FAILURE_WINDOW
    assert (await sign_in(client, "ana", PASSWORD)).status == 303


async def test_behind_a_local_proxy_the_brake_counts_per_browser_address():
    state = Desk()
    console = WebConsole(host="127.0.0.1", port=0, users=lambda: state.users, argv_for=state.argv_for,
                         public_url="https://desk.example", brake=Brake(clock=state.clock))
    async with TestClient(TestServer(await console._make_app())) as client:
        proxied = {"Origin": "https://desk.example"}
        for _ in range(MAX_FAILURES):
            wrong = await sign_in(client, "bo", "a wrong guess", headers={**proxied, "X-Forwarded-For": "203.0.113.9"})
            assert wrong.status == 401
        braked = await sign_in(client, "ana", PASSWORD, headers={**proxied, "X-Forwarded-For": "203.0.113.9"})
        assert braked.status == 429
        other = await sign_in(client, "ana", PASSWORD, headers={**proxied, "X-Forwarded-For": "198.51.100.7"})
        assert other.status == 303 and "Secure" in other.headers["Set-Cookie"]


async def test_a_session_ends_after_its_lifetime_and_with_its_operator(desk):
    state, client = desk
    await sign_in(client, "ana", PASSWORD)
    assert (await client.get("/", allow_redirects=False)).status == 200
    state.clock.now += SESSION_SECONDS
    assert (await client.get("/", allow_redirects=False)).status == 303
    await sign_in(client, "ana", PASSWORD)
    state.users = WebUsers(state.users.path, {"bo": HASHES["bo"]})  # `web passwd ana --remove`
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_the_console_runs_for_the_signed_in_operator_whatever_the_request_says(desk):
    state, client = desk
    await sign_in(client, "ana", PASSWORD)
    refused = await client.get("/ws", headers={**UPGRADE, "Origin": "https://evil.example"})
    assert refused.status == 403 and state.started == []
    socket = await client.ws_connect("/ws?operator=bo&width=90&height=30", headers={
        **origin(client), "X-Operator": "bo"})
    message = await socket.receive_bytes(timeout=20)
    await socket.close()
    assert state.started == ["ana"]
    assert message == b'{"argv": ["ana"], "env": "ana"}'


async def test_sign_out_ends_the_session_and_its_consoles(desk):
    state, client = desk
    await sign_in(client, "ana", PASSWORD)
    socket = await client.ws_connect("/ws", headers=origin(client))
    await socket.receive_bytes(timeout=20)
    page = await (await client.get("/")).text()
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', page)
    assert token is not None
    out = await client.post("/signout", data={"form_token": token[1]}, headers=origin(client),
                            allow_redirects=False)
    assert (out.status, out.headers["Location"]) == (303, "/signin")
    closing = await socket.receive(timeout=20)
    assert closing.type.name in ("CLOSE", "CLOSED", "CLOSING")
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_a_console_that_ends_closes_its_websocket(desk):
    state, client = desk
    state.console = "import sys; sys.exit('mentiondesk: cannot open the desk')"
    await sign_in(client, "ana", PASSWORD)
    socket = await client.ws_connect("/ws", headers=origin(client))
    closing = await socket.receive(timeout=20)
    assert closing.type.name in ("CLOSE", "CLOSED", "CLOSING")


def test_only_a_loopback_address_goes_without_the_tls_note():
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert exposure_note(host) is None
    for host in ("0.0.0.0", "192.168.1.20", "::", "desk.example"):
        note = exposure_note(host)
        assert note is not None and "TLS" in note and "\n" not in note
