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
from store.import_rows import LineError, ParsedChunk, parse_chunk
from store.import_write import ImportWriter
from store.lines import LineReader, Overlong

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


def import_lines(store: Store, lines: LineReader | Iterable[str], operator: str, *, batch: int = 5000,
                 progress: Callable[[int], None] | None = None, parallel: bool = False) -> ImportReport:
    """Import export-shaped JSONL lines (a LineReader, or text lines); `parallel` parses in forked children (POSIX).

    Each chunk of `batch` lines commits on its own, search documents included.
    """
    report = ImportReport()
    writer = ImportWriter(store, operator)
    chunks = _chunks(lines, batch)
    results = (_parsed_in_children(chunks, parsers_for_this_machine()) if parallel and os.name == "posix"
               else map(_parse, chunks))
    for rows, documents, vocab, errors, number in results:
        report.errors += [LineError(*error) for error in errors]
        writer.write(rows, documents, vocab)
        report.imported, report.duplicates = writer.imported, writer.duplicates
        if progress:
            progress(number)
    return report
