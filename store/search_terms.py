"""What a search term is: how texts, queries and authors become the terms the index holds.

A term is a run of letters, digits and combining marks, folded: lowercased,
Latin accents removed, compatibility forms (full-width, ligatures) unified.
"_" separates terms (handles like mara_k). Runs of CJK characters, written
without spaces, become overlapping character pairs so a word inside a
sentence can be found. Mentions and queries go through the same functions,
so they always agree.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache

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
