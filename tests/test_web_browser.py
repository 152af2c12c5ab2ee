"""`mentiondesk web` end to end: a real server process, Debian's chromium driven by Playwright.

Sign in (a wrong password refused first), see the inbox, press c and r, type,
escape (the draft is kept), tab, r again, ctrl+s: the tag, the draft and the
queued reply are found in the database, by the signed-in operator. What the
browser sent on the websocket shows escape, tab and ctrl+s reached the console.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable

import pytest

from tests.procs import query, wait_for
from tests.tui_support import seed
from tests.web_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    child_pids,
    running,
    set_password,
    terminal_text,
    web_server,
)

pytestmark = pytest.mark.serial

BOTH_BACKENDS = True  # tests/conftest.py: the tests taking `desk_db` also run on PostgreSQL

if not CHROMIUM.exists():
    # CI installs it (.ci/run); a developer without it is told how, and CI never skips.
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs it with apt-get install chromium")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

REPLY = "Thanks for telling us, we are on it"
TERMINAL_BOX = "JSON.stringify(document.querySelector('.xterm-screen').getBoundingClientRect())"
TERMINAL_FITS = """(() => { const box = document.querySelector('.xterm-screen').getBoundingClientRect();
    return box.top >= document.querySelector('header').getBoundingClientRect().bottom
        && box.bottom <= window.innerHeight && box.right <= window.innerWidth && box.height > 600; })()"""
# A page opening the console's websocket by hand: "open" if the server accepted it.
OPEN_CONSOLE = """url => new Promise(done => { const socket = new WebSocket(url);
    socket.onopen = () => done("open"); socket.onerror = () => done("refused"); })"""


def poll(page, condition: Callable[[], object], what: str, seconds: float = 20.0):
    """Wait for `condition`, letting Playwright deliver its events in between; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(50)
    return value


def test_sign_in_then_tag_and_reply_from_the_browser(tmp_path, desk_db):
    from playwright.sync_api import sync_playwright

    db, config = desk_db, tmp_path / "config.toml"
    seed(db, count=5, hostile=False)
    newest = query(db, "SELECT id FROM mentions WHERE remote_id = 'demo:5'")[0][0]
    assert set_password(tmp_path, config, "ana").returncode == 0

    with web_server(tmp_path, db, config) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(dir=tmp_path), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
            headless=True, viewport={"width": 1280, "height": 800})
        try:
            page = browser.new_page()
            received, sent = bytearray(), []

            def on_socket(socket) -> None:
                socket.on("framereceived", lambda data: received.extend(data if isinstance(data, bytes) else b""))
                socket.on("framesent", lambda data: sent.append(data))
            page.on("websocket", on_socket)

            def composers() -> int:
                """How many times the browser was sent the composer's title (each time it opens)."""
                return terminal_text(bytes(received)).count("Reply to ")

            page.goto(server.url + "/")
            assert page.url == server.url + "/signin"  # no session: the console is not served
            page.fill("input[name=operator]", "ana")
            page.fill("input[name=password]", "not the password")
            with page.expect_response(lambda r: r.url.endswith("/signin") and r.request.method == "POST") as answer:
                page.click("button[type=submit]")
            assert answer.value.status == 401
            assert "Wrong operator name or password." in page.inner_text("[role=alert]")
            assert received == bytearray()  # no console was started for a refused sign-in
            assert page.evaluate(OPEN_CONSOLE, server.url.replace("http://", "ws://") + "/ws") == "refused"
            assert child_pids(server.process.pid) == []

            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(server.url + "/")
            poll(page, lambda: "@user5" in terminal_text(bytes(received)) and "Open · 5" in terminal_text(
                bytes(received)), "the inbox in the browser's terminal")
            assert "mentiondesk · ana" in page.inner_text("header")
            # The whole terminal fits the window under the page's bar: the footer's last row is on screen.
            assert page.evaluate(TERMINAL_FITS), page.evaluate(TERMINAL_BOX)
            poll(page, lambda: "Help" in terminal_text(bytes(received)), "the footer")

            page.focus("textarea.xterm-helper-textarea")  # xterm's keyboard input
            page.keyboard.press("c")
            poll(page, lambda: query(db, "SELECT mention_id, tag FROM tags") == [(newest, "care")], "the care tag")
            page.keyboard.press("r")
            poll(page, lambda: composers(), "the composer")
            page.keyboard.type(REPLY)
            page.keyboard.press("Escape")  # closes the composer; the draft is kept for `r`
            poll(page, lambda: query(db, "SELECT operator, text FROM drafts") == [("ana", REPLY)], "the draft")
            poll(page, lambda: "Draft kept" in terminal_text(bytes(received)), "the composer put aside")
            page.keyboard.press("Tab")
            page.keyboard.press("Tab")
            opened = composers()
            page.keyboard.press("r")
            poll(page, lambda: composers() > opened, "the composer again, with the draft")
            page.keyboard.press("Control+s")
            poll(page, lambda: query(db, "SELECT mention_id, text, operator, state FROM replies"),
                 "the queued reply")
            assert query(db, "SELECT mention_id, text, operator, state FROM replies") == [
                (newest, REPLY, "ana", "pending")]
            assert query(db, "SELECT count(*) FROM drafts") == [(0,)]
            keys = [json.loads(frame)[1] for frame in sent if isinstance(frame, str) and '"stdin"' in frame]
            assert {"\x1b", "\t", "\x13"} <= set(keys)  # escape, tab and ctrl+s reached the console
            assert page.evaluate("document.activeElement.className") == "xterm-helper-textarea"  # tab stayed

            # Each tab is a console of its own; closing the tab ends its console, and only that one.
            first = child_pids(server.process.pid)
            assert len(first) == 1
            other = browser.new_page()
            other.goto(server.url + "/")  # the same browser: signed in already
            wait_for(lambda: len(child_pids(server.process.pid)) == 2, timeout=20, what="a second console")
            other.close()
            wait_for(lambda: child_pids(server.process.pid) == first, timeout=20, what="the second console to end")
            # Stopping the server with a tab open tells its console to quit (leases and claims released).
            assert server.stop() == 0
            wait_for(lambda: not running(first[0]), timeout=20, what="the first console to end")
        finally:
            browser.close()
    log = server.log.read_text()
    assert server.process.returncode == 0, log
    assert "Traceback" not in log
    assert 'event=signin_refused operator="ana"' in log and 'event=console_stopped operator="ana"' in log
