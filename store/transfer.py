"""Export and import of the whole history as JSONL (and CSV out).

Import reads the export's own shape back, so export -> import is a round
trip. Each line is checked on its own: a bad line is reported with its
number and the rest still imports; a mention already stored is skipped.
Replies that were never sent come back as failed, so an import can never
post anything by itself.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import IO, Any

from store.actions import TAGS
from store.db import Store
from store.events import log_event
from store.ingest import insert_rows
from store.keys import new_reply_key
from store.lines import MAX_LINE_BYTES, Overlong
from store.records import NewMention
from store.sanitize import clean_line, clean_text
from store.search_index import deferred_indexing


@dataclass(frozen=True, slots=True)
class ReplyRecord:
    """A reply as exported, and as read back from an export line: cleaned, None filled in when stored."""

    text: str
    state: str  # sent, failed or manual: an import never queues anything to send
    operator: str | None
    created_at: str | None
    sent_at: str | None
    remote_id: str | None
    remote_url: str | None
    error: str | None

    def as_json(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in _REPLY_FIELDS}

    @classmethod
    def from_json(cls, reply: dict[str, Any]) -> ReplyRecord:
        given = reply.get("state")
        state = given if given in ("sent", "failed", "manual") else "failed"
        error = "imported unsent: retry to send" if state == "failed" and given != "failed" else reply.get("error")
        operator, created_at = reply.get("operator"), reply.get("created_at")
        return cls(
            text=clean_text(reply["text"]),
            state=state,
            operator=clean_line(operator) if operator else None,
            created_at=clean_line(created_at) if created_at else None,
            sent_at=clean_line(reply.get("sent_at")) or None,
            remote_id=clean_line(reply.get("remote_id")) or None,
            remote_url=clean_line(reply.get("remote_url"), 2000) or None,
            error=clean_line(error) or None,
        )


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
_REPLY_FIELDS = tuple(column.name for column in fields(ReplyRecord))


def count_mentions(store: Store) -> int:
    return store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0]


def iter_export(store: Store, chunk: int = 5000) -> Iterator[ExportRecord]:
    """Every mention with tags and replies, oldest first, in bounded memory."""
    last = 0
    while True:
        rows = list(store.db.query(
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
            f"""SELECT mention_id, {', '.join(_REPLY_FIELDS)} FROM replies
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


@dataclass(frozen=True, slots=True)
class LineError:
    number: int  # 1-based line number in the input
    reason: str


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0
    errors: list[LineError] = field(default_factory=list)


class BadLine(ValueError):
    pass


def _text_field(record: dict, name: str) -> str | None:
    value = record.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, (str, int, float)):
        raise BadLine(f"{name!r} must be text")
    return str(value)


def _required_text(record: dict, name: str) -> str:
    value = _text_field(record, name)
    if value is None:
        raise BadLine(f"missing {name!r}")
    return value


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    mention: NewMention  # already cleaned
    tags: list[str]
    status: str
    replies: list[ReplyRecord]
    received_at: str | None


def parse_record(line: str) -> ParsedRecord:
    """One export line, checked and cleaned. Raises BadLine."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise BadLine("nested too deeply") from None
    except ValueError as exc:  # an integer of more digits than int() converts
        if "digits" in str(exc):
            raise BadLine(f"a number longer than {sys.get_int_max_str_digits()} digits") from None
        raise BadLine(f"not usable JSON ({str(exc)[:80]})") from None
    if not isinstance(record, dict):
        raise BadLine("not a JSON object")
    network = _required_text(record, "network")
    remote_id = _text_field(record, "remote_id") or _text_field(record, "url")
    if not remote_id:
        raise BadLine("missing 'remote_id'")
    text = _required_text(record, "text")
    tags = record.get("tags") or []
    if isinstance(tags, str):
        tags = [tag for tag in tags.split(",") if tag]
    if not isinstance(tags, list) or any(tag not in TAGS for tag in tags):
        raise BadLine(f"'tags' must be a list of {', '.join(TAGS)}")
    status = record.get("status") or "open"
    if status not in ("open", "done"):
        raise BadLine("'status' must be open or done")
    replies = record.get("replies") or []
    if isinstance(replies, str):
        try:
            replies = json.loads(replies)
        except json.JSONDecodeError:
            raise BadLine("'replies' is not JSON") from None
    if not isinstance(replies, list) or not all(isinstance(r, dict) and isinstance(r.get("text"), str)
                                                  for r in replies):
        raise BadLine("'replies' must be a list of objects with text")
    mention = NewMention(
        network=network,
        account=_text_field(record, "account") or "imported",
        remote_id=remote_id,
        author_handle=_required_text(record, "author_handle"),
        author_name=_text_field(record, "author_name") or "",
        text=text,
        url=_text_field(record, "url"),
        created_at=_required_text(record, "created_at"),
        lang=_text_field(record, "lang"),
        parent_remote_id=_text_field(record, "parent_remote_id"),
        root_remote_id=_text_field(record, "root_remote_id"),
        raw=None,
    )
    cleaned = mention.cleaned()
    if not cleaned.network or not cleaned.remote_id:
        raise BadLine("'network' or 'remote_id' is empty once control characters are removed")
    received_at = clean_line(_text_field(record, "received_at"), 64) or None
    return ParsedRecord(cleaned, sorted(set(tags)), status, [ReplyRecord.from_json(r) for r in replies], received_at)


NumberedLine = tuple[int, str | Overlong]
# (records, bad lines, number of the chunk's last line)
ParsedChunk = tuple[list[ParsedRecord], list[LineError], int]


def _parse_chunk(chunk: list[NumberedLine]) -> ParsedChunk:
    """Parse numbered lines."""
    parsed: list[ParsedRecord] = []
    errors: list[LineError] = []
    for number, line in chunk:
        if isinstance(line, Overlong):
            errors.append(LineError(number, f"line over {MAX_LINE_BYTES >> 20} MiB ({line.size:,}+ bytes), not read"))
            continue
        if not line.strip():
            continue
        try:
            parsed.append(parse_record(line))
        except BadLine as exc:
            errors.append(LineError(number, str(exc)))
    return parsed, errors, chunk[-1][0] if chunk else 0


CHUNK_BYTES = 16 << 20  # lines up to 1 MiB each: a chunk is bounded by bytes too, not only by count


def _chunks(lines: Iterable[str | NumberedLine], size: int) -> Iterator[list[NumberedLine]]:
    """Numbered chunks; `lines` is plain text lines, or (number, line) pairs from a LineReader."""
    chunk: list[NumberedLine] = []
    held = 0
    for number, item in enumerate(lines, start=1):
        line: str | Overlong
        if isinstance(item, tuple):
            number, line = item
        else:
            line = item
        chunk.append((number, line))
        held += len(line) if isinstance(line, str) else 0
        if len(chunk) >= size or held >= CHUNK_BYTES:
            yield chunk
            chunk, held = [], 0
    if chunk:
        yield chunk


def _parsed_in_child(chunks: Iterator[list[NumberedLine]]) -> Iterator[ParsedChunk]:
    """Parse on the other core while this one inserts; results in input order.

    A forked child: JSON decoding and cleaning are a third of an import's
    CPU, and the parent only unpickles the results.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # The child holds no end of `lifeline` that writes: when this process ends, even by kill -9,
    # its read sees EOF and the child exits instead of waiting on its queue forever.
    watch, lifeline = os.pipe()
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_die_with_parent, initargs=(watch, lifeline)) as pool:
            in_flight = []
            for chunk in chunks:
                in_flight.append(pool.submit(_parse_chunk, chunk))
                if len(in_flight) > 2:
                    yield in_flight.pop(0).result()
            for future in in_flight:
                yield future.result()
    finally:
        os.close(watch)
        os.close(lifeline)


def _die_with_parent(watch: int, lifeline: int) -> None:
    """In the parsing child: exit as soon as the importing process is gone."""
    import threading

    os.close(lifeline)

    def wait_for_eof() -> None:
        try:
            os.read(watch, 1)
        finally:
            os._exit(0)

    threading.Thread(target=wait_for_eof, name="parent-watch", daemon=True).start()


def import_lines(store: Store, lines: Iterable[str | NumberedLine], operator: str, *, batch: int = 5000,
                 progress: Callable[[int], None] | None = None, parallel: bool = False) -> ImportReport:
    """Import export-shaped JSONL lines; `parallel` parses in a forked child (POSIX)."""
    report = ImportReport()
    known_ids: dict[tuple[str, str, str], int] = {}  # authors recur across batches of one import

    def flush(pending: list[ParsedRecord]) -> None:
        if not pending:
            return
        with store.write():
            ids = insert_rows(store, ((p.mention, p.status, p.received_at) for p in pending),
                              cleaned=True, ids=known_ids)
            seen, tag_rows, now = [], [], store.now()
            for mention_id, parsed in zip(ids, pending, strict=True):
                if mention_id is None:
                    report.duplicates += 1
                    continue
                report.imported += 1
                tag_rows += [(mention_id, tag, operator, now) for tag in parsed.tags]
                for reply in parsed.replies:
                    _insert_reply(store, mention_id, reply, operator)
                if parsed.status == "done" or parsed.tags or parsed.replies:
                    seen.append((mention_id,))
            store.conn.executemany("INSERT INTO tags (mention_id, tag, operator, at) VALUES (?, ?, ?, ?)", tag_rows)
            store.conn.executemany("UPDATE mentions SET seen = 1 WHERE id = ?", seen)
            log_event(store, operator, "import.batch", None, imported=report.imported)

    chunks = _chunks(lines, batch)
    results = _parsed_in_child(chunks) if parallel and os.name == "posix" else map(_parse_chunk, chunks)
    number = 0
    # Bulk indexing: texts are tokenized on the other core while rows insert here, and an
    # interrupted import leaves its rows pending for the index, never lost.
    with deferred_indexing(store):
        for parsed, errors, number in results:
            report.errors += errors
            flush(parsed)
            if progress:
                progress(number)
    return report


def _insert_reply(store: Store, mention_id: int, reply: ReplyRecord, operator: str) -> None:
    store.conn.execute(
        """INSERT INTO replies (mention_id, text, operator, created_at, state, idem_key, sent_at,
               remote_id, remote_url, error)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (mention_id, reply.text, clean_line(operator) if reply.operator is None else reply.operator,
         store.now() if reply.created_at is None else reply.created_at, reply.state, new_reply_key(),
         reply.sent_at, reply.remote_id, reply.remote_url, reply.error),
    )
