"""PostgreSQL's search index, made fit for a million mentions: migration V2_SEARCH_COUNTS there.

Document frequencies for search's spelling correction (store/search_frequency.py): counting a
common word's rows through the GIN index reads every heap page holding one (a quarter of a
second for a word in 5 % of a million mentions). Kept exact by statement triggers on the index
(one aggregated upsert per statement: the store writes a batch of documents in one COPY).

Each document's lexemes also get its bucket (rowid >> 14 after a private-use mark), so the newest
matches of common words are found without reading all of them (store/search_newest.py).
"""

SEARCH_COUNTS = r"""
ALTER TABLE search_fts DROP COLUMN tsv;
ALTER TABLE search_fts ADD COLUMN tsv TSVECTOR GENERATED ALWAYS AS (array_to_tsvector(
    array_remove(string_to_array(terms, ' '), '') || (chr(57346) || (rowid >> 14)::text))) STORED;
CREATE INDEX search_fts_terms ON search_fts USING gin (tsv);
CREATE TABLE search_counts (term TEXT PRIMARY KEY, docs BIGINT NOT NULL);
INSERT INTO search_counts (term, docs) SELECT word, ndoc FROM ts_stat('SELECT tsv FROM search_fts');
CREATE FUNCTION mentiondesk_search_counts_in() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_counts (term, docs)
    SELECT term, count(*) FROM added, unnest(tsvector_to_array(added.tsv)) AS term GROUP BY term
    ON CONFLICT (term) DO UPDATE SET docs = search_counts.docs + excluded.docs;
    RETURN NULL;
END $$;
CREATE TRIGGER search_counts_in AFTER INSERT ON search_fts REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION mentiondesk_search_counts_in();
CREATE FUNCTION mentiondesk_search_counts_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE search_counts SET docs = search_counts.docs - gone.docs
    FROM (SELECT term, count(*) AS docs FROM removed, unnest(tsvector_to_array(removed.tsv)) AS term
          GROUP BY term) AS gone
    WHERE search_counts.term = gone.term;
    RETURN NULL;
END $$;
CREATE TRIGGER search_counts_out AFTER DELETE ON search_fts REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION mentiondesk_search_counts_out();
"""


