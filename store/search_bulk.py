"""The bulk indexer behind `deferred_indexing`: a helper process tokenizing imported rows on another core."""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from typing import IO

from store.db import Store
from store.search_documents import insert_documents
from store.search_terms import _fts_rows, is_vocab_term

BULK_CHUNK = 5000  # mentions per job for the tokenizing process
IN_FLIGHT = 2  # jobs queued before an import waits for the tokenizer


def _networks(store: Store, ids: list[int]) -> dict[int, str]:
    return dict(store.conn.execute("SELECT id, network FROM mentions WHERE id BETWEEN ? AND ?",
                                   (min(ids), max(ids))).fetchall())


def _documents(rows: list[tuple[int, str, str, str]]) -> tuple[list[tuple[int, str]], list[str]]:
    """FTS documents and new vocabulary for (id, text, handle, network) rows (runs in the helper process)."""
    vocab: set[str] = set()
    documents = _fts_rows(rows, vocab)
    return documents, sorted(term for term in vocab if is_vocab_term(term))


def _store_documents(store: Store, documents: list[tuple[int, str]], vocab: list[str]) -> None:
    insert_documents(store.conn, documents)
    store.conn.executemany("INSERT OR IGNORE INTO search_vocab (term) VALUES (?)", [(term,) for term in vocab])
    store.conn.executemany("DELETE FROM search_pending WHERE mention_id = ?", [(doc[0],) for doc in documents])


def _serve() -> None:
    """The helper process: pickled row lists in on stdin, pickled `_documents` out on stdout."""
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            rows = pickle.load(source)
        except EOFError:
            return
        pickle.dump(_documents(rows), sink, protocol=pickle.HIGHEST_PROTOCOL)
        sink.flush()


class _Tokenizer:
    """A helper process tokenizing on another core, answering jobs in order.

    A plain child interpreter (not multiprocessing) so that nothing of the
    importing program, its __main__ included, runs again in it.
    """

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from store.search_bulk import _serve; _serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        # Popen types its pipes Optional; with PIPE asked for they are always there.
        self._to_helper: IO[bytes] = self.process.stdin  # type: ignore[assignment]
        self._from_helper: IO[bytes] = self.process.stdout  # type: ignore[assignment]
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        self.outstanding = 0
        threading.Thread(target=self._read, name="search-tokenizer-reader", daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                self.results.put(pickle.load(self._from_helper))
        except Exception:  # noqa: BLE001 - EOF or a dead helper: tell the waiting side
            self.results.put(None)

    def send(self, rows: list[tuple[int, str, str, str]]) -> None:
        pickle.dump(rows, self._to_helper, protocol=pickle.HIGHEST_PROTOCOL)
        self._to_helper.flush()
        self.outstanding += 1

    def ready(self) -> bool:
        return not self.results.empty()

    def receive(self) -> tuple[list[tuple[int, str]], list[str]]:
        result = self.results.get()
        if result is None:
            raise RuntimeError("the search tokenizer process stopped")
        self.outstanding -= 1
        return result

    def close(self) -> None:
        try:
            self._to_helper.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self._from_helper.close()


class _Bulk:
    """One store's `deferred_indexing` block: rows waiting, and jobs at the tokenizer."""

    def __init__(self, helper: bool):
        self.cache_size = 0
        self.buffer: list[tuple[int, str, str]] = []
        self.tokenizer: _Tokenizer | None = None
        if helper and sys.executable:
            try:
                self.tokenizer = _Tokenizer()
            except OSError:
                self.tokenizer = None  # no helper process: everything is indexed at the end

    def add(self, store: Store, rows: list[tuple[int, str, str, str]]) -> None:
        store.conn.executemany("INSERT OR IGNORE INTO search_pending (mention_id) VALUES (?)",
                               [(row[0],) for row in rows])
        if self.tokenizer is None:
            return
        self.buffer.extend((row[0], row[1], row[2]) for row in rows)
        if len(self.buffer) >= BULK_CHUNK:
            self.submit(store)
        self.collect(store, keep=IN_FLIGHT)

    def submit(self, store: Store) -> None:
        if not self.buffer or self.tokenizer is None:
            return
        networks = _networks(store, [row[0] for row in self.buffer])
        job = [(mention_id, text, handle, networks.get(mention_id, "")) for mention_id, text, handle in self.buffer]
        self.buffer = []
        try:
            self.tokenizer.send(job)
        except OSError:
            self.close()  # the rows stay pending: indexed at the end

    def collect(self, store: Store, keep: int) -> None:
        """Write finished jobs into the index (in the caller's transaction); wait while more than `keep` run."""
        tokenizer = self.tokenizer
        while tokenizer is not None and tokenizer.outstanding and (
                tokenizer.outstanding > keep or tokenizer.ready()):
            try:
                documents, vocab = tokenizer.receive()
            except RuntimeError:
                self.close()
                return
            _store_documents(store, documents, vocab)

    def close(self) -> None:
        if self.tokenizer is not None:
            self.tokenizer.close()
        self.tokenizer, self.buffer = None, []
