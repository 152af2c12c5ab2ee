"""Numbered text lines from a byte stream (a file, a pipe, stdin) in bounded memory.

A line longer than the limit is never held whole: its bytes are counted and
dropped up to the next newline, and it comes out as `Overlong` so that the
import can report it and go on. A UTF-8 byte order mark on line 1 is not text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MAX_LINE_BYTES = 1 << 20  # a mention with its replies is a few KiB; 1 MiB is generous
BLOCK = 1 << 16
BOM = "\ufeff"
BOM_BYTES = BOM.encode()


@dataclass(frozen=True)
class Overlong:
    """A line that was skipped unread: at least `size` bytes."""

    size: int


class LineReader:
    """Iterates (line number, text or Overlong); `bytes_read` is for progress."""

    def __init__(self, stream: BinaryIO, limit: int = MAX_LINE_BYTES):
        self.stream = stream
        self.limit = limit
        self.bytes_read = 0

    def _blocks(self) -> Iterator[bytes]:
        read = getattr(self.stream, "read1", None) or self.stream.read  # read1: a pipe's lines flow as they come
        while block := read(BLOCK):
            self.bytes_read += len(block)
            yield block

    def __iter__(self) -> Iterator[tuple[int, str | Overlong]]:
        for number, line in enumerate(self.raw(), start=1):
            yield number, line if isinstance(line, Overlong) else line.decode("utf-8", errors="replace")

    def raw(self) -> Iterator[bytes | Overlong]:
        """The lines as bytes (numbered 1, 2, ... by position), without the byte order mark of line 1."""
        first = True
        for line in self._raw():
            if first and isinstance(line, bytes):
                line = line.removeprefix(BOM_BYTES)
            first = False
            yield line

    def chunks(self, lines: int, size: int) -> Iterator[tuple[int, list[bytes | Overlong]]]:
        """(number of the first line, lines): at most `lines` lines and about `size` bytes each."""
        chunk: list[bytes | Overlong] = []
        first = held = 0
        for number, line in enumerate(self.raw(), start=1):
            if not chunk:
                first = number
            chunk.append(line)
            held += len(line) if isinstance(line, bytes) else 0
            if len(chunk) >= lines or held >= size:
                yield first, chunk
                chunk, held = [], 0
        if chunk:
            yield first, chunk

    def _raw(self) -> Iterator[bytes | Overlong]:
        # Split whole blocks at C speed; only a line crossing a block boundary is put together.
        limit = self.limit
        partial: list[bytes] = []
        held, skipped = 0, -1  # skipped >= 0: inside an overlong line, that many bytes so far
        for block in self._blocks():
            pieces = block.split(b"\n")
            tail = pieces.pop()  # the start of a line the next block goes on with
            for piece in pieces:
                if skipped >= 0:
                    yield Overlong(skipped + len(piece))
                    skipped = -1
                    continue
                if partial:
                    partial.append(piece)
                    piece, partial, held = b"".join(partial), [], 0
                yield piece if len(piece) <= limit else Overlong(len(piece))
            if skipped >= 0:
                skipped += len(tail)
            elif held + len(tail) > limit:
                skipped, partial, held = held + len(tail), [], 0
            elif tail:
                partial.append(tail)
                held += len(tail)
        if partial or skipped >= 0:
            yield b"".join(partial) if skipped < 0 else Overlong(skipped)
