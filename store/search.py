"""Typo-tolerant search over the whole history.

How a query runs:

1. Each query term is matched against the vocabulary of indexed terms, held
   in memory per database file and refreshed incrementally (`Vocabulary`).
   Terms of 5+ letters tolerate one typo (insert, delete, substitute or swap
   two neighbours), 8+ letters two, as search engines do; shorter terms and
   terms with digits must match exactly. Joined neighbours (`pass word`),
   run-together words (`refundnow`) and, while typing, completions are
   options too. Options are weighed the way a spelling corrector does, by
   how many mentions hold them against how many typos they take
   (store.search_candidates): the likeliest scores 100.
2. A mention scores the mean, over query terms, of its best option
   (0 for a term it lacks). Each term's candidates are grouped by score; a
   combination of one group per term (or none) is one FTS5 query (a group's
   words OR-ed, groups AND-ed), whose mentions score that combination's
   mean without their text being read. Combinations run best first, newest
   mention first inside one, until `limit` hits are found; a mention met
   again in a worse combination keeps its first score. When combinations
   keep coming back empty (long queries, typo variants), rare groups are
   fetched once and intersected or scored from text in Python instead. The ranking is exact, not a shortlist (beyond
   MAX_GROUP_QUERIES it finishes from a pool of recent candidates).
3. from: and net: are terms of the same FTS query (every mention is indexed
   with filter terms for its author and network); status: and tag: change
   over a mention's life, so they join the mentions and tags tables. When
   one filter alone leaves few mentions, those are scored from their text.

Only the hits' texts are read, to compute match spans for highlighting.

Step 1 is store.search_vocabulary and store.search_candidates, step 2 store.search_ranking, step 3
store.search_filters; what a term is, store.search_terms.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from store.db import Store
from store.query import Query, parse_query
from store.search_candidates import expand, parts
from store.search_filters import _filter, _filtered_ids, _small_set
from store.search_newest import match_bound
from store.search_ranking import _rank_from_text, _rank_with_index
from store.search_terms import term_spans
from store.search_vocabulary import vocabulary_for

MAX_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Hit:
    mention_id: int
    score: float  # 0..100; 0 for a filters-only query
    spans: list[tuple[int, int]] = field(default_factory=list)  # [start, end) offsets into the text


def _spans(text: str, words: set[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for start, end, term in term_spans(text):
        if term in words:
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
            else:
                spans.append((start, end))
    return spans


def _texts(conn: sqlite3.Connection, ids: list[int]) -> dict[int, str]:
    texts: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        texts.update(conn.execute(f"SELECT id, text FROM mentions WHERE id IN ({marks})", chunk).fetchall())
    return texts


def search(store: Store, query: str | Query, *, limit: int = 50, complete_last: bool = False) -> list[Hit]:
    """Best `limit` mentions for `query`, best first (newest first among equals).

    `complete_last` treats the last word as still being typed (the console
    searches on every key): it also matches words that start with it, scored
    by their similarity, so whole-word matches still rank first.
    Never raises for what the operator types; database errors propagate.
    """
    parsed = query if isinstance(query, Query) else parse_query(query)
    limit = max(0, min(int(limit), MAX_LIMIT))
    if parsed.is_empty or limit == 0:
        return []
    conn = store.conn
    flt = _filter(parsed.filters)
    postgres = store.backend == "postgresql"
    if not parsed.terms:
        bound = None
        if postgres and flt.match:
            vocab = vocabulary_for(store)
            with vocab.lock:
                bound = match_bound([terms for terms in (flt.authors, flt.networks) if terms],
                                    vocab.frequencies.of(conn, flt.authors | flt.networks))
        return [Hit(mention_id, 0.0, []) for mention_id in _filtered_ids(conn, parsed.filters, flt, limit, bound)]
    vocab = vocabulary_for(store)
    with vocab.lock:
        candidates = expand(conn, vocab, list(parsed.terms), complete_last)
        # PostgreSQL reads every row a GIN match gives: how common each word is lets it read fewer.
        counts = vocab.frequencies.of(conn, {part for c in candidates for option in c for part in parts(option)}
                                      | flt.authors | flt.networks) if postgres else None
    small = _small_set(conn, parsed.filters, flt) if parsed.filters else None
    if small is not None:
        ranked = _rank_from_text(small, candidates, limit)
    else:
        ranked = _rank_with_index(conn, candidates, flt, limit, counts)
    words = {word for c in candidates for option in c for word in parts(option)}
    texts = _texts(conn, [mention_id for _, mention_id in ranked])
    return [Hit(mention_id, round(score, 3), _spans(texts.get(mention_id, ""), words))
            for score, mention_id in ranked]
