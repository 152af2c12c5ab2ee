"""The ingest runner overlaps a batch's commit with the next batch's fetching and signals, for adapters whose
stream may go on meanwhile (Adapter.overlaps_commit): the two halves of triage at 2,000 mentions/s."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading

from adapters.base import Adapter, Batch, Capabilities, Ingest, LimitFrom, TextRule
from adapters.runtime.runner import IngestRunner
from store.worker import StoreWorker
from tests.conftest import new_mention
from tests.support import until


class TwoBatches(Adapter):
    network = "demo"
    overlaps_commit = True
    capabilities = Capabilities(Ingest.STREAMING, LimitFrom.NETWORK, "characters", finds_replies=False)

    def __init__(self):
        super().__init__(account="@brand")

    @property
    def text_rule(self) -> TextRule:
        return TextRule(500, len, "characters")

    async def stream(self, cursor):
        yield Batch([new_mention(remote_id="one")], cursor="1")
        yield Batch([new_mention(remote_id="two")], cursor="2")
        await asyncio.Event().wait()

    async def send_reply(self, request):
        raise NotImplementedError


class Watching:
    """A triage whose rules on the first batch wait (bounded) for the second batch's signals to be asked."""

    def __init__(self):
        self.second_asked = threading.Event()
        self.overlapped: bool | None = None
        self.applied: list[list[int]] = []

    async def signals(self, mentions):
        if mentions[0].remote_id == "two":
            self.second_asked.set()
        return None

    def apply(self, store, new_ids):
        if not self.applied:
            self.overlapped = self.second_asked.wait(timeout=10)
        self.applied.append(list(new_ids))

    def close(self):
        pass


async def test_the_next_batch_gets_its_signals_while_the_last_one_commits(db_path):
    worker = StoreWorker(str(db_path))
    triage = Watching()
    runner = IngestRunner(worker, [TwoBatches()], triage=triage)
    runner.start()
    try:
        await until(lambda: len(triage.applied) == 2)
        assert triage.overlapped is True
        assert triage.applied == [[1], [2]]  # in order, each in its own transaction
        rows = await worker.run(lambda store: store.conn.execute(
            "SELECT (SELECT group_concat(remote_id) FROM mentions), cursor FROM cursors").fetchall())
        assert rows == [("one,two", "2")]
    finally:
        await runner.stop()
        worker.close()


class FailingCommit(Watching):
    """The first batch's rules fail (the database went away mid-commit) while the second batch waits."""

    def __init__(self):
        super().__init__()
        self.failed = threading.Event()

    async def signals(self, mentions):
        if mentions[0].remote_id == "two":
            await asyncio.Event().wait()  # the runner is stopped while it waits here
        return None

    def apply(self, store, new_ids):
        self.failed.set()
        raise sqlite3.OperationalError("the connection to the database was lost")


async def test_a_commit_that_failed_while_the_runner_stops_is_not_an_unretrieved_error(db_path):
    """Seen in serve's log on PostgreSQL: 'Task exception was never retrieved' and a traceback, when the
    server ended a stopped leader's session and the leader stepped down with that commit in flight."""
    loop = asyncio.get_running_loop()
    unhandled: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    worker = StoreWorker(str(db_path))
    triage = FailingCommit()
    runner = IngestRunner(worker, [TwoBatches()], triage=triage)
    runner.start()
    try:
        await until(triage.failed.is_set)
        await worker.run(lambda store: None)  # one store thread, in order: the failed commit is back
    finally:
        await runner.stop()
        worker.close()
    gc.collect()
    await asyncio.sleep(0)  # the loop reports unretrieved errors on its next turn
    assert [c for c in unhandled if "never retrieved" in c.get("message", "")] == []
    loop.set_exception_handler(None)
