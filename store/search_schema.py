"""DDL of the search index (part of schema v1).

The full-text table holds *terms*, not text: store.search_terms tokenizes
and folds each mention in Python and writes the distinct terms separated by
spaces. FTS5's `ascii` tokenizer then splits on the spaces only (every
non-ASCII character is a token character to it), so the index, the query
side and the in-memory vocabulary agree on what a term is, whatever the
Unicode version of the SQLite build. Each row also carries filter terms
for its author and network (see store.search_terms.author_terms), so from:
and net: are intersections inside FTS5. `detail='none'` and `columnsize=0`
keep just term -> mention ids, which is all the search reads (match spans
are computed from the text of the few hits).
"""

SEARCH_V1 = """
CREATE VIRTUAL TABLE search_fts USING fts5 (
    terms, content='', tokenize='ascii', detail='none', columnsize=0
);
-- Letter-only terms (4..48 characters) that some mention contains: what typo
-- matching is done against. Ids only grow, so a reader refreshes its copy
-- with "id > last seen".
CREATE TABLE search_vocab (
    id INTEGER PRIMARY KEY,
    term TEXT NOT NULL UNIQUE
);
-- Mentions stored during a bulk import but not indexed yet: committed with
-- the mentions, so an interrupted import loses nothing (see
-- store.search_index.deferred_indexing).
CREATE TABLE search_pending (mention_id INTEGER PRIMARY KEY);
-- Let a big indexing transaction buffer 32 MB of postings before writing a
-- segment: fewer, larger segments, far less merging (default 1 MB).
INSERT INTO search_fts (search_fts, rank) VALUES ('hashsize', 33554432);
"""

# Mentions per term for the terms in at least COMMON_MIN mentions, as of the last fill
# (store.search_frequency): FTS5 counts a term by reading its whole list of mentions, megabytes
# for a common word at 5M. Filled by the migration, after bulk imports and rebuilds; rarer terms,
# and terms that became common since, are counted by FTS5 as before (a short read).
COMMON_MIN = 100
FILL_COMMON = f"""
CREATE VIRTUAL TABLE temp.search_common_fill USING fts5vocab(main, 'search_fts', 'row');
INSERT INTO search_common (term, docs) SELECT term, doc FROM temp.search_common_fill WHERE doc >= {COMMON_MIN};
DROP TABLE temp.search_common_fill;
"""
SEARCH_COMMON = f"""
CREATE TABLE search_common (term TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID;
{FILL_COMMON}"""
