"""DDL of the search index (part of schema v1)."""

SEARCH_V1 = """
-- Full-text index, contentless: the text lives in mentions only.
CREATE VIRTUAL TABLE mentions_fts USING fts5 (
    text, handle, content='', tokenize='unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE mentions_terms USING fts5vocab (mentions_fts, 'row');
"""
