"""Typo-tolerant search over the whole history.

How a query runs:

1. Each query term is matched against the vocabulary of indexed terms, held
   in memory per database file and refreshed incrementally (`Vocabulary`).
   Terms of 5+ letters tolerate one typo (insert, delete, substitute or swap
   two neighbours), 9+ letters two, as search engines do; shorter terms and
   terms with digits must match exactly. Each candidate word scores
   `rapidfuzz.fuzz.ratio` against the term (100 when equal).
2. A mention scores the mean, over query terms, of its best candidate word
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
"""

from __future__ import annotations

import bisect
import heapq
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from cachetools import LRUCache
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from store.db import Store
from store.query import Filters, Query, parse_query
from store.search_index import AUTHOR_MARK, author_terms, is_vocab_term, network_term, term_spans, text_terms

ONE_TYPO_FROM, TWO_TYPOS_FROM = 5, 9
MAX_WORDS_PER_TERM = 48
# Search-as-you-type: the last word may be unfinished (4+ letters), completed to this many words.
PREFIX_FROM = 4
PREFIX_WORDS = 24
MAX_GROUP_QUERIES = 64
DIRECT_MAX = 1500  # a filter leaving at most this many mentions is scored from their text
TAGGED_DRIVE_MAX = 20_000  # up to this many tagged mentions, a tag: listing starts from the tags
FALLBACK_POOL = 600
RARE_MAX = 1000  # a typo group in at most this many mentions is intersected in Python
PRUNE_AFTER = 4  # empty FTS answers before combinations are first checked in Python
MAX_COMBINATIONS = 1024
MAX_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Hit:
    mention_id: int
    score: float  # 0..100; 0 for a filters-only query
    spans: list[tuple[int, int]] = field(default_factory=list)  # [start, end) offsets into the text


def typo_budget(term: str) -> int:
    if len(term) < ONE_TYPO_FROM or not is_vocab_term(term):
        return 0
    return 1 if len(term) < TWO_TYPOS_FROM else 2


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


# -- filters -------------------------------------------------------------------


@dataclass(slots=True)
class _Filter:
    """from:/net: as an FTS expression over filter terms; status:/tag: as SQL on `mentions m`."""

    match: str | None = None
    sql: str = ""
    params: list = field(default_factory=list)
    authors: frozenset[str] = frozenset()
    networks: frozenset[str] = frozenset()

    def keeps(self, handle: str, network: str) -> bool:
        """The from:/net: part, checked in Python for a mention read from the table."""
        if self.authors and not self.authors & author_terms(handle):
            return False
        return not self.networks or network_term(network) in self.networks


def _marks(values: Iterable) -> str:
    return ", ".join("?" for _ in values)


def _filter(filters: Filters) -> _Filter:
    out = _Filter()
    parts = []
    if filters.authors:
        out.authors = frozenset(AUTHOR_MARK + h.lower().lstrip("@").encode().hex() for h in filters.authors)
        parts.append(f"({_quote(sorted(out.authors))})")
    if filters.networks:
        out.networks = frozenset(network_term(n) for n in filters.networks)
        parts.append(f"({_quote(sorted(out.networks))})")
    out.match = " AND ".join(parts) or None
    conds = []
    if filters.statuses:
        conds.append(f"m.status IN ({_marks(filters.statuses)})")
        out.params += filters.statuses
    if filters.tags:
        conds.append(f"EXISTS (SELECT 1 FROM tags t WHERE t.mention_id = m.id AND t.tag IN ({_marks(filters.tags)}))")
        out.params += filters.tags
    out.sql = " AND ".join(conds)
    return out


def _bounded_count(conn: sqlite3.Connection, sql: str, params: list, cap: int) -> int:
    return conn.execute(f"SELECT count(*) FROM ({sql} LIMIT {cap + 1})", params).fetchone()[0]


def _small_set(conn: sqlite3.Connection, filters: Filters, flt: _Filter) -> list[tuple[int, str]] | None:
    """(id, text) of every mention passing the filters, if one filter alone leaves few."""
    fts = "SELECT rowid FROM search_fts WHERE search_fts MATCH ?"
    sources = []
    if flt.match:
        sources.append((fts, [flt.match]))
    if filters.statuses:
        sources.append((f"SELECT id FROM mentions WHERE status IN ({_marks(filters.statuses)})",
                        list(filters.statuses)))
    if filters.tags:
        sources.append((f"SELECT mention_id FROM tags WHERE tag IN ({_marks(filters.tags)})", list(filters.tags)))
    counted = [(_bounded_count(conn, sql, params, DIRECT_MAX), sql, params) for sql, params in sources]
    count, sql, params = min(counted, key=lambda item: item[0])
    if count > DIRECT_MAX:
        return None
    where = f" AND {flt.sql}" if flt.sql else ""
    rows = conn.execute(
        "SELECT m.id, m.text, a.handle, m.network FROM mentions m NOT INDEXED "
        f"JOIN authors a ON a.id = m.author_id WHERE m.id IN ({sql}){where}",
        params + flt.params,
    ).fetchall()
    return [(mention_id, text) for mention_id, text, handle, network in rows if flt.keeps(handle, network)]


def _filtered_ids(conn: sqlite3.Connection, filters: Filters, flt: _Filter, limit: int) -> list[int]:
    """Newest mentions passing the filters (a query without words)."""
    where = f" AND {flt.sql}" if flt.sql else ""
    if flt.match:
        sql = ("SELECT f.rowid FROM search_fts f CROSS JOIN mentions m ON m.id = f.rowid "
               f"WHERE f.search_fts MATCH ?{where} ORDER BY f.rowid DESC LIMIT ?")
        return [row[0] for row in conn.execute(sql, [flt.match, *flt.params, limit])]
    if filters.statuses and not filters.tags and len(filters.statuses) == 1:
        # The (status, id) index walks one status newest first.
        sql = "SELECT m.id FROM mentions m WHERE m.status = ? ORDER BY m.id DESC LIMIT ?"
        return [row[0] for row in conn.execute(sql, [filters.statuses[0], limit])]
    if filters.tags:
        tagged = ("SELECT mention_id FROM tags WHERE tag IN "
                  f"({_marks(filters.tags)})")
        if _bounded_count(conn, tagged, list(filters.tags), TAGGED_DRIVE_MAX) <= TAGGED_DRIVE_MAX:
            sql = (f"SELECT m.id FROM mentions m NOT INDEXED WHERE m.id IN ({tagged}){where} "
                   "ORDER BY m.id DESC LIMIT ?")
            return [row[0] for row in conn.execute(sql, [*filters.tags, *flt.params, limit])]
    # Broad filters: walk all mentions newest first and stop at `limit`.
    sql = f"SELECT m.id FROM mentions m NOT INDEXED WHERE 1{where} ORDER BY m.id DESC LIMIT ?"
    return [row[0] for row in conn.execute(sql, [*flt.params, limit])]


# -- ranking -------------------------------------------------------------------


def _quote(words: Iterable[str]) -> str:
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)


def _groups(candidates: dict[str, float]) -> list[tuple[float, list[str]]]:
    by_score: dict[float, list[str]] = {}
    for word, score in candidates.items():
        by_score.setdefault(round(score, 6), []).append(word)
    return sorted(by_score.items(), key=lambda item: -item[0])


def _match_expression(groups: list[list[tuple[float, list[str]]]], choice: tuple[int, ...],
                      also: str | None = None) -> str | None:
    wanted = [f"({_quote(term_groups[picked][1])})"
              for term_groups, picked in zip(groups, choice, strict=True) if picked < len(term_groups)]
    if not wanted:
        return None
    return " AND ".join([*wanted, also] if also else wanted)


def _choices(groups: list[list[tuple[float, list[str]]]]) -> Iterator[tuple[float, tuple[int, ...]]]:
    """Every combination of one group per term (or none), best mean score first."""
    count = len(groups)

    def score(choice: tuple[int, ...]) -> float:
        return sum(g[c][0] for g, c in zip(groups, choice, strict=True) if c < len(g)) / count

    start = (0,) * count
    heap = [(-score(start), start)]
    seen = {start}
    while heap:
        negative, choice = heapq.heappop(heap)
        yield -negative, choice
        for index in range(count):
            if choice[index] < len(groups[index]):
                step = choice[:index] + (choice[index] + 1,) + choice[index + 1:]
                if step not in seen:
                    seen.add(step)
                    heapq.heappush(heap, (-score(step), step))


def _text_score(terms: set[str], candidates: list[dict[str, float]]) -> float:
    total = 0.0
    for term_candidates in candidates:
        total += max((term_candidates.get(term, 0.0) for term in terms), default=0.0)
    return total / len(candidates)


def _rank_from_text(rows: Iterable[tuple[int, str]], candidates: list[dict[str, float]],
                    limit: int, skip: set[int] | None = None) -> list[tuple[float, int]]:
    scored = []
    for mention_id, text in rows:
        if skip and mention_id in skip:
            continue
        score = _text_score(text_terms(text), candidates)
        if score > 0:
            scored.append((score, mention_id))
    scored.sort(key=lambda item: (-item[0], -item[1]))
    return scored[:limit]


class _RareGroups:
    """Mention ids of each term's score group, fetched on demand, kept when the group is rare."""

    def __init__(self, conn: sqlite3.Connection, groups: list[list[tuple[float, list[str]]]], flt: _Filter):
        self.conn, self.groups, self.flt = conn, groups, flt
        self.ids: dict[tuple[int, int], frozenset[int] | None] = {}
        self.disjoint: dict[tuple[tuple[int, int], ...], bool] = {}

    def get(self, key: tuple[int, int]) -> frozenset[int] | None:
        """The ids, or None for a group too common to hold in memory."""
        if key not in self.ids:
            term, group = key
            expression = f"({_quote(self.groups[term][group][1])})"
            if self.flt.match:
                expression += f" AND {self.flt.match}"
            rows = self.conn.execute("SELECT rowid FROM search_fts WHERE search_fts MATCH ? LIMIT ?",
                                     (expression, RARE_MAX + 1)).fetchall()
            self.ids[key] = frozenset(row[0] for row in rows) if len(rows) <= RARE_MAX else None
        return self.ids[key]

    def held(self, key: tuple[int, int]) -> frozenset[int]:
        """The ids of a group `get` found rare."""
        ids = self.ids[key]
        if ids is None:
            raise KeyError(key)
        return ids

    def never_together(self, rare: tuple[tuple[int, int], ...]) -> bool:
        if len(rare) < 2:
            return False
        if rare not in self.disjoint:
            sets = sorted((self.held(key) for key in rare), key=len)
            common = set(sets[0])
            for ids in sets[1:]:
                common &= ids
                if not common:
                    break
            self.disjoint[rare] = not common
        return self.disjoint[rare]


class _Ranking:
    """Exact scores found so far, and how many reach a given score."""

    def __init__(self) -> None:
        self.scores: dict[int, float] = {}
        self.ordered: list[float] = []

    def add(self, mention_id: int, score: float) -> None:
        if mention_id not in self.scores:
            self.scores[mention_id] = score
            bisect.insort(self.ordered, score)

    def reaching(self, score: float) -> int:
        return len(self.ordered) - bisect.bisect_left(self.ordered, score - 1e-9)

    def best(self, limit: int) -> list[tuple[float, int]]:
        return sorted(((score, mention_id) for mention_id, score in self.scores.items()),
                      key=lambda item: (-item[0], -item[1]))[:limit]


def _rank_with_index(conn: sqlite3.Connection, candidates: list[dict[str, float]], flt: _Filter,
                     limit: int) -> list[tuple[float, int]]:
    groups = [_groups(c) for c in candidates]
    where = f" AND {flt.sql}" if flt.sql else ""
    select = ("SELECT f.rowid FROM search_fts f CROSS JOIN mentions m ON m.id = f.rowid "
              f"WHERE f.search_fts MATCH ?{where} ORDER BY f.rowid DESC LIMIT ?")
    rare = _RareGroups(conn, groups, flt)
    ranking = _Ranking()
    expanded: set[tuple[int, int]] = set()
    queries = empty = 0
    for explored, (score, choice) in enumerate(_choices(groups)):
        if score <= 0 or ranking.reaching(score) >= limit:
            return ranking.best(limit)
        if queries >= MAX_GROUP_QUERIES or explored >= MAX_COMBINATIONS:
            break
        picked = [(term, group) for term, group in enumerate(choice) if group < len(groups[term])]
        if not picked or expanded.intersection(picked):
            continue  # every mention with an expanded group's words is scored already
        if empty >= PRUNE_AFTER and len(picked) > 1:
            # Sparse territory (typo variants of several words): settle rare
            # groups in Python rather than with FTS5 queries that walk big
            # doclists to find nothing.
            rare_picked = tuple(key for key in picked if rare.get(key) is not None)
            if rare.never_together(rare_picked):
                continue
            if rare_picked:
                key = min(rare_picked, key=lambda item: len(rare.held(item)))
                ids = sorted(rare.held(key) - ranking.scores.keys())
                for mention_id, text in _rows_where(conn, ids, flt):
                    value = _text_score(text_terms(text), candidates)
                    if value > 0:
                        ranking.add(mention_id, value)
                expanded.add(key)
                continue
        queries += 1
        # A mention also matches every worse combination of its words and is
        # met first in its best one (combinations run best first), where it
        # got its score; the rest of this one's rows score exactly `score`.
        # At most len(scores) rows are such repeats, hence the limit.
        rows = conn.execute(select, [_match_expression(groups, choice, flt.match), *flt.params,
                                     limit + len(ranking.scores)]).fetchall()
        empty += not rows
        for (mention_id,) in rows:
            ranking.add(mention_id, score)
    # Too many combinations (many words, few mentions with most of them):
    # finish from the newest mentions containing any candidate, scored from text.
    everything = f"({_quote(sorted({word for c in candidates for word in c}))})"
    if flt.match:
        everything = f"{everything} AND {flt.match}"
    pool = conn.execute(
        "SELECT m.id, m.text FROM search_fts f CROSS JOIN mentions m ON m.id = f.rowid "
        f"WHERE f.search_fts MATCH ?{where} ORDER BY f.rowid DESC LIMIT ?",
        [everything, *flt.params, FALLBACK_POOL],
    ).fetchall()
    for score, mention_id in _rank_from_text(pool, candidates, FALLBACK_POOL, set(ranking.scores)):
        ranking.add(mention_id, score)
    return ranking.best(limit)


def _rows_where(conn: sqlite3.Connection, ids: list[int], flt: _Filter) -> Iterator[tuple[int, str]]:
    """(id, text) of those of `ids` passing the status:/tag: filters."""
    where = f" AND {flt.sql}" if flt.sql else ""
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        yield from conn.execute(f"SELECT m.id, m.text FROM mentions m WHERE m.id IN ({_marks(chunk)}){where}",
                                [*chunk, *flt.params]).fetchall()


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
    if not parsed.terms:
        return [Hit(mention_id, 0.0, []) for mention_id in _filtered_ids(conn, parsed.filters, flt, limit)]
    vocab = vocabulary_for(store)
    with vocab.lock:
        candidates = [vocab.candidates(term) for term in parsed.terms]
        if complete_last:
            candidates[-1] = {**vocab.completions(parsed.terms[-1]), **candidates[-1]}
    small = _small_set(conn, parsed.filters, flt) if parsed.filters else None
    if small is not None:
        ranked = _rank_from_text(small, candidates, limit)
    else:
        ranked = _rank_with_index(conn, candidates, flt, limit)
    words = {word for c in candidates for word in c}
    texts = _texts(conn, [mention_id for _, mention_id in ranked])
    return [Hit(mention_id, round(score, 3), _spans(texts.get(mention_id, ""), words))
            for score, mention_id in ranked]
