"""Import of an export (JSONL) back into a desk: parsing processes feed one writing transaction per chunk.

Each line is checked on its own: a bad line is reported with its number and
the rest still imports; a mention already stored is skipped, so an
interrupted import is finished by running it again. Replies that were never
sent come back as failed, so an import can never post anything by itself.

The work is split where it is cheap to split: reading and splitting the
bytes into lines, then writing (SQLite, one connection) here; decoding,
checking, cleaning and making search documents in forked parsing
processes, which answer in plain tuples (store.import_rows.parse_chunk).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from store.db import Store
from store.import_rows import LineError, ParsedChunk, Row, parse_chunk
from store.import_write import ImportWriter
from store.lines import LineReader, Overlong
from store.maintenance import BULK_ROWS, vacuum_analyze
from store.search_index import settle

CHUNK_BYTES = 16 << 20  # lines up to 1 MiB each: a chunk is bounded by bytes too, not only by count
Chunk = tuple[int, list[str | bytes | Overlong]]


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0
    errors: list[LineError] = field(default_factory=list)


def _chunks(lines: LineReader | Iterable[str], size: int) -> Iterator[Chunk]:
    """(first line number, lines) chunks of at most `size` lines and about CHUNK_BYTES."""
    if isinstance(lines, LineReader):
        yield from lines.chunks(size, CHUNK_BYTES)  # type: ignore[misc]  # list is invariant: bytes | Overlong
        return
    chunk: list[str | bytes | Overlong] = []
    first = held = 0
    for number, line in enumerate(lines, start=1):
        if not chunk:
            first = number
        chunk.append(line)
        held += len(line)
        if len(chunk) >= size or held >= CHUNK_BYTES:
            yield first, chunk
            chunk, held = [], 0
    if chunk:
        yield first, chunk


def _parse(chunk: Chunk) -> ParsedChunk:
    return parse_chunk(*chunk)


def parsers_for_this_machine() -> int:
    """Parsing processes beside the writer: two keep a 2-core machine busy while the writer waits on SQLite."""
    return max(1, min(2, (os.cpu_count() or 1)))


def _parsed_in_children(chunks: Iterator[Chunk], workers: int) -> Iterator[ParsedChunk]:
    """Parse in forked processes while this one writes; results in input order, a few chunks ahead at most."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # The children hold no end of `lifeline` that writes: when this process ends, even by kill -9,
    # their read sees EOF and they exit instead of waiting on their queue forever.
    watch, lifeline = os.pipe()
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_die_with_parent, initargs=(watch, lifeline)) as pool:
            in_flight = []
            for chunk in chunks:
                in_flight.append(pool.submit(_parse, chunk))
                if len(in_flight) > workers + 1:
                    yield in_flight.pop(0).result()
            for future in in_flight:
                yield future.result()
    finally:
        os.close(watch)
        os.close(lifeline)


def _die_with_parent(watch: int, lifeline: int) -> None:
    """In a parsing child: exit as soon as the importing process is gone."""
    import threading

    os.close(lifeline)

    def wait_for_eof() -> None:
        try:
            os.read(watch, 1)
        finally:
            os._exit(0)

    threading.Thread(target=wait_for_eof, name="parent-watch", daemon=True).start()


COMMIT_ROWS = 50_000  # rows per transaction: see import_lines
COMMIT_BYTES = 64 << 20  # and at most about this much text
IMPORT_CACHE_KIB = 128 * 1024  # page cache while importing: the indexes of a million mentions stay in memory


def import_lines(store: Store, lines: LineReader | Iterable[str], operator: str, *, batch: int = 5000,
                 commit_rows: int = COMMIT_ROWS, progress: Callable[[int], None] | None = None,
                 parallel: bool = False) -> ImportReport:
    """Import export-shaped JSONL lines (a LineReader, or text lines); `parallel` parses in forked children (POSIX).

    Lines are parsed `batch` at a time and written `commit_rows` at a time,
    search documents included, each write one transaction. Big writes are
    what makes an import fast: every transaction rewrites the index pages
    its rows land on (random places in the remote-id and author indexes),
    so 5,000-row transactions wrote 5.6 times the database's size to disk
    and 50,000-row ones 2.5 times; one takes about a second of the write lock.
    """
    report = ImportReport()
    writer = ImportWriter(store, operator)
    chunks = _chunks(lines, batch)
    results = (_parsed_in_children(chunks, parsers_for_this_machine()) if parallel and os.name == "posix"
               else map(_parse, chunks))
    rows: list[Row] = []
    documents: list[str] = []
    vocab: set[str] = set()
    held = 0

    def flush() -> None:
        nonlocal held
        writer.write(rows, documents, sorted(vocab))
        report.imported, report.duplicates = writer.imported, writer.duplicates
        rows.clear()
        documents.clear()
        vocab.clear()
        held = 0

    cache_size = store.conn.execute("PRAGMA cache_size").fetchone()[0]
    store.conn.execute(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
    try:
        for chunk_rows, chunk_documents, chunk_vocab, errors, number in results:
            report.errors += [LineError(*error) for error in errors]
            rows += chunk_rows
            documents += chunk_documents
            vocab.update(chunk_vocab)
            held += sum(len(row[5]) for row in chunk_rows)
            if len(rows) >= commit_rows or held >= COMMIT_BYTES:
                flush()
            if progress:
                progress(number)
        flush()
    finally:
        store.conn.execute(f"PRAGMA cache_size = {int(cache_size)}")
    if report.imported >= BULK_ROWS:
        vacuum_analyze(store)
        settle(store)
    return report
