"""Reading one export line: JSON, checks, cleaning, and the search document (the import's parsing side).

`parse_record` is the typed answer for one line. `parse_chunk` does the same
for many lines in a parsing process and answers in plain tuples: pickling a
tuple of strings back to the writing process costs a small fraction of
pickling dataclasses, and the writer only binds them.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, fields
from typing import Any

import orjson

from store.actions import TAGS
from store.lines import MAX_LINE_BYTES, Overlong
from store.records import NewMention
from store.sanitize import clean_line, clean_text
from store.search_terms import _fts_rows, is_vocab_term


class BadLine(ValueError):
    pass


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
        return {name: getattr(self, name) for name in REPLY_FIELDS}

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


REPLY_FIELDS = tuple(column.name for column in fields(ReplyRecord))


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    mention: NewMention  # already cleaned
    tags: list[str]
    status: str
    replies: list[ReplyRecord]
    received_at: str | None


# A checked, cleaned line as the writer binds it:
# (network, remote_id, account, author_handle, author_name, text, url, lang, created_at,
#  received_at, parent_remote_id, root_remote_id, status, tags, replies)
Row = tuple[str, str, str, str, str, str, str | None, str | None, str, str | None, str | None, str | None, str,
            tuple[str, ...], tuple[ReplyRecord, ...]]


def _floats_in(value: Any) -> bool:
    if type(value) is float:
        return True
    if type(value) is dict:
        value = list(value.values())
    return type(value) is list and any(_floats_in(item) for item in value)


def _fast_loads(line: str | bytes) -> Any:
    """orjson's reading of a line, or None where json must read it.

    orjson is about twice as fast as json on these lines, and reads every
    JSON text the same, except that it refuses what json accepts beyond the
    standard (NaN, lone surrogates, invalid UTF-8 ...) and reads an integer
    beyond 64 bits as a float. So what it refuses, and a record with a float
    where the import reads one (a field, or anywhere in the replies), is
    read again by json: the import sees exactly what json would give it.
    """
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(record) is dict and (float in set(map(type, record.values())) or _floats_in(record.get("replies"))):
        return None
    return record


def _loads(line: str | bytes) -> Any:
    """JSON of one line, as the import needs it (see _fast_loads); BadLine with json's reason if it is not JSON."""
    record = _fast_loads(line)
    if record is not None:
        return record
    text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise BadLine("nested too deeply") from None
    except ValueError as exc:  # an integer of more digits than int() converts
        if "digits" in str(exc):
            raise BadLine(f"a number longer than {sys.get_int_max_str_digits()} digits") from None
        raise BadLine(f"not usable JSON ({str(exc)[:80]})") from None


def _text_field(record: dict, name: str) -> str | None:
    value = record.get(name)
    if type(value) is str:  # nearly always: skip the checks below
        return value or None
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


def _row(record: Any) -> Row:
    """One decoded line, checked and cleaned (the cleaning of NewMention.cleaned). Raises BadLine."""
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
    # Fields are read in the order the checks always ran, so a line with several faults names the same one.
    account = _text_field(record, "account") or "imported"
    author_handle = _required_text(record, "author_handle")
    author_name = _text_field(record, "author_name") or ""
    url = _text_field(record, "url")
    created_at = _required_text(record, "created_at")
    lang = _text_field(record, "lang")
    parent_remote_id = _text_field(record, "parent_remote_id")
    root_remote_id = _text_field(record, "root_remote_id")
    network, remote_id = clean_line(network, 64), clean_line(remote_id, 1000)
    if not network or not remote_id:
        raise BadLine("'network' or 'remote_id' is empty once control characters are removed")
    received_at = clean_line(_text_field(record, "received_at"), 64) or None
    return (
        network, remote_id, clean_line(account), clean_line(author_handle), clean_line(author_name),
        clean_text(text), clean_line(url, 2000) or None, clean_line(lang, 16) or None, clean_line(created_at, 64),
        received_at, clean_line(parent_remote_id, 1000) or None, clean_line(root_remote_id, 1000) or None,
        status, tuple(sorted(set(tags))), tuple(ReplyRecord.from_json(r) for r in replies),
    )


def parse_record(line: str) -> ParsedRecord:
    """One export line, checked and cleaned. Raises BadLine."""
    (network, remote_id, account, author_handle, author_name, text, url, lang, created_at, received_at,
     parent_remote_id, root_remote_id, status, tags, replies) = _row(_loads(line))
    mention = NewMention(network=network, account=account, remote_id=remote_id, author_handle=author_handle,
                         author_name=author_name, text=text, url=url, created_at=created_at, lang=lang,
                         parent_remote_id=parent_remote_id, root_remote_id=root_remote_id, raw=None)
    return ParsedRecord(mention, list(tags), status, list(replies), received_at)


@dataclass(frozen=True, slots=True)
class LineError:
    number: int  # 1-based line number in the input
    reason: str


# What a parsing process answers for a chunk, all plain data:
# (rows, their search documents, the chunk's vocabulary terms, bad lines as (number, reason), last line number)
ParsedChunk = tuple[list[Row], list[str], list[str], list[tuple[int, str]], int]


def parse_chunk(first: int, lines: list[str | bytes | Overlong]) -> ParsedChunk:
    """Lines numbered from `first`: rows cleaned and their search documents made, bad lines answered."""
    rows: list[Row] = []
    errors: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=first):
        if isinstance(line, Overlong):
            errors.append((number, f"line over {MAX_LINE_BYTES >> 20} MiB ({line.size:,}+ bytes), not read"))
            continue
        record = _fast_loads(line)
        if record is None:
            text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
            if not text.strip():
                continue  # blank lines are not errors
            try:
                record = _loads(text)
            except BadLine as exc:
                errors.append((number, str(exc)))
                continue
        try:
            rows.append(_row(record))
        except BadLine as exc:
            errors.append((number, str(exc)))
    vocab: set[str] = set()
    documents = [document for _, document in _fts_rows(
        ((0, row[5], row[3], row[0]) for row in rows), vocab)]
    return rows, documents, sorted(term for term in vocab if is_vocab_term(term)), errors, first + len(lines) - 1
