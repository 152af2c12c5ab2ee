"""What a search term is, and keeping the index current as mentions are inserted.

A term is a run of letters, digits and combining marks, folded: lowercased,
Latin accents removed, compatibility forms (full-width, ligatures) unified.
"_" separates terms (handles like mara_k). Runs of CJK characters, written
without spaces, become overlapping character pairs so a word inside a
sentence can be found. Mentions and queries go through the same functions,
so they always agree.
"""

from __future__ import annotations

import multiprocessing
import re
import unicodedata
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from functools import lru_cache

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


@lru_cache(maxsize=1 << 14)
def author_terms(handle: str) -> frozenset[str]:
    """Filter terms a mention by `handle` carries: from:X finds it when X is one of them.

    The handle without its leading @, lowercased, and each of its beginnings
    that ends before an "@" or "." -- so from:mara finds @mara,
    @mara@mastodon.social and @mara.bsky.social. Hex keeps the punctuation of
    handles away from the FTS tokenizer.
    """
    bare = handle.strip().lstrip("@").lower()
    if not bare:
        return frozenset()
    cuts = [index for index, char in enumerate(bare) if char in "@." and index > 0]
    return frozenset(AUTHOR_MARK + bare[:cut].encode().hex() for cut in [*cuts, len(bare)])


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


CATCH_UP = 2000  # pending mentions an ordinary write indexes along with its own
BULK_CHUNK = 5000  # mentions per job for the tokenizing process
IN_FLIGHT = 2  # jobs queued before an import waits for the tokenizer


def _documents(rows: list[tuple[int, str, str, str]]) -> tuple[list[tuple[int, str]], list[str]]:
    """FTS documents and new vocabulary for (id, text, handle, network) rows (runs in the helper process)."""
    vocab: set[str] = set()
    documents = _fts_rows(rows, vocab)
    return documents, sorted(term for term in vocab if is_vocab_term(term))


def _store_documents(store: Store, documents: list[tuple[int, str]], vocab: list[str]) -> None:
    store.conn.executemany("INSERT INTO search_fts (rowid, terms) VALUES (?, ?)", documents)
    store.conn.executemany("INSERT OR IGNORE INTO search_vocab (term) VALUES (?)", [(term,) for term in vocab])
    store.conn.executemany("DELETE FROM search_pending WHERE mention_id = ?", [(doc[0],) for doc in documents])


class _Bulk:
    """One store's `deferred_indexing` block: rows waiting, and jobs at the tokenizer."""

    def __init__(self, workers: int):
        self.depth = 0
        self.buffer: list[tuple[int, str, str]] = []
        self.jobs: deque[Future] = deque()
        self.pool: ProcessPoolExecutor | None = None
        if workers:
            try:
                self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            except (OSError, ValueError, NotImplementedError):
                self.pool = None  # no helper process: tokenize here, at the end

    def add(self, store: Store, rows: list[tuple[int, str, str, str]]) -> None:
        store.conn.executemany("INSERT OR IGNORE INTO search_pending (mention_id) VALUES (?)",
                               [(row[0],) for row in rows])
        if self.pool is None:
            return
        self.buffer.extend((row[0], row[1], row[2]) for row in rows)
        if len(self.buffer) >= BULK_CHUNK:
            self.submit(store)
        self.collect(store, keep=IN_FLIGHT)

    def submit(self, store: Store) -> None:
        if not self.buffer or self.pool is None:
            return
        networks = _networks(store, [row[0] for row in self.buffer])
        job = [(mention_id, text, handle, networks.get(mention_id, "")) for mention_id, text, handle in self.buffer]
        self.buffer = []
        self.jobs.append(self.pool.submit(_documents, job))

    def collect(self, store: Store, keep: int) -> None:
        """Write finished jobs into the index (in the caller's transaction); wait while more than `keep` run."""
        while self.jobs and (len(self.jobs) > keep or self.jobs[0].done()):
            try:
                documents, vocab = self.jobs.popleft().result()
            except Exception:  # noqa: BLE001 - a lost helper only means indexing here, later
                self.close()
                return
            _store_documents(store, documents, vocab)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool, self.jobs, self.buffer = None, deque(), []


# Stores inside `deferred_indexing`.
_BULK: weakref.WeakKeyDictionary[Store, _Bulk] = weakref.WeakKeyDictionary()


def index_mentions(store: Store, rows: list[tuple[int, str, str, str]]) -> None:
    """Index (id, text, author_handle, author_name) rows, inside the caller's transaction.

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
    networks = _networks(store, [row[0] for row in rows])
    _write(store, [(row[0], row[1], row[2], networks.get(row[0], "")) for row in rows])
    if store.conn.execute("SELECT 1 FROM search_pending LIMIT 1").fetchone():
        _index_pending_chunk(store, CATCH_UP)


@contextmanager
def deferred_indexing(store: Store, *, workers: int = 1) -> Iterator[None]:
    """Bulk mode for imports: index what is inserted inside without slowing the inserts.

    Per-transaction indexing of a million mentions costs about as much as
    inserting them. Inside this block `index_mentions` records ids in
    `search_pending` (in the caller's transaction, so an interrupted import
    loses nothing) and hands the texts to `workers` helper processes that
    tokenize on the other cores; their finished documents are written into
    the index during the following inserts, and the rest when the block
    ends normally (`index_pending`, in big transactions: FTS5 then merges
    far less). If the import stops half way the pending ids stay committed
    and later writes index them a few thousand at a time (or call
    `index_pending`); until then those mentions are stored but not found.
    Use it outside any transaction.
    """
    bulk = _BULK.get(store)
    if bulk is None:
        bulk = _BULK[store] = _Bulk(workers)
    bulk.depth += 1
    try:
        yield
    except BaseException:
        if bulk.depth == 1:
            bulk.close()
        raise
    finally:
        bulk.depth -= 1
        if not bulk.depth:
            del _BULK[store]
    if bulk.depth:
        return
    try:
        if bulk.pool is not None:
            with store.write():
                bulk.submit(store)
                bulk.collect(store, keep=0)
    finally:
        bulk.close()
    index_pending(store)


def index_pending(store: Store, *, chunk: int = 100_000, progress: Callable[[int], None] | None = None) -> int:
    """Index every pending mention, `chunk` per transaction (call outside a transaction).

    Returns how many pending entries were consumed.
    """
    done = 0
    while True:
        with store.write():
            count = _index_pending_chunk(store, chunk)
        if not count:
            return done
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
    """Remove mentions from the index; call inside the transaction that deletes them, before the delete.

    The table keeps no copy of the text, so FTS5 needs the terms it indexed,
    recomputed here from the stored text. Vocabulary terms stay: a term no
    mention contains any more just finds nothing.
    """
    ids = list(mention_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = store.conn.execute(f"{_SOURCE} WHERE m.id IN ({marks})", chunk).fetchall()
        store.conn.executemany(
            "INSERT INTO search_fts (search_fts, rowid, terms) VALUES ('delete', ?, ?)",
            _fts_rows(rows, set()),
        )


def rebuild_index(store: Store, *, batch: int = 20_000) -> int:
    """Re-create the whole index from the mentions table, inside the caller's transaction.

    For a changed tokenizer or a repaired file; returns the number of mentions indexed.
    The vocabulary is kept (readers refresh it by growing ids); terms no
    longer used just find nothing.
    """
    store.conn.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
    store.conn.execute("DELETE FROM search_pending")
    done, last = 0, 0
    while True:
        rows = store.conn.execute(f"{_SOURCE} WHERE m.id > ? ORDER BY m.id LIMIT ?", (last, batch)).fetchall()
        if not rows:
            return done
        _write(store, rows)
        done += len(rows)
        last = rows[-1][0]
