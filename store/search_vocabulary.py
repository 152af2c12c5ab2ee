"""Typo candidates: the vocabulary of indexed terms of one database file, in memory.

Terms of 5+ letters tolerate one typo (insert, delete, substitute or swap
two neighbours), 8+ letters two; shorter terms and terms with digits must
match exactly. How likely each candidate is, is store.search_candidates'
business. The vocabulary is held per file and refreshed incrementally, so
words written by other processes are found at once; with it, each word's
order of first appearance (a common word shows up early) and the cached
document frequencies (store.search_frequency).
"""

from __future__ import annotations

import bisect
import heapq
import os
import sqlite3
import threading
from array import array
from collections.abc import Iterable, Iterator

from cachetools import LRUCache
from rapidfuzz import process
from rapidfuzz.distance import OSA

from store.db import Store
from store.search_frequency import Frequencies
from store.search_terms import is_vocab_term

ONE_TYPO_FROM, TWO_TYPOS_FROM = 5, 8
# Search-as-you-type: the last word may be unfinished (4+ letters). Its
# completions are weighed by frequency; beyond this many, the earliest seen
# (the common ones) are weighed.
PREFIX_FROM = 4
PREFIX_SCAN = 64


def typo_budget(term: str) -> int:
    if len(term) < ONE_TYPO_FROM or not is_vocab_term(term):
        return 0
    return 1 if len(term) < TWO_TYPOS_FROM else 2


def within_typos(term: str, words: Iterable[str]) -> bool:
    """Whether any of `words` is `term` or within its typo budget: the test search applies to every
    candidate, for a handful of words (triage rules match a mention's words this way)."""
    budget = typo_budget(term)
    if not budget:
        return term in words
    return process.extractOne(term, words, scorer=OSA.distance, score_cutoff=budget) is not None


def _edits1(word: str, alphabet: Iterable[str]) -> set[str]:
    letters = tuple(alphabet)
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out.update(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1)
    out.update(a + c + b[1:] for a, b in splits if b for c in letters)
    out.update(a + c + b for a, b in splits for c in letters)
    out.discard(word)
    return out


class Vocabulary:
    """The searchable terms of one database file, sorted, with a suffix index.

    Loaded from `search_vocab` on first use and topped up from its growing
    ids before each search, so mentions written by other processes are
    found as soon as they are committed.
    """

    def __init__(self, identity: object):
        self.identity = identity
        self.words: list[str] = []
        self.first_seen = array("I")  # vocabulary id of words[i]: small for words seen early
        self.frequencies = Frequencies()
        self.by_suffix: dict[str, list[str]] = {}
        self.alphabets: dict[int, set[str]] = {}
        self.last_id = 0
        self.lock = threading.Lock()

    def refresh(self, conn: sqlite3.Connection) -> None:
        top = conn.execute("SELECT max(id) FROM search_vocab").fetchone()[0] or 0
        if top == self.last_id:
            return
        if top < self.last_id:  # the file was rebuilt under us
            self.words, self.first_seen, self.by_suffix, self.alphabets, self.last_id = [], array("I"), {}, {}, 0
            self.frequencies = Frequencies()
        added = conn.execute("SELECT id, term FROM search_vocab WHERE id > ? ORDER BY term",
                             (self.last_id,)).fetchall()
        new = [term for _, term in added]
        self.last_id = max([self.last_id, *(term_id for term_id, _ in added)])
        if not self.words:  # already in order
            self.words = new
            self.first_seen = array("I", (term_id for term_id, _ in added))
        elif len(added) > 1000:
            pairs = sorted([*zip(self.words, self.first_seen, strict=True), *((t, i) for i, t in added)])
            self.words = [term for term, _ in pairs]
            self.first_seen = array("I", (term_id for _, term_id in pairs))
        else:
            for term_id, term in added:
                index = bisect.bisect_left(self.words, term)
                self.words.insert(index, term)
                self.first_seen.insert(index, term_id)
        for term in new:
            self.by_suffix.setdefault(term[-3:], []).append(term)
        for char in set("".join(new)):
            self.alphabets.setdefault(ord(char) >> 7, set()).add(char)

    def first_seen_of(self, word: str) -> int:
        """The vocabulary id of `word` (smaller for words seen earlier: common ones); huge if absent."""
        index = bisect.bisect_left(self.words, word)
        return self.first_seen[index] if index < len(self.words) and self.words[index] == word else 1 << 32

    def __contains__(self, word: str) -> bool:
        index = bisect.bisect_left(self.words, word)
        return index < len(self.words) and self.words[index] == word

    def _prefixed(self, prefix: str) -> Iterator[str]:
        index = bisect.bisect_left(self.words, prefix)
        while index < len(self.words) and self.words[index].startswith(prefix):
            yield self.words[index]
            index += 1

    def completions(self, term: str, scan: int = PREFIX_SCAN) -> list[str]:
        """Words the term may be the start of (the word being typed); the `scan` seen first when there are more."""
        if len(term) < PREFIX_FROM or not is_vocab_term(term):
            return []
        start = bisect.bisect_left(self.words, term)
        end = bisect.bisect_left(self.words, term + "\U0010ffff", lo=start)
        indexes: Iterable[int] = range(start, end)
        if end - start > scan:
            indexes = heapq.nsmallest(scan, indexes, key=self.first_seen.__getitem__)
        return [self.words[index] for index in indexes if self.words[index] != term]

    def _alphabet(self, term: str) -> set[str]:
        # Typos stay within the script being typed: letters of the same
        # 128-code-point blocks as the term's own letters.
        out = set(term)
        for block in {ord(char) >> 7 for char in term}:
            out |= self.alphabets.get(block, set())
        return out

    def typos(self, term: str) -> dict[str, int]:
        """Vocabulary words within the term's typo budget (the term itself included), with their distance."""
        out = {term: 0}
        budget = typo_budget(term)
        if not budget or not self.words:
            return out
        alphabet = self._alphabet(term)
        if budget == 1:
            pool = {word for word in _edits1(term, alphabet) if word in self}
        else:
            # Two edits: either the first half has at most one (so the word
            # starts with a one-edit variant of it), or it has both and the
            # second half, but for its first letter, is intact.
            size, head = len(term), term[: len(term) // 2]
            tail = term[len(term) // 2 + 1:]
            found: set[str] = set()
            for prefix in _edits1(head, alphabet) | {head}:
                found.update(w for w in self._prefixed(prefix) if abs(len(w) - size) <= 2)
            found.update(w for w in self.by_suffix.get(term[-3:], ())
                         if abs(len(w) - size) <= 2 and w.endswith(tail))
            pool = {w for w in found if OSA.distance(term, w, score_cutoff=2) <= 2}
        for word in pool:
            if word != term:
                out[word] = 1 if budget == 1 else OSA.distance(term, word)
        return out


_MAX_FILES = 8
_VOCABULARIES: LRUCache[str, Vocabulary] = LRUCache(_MAX_FILES)
_REGISTRY_LOCK = threading.Lock()


def vocabulary_for(store: Store) -> Vocabulary:
    """The shared, refreshed vocabulary of the file `store` has open."""
    identity: object
    if store.backend == "postgresql":
        # The database and the vocabulary table's storage: both change when the desk is re-created
        # (or emptied by TRUNCATE), as a replaced file's inode does.
        path = store.path
        identity = tuple(store.conn.execute(
            "SELECT (SELECT oid FROM pg_database WHERE datname = current_database()), "
            "pg_relation_filenode('search_vocab')").fetchone() or ())
    else:
        path = os.path.realpath(store.path)
        try:
            stat = os.stat(path)
            identity = (stat.st_dev, stat.st_ino)
        except OSError:
            identity = None
    with _REGISTRY_LOCK:
        vocab = _VOCABULARIES.get(path)
        if vocab is None or vocab.identity != identity:
            vocab = _VOCABULARIES[path] = Vocabulary(identity)
    with vocab.lock:
        vocab.refresh(store.conn)
        vocab.frequencies.refresh(store.conn)
    return vocab
