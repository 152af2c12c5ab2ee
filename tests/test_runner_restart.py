"""Dead adapters: the leader restarts them with capped backoff, says so, and gives up its lease
when one keeps dying so another process can try (issue 9)."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3

import aiohttp

from adapters.base import Adapter, Batch, Capabilities, Ingest, LimitFrom, TextRule
from adapters.runtime.leader import Leadership
from adapters.runtime.runner import IngestRunner
from adapters.webhook.adapter import GENERIC_PATH, WebhookAdapter
from store.ingest import save_batch
from store.source_status import source_statuses
from store.worker import StoreWorker
from tests.conftest import new_mention
from tests.support import until
from tests.test_webhook_adapter import NOW, SECRET, encode, generic, post


class Crashing(Adapter):
    """stream() raises `crashes` times, then yields one mention and stays live."""

    network = "demo"

    def __init__(self, crashes: int, failure: type[Exception] = RuntimeError):
        super().__init__(account="@brand")
        self.crashes = crashes
        self.failure = failure
        self.starts = 0

    capabilities = Capabilities(Ingest.STREAMING, LimitFrom.NETWORK, "characters", finds_replies=False)

    @property
    def text_rule(self) -> TextRule:
        return TextRule(500, len, "characters")

    async def stream(self, cursor):
        self.starts += 1
        if self.starts <= self.crashes:
            raise self.failure(f"stream crashed ({self.starts})")
        yield Batch([new_mention(remote_id="after-restart")], cursor="c1")
        await asyncio.Event().wait()

    async def send_reply(self, request):
        raise NotImplementedError


async def test_an_adapter_that_raises_in_stream_is_restarted_and_its_state_recorded(db_path, caplog):
    caplog.set_level(logging.INFO)
    worker = StoreWorker(str(db_path))
    adapter = Crashing(crashes=2)
    dead: list[str] = []
    runner = IngestRunner(worker, [adapter], on_dead=lambda source, reason: dead.append(source),
                          restart_base=0.01)
    runner.start()
    try:
        await until(lambda: worker.run(lambda s: s.conn.execute(
            "SELECT remote_id FROM mentions").fetchall()), what="the mention after the restarts")
        assert adapter.starts == 3 and runner.restarts == {"demo:@brand": 2} and dead == []
        lines = [r.getMessage() for r in caplog.records if "event=account" in r.getMessage()]
        assert any("state=stopped" in line and "restarting in" in line and "stream crashed (1)" in line
                   for line in lines), lines
        assert any("state=restarting" in line for line in lines)
    finally:
        await runner.stop()
        worker.close()


async def test_a_database_error_is_one_line_in_the_log_and_a_bug_keeps_its_traceback(tmp_path, caplog):
    """A lost connection to PostgreSQL is trouble to report, not a bug to debug: no traceback."""
    caplog.set_level(logging.INFO)
    for failure, traced in ((sqlite3.OperationalError, False), (RuntimeError, True)):
        caplog.clear()
        worker = StoreWorker(str(tmp_path / f"{failure.__name__}.db"))
        runner = IngestRunner(worker, [Crashing(crashes=1, failure=failure)], on_dead=lambda s, r: None,
                              restart_base=0.01)
        runner.start()
        try:
            await until(lambda worker=worker: worker.run(lambda s: s.conn.execute(
                "SELECT 1 FROM mentions WHERE remote_id = 'after-restart'").fetchall()), what="the restart")
        finally:
            await runner.stop()
            worker.close()
        stopped = [r for r in caplog.records if "restarting in" in r.getMessage()]
        assert stopped and f"{failure.__name__}: stream crashed (1)" in stopped[0].getMessage()
        assert any(r.exc_info for r in caplog.records) == traced, failure


async def test_an_adapter_that_keeps_dying_is_reported_dead_with_the_reason(db_path):
    worker = StoreWorker(str(db_path))
    dead: list[tuple[str, str]] = []
    runner = IngestRunner(worker, [Crashing(crashes=99)], on_dead=lambda s, r: dead.append((s, r)),
                          restart_base=0.01, give_up_after=3)
    runner.start()
    try:
        await until(lambda: dead, what="the adapter reported dead")
        assert dead == [("demo:@brand", "RuntimeError: stream crashed (3)")]
        await until(lambda: worker.run(lambda s: [x.detail for x in source_statuses(s)
                                                  if x.detail.startswith("stopped after 3 failures")]),
                    what="the final state written")
    finally:
        await runner.stop()
        worker.close()


async def test_a_leader_whose_adapter_keeps_dying_gives_up_the_lease_for_another_process(db_path, caplog):
    caplog.set_level(logging.INFO)
    one, two = StoreWorker(str(db_path)), StoreWorker(str(db_path))
    quick = {"restart_base": 0.01, "give_up_after": 2}
    led: list[bool] = []
    first = Leadership(one, [Crashing(crashes=99)], holder="first", ttl=3, runner_options=quick,
                       on_change=led.append)
    second = Leadership(two, [Crashing(crashes=0)], holder="second", ttl=3, runner_options=quick)
    tasks = [asyncio.create_task(first.run())]
    try:
        await until(lambda: led, what="the first leader")  # it may give up before a poll sees it lead
        tasks.append(asyncio.create_task(second.run()))
        await until(lambda: second.is_leader, seconds=15, what="the second process taking over")
        assert not first.is_leader
        assert any("event=leader state=\"gave up\" holder=first" in r.getMessage() for r in caplog.records)
    finally:
        first.stop()
        second.stop()
        await asyncio.gather(*tasks)
        one.close()
        two.close()


class FailingWrites:
    """The store worker of a stalled or full disk: the first `failures` batch writes raise."""

    def __init__(self, worker: StoreWorker, failures: int):
        self.worker = worker
        self.failures = failures

    async def run(self, fn, *args, **kwargs):
        if fn is save_batch and self.failures > 0:
            self.failures -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return await self.worker.run(fn, *args, **kwargs)


async def test_a_webhook_listener_whose_store_write_fails_returns_to_accepting(db_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    worker = StoreWorker(str(db_path))
    adapter = WebhookAdapter(secret=SECRET, port=port, clock=lambda: NOW)
    runner = IngestRunner(FailingWrites(worker, failures=2), [adapter], restart_base=0.05)
    runner.start()
    url = f"http://127.0.0.1:{port}{GENERIC_PATH}"
    accepted = None
    try:
        async with aiohttp.ClientSession() as http:
            for attempt in range(200):  # a bridge retrying its delivery
                try:
                    status, answer = await post(http, url, encode(generic("disk-1")))
                except aiohttp.ClientConnectionError:
                    status, answer = None, None  # between a death and its restart
                if status == 200 and answer["accepted"] == 1:
                    accepted = attempt
                    break
                await asyncio.sleep(0.05)  # the bridge's own retry pace
        assert accepted is not None and accepted >= 2, "the failed writes never happened, or it never recovered"
        rows = await worker.run(lambda s: s.conn.execute("SELECT remote_id FROM mentions").fetchall())
        assert rows == [("disk-1",)]
        assert runner.restarts.get(adapter.source, 0) >= 1
    finally:
        await runner.stop()
        worker.close()
