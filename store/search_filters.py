"""Search filters: from:/net: as FTS terms, status:/tag:/lang:/sentiment:/needs: as SQL, filter-only listings."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

from store.query import Filters
from store.search_newest import _newest_matches
from store.search_terms import AUTHOR_MARK, author_terms, network_term

DIRECT_MAX = 1500  # a filter leaving at most this many mentions is scored from their text
TAGGED_DRIVE_MAX = 20_000  # up to this many tagged mentions, a tag: listing starts from the tags


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
    if filters.groups:
        conds.append(f"m.id IN ({_GROUPED}{_marks(filters.groups)}))")
        out.params += filters.groups
    conds += _signal_conditions(filters, out.params)
    out.sql = " AND ".join(conds)
    return out


_GROUPED = "SELECT mention_id FROM group_members WHERE group_id IN ("


def _signal_conditions(filters: Filters, params: list) -> list[str]:
    """lang:/sentiment:/needs: as SQL on `mentions m` (the signals computed at ingest)."""
    conds = []
    if filters.langs:
        # The detected language; a mention stored before signals has only the network's tag ("fr-CA").
        conds.append(f"lower(substr(coalesce(m.sig_lang, m.lang), 1, 2)) IN ({_marks(filters.langs)})")
        params += filters.langs
    if filters.sentiments:
        conds.append(f"m.sentiment IN ({_marks(filters.sentiments)})")
        params += filters.sentiments
    if filters.needs_reply is not None:
        conds.append("m.needs_reply = ?")
        params.append(int(filters.needs_reply))
    return conds


def _bounded_count(conn: sqlite3.Connection, sql: str, params: list, cap: int) -> int:
    return conn.execute(f"SELECT count(*) FROM ({sql} LIMIT {cap + 1})", params).fetchone()[0]


def _small_set(conn: sqlite3.Connection, filters: Filters, flt: _Filter) -> list[tuple[int, str]] | None:
    """(id, text) of every mention passing the filters, if one filter alone leaves few."""
    fts = "SELECT rowid FROM search_fts WHERE search_fts MATCH ?"
    sources: list[tuple[str, list]] = []
    if flt.match:
        sources.append((fts, [flt.match]))
    if filters.statuses:
        sources.append((f"SELECT id FROM mentions WHERE status IN ({_marks(filters.statuses)})",
                        list(filters.statuses)))
    if filters.tags:
        sources.append((f"SELECT mention_id FROM tags WHERE tag IN ({_marks(filters.tags)})", list(filters.tags)))
    if filters.groups:
        sources.append((f"{_GROUPED}{_marks(filters.groups)})", list(filters.groups)))
    if not sources:  # only signal filters: no narrow source; rank through the index
        return None
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


def _filtered_ids(conn: sqlite3.Connection, filters: Filters, flt: _Filter, limit: int,
                  bound: int | None = None) -> list[int]:
    """Newest mentions passing the filters (a query without words); `bound`: at most how many
    mentions the from:/net: terms match, when known (store.search_newest)."""
    where = f" AND {flt.sql}" if flt.sql else ""
    if flt.match:
        sql = ("SELECT f.rowid FROM search_fts f CROSS JOIN mentions m ON m.id = f.rowid "
               f"WHERE f.search_fts MATCH ?{where} ORDER BY f.rowid DESC LIMIT ?")
        return [row[0] for row in _newest_matches(conn, sql, flt.match, flt.params, limit, bound)]
    if filters.groups:  # a group's members, newest first, from its index (a flood group holds thousands)
        sql = (f"SELECT m.id FROM mentions m NOT INDEXED WHERE m.id IN ({_GROUPED}{_marks(filters.groups)})){where} "
               "ORDER BY m.id DESC LIMIT ?")
        return [row[0] for row in conn.execute(sql, [*filters.groups, *flt.params, limit])]
    signals = filters.langs or filters.sentiments or filters.needs_reply is not None
    if filters.statuses and not filters.tags and len(filters.statuses) == 1 and not signals:
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
    sql = f"SELECT m.id FROM mentions m NOT INDEXED WHERE 1 = 1{where} ORDER BY m.id DESC LIMIT ?"
    return [row[0] for row in conn.execute(sql, [*flt.params, limit])]


def _quote(words: Iterable[str]) -> str:
    """FTS5 "any of these": a word with spaces (a run-together reading) needs all its parts."""
    return " OR ".join(_quote_one(word) for word in words)


def _quote_one(word: str) -> str:
    if " " in word:
        return "(" + " AND ".join(_quote_one(part) for part in word.split(" ")) + ")"
    return '"' + word.replace('"', '""') + '"'


