"""A separate ingest process for the webhook listener tests: `python -m tests.webhook_proc ...`.

    ingest DB BUSY_MS COMMIT_TIMEOUT   listen on a free port, print it, store what arrives
    lock DB                            BEGIN IMMEDIATE, print "locked", hold it until stdin closes

`ingest` drives the adapter the way the ingest runner does (commit each
batch on the store thread, and stream again after a failed commit), with
SQLite's busy timeout scaled down from 5 s so that "longer than the store
waits" (about 65 s in production) takes seconds. It ignores SIGXFSZ, so a
file-size limit set on it from outside (prlimit) makes its writes fail
(EFBIG) instead of killing it: a full disk, without root or a loop device.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from collections.abc import Callable


async def _ingest(db: str, busy_ms: str, commit_timeout: str) -> None:
    import store.db
    store.db.BUSY_TIMEOUT_MS = int(busy_ms)

    from adapters.webhook.adapter import WebhookAdapter
    from store.ingest import save_batch
    from store.worker import StoreWorker

    worker = StoreWorker(db)
    await worker.run(lambda store: None)  # create and migrate before listening
    adapter = WebhookAdapter(account="bridge", secret="wh-secret", port=0, commit_timeout=float(commit_timeout),
                             retry_after=1, on_status=lambda status: print(f"state {status.state}", flush=True))

    async def announce() -> None:
        await adapter.started.wait()
        print(f"port {adapter.port}", flush=True)

    announcing = asyncio.create_task(announce())
    while True:
        try:
            async for batch in adapter.stream(None):
                await worker.run(save_batch, adapter.source, batch.mentions, None)
        except Exception as exc:  # noqa: BLE001 - what the ingest runner does: report, stream again
            print(f"commit failed: {type(exc).__name__}: {str(exc)[:80]}", flush=True)
        await adapter.reset()
        await asyncio.sleep(0.2)  # the runner's restart backoff, scaled down
    announcing.cancel()


def _serve(db: str, busy_ms: str, commit_timeout: str) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    asyncio.run(_ingest(db, busy_ms, commit_timeout))


def _lock(db: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    conn.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    sys.stdin.read()  # held until the test closes our stdin
    conn.execute("ROLLBACK")
    conn.close()


if __name__ == "__main__":
    kind, *rest = sys.argv[1:]
    commands: dict[str, Callable[..., None]] = {"ingest": _serve, "lock": _lock}
    commands[kind](*rest)
