"""The three engines bench/search_reference.py times, each run in its own child process.

- ours: `store.search.search`, as the console calls it; ours-fts5-counts: the same with every term's
  mention count asked of FTS5, as before search_common (store/search_frequency.py).
- fts5: the plain FTS5 query an application would write over the same file's index (the query's
  folded words AND-ed, from:/net: as terms of the same MATCH, status:/tag: joined), newest first,
  then the hits' texts, without typo tolerance or ranking: what SQLite and the disk cost.
- tantivy: the same folded words as fuzzy term queries with our typo budget, OR-ed, BM25 (as in
  bench/relevance_tantivy.py), every filter a term of a `filters` field that must match; a query
  of filters only is ordered by id, newest first. Built once into <db>.search-tantivy/.
"""

from __future__ import annotations

import resource
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Protocol

from store.query import Filters, parse_query
from store.search_filters import _filter
from store.search_terms import author_terms, network_term, text_terms
from store.search_vocabulary import typo_budget

LIMIT = 20
WARM_UP = "refund"  # the first search of each child: vocabulary, index open (reported apart)


def tantivy_dir(db: Path) -> Path:
    return db.with_name(db.name + ".search-tantivy")


def _filter_terms(handle: str, network: str, status: str, tags: str | None) -> str:
    return " ".join([*author_terms(handle), network_term(network), f"status_{status}",
                     *(f"tag_{tag}" for tag in (tags or "").split())])


def _schema():
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=False, fast=True)
    builder.add_text_field("terms", stored=False, tokenizer_name="whitespace")
    builder.add_text_field("filters", stored=False, tokenizer_name="whitespace", index_option="basic")
    return builder.build()


def build_tantivy(db: Path) -> Path:
    """The reference index of every mention's terms and filter values (once; kept beside the db)."""
    import tantivy

    path = tantivy_dir(db)
    if (path / "complete").exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    index = tantivy.Index(_schema(), path=str(path))
    writer = index.writer(heap_size=512_000_000, num_threads=1)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    started = time.perf_counter()
    rows = conn.execute(
        "SELECT m.id, m.text, a.handle, m.network, m.status, "
        "(SELECT group_concat(tag, ' ') FROM tags t WHERE t.mention_id = m.id) "
        "FROM mentions m JOIN authors a ON a.id = m.author_id")
    for count, (mention_id, text, handle, network, status, tags) in enumerate(rows, start=1):
        writer.add_document(tantivy.Document(id=mention_id, terms=" ".join(text_terms(text)),
                                             filters=_filter_terms(handle, network, status, tags)))
        if count % 500_000 == 0:
            print(f"  tantivy: {count:,} mentions, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    writer.commit()
    writer.wait_merging_threads()
    conn.close()
    (path / "complete").touch()
    return path


def _filter_values(filters: Filters) -> list[list[str]]:
    """Per filter key, the `filters` terms of which one must match."""
    groups = []
    if filters.authors:
        groups.append([term for handle in filters.authors for term in author_terms(handle)])
    if filters.networks:
        groups.append([network_term(network) for network in filters.networks])
    if filters.statuses:
        groups.append([f"status_{status}" for status in filters.statuses])
    if filters.tags:
        groups.append([f"tag_{tag}" for tag in filters.tags])
    return groups


class Tantivy:
    def __init__(self, db: Path) -> None:
        import tantivy

        self.tantivy = tantivy
        self.schema = _schema()
        self.index = tantivy.Index(self.schema, path=str(tantivy_dir(db)))
        self.index.reload()
        self.searcher = self.index.searcher()

    def search(self, text: str) -> list[int]:
        tv, parsed = self.tantivy, parse_query(text)
        must = []
        for values in _filter_values(parsed.filters):
            must.append((tv.Occur.Must, tv.Query.boolean_query(
                [(tv.Occur.Should, tv.Query.term_query(self.schema, "filters", value)) for value in values])))
        words = [(tv.Occur.Should, tv.Query.fuzzy_term_query(
            self.schema, "terms", term, distance=typo_budget(term), transposition_cost_one=True))
            for term in parsed.terms]
        if words:
            must.append((tv.Occur.Must, tv.Query.boolean_query(words)))
        if not must:
            return []
        query = tv.Query.boolean_query(must)
        if words:
            hits = self.searcher.search(query, LIMIT, count=False).hits
        else:
            hits = self.searcher.search(query, LIMIT, count=False, order_by_field="id").hits
        return [self.searcher.doc(address)["id"][0] for _, address in hits]


class Fts5:
    def __init__(self, db: Path) -> None:
        from store.db import open_store

        self.conn: sqlite3.Connection = open_store(db, readonly=True).conn

    def search(self, text: str) -> list[int]:
        parsed = parse_query(text)
        flt = _filter(parsed.filters)
        words = " AND ".join('"' + term.replace('"', '""') + '"' for term in parsed.terms)
        match = " AND ".join(part for part in (words and f"({words})", flt.match and f"({flt.match})") if part)
        where = f" AND {flt.sql}" if flt.sql else ""
        if match:
            sql = ("SELECT f.rowid FROM search_fts f JOIN mentions m ON m.id = f.rowid "
                   f"WHERE search_fts MATCH ?{where} ORDER BY f.rowid DESC LIMIT {LIMIT}")
            params = [match, *flt.params]
        else:
            sql = f"SELECT m.id FROM mentions m WHERE 1 = 1{where} ORDER BY m.id DESC LIMIT {LIMIT}"
            params = list(flt.params)
        ids = [row[0] for row in self.conn.execute(sql, params)]
        if ids:  # what a result list shows
            self.conn.execute(f"SELECT id, text FROM mentions WHERE id IN ({', '.join('?' * len(ids))})",
                              ids).fetchall()
        return ids


class Ours:
    def __init__(self, db: Path) -> None:
        from store.db import open_store

        self.store = open_store(db, readonly=True)

    def search(self, text: str) -> list[int]:
        from store.search import search

        return [hit.mention_id for hit in search(self.store, text, limit=LIMIT)]


class OursCountingAll(Ours):
    """Ours as before search_common: every term counted through FTS5 (the same run's before/after)."""

    def __init__(self, db: Path) -> None:
        import store.search_frequency as frequency

        frequency._common = lambda conn, terms: {}
        super().__init__(db)


class Engine(Protocol):
    def search(self, text: str) -> list[int]: ...


ENGINES: dict[str, type[Ours] | type[Fts5] | type[Tantivy]] = {
    "ours": Ours, "ours-fts5-counts": OursCountingAll, "fts5": Fts5, "tantivy": Tantivy}


def _read_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_inblock * 512


def run(engine: str, db: Path, queries: list[dict]) -> dict:
    """Open `engine` on `db`, one warm-up search, then every query once: wall, CPU, bytes read from disk."""
    started, read = time.perf_counter(), _read_bytes()
    searcher: Engine = ENGINES[engine](db)
    searcher.search(WARM_UP)
    first = {"ms": (time.perf_counter() - started) * 1000, "read_mb": (_read_bytes() - read) / 1e6}
    results = []
    for item in queries:
        read, cpu, wall = _read_bytes(), time.process_time(), time.perf_counter()
        ids = searcher.search(item["query"])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        results.append({**item, "ms": wall * 1000, "cpu_ms": cpu * 1000, "read_kb": (_read_bytes() - read) / 1024,
                        "hits": len(ids), "ids": ids})
    return {"first": first, "results": results}
