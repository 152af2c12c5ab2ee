"""tantivy as a reference for the relevance evaluation (optional: `pip install tantivy`).

The same folded terms as the FTS index (store.search_terms.text_terms),
whitespace-tokenized, so both engines see the same words; each query term
becomes a fuzzy term query with our typo budget (1 typo from 5 letters, 2
from 8, a swap counting as one; the word being typed as a prefix), OR-ed,
tantivy's own scoring. Built once into bench/data/<db>.tantivy.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import time
from pathlib import Path

import tantivy

from bench.relevance_queries import Labelled
from store.query import parse_query
from store.search_terms import text_terms
from store.search_vocabulary import typo_budget


def _index(conn: sqlite3.Connection, path: Path) -> tuple[tantivy.Index, tantivy.Schema]:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=False, fast=False)
    builder.add_text_field("terms", stored=False, tokenizer_name="whitespace")
    schema = builder.build()
    done = path / "complete"
    if done.exists():
        return tantivy.Index(schema, path=str(path)), schema
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    index = tantivy.Index(schema, path=str(path))
    writer = index.writer(heap_size=256_000_000)
    print("relevance: building the tantivy reference index ...", file=sys.stderr, flush=True)
    for mention_id, text in conn.execute("SELECT id, text FROM mentions"):
        writer.add_document(tantivy.Document(id=mention_id, terms=" ".join(text_terms(text))))
    writer.commit()
    writer.wait_merging_threads()
    done.touch()
    return index, schema


def _query(schema: tantivy.Schema, item: Labelled) -> tantivy.Query | None:
    terms = list(parse_query(item.query).terms)
    clauses = []
    for position, term in enumerate(terms):
        typing = item.complete_last and position == len(terms) - 1
        clauses.append((tantivy.Occur.Should, tantivy.Query.fuzzy_term_query(
            schema, "terms", term, distance=typo_budget(term), transposition_cost_one=True, prefix=typing)))
    return tantivy.Query.boolean_query(clauses) if clauses else None


def run(conn: sqlite3.Connection, queries: list[Labelled], top: int) -> list[dict | None]:
    """Per query: {"ms", "ids"} of tantivy's top hits (None for a query without words)."""
    db_path = Path(conn.execute("PRAGMA database_list").fetchone()[2])
    index, schema = _index(conn, db_path.with_name(db_path.name + ".tantivy"))
    index.reload()
    searcher = index.searcher()
    out: list[dict | None] = []
    for item in queries:
        query = _query(schema, item)
        if query is None:
            out.append(None)
            continue
        started = time.perf_counter()
        hits = searcher.search(query, top).hits
        ids = [searcher.doc(address)["id"][0] for _, address in hits]
        out.append({"ms": (time.perf_counter() - started) * 1000, "ids": ids})
    return out
