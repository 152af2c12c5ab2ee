"""Links and copying: `o` opens (or copies over SSH), `y`/`Y` copy through OSC 52, links are hyperlinks."""

from __future__ import annotations

import base64
import webbrowser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from textual.geometry import Region
from textual.widgets import Static

from store.db import open_store
from store.ingest import save_batch
from store.links import link_spans, links_of, mention_links
from tests.support import cli_in_process as cli
from tests.tui_support import console_ready, frozen_clock, mention, seed, wait_until
from tui import browser
from tui.app import ConsoleApp
from tui.browser import open_in_browser, over_ssh
from tui.screens.link_keys import PickLink

REVIEW = "https://example.com/review"


# -- finding links -------------------------------------------------------------
@pytest.mark.parametrize(("text", "links"), [
    ("see https://x.example/a.", ["https://x.example/a"]),
    ("(see https://x.example/a)", ["https://x.example/a"]),
    ("https://en.wikipedia.org/wiki/Foo_(bar), ok", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
    ("two: http://a.example/1 and HTTPS://b.example/2!", ["http://a.example/1", "HTTPS://b.example/2"]),
    ("javascript:alert(1) file:///etc/passwd ftp://x.example mailto:a@b.example", []),
    ("bare https:// and https:/// are not links", []),
    ('quoted "https://q.example/x" <https://r.example/y>', ["https://q.example/x", "https://r.example/y"]),
])
def test_link_spans(text, links):
    assert [span.url for span in link_spans(text)] == links


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_link_spans_never_carry_controls_or_spaces(text):
    for span in link_spans(text):
        url = span.url
        assert text[span.start:span.end] == url
        assert url.lower().startswith(("http://", "https://"))
        assert not any(ch.isspace() or ord(ch) < 32 or 0x7f <= ord(ch) <= 0x9f for ch in url)


def test_links_of_puts_the_mention_address_first_once():
    assert links_of("https://demo.social/@u/1", f"look {REVIEW} and https://demo.social/@u/1") == [
        "https://demo.social/@u/1", REVIEW]
    assert links_of("javascript:alert(1)", "no links") == []


def test_mention_links_from_the_store(tmp_path):
    path = str(tmp_path / "d.db")
    seed(path, count=6, hostile=False)
    store = open_store(path)
    try:
        assert mention_links(store, 5) == ["https://demo.social/@u/5", REVIEW]
        assert mention_links(store, 999) is None
    finally:
        store.close()


# -- the browser ------------------------------------------------------------------
class FakeBrowser(webbrowser.BaseBrowser):
    def __init__(self) -> None:
        super().__init__("fake")
        self.opened: list[str] = []

    def open(self, url, new=0, autoraise=True):
        self.opened.append(url)
        return True


def test_over_ssh_reads_the_ssh_variables():
    assert over_ssh({"SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22"})
    assert over_ssh({"SSH_TTY": "/dev/pts/3"})
    assert not over_ssh({"TERM": "xterm"})


def test_a_text_browser_or_none_counts_as_no_browser(monkeypatch):
    monkeypatch.setattr(webbrowser, "get", lambda: webbrowser.GenericBrowser("lynx"))
    assert open_in_browser(REVIEW) is False

    def none():
        raise webbrowser.Error("could not locate runnable browser")
    monkeypatch.setattr(webbrowser, "get", none)
    assert open_in_browser(REVIEW) is False
    fake = FakeBrowser()
    monkeypatch.setattr(webbrowser, "get", lambda: fake)
    assert open_in_browser(REVIEW) is True
    assert fake.opened == [REVIEW]


# -- the keys ------------------------------------------------------------------------
@pytest.fixture
def db_path(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path, count=30, hostile=False)  # 30 is the newest; 29 has the review link in its text
    return path


@pytest.fixture(autouse=True)
def _local_terminal(monkeypatch):
    for name in browser.SSH_VARIABLES:
        monkeypatch.delenv(name, raising=False)


async def ready_at(pilot, mention_id: int, written: list[str]):
    screen = await console_ready(pilot)
    pilot.app._driver.write = written.append  # what the app sends to the terminal
    while screen.inbox.selected_id != mention_id:
        await pilot.press("j")
    await wait_until(pilot, lambda: screen.mention.shows(mention_id))
    return screen


def osc52(text: str) -> str:
    return f"\x1b]52;c;{base64.b64encode(text.encode()).decode()}\a"


async def test_y_copies_the_url_and_Y_the_text_through_osc52(db_path):
    written: list[str] = []
    async with ConsoleApp(db_path, operator="alice", clock=frozen_clock).run_test(size=(100, 30)) as pilot:
        await ready_at(pilot, 30, written)
        await pilot.press("y")
        assert osc52("https://demo.social/@u/30") in written
        await pilot.press("Y")
        assert osc52(mention(30).text) in written


async def test_o_opens_the_one_link_in_the_browser(db_path, monkeypatch):
    fake = FakeBrowser()
    monkeypatch.setattr(webbrowser, "get", lambda: fake)
    written: list[str] = []
    async with ConsoleApp(db_path, operator="alice", clock=frozen_clock).run_test(size=(100, 30)) as pilot:
        await ready_at(pilot, 30, written)
        await pilot.press("o")
        await wait_until(pilot, lambda: fake.opened == ["https://demo.social/@u/30"])
        assert not [w for w in written if w.startswith("\x1b]52")]  # opened, not copied


async def test_o_picks_one_of_several_links(db_path, monkeypatch):
    fake = FakeBrowser()
    monkeypatch.setattr(webbrowser, "get", lambda: fake)
    async with ConsoleApp(db_path, operator="alice", clock=frozen_clock).run_test(size=(100, 30)) as pilot:
        await ready_at(pilot, 29, [])
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, PickLink))
        await pilot.press("2")
        await wait_until(pilot, lambda: fake.opened == [REVIEW])
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, PickLink))
        await pilot.press("escape")  # cancels: nothing opened
        await wait_until(pilot, lambda: not isinstance(pilot.app.screen, PickLink))
        assert fake.opened == [REVIEW]


async def press_o_expecting_a_copy(db_path) -> list[str]:
    """Press `o` on mention 30; the link must reach the clipboard. Returns the console's toasts."""
    written: list[str] = []
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await ready_at(pilot, 30, written)
        await pilot.press("o")
        await wait_until(pilot, lambda: osc52("https://demo.social/@u/30") in written)
        return [n.message for n in app._notifications]


async def test_o_over_ssh_copies_instead_and_says_so(db_path, monkeypatch):
    fake = FakeBrowser()
    monkeypatch.setattr(webbrowser, "get", lambda: fake)
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22")
    toasts = await press_o_expecting_a_copy(db_path)
    assert fake.opened == []
    assert any(toast.startswith("Over SSH no browser can open here: copied") for toast in toasts)


async def test_o_without_a_browser_copies(db_path, monkeypatch):
    monkeypatch.setattr(webbrowser, "get", lambda: webbrowser.GenericBrowser("w3m"))
    toasts = await press_o_expecting_a_copy(db_path)
    assert any(toast.startswith("No graphical browser found: copied") for toast in toasts)


async def test_links_are_terminal_hyperlinks_and_other_schemes_are_not(tmp_path):
    path = str(tmp_path / "desk.db")
    store = open_store(path, clock=frozen_clock)
    save_batch(store, "demo:@brightloop", [mention(1, text=f"read {REVIEW}. not javascript:alert(1) [b]x[/b]")], "1")
    store.close()
    async with ConsoleApp(path, operator="alice", clock=frozen_clock).run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        await wait_until(pilot, lambda: screen.mention.shows(1))
        body = screen.mention.query_one("#mention-body", Static)
        output = "".join(strip.render(pilot.app.console)
                         for strip in body.render_lines(Region(0, 0, body.size.width, body.size.height)))
        assert f";{REVIEW}\x1b\\" in output  # OSC 8: ESC ] 8 ; id=… ; URL ST
        assert ";https://demo.social/@u/1\x1b\\" in output
        assert "javascript" in output and ";javascript" not in output
        assert "[b]x[/b]" in output  # still literal text, never markup

def test_cli_links_prints_what_o_opens(db_path, tmp_path, monkeypatch, capsys):
    assert cli(monkeypatch, capsys, tmp_path, "links", "29", "--db", db_path) == (
        0, f"https://demo.social/@u/29\n{REVIEW}\n", "")
    code, out, err = cli(monkeypatch, capsys, tmp_path, "links", "999", "--db", db_path)
    assert (code, out) == (2, "") and err.strip() == "mentiondesk: no mention with id 999"
