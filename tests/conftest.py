"""Shared fixtures: a store on a temporary file with a frozen clock, and mention records."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from store.db import Store, open_store
from store.records import NewMention

FROZEN_AT = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)


class FrozenClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, moment: datetime = FROZEN_AT):
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "desk.db"


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory):
    """A freshly created and migrated database file, made once per session.

    Creating the schema costs tens of milliseconds of fsyncs; copying a closed
    file costs one. Tests of creating a database open their own paths.
    """
    path = tmp_path_factory.mktemp("template") / "template.db"
    open_store(path).close()
    assert not os.path.exists(f"{path}-wal"), "template must be fully checkpointed"
    return path


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL server for this session (tests/pg_support.py); skips or fails when absent."""
    from tests.pg_support import start_server, stop_server

    server = start_server()
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def _pg_reused(pg_server):
    from tests.pg_support import ReusedDesk

    reused = ReusedDesk(pg_server)
    yield reused
    reused.close()


@pytest.fixture
def pg_desk(_pg_reused) -> str:
    """The URL of a migrated desk database on the test server, empty (the same database each test)."""
    return _pg_reused.reset()


@pytest.fixture
def pg_store(pg_desk, clock) -> Iterator[Store]:
    """A store on `pg_desk`."""
    opened = open_store(pg_desk, clock=clock)
    yield opened
    opened.close()


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module that sets `BOTH_BACKENDS = True` runs its `desk_db`/`store` tests on SQLite and on PostgreSQL
    (but those marked `sqlite_only`: about the desk's file itself)."""
    if (getattr(metafunc.module, "BOTH_BACKENDS", False) and "desk_db" in metafunc.fixturenames
            and metafunc.definition.get_closest_marker("sqlite_only") is None):
        metafunc.parametrize("desk_db", [pytest.param(name, marks=[pytest.mark.postgresql] if name == "postgresql"
                                                   else []) for name in BACKENDS], indirect=True)


@pytest.fixture
def desk_db(request, db_path, _migrated_template) -> Iterator[str]:
    """Where the test's desk lives: a migrated SQLite file, or a PostgreSQL URL (BOTH_BACKENDS modules)."""
    if getattr(request, "param", "sqlite") == "postgresql":
        yield request.getfixturevalue("pg_desk")
        return
    shutil.copyfile(_migrated_template, db_path)
    yield str(db_path)


@pytest.fixture
def store(desk_db, clock) -> Iterator[Store]:
    opened = open_store(desk_db, clock=clock)
    yield opened
    opened.close()


_serial = itertools.count(1)


def new_mention(**overrides: Any) -> NewMention:
    """A valid demo mention; every call gets a fresh remote id unless one is given."""
    number = next(_serial)
    fields: dict[str, Any] = {
        "network": "demo",
        "account": "@brand",
        "remote_id": f"r{number}",
        "author_handle": "@ana",
        "author_name": "Ana",
        "text": f"hello brand #{number}",
        "created_at": f"2025-03-14T09:{number % 60:02d}:00.000Z",
    }
    fields.update(overrides)
    return NewMention(**fields)


@pytest.fixture
def make_mention() -> Callable[..., NewMention]:
    return new_mention


@pytest.fixture(autouse=True)
def _utc_local_time() -> Iterator[None]:
    """The console shows local clock times: pin the zone so screens and snapshots never depend on the host's."""
    import time

    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()
