"""Helpers for console tests: a seeded database, a frozen clock, a scripted network."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime, timedelta

from adapters.base import Adapter, Batch, Capabilities, Ingest, LimitFrom, ReplyRequest, SentReply, TextRule
from adapters.textcount import mastodon_length
from store.db import iso, open_store
from store.ingest import save_batch
from store.records import NewMention

FROZEN = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
HOSTILE = "Refund now [bold red]x[/] [@click=app.quit]quit[/] \x1b]0;pwned\x07 \x1b[31mred \u202eevil\u202c"

TEXTS = [
    "My order is late again, where is my refund?",
    "Love the new Loop Buds 🎧 #LoopLaunch",
    "Bonjour, ma livraison est en retard, je veux un remboursement",
    "Is the #WinWithLoop giveaway still on? 🎁",
    "App login broken since the update, help please",
    "The delivery was late but the buds sound amazing https://example.com/review",
]


def frozen_clock() -> datetime:
    return FROZEN


def mention(i: int, *, text: str | None = None, handle: str | None = None, **extra) -> NewMention:
    return NewMention(
        network="demo", account="@brightloop", remote_id=f"demo:{i}",
        author_handle=handle or f"@user{i % 7}", author_name=f"User {i % 7}",
        text=text if text is not None else f"{TEXTS[i % len(TEXTS)]} ({i})",
        created_at=iso(FROZEN - timedelta(minutes=100 - i)), url=f"https://demo.social/@u/{i}", **extra,
    )


def seed(path: str, count: int = 30, *, hostile: bool = True) -> None:
    store = open_store(path, clock=frozen_clock)
    batch = [mention(i) for i in range(1, count + 1)]
    if hostile:
        batch.append(mention(count + 1, text=HOSTILE, handle="@\x1b[2Jmallory"))
    save_batch(store, "demo:@brightloop", batch, str(count))
    store.close()


def query(db_path, sql, *params) -> list[tuple]:
    """Rows from the desk file, through a connection of the test's own."""
    store = open_store(db_path)
    try:
        return store.conn.execute(sql, params).fetchall()
    finally:
        store.close()


def screen_text(app) -> str:
    """What a person sees: the screenshot's text, HTML-unescaped."""
    svg = app.export_screenshot()
    lines = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    return html.unescape("".join(lines)).replace("\xa0", " ")


async def wait_until(pilot, predicate: Callable[[], bool], *, rounds: int = 400) -> None:
    """Let the app process messages until `predicate` holds (bounded)."""
    for _ in range(rounds):
        if predicate():
            return
        await pilot.pause()
    raise AssertionError("condition never held")


class ScriptedAdapter(Adapter):
    """A network driven by the test: push batches, see replies."""

    network = "demo"

    def __init__(self) -> None:
        super().__init__(account="@brightloop")
        self.queue: asyncio.Queue[Batch] = asyncio.Queue()
        self.sent: list[ReplyRequest] = []
        self.started = asyncio.Event()

    capabilities = Capabilities(Ingest.STREAMING, LimitFrom.NETWORK, "characters", finds_replies=False)
    #: seconds one scripted "network call" may take; 0: it makes none
    request_time = 0.0

    @property
    def max_request_time(self) -> float:
        return self.request_time

    def limit_request_time(self, seconds: float) -> None:
        if self.request_time:
            self.request_time = seconds

    @property
    def text_rule(self) -> TextRule:
        return TextRule(500, mastodon_length, "500 characters, links count 23")

    async def stream(self, cursor: str | None) -> AsyncGenerator[Batch, None]:
        self.started.set()
        while True:
            yield await self.queue.get()

    async def send_reply(self, request: ReplyRequest) -> SentReply:
        self.sent.append(request)
        return SentReply(f"demo:reply:{request.key}", None)


async def console_ready(pilot):
    """Wait until the split view shows its first row; returns the MainScreen."""
    from tui.screens.main import MainScreen

    await wait_until(pilot, lambda: isinstance(pilot.app.screen, MainScreen)
                     and len(pilot.app.screen.inbox.ids) > 0
                     and pilot.app.screen.inbox.row(pilot.app.screen.inbox.ids[0]) is not None)
    return pilot.app.screen
