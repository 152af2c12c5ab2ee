"""What a search term is, and keeping the index current as mentions are inserted.

A term is a run of letters, digits and combining marks, folded: lowercased,
Latin accents removed, compatibility forms (full-width, ligatures) unified.
"_" separates terms (handles like mara_k). Runs of CJK characters, written
without spaces, become overlapping character pairs so a word inside a
sentence can be found. Mentions and queries go through the same functions,
so they always agree.

Writing: `index_mentions` (called by store.ingest in its insert's transaction)
indexes rows as they are inserted; `deferred_indexing` is the bulk mode for
imports; `unindex_mentions`, `rebuild_index` and `index_pending` repair.
"""

from __future__ import annotations

import os
import pickle
import queue
import re
import subprocess
import sys
import threading
import time
import unicodedata
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import IO

from store.db import Store

# Words: \w runs ("_" is replaced by a space first, it separates handle
# parts) that may carry the combining marks of common scripts, which \w
# leaves out and which would otherwise cut words in two. Written as
# "\w+ then marks" because a big character class is much slower in `re`.
_MARKS = ("\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670"
          "\u0900-\u0903\u093a-\u094f\u0951-\u0957\u0962\u0963\u0981-\u0983\u09bc-\u09d7"
          "\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u3099\u309a")
_TOKEN = re.compile(f"\\w+(?:[{_MARKS}]+\\w*)*")
# After NFKD folding a term may contain ASCII punctuation or spaces (e.g. from
# ligatures or fractions); the FTS `ascii` tokenizer would split there, so we do.
_ASCII_SEPARATORS = re.compile(r"[\x00-\x2f\x3a-\x60\x7b-\x7f]+")
_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_ACCENTS = re.compile("[\u0300-\u036f]+")
_DIGIT = re.compile(r"\d")

VOCAB_MIN, VOCAB_MAX = 4, 48


@lru_cache(maxsize=1 << 16)
def fold(token: str) -> tuple[str, ...]:
    """The term(s) one token of lowercased text stands for (usually exactly one)."""
    if token.isascii():
        return (token,)
    # casefold, unlike lower, also unifies ß/ss and final sigma.
    decomposed = _ACCENTS.sub("", unicodedata.normalize("NFKD", token.casefold()))
    low = unicodedata.normalize("NFC", decomposed)
    parts = _ASCII_SEPARATORS.split(low) if not low.isalnum() else [low]
    out: list[str] = []
    for part in parts:
        if not part:
            continue
        if _CJK.search(part):
            out.extend(_cjk_pairs(part))
        else:
            out.append(part)
    return tuple(out)


def _cjk_pairs(part: str) -> Iterator[str]:
    start = 0
    for run in _CJK.finditer(part):
        if run.start() > start:
            yield part[start:run.start()]
        chars = run.group()
        if len(chars) == 1:
            yield chars
        else:
            yield from (chars[i:i + 2] for i in range(len(chars) - 1))
        start = run.end()
    if start < len(part):
        yield part[start:]


def _lowered(text: str) -> str:
    return text.lower().replace("_", " ")


def text_terms(text: str) -> set[str]:
    """The distinct terms of a mention's text (what gets indexed)."""
    terms = set(_TOKEN.findall(_lowered(text)))
    # Emoji make most texts non-ASCII but are not in terms: test the terms.
    if not "".join(terms).isascii():
        for token in [token for token in terms if not token.isascii()]:
            terms.discard(token)
            terms.update(fold(token))
    return terms


def query_terms(text: str) -> list[str]:
    """The distinct terms of free query text, in the order typed."""
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(_lowered(text)):
        for term in fold(token):
            seen.setdefault(term, None)
    return list(seen)


def term_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, term) for every term occurrence, offsets into `text`."""
    low = _lowered(text)
    if len(low) != len(text):
        # A rare letter whose lowercase is longer (İ): lowercase word by word
        # so that offsets still point into the original text.
        for match in re.finditer(r"\S+", text):
            word = match.group()
            inner = term_spans(word) if len(word.lower()) == len(word) else _whole_word_terms(word)
            for start, end, term in inner:
                yield match.start() + start, match.start() + end, term
        return
    for match in _TOKEN.finditer(low):
        token = match.group()
        terms = fold(token)
        if len(terms) > 1 and "".join(t[0] for t in terms[:-1]) + terms[-1] == token:
            # Character pairs map back onto the characters they came from.
            for offset, term in enumerate(terms):
                yield match.start() + offset, match.start() + offset + len(term), term
        else:
            for term in terms:
                yield match.start(), match.end(), term


def _whole_word_terms(word: str) -> Iterator[tuple[int, int, str]]:
    for token in _TOKEN.findall(_lowered(word)):
        for term in fold(token):
            yield 0, len(word), term


def is_vocab_term(term: str) -> bool:
    """Whether typo matching may land on this term: letters only, sensible length."""
    if not VOCAB_MIN <= len(term) <= VOCAB_MAX:
        return False
    return term.isalpha() or not _DIGIT.search(term)


# Private-use characters: the tokenizer never makes a term containing one, so
# these filter terms cannot collide with words of a text.
AUTHOR_MARK, NETWORK_MARK = "\ue000", "\ue001"
BLUESKY_SUFFIX = ".bsky.social"


@lru_cache(maxsize=1 << 14)
def author_terms(handle: str) -> frozenset[str]:
    """Filter terms a mention by `handle` carries: from:X finds it when X is one of them.

    The handle without its leading @, lowercased, and its user part: before
    the "@" of a Mastodon acct (mara@mastodon.social) or before
    ".bsky.social" -- so from:mara finds @mara, @mara@mastodon.social and
    @mara.bsky.social, but not @mara.faure.bsky.social. Hex keeps the
    punctuation of handles away from the FTS tokenizer.
    """
    bare = handle.strip().lstrip("@").lower()
    if not bare:
        return frozenset()
    names = {bare}
    if "@" in bare[1:]:
        names.add(bare[:bare.index("@", 1)])
    elif bare.endswith(BLUESKY_SUFFIX) and len(bare) > len(BLUESKY_SUFFIX):
        names.add(bare[:-len(BLUESKY_SUFFIX)])
    return frozenset(AUTHOR_MARK + name.encode().hex() for name in names)


@lru_cache(maxsize=256)
def network_term(network: str) -> str:
    return NETWORK_MARK + network.strip().lower().encode().hex()


def _fts_rows(rows: Iterable[tuple[int, str, str, str]], vocab: set[str]) -> list[tuple[int, str]]:
    """(id, text, author_handle, network) -> (id, FTS document)."""
    out = []
    for mention_id, text, handle, network in rows:
        terms = text_terms(text)
        vocab |= terms
        out.append((mention_id, " ".join([*terms, *author_terms(handle), network_term(network)])))
    return out


def _networks(store: Store, ids: list[int]) -> dict[int, str]:
    return dict(store.conn.execute("SELECT id, network FROM mentions WHERE id BETWEEN ? AND ?",
                                   (min(ids), max(ids))).fetchall())


_SOURCE = "SELECT m.id, m.text, a.handle, m.network FROM mentions m JOIN authors a ON a.id = m.author_id"


def _write(store: Store, rows: list[tuple[int, str, str, str]]) -> None:
    """Index (id, text, author_handle, network) rows."""
    vocab: set[str] = set()
    store.conn.executemany("INSERT INTO search_fts (rowid, terms) VALUES (?, ?)", _fts_rows(rows, vocab))
    store.conn.executemany("INSERT OR IGNORE INTO search_vocab (term) VALUES (?)",
                           [(term,) for term in sorted(vocab) if is_vocab_term(term)])


WRITER_GAP = 0.11  # seconds between budgeted indexing transactions (see index_pending)
CATCH_UP = 2000  # pending mentions an ordinary write indexes along with its own
BULK_CHUNK = 5000  # mentions per job for the tokenizing process
IN_FLIGHT = 2  # jobs queued before an import waits for the tokenizer
BULK_CACHE_KIB = -64 * 1024  # page cache during a bulk import (negative: KiB)


def _documents(rows: list[tuple[int, str, str, str]]) -> tuple[list[tuple[int, str]], list[str]]:
    """FTS documents and new vocabulary for (id, text, handle, network) rows (runs in the helper process)."""
    vocab: set[str] = set()
    documents = _fts_rows(rows, vocab)
    return documents, sorted(term for term in vocab if is_vocab_term(term))


def _store_documents(store: Store, documents: list[tuple[int, str]], vocab: list[str]) -> None:
    store.conn.executemany("INSERT INTO search_fts (rowid, terms) VALUES (?, ?)", documents)
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
            [sys.executable, "-c", "from store.search_index import _serve; _serve()"],
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


# Stores inside `deferred_indexing`.
_BULK: weakref.WeakKeyDictionary[Store, _Bulk] = weakref.WeakKeyDictionary()


def index_mentions(store: Store, rows: list[tuple[int, str, str, str]]) -> None:
    """Index (id, text, author_handle, author_name) rows, in the caller's transaction if there is one.

    Authors are found with the from: filter, not by free text, so the name
    is not indexed. Inside `deferred_indexing` the rows go to the bulk
    indexer. Otherwise a few mentions left pending by an interrupted import
    are indexed along, so the index catches up without anyone asking.
    """
    if not rows:
        return
    bulk = _BULK.get(store)
    if bulk is not None:
        bulk.add(store, rows)
        return
    with store.write():
        networks = _networks(store, [row[0] for row in rows])
        _write(store, [(row[0], row[1], row[2], networks.get(row[0], "")) for row in rows])
        if store.conn.execute("SELECT 1 FROM search_pending LIMIT 1").fetchone():
            _index_pending_chunk(store, CATCH_UP)


@contextmanager
def deferred_indexing(store: Store, *, helper: bool = True) -> Iterator[None]:
    """Bulk mode for imports: index what is inserted inside without slowing the inserts.

    Per-transaction indexing of a million mentions costs about as much as
    inserting them. Inside this block `index_mentions` records ids in
    `search_pending` (in the caller's transaction, so an interrupted import
    loses nothing) and, with `helper`, hands the texts to a helper process
    tokenizing on another core; its finished documents are written into
    the index during the following inserts, and the rest when the block
    ends normally (`index_pending`, in big transactions: FTS5 then merges
    far less). If the import stops half way the pending ids stay committed
    and later writes index them a few thousand at a time (or call
    `index_pending`); until then those mentions are stored but not found.
    """
    bulk = _BULK.get(store)
    outermost = bulk is None
    if bulk is None:
        bulk = _BULK[store] = _Bulk(helper)
        bulk.cache_size = store.conn.execute("PRAGMA cache_size").fetchone()[0]
        # Inserting a million rows touches every index of mentions: with the
        # default 2 MB page cache that costs about a third more time.
        store.conn.execute(f"PRAGMA cache_size = {BULK_CACHE_KIB}")
    try:
        yield
        if outermost:
            if bulk.tokenizer is not None:
                with store.write():
                    bulk.submit(store)
                    bulk.collect(store, keep=0)
            bulk.close()
            index_pending(store)
    finally:
        if outermost:
            bulk.close()
            del _BULK[store]
            store.conn.execute(f"PRAGMA cache_size = {int(bulk.cache_size)}")


def index_pending(store: Store, *, chunk: int = 100_000, progress: Callable[[int], None] | None = None,
                  budget: float | None = None) -> int:
    """Index every pending mention, `chunk` per write (each commits unless a caller's transaction is open).

    With a `budget` (seconds) the chunk adapts so each transaction holds the
    write lock about that long. Returns how many pending entries were consumed.
    """
    done = 0
    if budget is not None:
        chunk = 500
    while True:
        started = time.perf_counter()
        with store.write():
            count = _index_pending_chunk(store, chunk)
        if not count:
            return done
        if budget is not None:
            took = max(time.perf_counter() - started, 1e-4)
            chunk = int(min(100_000, max(100, chunk * min(2.0, budget / took))))
            # A writer waiting on the lock polls every 100 ms (SQLite's busy handler): taking
            # the lock straight back would starve it, so leave it a gap to get in.
            time.sleep(WRITER_GAP)
        done += count
        if progress:
            progress(done)


def _index_pending_chunk(store: Store, limit: int) -> int:
    last = store.conn.execute(
        "SELECT max(mention_id) FROM (SELECT mention_id FROM search_pending ORDER BY mention_id LIMIT ?)",
        (limit,)).fetchone()[0]
    if last is None:
        return 0
    _write(store, store.conn.execute(f"{_SOURCE} WHERE m.id IN (SELECT mention_id FROM search_pending "
                                     "WHERE mention_id <= ?)", (last,)).fetchall())
    return store.conn.execute("DELETE FROM search_pending WHERE mention_id <= ?", (last,)).rowcount


def unindex_mentions(store: Store, mention_ids: Iterable[int]) -> None:
    """Remove mentions from the index; call before deleting them, in the same transaction as the delete.

    The table keeps no copy of the text, so FTS5 needs the terms it indexed,
    recomputed here from the stored text. Vocabulary terms stay: a term no
    mention contains any more just finds nothing.
    """
    ids = list(mention_ids)
    with store.write() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = conn.execute(f"{_SOURCE} WHERE m.id IN ({marks})", chunk).fetchall()
            conn.executemany(
                "INSERT INTO search_fts (search_fts, rowid, terms) VALUES ('delete', ?, ?)",
                _fts_rows(rows, set()),
            )


def rebuild_index(store: Store, *, budget: float = 0.2, progress: Callable[[int], None] | None = None) -> int:
    """Re-create the whole index from the mentions table, in writes other writers can interleave with.

    For a changed tokenizer or a repaired file; returns the number of mentions queued for indexing.
    One short transaction empties the index and marks every mention pending;
    the indexing then runs in transactions of about `budget` seconds each, so
    other writers (operators, the ingest leader renewing its lease) interleave
    instead of waiting behind one long write. Mentions written meanwhile are
    indexed by their own write; an interrupted rebuild leaves the rest
    pending, finished by later writes or `index_pending`. The vocabulary is
    kept (readers refresh it by growing ids); terms no longer used just find nothing.
    """
    with store.write():
        store.conn.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
        queued = store.conn.execute(
            "INSERT OR IGNORE INTO search_pending (mention_id) SELECT id FROM mentions").rowcount
    index_pending(store, budget=budget, progress=progress)
    return queued
