"""The webhook listener in a real process, while other processes stall or fill its database.

`tests.webhook_proc ingest` listens and stores; a third process takes the
write lock (BEGIN IMMEDIATE) for longer than the store waits (its busy
timeout scaled from 5 s to 0.1 s, so "about 65 s" becomes about 7 s), or
the ingest process is given a file-size limit of one byte from outside
(prlimit) so every write fails, as on a full disk. Meanwhile
deliveries must be answered 503 with Retry-After, the port must never
refuse a connection, and once the database is back deliveries are stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import sqlite3
import sys
from pathlib import Path

import aiohttp
import pytest

from adapters.webhook.adapter import GENERIC_PATH, HEALTH_PATH
from adapters.webhook.bridge import SIGNATURE_HEADER, sign
from tests.procs import ROOT, clean_env

pytestmark = pytest.mark.serial
SECRET = "wh-secret"


class Proc:
    """A child process whose stdout lines are collected as they come."""

    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process
        self.lines: list[str] = []
        self._reading = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.lines.append(line.decode("utf-8", "replace").rstrip("\n"))

    async def line(self, prefix: str, seconds: float = 30.0) -> str:
        async with asyncio.timeout(seconds):
            while not any(line.startswith(prefix) for line in self.lines):
                if self.process.returncode is not None:
                    raise AssertionError(f"exited {self.process.returncode} before {prefix!r}: {self.lines}")
                await asyncio.sleep(0.02)
        return next(line for line in self.lines if line.startswith(prefix))

    async def end(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        self._reading.cancel()


async def spawn(tmp_path: Path, *args: str, stdin: bool = False) -> Proc:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.webhook_proc", *args, cwd=ROOT, env=clean_env(tmp_path),
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=(tmp_path / "stderr.log").open("ab"))
    return Proc(process)


async def deliver(http: aiohttp.ClientSession, base: str, mention_id: str) -> tuple[int, dict, str | None]:
    """One delivery; a refused connection fails the test (that is the bug this guards against)."""
    body = json.dumps({"network": "tiktok", "id": mention_id, "author": "ana", "text": "hi"}).encode()
    async with http.post(base + GENERIC_PATH, data=body, headers={SIGNATURE_HEADER: sign(SECRET, body)},
                         timeout=aiohttp.ClientTimeout(total=20)) as response:
        return response.status, await response.json(), response.headers.get("Retry-After")


async def deliver_until_stored(http: aiohttp.ClientSession, base: str, mention_id: str,
                               seconds: float = 30.0) -> list[int]:
    """What a sender does: retry on 503 after Retry-After; every answer, up to the 200."""
    answers = []
    async with asyncio.timeout(seconds):
        while True:
            status, _, retry_after = await deliver(http, base, mention_id)
            answers.append(status)
            if status == 200:
                return answers
            assert status == 503 and retry_after == "1"
            await asyncio.sleep(0.1)  # a sender honouring Retry-After would wait 1 s; the bound is what matters


def stored(db: Path) -> list[str]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return [row[0] for row in conn.execute("SELECT remote_id FROM mentions ORDER BY remote_id")]
    finally:
        conn.close()


@contextlib.asynccontextmanager
async def ingest_process(tmp_path: Path):
    db = tmp_path / "desk.db"
    ingest = await spawn(tmp_path, "ingest", str(db), "100", "1")
    try:
        port = int((await ingest.line("port ")).split()[1])
        async with aiohttp.ClientSession() as http:
            yield ingest, http, f"http://127.0.0.1:{port}", db
    finally:
        await ingest.end()


async def test_a_write_lock_held_past_the_store_timeout_gets_503s_never_a_refused_connection(tmp_path):
    async with ingest_process(tmp_path) as (ingest, http, base, db):
        assert (await deliver(http, base, "before"))[0] == 200
        locker = await spawn(tmp_path, "lock", str(db), stdin=True)
        try:
            await locker.line("locked")
            during = await deliver(http, base, "during-1")
            assert during[0] == 503 and during[2] == "1"  # commit_timeout (1 s) passed: answered, not hung
            # Keep delivering until the stalled commit gives up ("database is locked"): the
            # listener must outlive it, answering every delivery.
            statuses = []
            async with asyncio.timeout(60):
                while not any(line.startswith("commit failed") for line in ingest.lines):
                    statuses.append((await deliver(http, base, f"during-{len(statuses) + 2}"))[0])
            assert "locked" in (await ingest.line("commit failed"))
            assert set(statuses) <= {503}
            status, _, retry_after = await deliver(http, base, "during-x")
            assert status == 503 and retry_after == "1"
            async with http.get(base + HEALTH_PATH) as health:
                assert health.status == 503
        finally:
            assert locker.process.stdin is not None
            locker.process.stdin.close()  # the lock holder rolls back and exits
            await locker.process.wait()
        await deliver_until_stored(http, base, "after")
        await deliver_until_stored(http, base, "during-1")  # the sender's retry of a 503
        assert {"before", "after", "during-1"} <= set(stored(db))
        assert len(stored(db)) == len(set(stored(db)))


async def test_a_full_disk_gets_503s_and_the_listener_recovers_when_there_is_room(tmp_path):
    async with ingest_process(tmp_path) as (ingest, http, base, db):
        assert (await deliver(http, base, "before"))[0] == 200
        pid = ingest.process.pid
        unlimited = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, unlimited[1]))  # every write past byte 1 fails
        try:
            answers = [await deliver(http, base, f"full-{n}") for n in range(3)]
            assert [(status, retry_after) for status, _, retry_after in answers] == [(503, "1")] * 3
            # EFBIG reads as "disk I/O error" to SQLite (ENOSPC would be "database or disk is full").
            assert "disk" in await ingest.line("commit failed")
        finally:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, unlimited)
        await deliver_until_stored(http, base, "after")
        await deliver_until_stored(http, base, "full-0")
        assert {"before", "after", "full-0"} <= set(stored(db))
