"""Labelled queries for the relevance evaluation: each kind of mistake, with the word(s) meant.

Intended words come from the generator's own dictionary (the phrase banks of
bench.corpus and its long-tail words), never from mention texts, which hold
authors' typos; queries are then mistyped the way bench.corpus mistypes,
keeping a word within the rules (one typo from 5 letters, two from 8: a
dropped letter can make "watch" a 4-letter word no rule corrects). A pasted
sentence is the exception: it is cut from a mention, and what was meant is
that mention's words: as written, or the dictionary word an author's
misspelling stands for (`Labelled.misspells`). The same holds for the
other labels cut from mentions (run-together pairs, two-word prefixes).
A mention holding "checkout" where the source has the author's "checkut"
holds the word that was meant: a search that corrects a rare spelling to
the frequent word, as issue #11 asks, must not be scored wrong for it.
"""

from __future__ import annotations

import random
import sqlite3
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from bench.corpus import PHRASES, PRODUCTS, mistype, tail_word
from store.query import parse_query
from store.search_candidates import PART_MIN
from store.search_terms import query_terms

KINDS = ("one typo", "two typos", "run-together", "split", "accents", "pasted sentence", "prefix",
         "pasted sentence, as typed")


@dataclass(frozen=True, slots=True)
class Labelled:
    kind: str
    query: str
    intended: tuple[str, ...]  # folded terms a right answer holds, all of them
    complete_last: bool = False  # the console's search-as-you-type path
    # Per intended term, the dictionary words it misspells (an author's typo: one edit, as
    # bench.corpus.mistype makes them); a mention holding one of them holds the term as meant.
    misspells: tuple[tuple[str, ...], ...] = ()


def _phrases() -> list[str]:
    out = list(PRODUCTS)
    for banks in PHRASES.values():
        for texts in banks.values():
            out.extend(texts)
    return [text.replace("{", " ").replace("}", " ") for text in out]


def dictionary() -> tuple[list[str], list[str]]:
    """(folded words of the phrase banks, raw words that carry accents)."""
    words: set[str] = set()
    accented: set[str] = set()
    for text in _phrases():
        for raw in text.split():
            raw = raw.strip(".,!?;:()\"'¿¡")
            if raw.isalpha() and len(raw) > 1 and raw not in {"p", "o", "d", "t", "b", "h"}:
                words.update(term for term in query_terms(raw) if term.isalpha())
                if not raw.isascii() and len(raw) >= 4:
                    accented.add(raw.lower())
    return sorted(words), sorted(accented)


def strip_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


def _typos(word: str, rng: random.Random, count: int) -> str | None:
    """`word` with `count` typos, still as long as the typo budget asks (5 letters for one, 8 for two)."""
    for _ in range(20):
        typed = word
        for _ in range(count):
            typed = mistype(typed, rng)
        if OSA.distance(typed, word) == count and len(typed) >= (5 if count == 1 else 8):
            return typed
    return None


def make(conn: sqlite3.Connection, count: int, count_of: Callable[[str], int], pool: int,
         seed: int = 29) -> list[Labelled]:
    """`count` labelled queries of each kind; `count_of(word)` is its number of mentions."""
    rng = random.Random(seed)
    words, accented = dictionary()
    spelled = frozenset(words)
    known = [word for word in words if count_of(word) >= 20]
    top = conn.execute("SELECT max(id) FROM mentions").fetchone()[0]

    def meant(length: int) -> str:
        # A quarter long-tail words (names, places): what a search for a customer looks like.
        for _ in range(1000):
            word = tail_word(rng, pool) if rng.random() < 0.25 else rng.choice(known)
            if len(word) >= length and count_of(word):
                return word
        raise RuntimeError(f"no word of {length}+ letters in the history")

    def mention_words() -> list[str]:
        text = conn.execute("SELECT text FROM mentions WHERE id >= ? LIMIT 1", (rng.randint(1, top),)).fetchone()[0]
        return text.split()

    out: list[Labelled] = []
    for kind in KINDS:
        made = 0
        while made < count:
            item = _one(kind, rng, meant, mention_words, accented, count_of, spelled)
            if item is not None:
                out.append(item)
                made += 1
    return out


def _one(kind: str, rng: random.Random, meant: Callable[[int], str], mention_words: Callable[[], list[str]],
         accented: list[str], count_of: Callable[[str], int], spelled: frozenset[str]) -> Labelled | None:
    if kind in ("one typo", "two typos"):
        word = meant(5 if kind == "one typo" else 8)
        typed = _typos(word, rng, 1 if kind == "one typo" else 2)
        return Labelled(kind, typed, (word,)) if typed else None
    if kind == "split":
        word = meant(7)
        cut = rng.randrange(2, len(word) - 1)
        return Labelled(kind, f"{word[:cut]} {word[cut:]}", (word,))
    if kind == "accents":
        raw = rng.choice(accented)
        folded = query_terms(raw)
        if len(folded) != 1 or not count_of(folded[0]):
            return None
        # Both ways: the plain spelling finds the accented text and the accented one the plain text.
        return Labelled(kind, strip_accents(raw) if rng.random() < 0.5 else raw, (folded[0],))
    tokens = mention_words()
    if kind == "run-together":
        pairs = [(a, b) for a, b in zip(tokens, tokens[1:], strict=False)
                 if a.isalpha() and b.isalpha() and count_of(a.lower()) >= 20 and count_of(b.lower()) >= 20
                 and min(len(a), len(b)) >= PART_MIN and len(a) + len(b) >= 7]
        if not pairs:
            return None
        a, b = rng.choice(pairs)
        return _cut(kind, (a + b).lower(), (*query_terms(a), *query_terms(b)), spelled)
    if kind == "prefix":
        if rng.random() < 0.5:
            word = meant(6)
            return Labelled(kind, word[:rng.randrange(4, len(word))], (word,), True)
        # Two words as they stand in a mention, the second still being typed.
        pairs = [(a.lower(), b.lower()) for a, b in zip(tokens, tokens[1:], strict=False)
                 if a.isalpha() and b.isalpha() and len(b) >= 6
                 and count_of(a.lower()) >= 20 and count_of(b.lower()) >= 20]
        if not pairs:
            return None
        first, word = rng.choice(pairs)
        typed = word[:rng.randrange(4, len(word))]
        return _cut(kind, f"{first} {typed}", (*query_terms(first), *query_terms(word)), spelled, True)
    # Pasted sentences: 8-15 words of a mention, one to three of them mistyped (none if it has no
    # correctly spelled word of 5+ letters: pasted as is).
    size = rng.randint(8, 15)
    if len(tokens) < size:
        return None
    start = rng.randrange(len(tokens) - size + 1)
    window = tokens[start:start + size]
    pasted = list(window)
    # Mistyped: correctly spelled words (a typo on top of the author's own is no one's intention).
    long_words = [i for i, w in enumerate(pasted) if len(w) >= 5 and w.isalpha() and w.lower() in spelled]
    for index in rng.sample(long_words, min(len(long_words), rng.randint(1, 3))):
        pasted[index] = _typos(pasted[index], rng, 1) or pasted[index]
    intended = _meant(window, pasted)
    if not intended:
        return None
    return _cut(kind, " ".join(pasted), intended, spelled, kind.endswith("as typed"))


def _cut(kind: str, query: str, intended: tuple[str, ...], spelled: frozenset[str],
         complete_last: bool = False) -> Labelled:
    """A label whose words were cut from a mention: each also counts as the word it misspells."""
    misspells = tuple(misspelled(term, spelled) for term in intended)
    return Labelled(kind, query, intended, complete_last, misspells if any(misspells) else ())


def misspelled(term: str, spelled: frozenset[str]) -> tuple[str, ...]:
    """The dictionary words one edit from `term`, when `term` itself is not one (an author's typo)."""
    if term in spelled or not term.isalpha():
        return ()
    return tuple(sorted(word for word in spelled
                        if abs(len(word) - len(term)) <= 1 and OSA.distance(word, term) <= 1))


def _meant(window: list[str], pasted: list[str]) -> tuple[str, ...]:
    """The window's words behind the terms the search takes from the pasted text.

    The search takes the first MAX_TERMS distinct terms of a query: a mistyped
    word that repeats a word of the window ("Lcmio ... Lumio") is one term more
    and pushes the last one out, so that word is not asked for and not meant.
    A mistyped word is one term as typed and as written, so terms align.
    """
    kept = set(parse_query(" ".join(pasted)).terms)
    out: dict[str, None] = {}
    for typed, written in zip(pasted, window, strict=True):
        for term, meant in zip(parse_query(typed).terms, parse_query(written).terms, strict=False):
            if term in kept:
                out.setdefault(meant, None)
    return tuple(out)
