"""Typo candidates: the vocabulary of indexed terms of one database file, in memory.

Terms of 5+ letters tolerate one typo (insert, delete, substitute or swap
two neighbours), 9+ letters two; shorter terms and terms with digits must
match exactly. Each candidate word scores `rapidfuzz.fuzz.ratio` against the
term (100 when equal). The vocabulary is held per file and refreshed
incrementally, so words written by other processes are found at once.
"""

from __future__ import annotations

import bisect
import heapq
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator

from cachetools import LRUCache
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from store.db import Store
from store.search_terms import is_vocab_term

ONE_TYPO_FROM, TWO_TYPOS_FROM = 5, 9
MAX_WORDS_PER_TERM = 48
# Search-as-you-type: the last word may be unfinished (4+ letters), completed to this many words.
PREFIX_FROM = 4
PREFIX_WORDS = 24


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
        self.by_suffix: dict[str, list[str]] = {}
        self.alphabets: dict[int, set[str]] = {}
        self.last_id = 0
        self.lock = threading.Lock()

    def refresh(self, conn: sqlite3.Connection) -> None:
        top = conn.execute("SELECT max(id) FROM search_vocab").fetchone()[0] or 0
        if top == self.last_id:
            return
        if top < self.last_id:  # the file was rebuilt under us
            self.words, self.by_suffix, self.alphabets, self.last_id = [], {}, {}, 0
        if not self.words:
            rows = conn.execute("SELECT id, term FROM search_vocab ORDER BY term")
            new = []
            for term_id, term in rows:
                new.append(term)
                self.last_id = max(self.last_id, term_id)
            self.words = new
        else:
            added = conn.execute("SELECT id, term FROM search_vocab WHERE id > ?", (self.last_id,)).fetchall()
            new = [term for _, term in added]
            self.last_id = max([self.last_id, *(term_id for term_id, _ in added)])
            if len(new) > 1000:
                self.words.extend(new)
                self.words.sort()
            else:
                for term in new:
                    bisect.insort(self.words, term)
        for term in new:
            self.by_suffix.setdefault(term[-3:], []).append(term)
        for char in set("".join(new)):
            self.alphabets.setdefault(ord(char) >> 7, set()).add(char)

    def __contains__(self, word: str) -> bool:
        index = bisect.bisect_left(self.words, word)
        return index < len(self.words) and self.words[index] == word

    def _prefixed(self, prefix: str) -> Iterator[str]:
        index = bisect.bisect_left(self.words, prefix)
        while index < len(self.words) and self.words[index].startswith(prefix):
            yield self.words[index]
            index += 1

    def completions(self, term: str, limit: int = PREFIX_WORDS) -> dict[str, float]:
        """Words the term may be the start of (the word being typed), shortest first."""
        if len(term) < PREFIX_FROM or not is_vocab_term(term):
            return {}
        words = heapq.nsmallest(limit, (w for w in self._prefixed(term) if w != term), key=lambda w: (len(w), w))
        return {word: fuzz.ratio(term, word) for word in words}

    def _alphabet(self, term: str) -> set[str]:
        # Typos stay within the script being typed: letters of the same
        # 128-code-point blocks as the term's own letters.
        out = set(term)
        for block in {ord(char) >> 7 for char in term}:
            out |= self.alphabets.get(block, set())
        return out

    def candidates(self, term: str) -> dict[str, float]:
        """Vocabulary words within the term's typo budget, with their similarity."""
        out = {term: 100.0}
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
            out[word] = fuzz.ratio(term, word)
        if len(out) > MAX_WORDS_PER_TERM:
            out = dict(sorted(out.items(), key=lambda item: (-item[1], item[0]))[:MAX_WORDS_PER_TERM])
            out[term] = 100.0
        return out


_MAX_FILES = 8
_VOCABULARIES: LRUCache[str, Vocabulary] = LRUCache(_MAX_FILES)
_REGISTRY_LOCK = threading.Lock()


def vocabulary_for(store: Store) -> Vocabulary:
    """The shared, refreshed vocabulary of the file `store` has open."""
    path = os.path.realpath(store.path)
    try:
        stat = os.stat(path)
        identity: object = (stat.st_dev, stat.st_ino)
    except OSError:
        identity = None
    with _REGISTRY_LOCK:
        vocab = _VOCABULARIES.get(path)
        if vocab is None or vocab.identity != identity:
            vocab = _VOCABULARIES[path] = Vocabulary(identity)
    with vocab.lock:
        vocab.refresh(store.conn)
    return vocab
