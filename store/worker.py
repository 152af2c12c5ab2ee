"""One store connection on its own thread, awaitable from asyncio.

sqlite3 connections belong to the thread that made them, and sqlite-utils
and rapidfuzz block; so async code (the UI, the ingest runner, the sender)
hands store calls to a single dedicated thread and awaits the result,
never running SQL on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from store.db import CACHE_KIB, NotWritable, Store, open_for_reading, open_store, utc_now

T = TypeVar("T")


class StoreWorker:
    def __init__(self, path: str, *, clock: Callable[[], datetime] = utc_now, name: str = "store",
                 read_only_fallback: bool = False, cache_kib: int = CACHE_KIB):
        self.path = path
        self.cache_kib = cache_kib  # page cache of this thread's connection
        # A console on a desk it may not write still reads it (browse, search); why it cannot write:
        self.read_only_fallback = read_only_fallback
        self.read_only_reason: str | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._store: Store | None = None
        self._clock = clock
        self.clock = clock  # the store's idea of now (leases compare against it)

    def _open(self) -> Store:
        if self._store is None:
            try:
                self._store = open_store(self.path, clock=self._clock, cache_kib=self.cache_kib)
            except NotWritable as exc:
                if not self.read_only_fallback:
                    raise
                self._store = open_for_reading(self.path, clock=self._clock, cache_kib=self.cache_kib)
                self.read_only_reason = str(exc)
        return self._store

    def _call(self, fn: Callable[..., T], args: tuple, kwargs: dict) -> T:
        return fn(self._open(), *args, **kwargs)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn(store, *args, **kwargs) on the store thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn, args, kwargs)

    def close(self) -> None:
        def _close(store: Store | None = None) -> None:
            if self._store is not None:
                self._store.close()
                self._store = None
        self._executor.submit(_close).result()
        self._executor.shutdown(wait=True)
