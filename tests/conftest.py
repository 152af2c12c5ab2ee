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


@pytest.fixture
def store(db_path, clock, _migrated_template) -> Iterator[Store]:
    shutil.copyfile(_migrated_template, db_path)
    opened = open_store(db_path, clock=clock)
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
