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
        number, partial, skipped = 0, bytearray(), -1  # skipped >= 0: inside an overlong line
        for block in self._blocks():
            start = 0
            while True:
                end = block.find(b"\n", start)
                piece = block[start:] if end < 0 else block[start:end]
                if skipped >= 0:
                    skipped += len(piece)
                elif len(partial) + len(piece) > self.limit:
                    skipped, partial = len(partial) + len(piece), bytearray()
                else:
                    partial += piece
                if end < 0:
                    break
                number += 1
                yield number, self._line(number, partial, skipped)
                partial, skipped, start = bytearray(), -1, end + 1
        if partial or skipped >= 0:
            number += 1
            yield number, self._line(number, partial, skipped)

    @staticmethod
    def _line(number: int, raw: bytearray, skipped: int) -> str | Overlong:
        if skipped >= 0:
            return Overlong(skipped)
        text = raw.decode("utf-8", errors="replace")
        return text.removeprefix(BOM) if number == 1 else text
