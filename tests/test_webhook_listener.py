"""The webhook listener under a stalled or full database and misbehaving clients.

In process, over real sockets on 127.0.0.1: the fake runner holds or fails
the "commit" as a stalled or full database does; raw sockets play clients
that send their headers or body too slowly. The same with real processes
(a third one holding the write lock) is in test_webhook_processes.py.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import aiohttp
import pytest

from adapters.base import SourceState, SourceStatus
from adapters.webhook.adapter import GENERIC_PATH, HEALTH_PATH
from tests.webhook_support import encode, generic, only_batch, post, post_full, serving, within


async def test_a_commit_slower_than_commit_timeout_answers_503_with_retry_after_then_recovers():
    statuses: list[SourceStatus] = []
    async with serving(commit_timeout=0.3, retry_after=7, on_status=statuses.append) as (adapter, runner, http, base):
        runner.hold = asyncio.Event()
        status, answer, headers = await within(post_full(http, base + GENERIC_PATH, encode(generic("1"))))
        assert status == 503 and headers["Retry-After"] == "7" and "retry" in answer["error"]
        assert statuses[-1].state is SourceState.DEGRADED and "took over 0.3 s" in statuses[-1].detail
        async with http.get(base + HEALTH_PATH) as health:
            assert health.status == 503
        queued = await within(post_full(http, base + GENERIC_PATH, encode(generic("2"))))
        assert queued[0] == 503

        runner.hold.set()  # the database is back: the held batch commits, the 503'd one is dropped
        runner.hold = None
        status, _ = await within(post(http, base + GENERIC_PATH, encode(generic("3"))))
        assert status == 200
        assert statuses[-1].state is SourceState.LIVE
        committed = [m.remote_id for batch in runner.commits for m in batch.mentions]
        assert committed == ["1", "3"]  # "1" was in the commit under way: stored, and its retry is a no-op
        async with http.get(base + HEALTH_PATH) as health:
            assert health.status == 200 and (await health.json())["state"] == "ok"


async def test_a_full_disk_answers_503_and_the_listener_keeps_listening_until_the_next_stream():
    statuses: list[SourceStatus] = []
    async with serving(on_status=statuses.append) as (adapter, runner, http, base):
        runner.fail = sqlite3.OperationalError("database or disk is full")
        status, answer, headers = await within(post_full(http, base + GENERIC_PATH, encode(generic("1"))))
        assert status == 503 and headers["Retry-After"] == "5"
        with pytest.raises(sqlite3.OperationalError):
            await within(runner.task)  # the runner's loop ended, as it does on a failed commit
        for _ in range(3):  # still listening: every delivery is answered, none refused
            status, answer, headers = await within(post_full(http, base + GENERIC_PATH, encode(generic("2"))))
            assert status == 503 and "Retry-After" in headers
        assert statuses[-1].state is SourceState.DEGRADED

        runner.fail = None
        runner.restart()
        status, answer = await within(post(http, base + GENERIC_PATH, encode(generic("2"))))
        assert (status, answer["accepted"]) == (200, 1)
        assert statuses[-1].state is SourceState.LIVE


async def reader_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent until it closed the connection."""
    try:
        return await reader.read()
    except ConnectionResetError:
        return b""


async def slow_header_client(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /webhook/generic HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    await writer.drain()
    return reader, writer


async def slow_body_client(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /webhook/generic HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n{\"network\": ")
    await writer.drain()
    return reader, writer


async def until(condition, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize(("headers", "bodies"), [(30, 10), (0, 30)], ids=["mixed", "slow-bodies-only"])
async def test_slow_clients_beyond_the_cap_never_block_a_delivery_and_are_closed_quietly(caplog, headers, bodies):
    caplog.set_level(logging.DEBUG)
    options = {"header_timeout": 1.0, "body_timeout": 1.0, "max_connections": 20}
    async with serving(**options) as (adapter, runner, http, base):
        slow = []
        for client in [slow_header_client] * headers + [slow_body_client] * bodies:
            slow.append(await client(adapter.port))
            assert adapter.open_connections <= 20
        await until(lambda: adapter.open_connections == 20)
        status, answer = await within(post(http, base + GENERIC_PATH, encode(generic("1"))))
        assert (status, answer["accepted"]) == (200, 1)  # room was made: the slow ones cannot crowd it out
        assert [m.remote_id for m in (await only_batch(runner)).mentions] == ["1"]

        answers = await within(asyncio.gather(*(reader_closed(reader) for reader, _ in slow)), 15)
        # Closed to make room (no answer), after header_timeout (no answer) or body_timeout (408).
        assert all(answer == b"" or answer.startswith(b"HTTP/1.1 408 ") for answer in answers)
        assert any(answer.startswith(b"HTTP/1.1 408 ") for answer in answers[headers:])
        await until(lambda: adapter.open_connections <= 1)  # at most the client session's keep-alive
        for _, writer in slow:
            writer.close()

    problems = [record for record in caplog.records
                if record.name.startswith(("adapters", "aiohttp")) and record.levelno >= logging.WARNING]
    assert 1 <= len(problems) <= 4, [record.getMessage() for record in problems]
    assert not any(record.exc_info or record.exc_text for record in problems)
    assert sum(len(record.getMessage()) for record in problems) < 1000
    assert sum(adapter.quiet.counts.values()) >= bodies + headers - 20  # held back, still counted


async def test_when_every_connection_is_a_delivery_being_stored_a_newcomer_gets_503_at_once():
    async with serving(max_connections=3) as (adapter, runner, http, base):
        runner.hold = asyncio.Event()
        waiting = [asyncio.create_task(post(http, base + GENERIC_PATH, encode(generic(str(n))))) for n in range(3)]
        await within(adapter.until_pending(3))
        reader, writer = await asyncio.open_connection("127.0.0.1", adapter.port)
        refused = await within(reader_closed(reader))
        writer.close()
        assert refused.startswith(b"HTTP/1.1 503 ") and b"Retry-After: 5" in refused
        runner.hold.set()
        assert [status for status, _ in await within(asyncio.gather(*waiting))] == [200, 200, 200]
        runner.hold = None
        status, _ = await within(post(http, base + GENERIC_PATH, encode(generic("4"))))
        assert status == 200


async def test_a_client_that_vanishes_mid_body_is_one_quiet_line(caplog):
    caplog.set_level(logging.DEBUG)
    async with serving() as (adapter, runner, http, base):
        for _ in range(20):
            reader, writer = await slow_body_client(adapter.port)
            writer.transport.abort()
        await until(lambda: adapter.open_connections == 0)
        status, _ = await within(post(http, base + GENERIC_PATH, encode(generic("1"))))
        assert status == 200
    ours = [record for record in caplog.records if record.name.startswith(("adapters", "aiohttp"))]
    logged = [record for record in ours if record.levelno >= logging.WARNING]
    assert len(logged) <= 1 and not any(record.exc_info for record in ours)


async def test_health_reports_ok_while_deliveries_are_stored():
    async with serving() as (adapter, runner, http, base):
        async with http.get(base + HEALTH_PATH) as health:
            assert health.status == 200 and await health.json() == {"ok": True, "state": "ok", "pending": 0}
        async with aiohttp.ClientSession() as other:
            status, _ = await within(post(other, base + GENERIC_PATH, encode(generic("1"))))
        assert status == 200
