"""Where an adapter keeps small per-account values across restarts.

The runner binds each adapter to its account's values in the database
(`store.account_state`, reached through the store thread); an adapter that
is not bound (a one-off `accounts check`, tests) keeps them in memory for
the life of the process. Adapters never touch the database themselves.
"""

from __future__ import annotations

from typing import Protocol

from store.account_state import delete_account_value, get_account_value, put_account_value
from store.worker import StoreWorker


class AccountValues(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str) -> None: ...

    async def delete(self, key: str) -> None: ...


class MemoryValues:
    """Values for this process only."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self._values.get(key)

    async def put(self, key: str, value: str) -> None:
        self._values[key] = value

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)


class StoredValues:
    """One account's values in the database, through the store thread."""

    def __init__(self, worker: StoreWorker, source: str):
        self._worker = worker
        self.source = source

    async def get(self, key: str) -> str | None:
        found = await self._worker.run(get_account_value, self.source, key)
        return None if found is None else found.value

    async def put(self, key: str, value: str) -> None:
        await self._worker.run(put_account_value, self.source, key, value)

    async def delete(self, key: str) -> None:
        await self._worker.run(delete_account_value, self.source, key)
