"""Each source's connection state (the top bar's line per adapter), as the ingest leader writes it.

Its own module: the console reads it at start, and store.ingest brings the search index's writers."""

from __future__ import annotations

from dataclasses import dataclass

from store.db import Store
from store.redact import redact_error
from store.sanitize import clean_line


def set_source_status(store: Store, source: str, state: str, detail: str = "",
                      last_event_at: str | None = None) -> None:
    # A state's detail often quotes a server's error body: the console's top bar and `accounts` show it.
    state, detail = clean_line(state, 64), clean_line(detail, 300)
    with store.write():
        store.conn.execute(
            """INSERT INTO source_status (source, state, detail, updated_at, last_event_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (source) DO UPDATE SET state = excluded.state, detail = excluded.detail,
               updated_at = excluded.updated_at,
               last_event_at = COALESCE(excluded.last_event_at, source_status.last_event_at)""",
            (source, state, redact_error(detail) or "", store.now(), last_event_at),
        )


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """How an adapter's connection is doing, as the ingest leader last wrote it."""

    source: str
    state: str
    detail: str
    updated_at: str
    last_event_at: str | None


def source_statuses(store: Store) -> list[SourceStatus]:
    # The plain connection: the console asks at start, and sqlite-utils would be imported then (~0.1 s).
    return [SourceStatus(source, state, detail, updated_at, last_event_at)
            for source, state, detail, updated_at, last_event_at in store.conn.execute(
                "SELECT source, state, detail, updated_at, last_event_at FROM source_status ORDER BY source")]
