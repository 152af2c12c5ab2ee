"""Export of the whole history as JSONL and CSV.

Import (store.importing) reads the export's own shape back, so export ->
import is a round trip.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from typing import IO, Any

from store.db import Store
from store.import_rows import REPLY_FIELDS, ReplyRecord


@dataclass(slots=True)  # not frozen: an export builds millions, and a frozen __init__ takes twice as long
class ExportRecord:
    """One mention with its tags and replies; field order is the export's column order."""

    id: int
    network: str
    remote_id: str
    account: str
    author_handle: str
    author_name: str
    text: str
    url: str | None
    created_at: str
    received_at: str
    lang: str | None
    parent_remote_id: str | None
    root_remote_id: str | None
    tags: list[str]
    status: str
    replies: list[ReplyRecord]

    def as_json(self) -> dict[str, Any]:
        record = {name: getattr(self, name) for name in EXPORT_FIELDS}
        record["replies"] = [reply.as_json() for reply in self.replies]
        return record


EXPORT_FIELDS = [column.name for column in fields(ExportRecord)]


def count_mentions(store: Store) -> int:
    return store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0]


def iter_export(store: Store, chunk: int = 5000) -> Iterator[ExportRecord]:
    """Every mention with tags and replies, oldest first, in bounded memory."""
    last = 0
    while True:
        rows = list(store.rows(
            """SELECT m.id, m.network, m.remote_id, acc.handle AS account, a.handle AS author_handle,
                      a.display_name AS author_name, m.text, m.url, m.created_at, m.received_at, m.lang,
                      m.parent_remote_id, m.root_remote_id, m.status
               FROM mentions m JOIN authors a ON a.id = m.author_id JOIN accounts acc ON acc.id = m.account_id
               WHERE m.id > ? ORDER BY m.id LIMIT ?""",
            (last, chunk),
        ))
        if not rows:
            return
        first, last = rows[0]["id"], rows[-1]["id"]
        tags: dict[int, list[str]] = {}
        for mid, tag in store.conn.execute(
            "SELECT mention_id, tag FROM tags WHERE mention_id BETWEEN ? AND ? ORDER BY tag", (first, last)
        ):
            tags.setdefault(mid, []).append(tag)
        replies: dict[int, list[ReplyRecord]] = {}
        for values in store.conn.execute(
            f"""SELECT mention_id, {', '.join(REPLY_FIELDS)} FROM replies
                WHERE mention_id BETWEEN ? AND ? ORDER BY id""",
            (first, last),
        ):
            replies.setdefault(values[0], []).append(ReplyRecord(*values[1:]))
        for row in rows:
            yield ExportRecord(**row, tags=tags.get(row["id"], []), replies=replies.get(row["id"], []))


def write_jsonl(records: Iterable[ExportRecord], out: IO[str], progress: Callable[[int], None] | None = None) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record.as_json(), ensure_ascii=False) + "\n")
        count += 1
        if progress and count % 1000 == 0:
            progress(count)
    return count


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading ' (OWASP, CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(records: Iterable[ExportRecord], out: IO[str], progress: Callable[[int], None] | None = None) -> int:
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    count = 0
    for record in records:
        flat = record.as_json()
        flat["tags"] = ",".join(record.tags)
        flat["replies"] = json.dumps(flat["replies"], ensure_ascii=False)
        writer.writerow({name: defuse_cell(value) for name, value in flat.items()})
        count += 1
        if progress and count % 1000 == 0:
            progress(count)
    return count
