"""Ranking: the best-scoring mentions for the query terms' typo candidates (see store.search)."""

from __future__ import annotations

import bisect
import heapq
import sqlite3
from collections.abc import Iterable, Iterator, Mapping

from store.search_filters import _Filter, _marks, _quote
from store.search_newest import _newest_matches, match_bound
from store.search_terms import text_terms

MAX_GROUP_QUERIES = 64
FALLBACK_POOL = 600
RARE_MAX = 1000  # a typo group in at most this many mentions is intersected in Python
PRUNE_AFTER = 4  # empty FTS answers before combinations are first checked in Python
EAGER_MAX = 300  # a group this rare is settled in Python at once, with several words
MAX_COMBINATIONS = 1024
LOOSE_FROM = 4  # query terms from which a combination's words are taken as rarely all together (PostgreSQL)


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


class _Scorer:
    """A mention's score from its terms: the mean over query terms of its best option."""

    def __init__(self, candidates: list[dict[str, float]]):
        self.count = len(candidates)
        # word -> (query term, score) it gives; run-together readings ("refund now")
        # need every part, so they are checked apart, keyed by their first part.
        self.plain: dict[str, list[tuple[int, float]]] = {}
        self.together: dict[str, list[tuple[int, float, list[str]]]] = {}
        for index, options in enumerate(candidates):
            for option, value in options.items():
                if " " in option:
                    words = option.split(" ")
                    self.together.setdefault(words[0], []).append((index, value, words[1:]))
                else:
                    self.plain.setdefault(option, []).append((index, value))

    def __call__(self, terms: set[str]) -> float:
        best = [0.0] * self.count
        for term in terms:
            for index, value in self.plain.get(term, ()):
                if value > best[index]:
                    best[index] = value
            for index, value, rest in self.together.get(term, ()):
                if value > best[index] and all(word in terms for word in rest):
                    best[index] = value
        return sum(best) / self.count


def _rank_from_text(rows: Iterable[tuple[int, str]], candidates: list[dict[str, float]],
                    limit: int, skip: set[int] | None = None) -> list[tuple[float, int]]:
    scored = []
    text_score = _Scorer(candidates)
    for mention_id, text in rows:
        if skip and mention_id in skip:
            continue
        score = text_score(text_terms(text))
        if score > 0:
            scored.append((score, mention_id))
    scored.sort(key=lambda item: (-item[0], -item[1]))
    return scored[:limit]


class _RareGroups:
    """Mention ids of each term's score group, fetched on demand, kept when the group is rare."""

    def __init__(self, conn: sqlite3.Connection, groups: list[list[tuple[float, list[str]]]], flt: _Filter,
                 counts: Mapping[str, int] | None = None):
        self.conn, self.groups, self.flt, self.counts = conn, groups, flt, counts
        self.ids: dict[tuple[int, int], frozenset[int] | None] = {}
        self.disjoint: dict[tuple[tuple[int, int], ...], bool] = {}

    def get(self, key: tuple[int, int]) -> frozenset[int] | None:
        """The ids, or None for a group too common to hold in memory."""
        if key not in self.ids:
            term, group = key
            words = self.groups[term][group][1]
            counts = self.counts
            if counts is not None and any(counts.get(word, 0) > RARE_MAX for word in words if " " not in word):
                # PostgreSQL: a common word is taken as too common, even where from:/net: would leave
                # few of its mentions: finding out reads a thousand rows, the combinations' windowed
                # queries (store.search_newest) fewer. The same ranking either way.
                self.ids[key] = None
                return None
            expression = f"({_quote(words)})"
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
                     limit: int, counts: Mapping[str, int] | None = None) -> list[tuple[float, int]]:
    """`counts` (PostgreSQL): mentions per word and filter term, to spare reading rows (store.search_newest)."""
    groups = [_groups(c) for c in candidates]
    filter_terms = [list(terms) for terms in (flt.authors, flt.networks) if terms]

    def bound(words: list[list[str]]) -> int | None:
        return match_bound([*words, *filter_terms], counts) if counts is not None else None
    where = f" AND {flt.sql}" if flt.sql else ""
    select = ("SELECT f.rowid FROM search_fts f CROSS JOIN mentions m ON m.id = f.rowid "
              f"WHERE f.search_fts MATCH ?{where} ORDER BY f.rowid DESC LIMIT ?")
    rare = _RareGroups(conn, groups, flt, counts)
    ranking = _Ranking()
    text_score = _Scorer(candidates)
    expanded: set[tuple[int, int]] = set()
    asked: set[tuple[int, ...]] = set()  # combinations whose rows are in `ranking` already
    queries = empty = explored = 0
    while True:
        # Every mention holding an expanded group is scored already: the
        # combinations are enumerated again without those groups, or the
        # many combinations still holding them would be walked for nothing.
        live = [[index for index in range(len(term_groups)) if (term, index) not in expanded]
                for term, term_groups in enumerate(groups)]
        restart = False
        for score, reduced in _choices([[groups[term][index] for index in indexes]
                                        for term, indexes in enumerate(live)]):
            explored += 1
            if score <= 0 or ranking.reaching(score) >= limit:
                return ranking.best(limit)
            if queries >= MAX_GROUP_QUERIES or explored >= MAX_COMBINATIONS:
                break
            choice = tuple(indexes[pick] if pick < len(indexes) else len(groups[term])
                           for term, (indexes, pick) in enumerate(zip(live, reduced, strict=True)))
            picked = [(term, group) for term, group in enumerate(choice) if group < len(groups[term])]
            if not picked or choice in asked:
                continue
            if len(picked) > 1:
                # Sparse territory (typo variants of several words, a rare word
                # among common ones): settle rare groups in Python rather than
                # with FTS5 queries that seek through big doclists for each of
                # their few mentions. Early on, only the rarest groups.
                rare_picked = tuple(key for key in picked if rare.get(key) is not None)
                if empty < PRUNE_AFTER:
                    rare_picked = tuple(key for key in rare_picked if len(rare.held(key)) <= EAGER_MAX)
                if rare.never_together(rare_picked):
                    continue
                if rare_picked:
                    key = min(rare_picked, key=lambda item: len(rare.held(item)))
                    ids = sorted(rare.held(key) - ranking.scores.keys())
                    for mention_id, text in _rows_where(conn, ids, flt):
                        value = text_score(text_terms(text))
                        if value > 0:
                            ranking.add(mention_id, value)
                    expanded.add(key)
                    restart = True
                    break
            queries += 1
            asked.add(choice)
            # A mention also matches every worse combination of its words and is
            # met first in its best one (combinations run best first), where it
            # got its score; the rest of this one's rows score exactly `score`.
            # At most len(scores) rows are such repeats, hence the limit.
            rows = _newest_matches(conn, select, _match_expression(groups, choice, flt.match) or "", flt.params,
                                  limit + len(ranking.scores), bound([groups[t][g][1] for t, g in picked]),
                                  loose=len(picked) > 1 and len(groups) >= LOOSE_FROM)
            empty += not rows
            for (mention_id,) in rows:
                ranking.add(mention_id, score)
        else:
            return ranking.best(limit)
        if not restart:
            break
    # Too many combinations (many words, few mentions with most of them):
    # finish from the newest mentions containing any candidate, scored from text.
    everything = f"({_quote(sorted({word for c in candidates for word in c}))})"
    if flt.match:
        everything = f"{everything} AND {flt.match}"
    pool = _newest_matches(
        conn, "SELECT m.id, m.text FROM search_fts f CROSS JOIN mentions m ON m.id = f.rowid "
        f"WHERE f.search_fts MATCH ?{where} ORDER BY f.rowid DESC LIMIT ?",
        everything, flt.params, FALLBACK_POOL, bound([sorted({word for c in candidates for word in c})]))
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
