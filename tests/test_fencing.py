"""A stalled leader never lets its successor post a reply a second time (issue 9).

Real `mentiondesk serve` processes send a reply to a fake Bluesky PDS that
holds the createRecord open. The leader is then stalled longer than its
lease — frozen with SIGSTOP, or starved of the write lock by a third
process holding BEGIN IMMEDIATE — so another process takes the lease. The
new leader must not adopt the in-flight reply while the old epoch's lease
and its longest request could still be running; once the held post is
done it finds it by its record key and records it. Exactly one
createRecord reaches the PDS.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Literal

import pytest

from tests.bluesky_server import POST, FakePds, Hold, bluesky_desk
from tests.procs import holder_pid, worker_command
from tests.support import until

pytestmark = pytest.mark.serial

TTL = 4.0
REQUEST = 2.0  # < TTL - TTL/3: a send may start only with more lease than this left


def rows(db: str, sql: str, *params):
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []  # still being created, or locked by the test's own staller
    finally:
        conn.close()




def iso_seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def lease_row(db: str):
    found = rows(db, "SELECT holder, epoch FROM leases WHERE name = 'ingest' AND holder != ''")
    return found[0] if found else None


class WatchedRelease(asyncio.Event):
    """The hold's release: knows whether the held request is still open (not answered, not dropped)."""

    def __init__(self) -> None:
        super().__init__()
        self.open = False

    async def wait(self) -> Literal[True]:
        self.open = True
        try:
            return await super().wait()
        finally:
            self.open = False  # released, or cancelled because the client went away


def serve(db: str, config: Path, env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "tui", "--db", db, "--config", str(config), "serve"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("stall", ["sigstop", "write-lock"])
async def test_a_stalled_leader_and_its_successor_post_a_reply_once(tmp_path, stall):
    pds = FakePds()
    await pds.start()
    procs: list[subprocess.Popen] = []
    stopped: subprocess.Popen | None = None
    try:
        brand, db, config = bluesky_desk(pds, tmp_path)
        env = {**os.environ, "TEST_BSKY_PASSWORD": "app-pass-1234", "MENTIONDESK_LEASE_TTL": str(TTL),
               "MENTIONDESK_REQUEST_TIMEOUT": str(REQUEST), "MENTIONDESK_OPERATOR": "alice",
               "MENTIONDESK_REPLY_RECALL": "0"}
        procs.append(serve(db, config, env, tmp_path / "one.log"))
        await until(lambda: lease_row(db), what="a leader")
        procs.append(serve(db, config, env, tmp_path / "two.log"))
        mention_id = (await until(lambda: rows(db, "SELECT id FROM mentions WHERE network='bluesky'"),
                                  what="the mention to be ingested"))[0][0]
        hold = Hold(release=WatchedRelease())
        pds.faults["com.atproto.repo.createRecord"].append(hold)
        overlapping: list[bool] = []
        create = pds._handlers["com.atproto.repo.createRecord"]

        async def watched_create(request, body):
            overlapping.append(hold.release.open)  # another createRecord while the held one is open?
            return await create(request, body)

        pds._handlers["com.atproto.repo.createRecord"] = watched_create
        queued = subprocess.run([sys.executable, "-m", "tui", "--db", db, "reply", str(mention_id),
                                 "Sorry Ana, we are on it"], env=env, capture_output=True, text=True)
        assert queued.returncode == 0, queued.stderr
        await asyncio.wait_for(hold.entered.wait(), 30)  # the leader's POST is open
        first_holder, first_epoch = lease_row(db)
        leader = next(p for p in procs if p.pid == holder_pid(first_holder))

        if stall == "sigstop":
            leader.send_signal(signal.SIGSTOP)
            stopped = leader
        else:
            ready = tmp_path / "locked"
            procs.append(subprocess.Popen(worker_command("lock", db, TTL * 2, ready), env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            await until(ready.exists, what="the staller to hold the write lock")
        # Someone (the other process, or the leader itself once unstuck) leads in a new epoch.
        await until(lambda: (row := lease_row(db)) and row[1] > first_epoch, seconds=TTL * 5,
                    what="a new epoch")
        (old_end,), = rows(db, "SELECT prev_expires_at FROM leases WHERE epoch = ?", first_epoch + 1) or [(None,)]
        # Frozen, the old leader's POST is still open: a successor that did not wait for the old
        # epoch's lease and longest request would post again right now. (Starved of the lock, the
        # old leader's own request timeout has closed it, unanswered.)
        hold.release.set()
        await until(lambda: rows(db, "SELECT 1 FROM replies WHERE state = 'sent'"), seconds=TTL * 5,
                    what="the reply recorded as sent")
        if stopped is not None:
            stopped.send_signal(signal.SIGCONT)
            stopped = None
            # The woken leader finds it lost the lease and steps down without sending.
            await until(lambda: "state=\"stepped down\"" in (tmp_path / "one.log").read_text()
                        + (tmp_path / "two.log").read_text(), what="the old leader stepping down")
        (claimed_at,), = rows(db, "SELECT claimed_at FROM replies")
        if old_end is not None:  # the successor adopted only once the old epoch's last request was over
            assert iso_seconds(claimed_at) >= iso_seconds(old_end) + REQUEST, (claimed_at, old_end)
        posted = [key for key in pds.records if key[0] == brand.did and key[1] == POST]
        assert len(posted) == 1, f"{len(posted)} posts for one reply"
        assert not any(overlapping), "a second createRecord while the first was still open"
        if stall == "sigstop":
            creates = [r for r in pds.requests if r.nsid == "com.atproto.repo.createRecord"]
            assert len(creates) == 1, "the successor did not find the post and sent again"
        assert rows(db, "SELECT state, uncertain FROM replies") == [("sent", 0)]
        # serve said what happened, one key=value line per change
        logs = (tmp_path / "one.log").read_text() + (tmp_path / "two.log").read_text()
        for line in ("event=reply reply=1 state=queued operator=alice", "event=reply reply=1 state=sending",
                     "event=reply reply=1 state=sent", "event=leader state=acquired",
                     "event=account account=bluesky:brand.test state=connected"):
            assert line in logs, line
    finally:
        if stopped is not None:
            stopped.send_signal(signal.SIGCONT)
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        await pds.close()


async def test_a_lease_too_short_for_the_longest_request_shortens_the_requests_and_says_so(tmp_path, caplog):
    """ttl and request timeouts must agree, or no reply could ever start: the requests are fitted to the lease."""
    import logging

    from adapters.runtime.leader import Leadership
    from store.worker import StoreWorker
    from tests.tui_support import ScriptedAdapter

    caplog.set_level(logging.WARNING)
    adapter = ScriptedAdapter()
    adapter.request_time = 30.0
    worker = StoreWorker(str(tmp_path / "desk.db"))
    leadership = Leadership(worker, [adapter], holder="short", ttl=6)
    leadership.stop()
    await leadership.run()
    worker.close()
    assert adapter.max_request_time == 3.0  # (6 - 2) * 0.75: always less than the lease left after a renewal
    assert any('state="requests shortened"' in r.getMessage() and "not 30s" in r.getMessage()
               for r in caplog.records)
