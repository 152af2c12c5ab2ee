"""Serving a WebhookAdapter on 127.0.0.1 for tests, with a fake ingest runner in front of it."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp

from adapters.base import Batch, ReplyRequest
from adapters.runtime.runner import IngestRunner
from adapters.webhook.adapter import WebhookAdapter
from adapters.webhook.bridge import SIGNATURE_HEADER, sign
from store.worker import StoreWorker

SECRET = "test-secret"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def within(awaitable, seconds: float = 5.0):
    """Fail a test that would otherwise hang (the bound, not a synchronisation)."""
    return asyncio.wait_for(awaitable, seconds)


class FakeRunner:
    """Consumes batches like the ingest runner: "commit" (record), then resume."""

    def __init__(self, adapter: WebhookAdapter):
        self.adapter = adapter
        self.received: asyncio.Queue[Batch] = asyncio.Queue()
        self.commits: list[Batch] = []
        self.hold: asyncio.Event | None = None  # while unset, the commit of a batch waits
        self.fail: Exception | None = None  # raised by the "commit", as a full or locked database does
        self.task: asyncio.Task | None = None

    def restart(self) -> None:
        """Stream again, as the ingest runner does after a failed commit."""
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        async with aclosing(self.adapter.stream(None)) as batches:
            async for batch in batches:
                self.received.put_nowait(batch)
                if self.hold is not None:
                    await self.hold.wait()
                if self.fail is not None:
                    raise self.fail
                self.commits.append(batch)


@asynccontextmanager
async def serving(**options: Any):
    options = {"secret": SECRET, "port": 0, "verify_token": "verify-me", "clock": lambda: NOW, **options}
    adapter = WebhookAdapter(**options)
    runner = FakeRunner(adapter)
    task = runner.task = asyncio.create_task(runner.run())
    started = asyncio.create_task(adapter.started.wait())
    await within(asyncio.wait([task, started], return_when=asyncio.FIRST_COMPLETED))
    if task.done():
        started.cancel()
        task.result()
    async with aiohttp.ClientSession() as http:
        try:
            yield adapter, runner, http, f"http://127.0.0.1:{adapter.port}"
        finally:
            runner.task.cancel()
            await asyncio.gather(runner.task, return_exceptions=True)
            await adapter.aclose()


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode("utf-8")


async def post_full(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str] | None = None,
                    *, secret: str = SECRET, header: str = SIGNATURE_HEADER) -> tuple[int, Any, Any]:
    if headers is None:
        headers = {header: sign(secret, body)}
    async with http.post(url, data=body, headers={"Content-Type": "application/json", **headers}) as response:
        text = await response.text()
        assert "\n" not in text.strip(), "answers are one line"
        return response.status, json.loads(text), response.headers


async def post(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str] | None = None,
               *, secret: str = SECRET, header: str = SIGNATURE_HEADER) -> tuple[int, Any]:
    status, answer, _ = await post_full(http, url, body, headers, secret=secret, header=header)
    return status, answer


def generic(mention_id: str = "7301", **extra: Any) -> dict[str, Any]:
    return {"network": "TikTok", "id": mention_id, "author": {"handle": "@ana", "name": "Ana"},
            "text": "@brand my order never arrived", **extra}


async def only_batch(runner: FakeRunner) -> Batch:
    return await within(runner.received.get())


@asynccontextmanager
async def ingesting(db_path, **options: Any):
    """A WebhookAdapter driven by the real IngestRunner into the database at `db_path`."""
    worker = StoreWorker(str(db_path))
    adapter = WebhookAdapter(**{"secret": SECRET, "port": 0, "clock": lambda: NOW, **options})
    runner = IngestRunner(worker, [adapter])
    runner.start()
    try:
        await within(adapter.started.wait())
        yield adapter, worker, f"http://127.0.0.1:{adapter.port}"
    finally:
        await runner.stop()
        worker.close()
    assert not adapter.started.is_set()


def reply_request(**extra: Any) -> ReplyRequest:
    fields = dict(reply_id=1, key="3lbtxkz2qn22c", text="Sorry, Ana! DM us your order number \u00e9",
                  network="webhook:tiktok", mention_remote_id="7301", author_handle="ana",
                  reply_ref={"kind": "generic", "network": "tiktok", "id": "7301"})
    return ReplyRequest(**{**fields, **extra})
