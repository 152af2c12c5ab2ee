"""Typo-tolerant search: ranking, typos, filters, spans, hostile input, fresh mentions."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import store.search_bulk as search_bulk
import store.search_filters as search_filters
import store.search_index as search_index
import store.search_ranking as search_ranking
from bench.corpus import mistype
from bench.generate import rows as generated_rows
from bench.truth import BruteForce, recall_at
from store.actions import set_status, set_tag
from store.db import open_store
from store.ingest import insert_mentions
from store.search import Hit, search
from store.search_index import deferred_indexing, index_pending, rebuild_index, unindex_mentions
from tests.conftest import new_mention

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

TEXTS = {
    "exact": "I want a refund for my order, this is taking forever",
    "typo": "still no refnd after two weeks",
    "other": "loving the new phone, the screen is gorgeous",
    "late": "my delivery was late again and the box was crushed",
    "late2": "delivery came late",
    "fr": "Toujours pas de remboursement pour ma commande 😡",
    "accent": "Je veux être remboursé, c'est déjà la troisième fois",
    "ja": "配送が遅れています",
}


@pytest.fixture
def desk(store):
    """A small history: ids by key, authors and networks varied, some tagged and done."""
    authors = {"exact": ("@Mara_K@mastodon.social", "mastodon"), "typo": ("@tom.bsky.social", "bluesky"),
               "other": ("@mara_k", "demo"), "late": ("@ana", "demo"), "late2": ("ana", "webhook:instagram"),
               "fr": ("@julien", "demo"), "accent": ("@julien", "demo"), "ja": ("@yuki", "mastodon")}
    ids = {}
    with store.write():
        for key, text in TEXTS.items():
            handle, network = authors[key]
            [ids[key]] = insert_mentions(store, [new_mention(text=text, author_handle=handle, network=network)])
    set_tag(store, ids["exact"], "care", True, "op")
    set_tag(store, ids["late"], "care", True, "op")
    set_tag(store, ids["other"], "marketing", True, "op")
    set_status(store, ids["exact"], "done", "op")
    set_status(store, ids["other"], "done", "op")
    return ids


@pytest.fixture(params=["small sets from text", "everything through the index"])
def plan(request, monkeypatch):
    """Run a test both ways a filtered query can be answered."""
    if request.param != "small sets from text":
        monkeypatch.setattr(search_filters, "DIRECT_MAX", -1)
        monkeypatch.setattr(search_filters, "TAGGED_DRIVE_MAX", -1)
    return request.param


@pytest.fixture(params=["FTS5 per combination", "rare groups settled in Python"])
def ranking_mode(request, monkeypatch):
    """Run a ranking test both ways a combination of score groups can be resolved."""
    if request.param != "FTS5 per combination":
        monkeypatch.setattr(search_ranking, "PRUNE_AFTER", 0)
        monkeypatch.setattr(search_ranking, "RARE_MAX", 10_000)
    return request.param


def found(hits: list[Hit]) -> list[int]:
    return [hit.mention_id for hit in hits]


def test_exact_beats_typo_and_unrelated_is_absent(store, desk):
    hits = search(store, "refund")
    assert found(hits)[:2] == [desk["exact"], desk["typo"]]
    assert desk["other"] not in found(hits)
    assert hits[0].score == 100 and 0 < hits[1].score < 100


@pytest.mark.parametrize("query, key", [
    ("refnud", "exact"),
    ("delivry late", "late"),
    ("rembourssement", "fr"),
    ("remboursement", "fr"),
    ("REMBOURSEMENT", "fr"),
    ("rembourse", "accent"),
    ("troisieme", "accent"),
    ("遅れ", "ja"),
])
def test_typos_case_and_accents_still_find(store, desk, query, key):
    assert desk[key] in found(search(store, query))


@pytest.mark.parametrize("query", ["ermbuorsement", "remboursmenet", "rmeboursemnet", "rembourssement"])
def test_two_typos_anywhere_in_long_words(store, desk, query):
    assert found(search(store, query)) == [desk["fr"]]


@pytest.mark.parametrize("query", ["efund", "xefund", "erfund", "refudn", "refunds"])
def test_one_typo_anywhere_including_the_first_letter(store, desk, query):
    assert desk["exact"] in found(search(store, query))


def test_all_words_beat_some_words(store, desk):
    hits = search(store, "delivry late")
    assert set(found(hits)[:2]) == {desk["late"], desk["late2"]}
    assert all(hit.score > 90 for hit in hits[:2])


def test_short_words_need_exact_spelling(store, desk):
    # "box" has three letters: no typo allowed, so "bix" finds nothing.
    assert search(store, "bix") == []
    assert found(search(store, "box")) == [desk["late"]]


def test_spans_point_at_the_matched_words(store, desk):
    for query, key, words in [("delivry late", "late", ["delivery", "late"]),
                              ("rembourssement", "fr", ["remboursement"]),
                              ("rembourse deja", "accent", ["remboursé", "déjà"]),
                              ("遅れ", "ja", ["遅れ"])]:
        [hit] = [hit for hit in search(store, query) if hit.mention_id == desk[key]]
        assert [TEXTS[key][start:end] for start, end in hit.spans] == words


def test_filters_alone_list_newest_first(store, desk, plan):
    assert found(search(store, "tag:care")) == [desk["late"], desk["exact"]]
    assert found(search(store, "status:done")) == [desk["other"], desk["exact"]]
    assert found(search(store, "net:demo")) == [desk["accent"], desk["fr"], desk["late"], desk["other"]]
    assert all(hit.score == 0 and hit.spans == [] for hit in search(store, "net:demo"))


@pytest.mark.parametrize("handle", ["@mara_k", "mara_k", "MARA_K", "@Mara_K@mastodon.social"])
def test_from_matches_handles_with_or_without_at_any_case(store, desk, handle, plan):
    expected = [desk["exact"]] if "@mastodon" in handle else [desk["other"], desk["exact"]]
    assert found(search(store, f"from:{handle}")) == expected


def test_from_matches_bluesky_and_webhook_handles(store, desk, plan):
    assert found(search(store, "from:tom")) == [desk["typo"]]
    assert found(search(store, "from:@tom.bsky.social")) == [desk["typo"]]
    assert search(store, "from:tom.bsky") == []
    assert found(search(store, "from:@ana")) == [desk["late2"], desk["late"]]
    assert search(store, "from:@nobody") == []


def test_filters_combine_with_each_other_and_with_text(store, desk, plan):
    assert found(search(store, "tag:care status:open")) == [desk["late"]]
    assert found(search(store, "tag:care refund")) == [desk["exact"]]
    assert found(search(store, "status:open refund")) == [desk["typo"]]
    assert found(search(store, "from:@ana net:demo late")) == [desk["late"]]
    assert found(search(store, "status:open status:done tag:marketing tag:care")) == [
        desk["late"], desk["other"], desk["exact"]]
    assert search(store, "net:mastodon delivery") == []
    assert found(search(store, "tag:care net:demo late")) == [desk["late"]]
    assert found(search(store, "tag:care from:ana delivery")) == [desk["late"]]
    assert found(search(store, "tag:care from:tara delivery")) == []
    # The tagged "refund" mention is by @Mara_K on mastodon: both filters must exclude it.
    assert found(search(store, "tag:care refund")) == [desk["exact"]]
    assert search(store, "tag:care net:demo refund") == []
    assert search(store, "tag:care from:ana refund") == []
    assert search(store, "tag:marketing from:ana phone") == []
    assert found(search(store, "tag:marketing from:MARA_K phone")) == [desk["other"]]


HOSTILE = ['"', '""', "'", "(", ")", "*", "refund*", "NEAR", "NEAR(a b)", "a NEAR/2 b", "-", "-refund",
           ":", "::", "text:refund", "{text}:x", "^", "AND", "OR NOT", "x AND", "(((", "\\", "%", "_",
           "'; DROP TABLE mentions; --", "\x00", "tag:care \x00 status:open", "from:@", "from:%", "from:_",
           "net:'", "😡" * 50, "a" * 5000, "é" * 300, " ".join(["word"] * 100), "\u0301\u0301", "ﷺ"]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_raise(store, desk, query):
    hits = search(store, query)
    assert isinstance(hits, list)


def test_limit_is_respected(store, desk):
    assert len(search(store, "net:demo", limit=2)) == 2
    assert search(store, "refund", limit=0) == []


def test_new_mentions_from_another_connection_are_found(store, desk, desk_db):
    assert search(store, "xylophone") == []
    other = open_store(desk_db)
    try:
        with other.write():
            [new_id] = insert_mentions(other, [new_mention(text="my xylophone arrived broken")])
    finally:
        other.close()
    # A typo only matches through the in-memory vocabulary, so this checks its refresh.
    assert found(search(store, "xylophon")) == [new_id]
    assert found(search(store, "xylopohne")) == [new_id]


def test_unindex_and_rebuild(store, desk):
    with store.write():
        unindex_mentions(store, [desk["exact"]])
    assert found(search(store, "refund")) == [desk["typo"]]
    assert rebuild_index(store) == len(TEXTS)
    assert found(search(store, "refund")) == [desk["exact"], desk["typo"]]


@pytest.mark.parametrize("helper, chunk", [(False, 5000), (True, 5000), (True, 1)],
                         ids=["no helper process", "helper, indexed at the end", "helper, indexed while inserting"])
def test_deferred_indexing_indexes_everything(store, desk, monkeypatch, helper, chunk):
    monkeypatch.setattr(search_bulk, "BULK_CHUNK", chunk)
    with deferred_indexing(store, helper=helper):
        ids = []
        for n in range(6):
            with store.write():
                ids += insert_mentions(store, [new_mention(text=f"glockenspiel {n} out of tune",
                                                           author_handle=f"@player{n}")])
        # Stored, and indexed only as jobs come back: at most IN_FLIGHT jobs are outstanding.
        indexed_inside = len(search(store, "glockenspiel", limit=10))
        if helper and chunk == 1:
            assert indexed_inside >= 6 - search_bulk.IN_FLIGHT
        else:
            assert indexed_inside == 0
    assert found(search(store, "glockenspeil", limit=10)) == list(reversed(ids))
    assert found(search(store, "from:player3 glockenspiel")) == [ids[3]]
    assert store.conn.execute("SELECT count(*) FROM search_pending").fetchone()[0] == 0


def test_nested_bulk_blocks_index_once_at_the_outer_end(store, desk):
    cache_size = store.conn.execute("PRAGMA cache_size").fetchone()[0]
    with deferred_indexing(store, helper=False):
        with deferred_indexing(store):
            with store.write():
                [new_id] = insert_mentions(store, [new_mention(text="theremin humming")])
        assert search(store, "theremin") == []
    assert found(search(store, "theremin")) == [new_id]
    assert store.conn.execute("PRAGMA cache_size").fetchone()[0] == cache_size


def test_interrupted_import_is_indexed_later(store, desk, monkeypatch):
    with pytest.raises(RuntimeError):
        with deferred_indexing(store):
            with store.write():
                ids = insert_mentions(store, [new_mention(text=f"ukulele number {n}") for n in range(5)])
            raise RuntimeError("import stopped")
    assert search(store, "ukulele") == []
    # Any later write indexes a few pending mentions along with its own.
    monkeypatch.setattr(search_index, "CATCH_UP", 2)
    with store.write():
        [live] = insert_mentions(store, [new_mention(text="live ukulele mention")])
    assert found(search(store, "ukulele")) == [live, ids[1], ids[0]]
    assert index_pending(store) == 3
    assert found(search(store, "ukulele")) == [live, *reversed(ids)]


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """800 generated mentions (mixed languages, typos, emoji) with tags and statuses."""
    path = tmp_path_factory.mktemp("history") / "history.db"
    store = open_store(path)
    texts = {}
    with store.write() as conn:
        for row in generated_rows(800, seed=5):
            [mention_id] = insert_mentions(store, [row.mention], status=row.status)
            texts[mention_id] = row.mention.text
            for tag in row.tags:
                conn.execute("INSERT INTO tags (mention_id, tag, operator, at) VALUES (?, ?, ?, 'x')",
                             (mention_id, tag, "op"))
    yield store, texts
    store.close()


def _queries(texts: dict[int, str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    ids = sorted(texts)
    out = []
    for _ in range(count):
        words = [w for w in texts[rng.choice(ids)].split() if w.isalpha()]
        if not words:
            continue
        start = rng.randrange(len(words))
        picked = words[start:start + rng.randint(1, 3)]
        out.append(" ".join(mistype(w, rng) if rng.random() < 0.6 else w for w in picked))
    # Long queries too: their combinations are what the Python settling is for.
    for _ in range(count // 4):
        words = [w for w in texts[rng.choice(ids)].split() if w.isalpha()]
        if len(words) >= 5:
            out.append(" ".join(mistype(w, rng) if rng.random() < 0.4 else w for w in words[:rng.randint(5, 8)]))
    return out


def test_ranking_equals_brute_force_scoring(history, ranking_mode):
    store, texts = history
    truth = BruteForce(texts.items())
    for query in _queries(texts, 60, seed=1):
        from store.query import parse_query

        expected = truth.scores(list(parse_query(query).terms))
        hits = search(store, query, limit=20)
        assert recall_at(found(hits), expected) in (None, 1.0), query
        for hit in hits:
            assert hit.score == pytest.approx(expected[hit.mention_id], abs=1e-3), query


def test_filtered_ranking_equals_brute_force_scoring(history, plan, ranking_mode):
    store, texts = history
    truth = BruteForce(texts.items())
    conn = store.conn
    allowed = {
        "tag:care": {r[0] for r in conn.execute("SELECT mention_id FROM tags WHERE tag = 'care'")},
        "status:open": {r[0] for r in conn.execute("SELECT id FROM mentions WHERE status = 'open'")},
        "net:bluesky": {r[0] for r in conn.execute("SELECT id FROM mentions WHERE network = 'bluesky'")},
    }
    from store.query import parse_query

    for index, query in enumerate(_queries(texts, 45, seed=2)):
        name = list(allowed)[index % 3]
        expected = truth.scores(list(parse_query(query).terms), allowed[name])
        hits = search(store, f"{name} {query}", limit=20)
        assert set(found(hits)) <= allowed[name]
        assert recall_at(found(hits), expected) in (None, 1.0), (name, query)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=80)
       | st.lists(st.sampled_from(['"', "(", ")", "*", "NEAR", "-", ":", "tag:care", "from:@a", "refund",
                                   "AND", "OR", "NOT", "^", "status:open", "net:demo", "é", "delivry"]),
                  max_size=12).map(" ".join))
def test_search_never_raises(history, text):
    store, _ = history
    for hit in search(store, text, limit=5):
        assert 0 <= hit.score <= 100


def test_the_word_being_typed_is_completed_only_when_asked(store, desk, ranking_mode):
    # The console searches on every key: "delivery la" must already find the late deliveries.
    assert found(search(store, "deliv")) == []
    typed = found(search(store, "deliv", complete_last=True))
    assert set(typed) == {desk["late"], desk["late2"]}
    assert set(found(search(store, "delivery lat", complete_last=True))[:2]) == {desk["late"], desk["late2"]}
    # A whole word still outranks a completion of it.
    hits = search(store, "refund", complete_last=True)
    assert found(hits)[0] == desk["exact"]
    # Too short to guess from: "de" is only the word "de", not a start of "delivery".
    assert found(search(store, "de", complete_last=True)) == found(search(store, "de")) == [desk["fr"]]
