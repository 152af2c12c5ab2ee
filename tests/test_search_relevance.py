"""Spelling-corrector ranking: each rule on a small hand-built history, and properties of term expansion."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.ingest import insert_mentions
from store.query import parse_query
from store.search import search
from store.search_candidates import FLOOR, PASTED_FROM, expand
from store.search_terms import query_terms, text_terms
from store.search_vocabulary import vocabulary_for
from tests.conftest import new_mention

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

HISTORY = (
    [f"my delivery number {n} was late" for n in range(250)]
    + ["ok the dilivery guy never rang"]  # a rare misspelling, literally
    + ["ok the delivery guy never rang"]
    + [f"shipping costs too much {n}" for n in range(40)]
    + [f"shopping for a new charger {n}" for n in range(60)]
    + ["the firmware update bricked it", "new firmware please"]
    + ["the charger died", "cahrgre is a band name"]
    + ["I want a refund now", "refund please", "now or never"]
    + [f"forgot my password again {n}" for n in range(5)]
    + ["a free pass for the word game"]
    + ["un café crème s'il vous plaît", "cafe noir for me", "cafeteria closed"]
)


@pytest.fixture
def history(store):
    """Ids of the hand-built history by text, inserted oldest first."""
    with store.write():
        ids = insert_mentions(store, [new_mention(text=text, author_handle=f"@u{n}")
                                      for n, text in enumerate(HISTORY)])
    return dict(zip(HISTORY, ids, strict=True))


def texts(store, hits) -> list[str]:
    by_id = dict(store.conn.execute("SELECT id, text FROM mentions"))
    return [by_id[hit.mention_id] for hit in hits]


def test_frequent_correction_beats_rare_literal_match(store, history):
    hits = search(store, "dilivery", limit=200)
    found = texts(store, hits)
    # 251 mentions of the word meant (one typo away) outweigh 1 of the word typed.
    assert all("delivery" in text for text in found[:200])
    hits = search(store, "dilivery", limit=300)
    found = texts(store, hits)
    # The literal misspelling is still found, after every mention of the word meant.
    assert found[251] == "ok the dilivery guy never rang"
    assert hits[0].score == 100 and hits[251].score < 100


def test_exact_word_that_is_frequent_itself_stays_first(store, history):
    # 60 mentions of "shopping" do not outweigh 40 of the word typed.
    found = texts(store, search(store, "shipping", limit=100))
    assert all(text.startswith("shipping") for text in found[:40])
    assert all(text.startswith("shopping") for text in found[40:100])


def test_two_typos_only_for_long_words(store, history):
    # "firmwear": 8 letters, two edits from firmware.
    assert set(texts(store, search(store, "firmwear"))) == {"the firmware update bricked it", "new firmware please"}
    # "cahrgre": 7 letters, two swaps away from "charger": only itself.
    assert texts(store, search(store, "cahrgre")) == ["cahrgre is a band name"]
    assert texts(store, search(store, "chargre"))[0] == "the charger died"  # one swap


def test_run_together_words_find_both(store, history):
    found = texts(store, search(store, "refundnow"))
    assert found[0] == "I want a refund now"
    assert "refund please" not in found and "now or never" not in found
    text = "I want a refund now"
    [hit] = [hit for hit in search(store, "refundnow") if hit.mention_id == history[text]]
    assert [text[a:b] for a, b in hit.spans] == ["refund", "now"]


def test_split_word_finds_the_joined_word(store, history):
    found = texts(store, search(store, "pass word", limit=10))
    assert all("password" in text for text in found[:5])
    # Both halves written apart still count, after the joined word here (rarer than it).
    assert "a free pass for the word game" in found


@pytest.mark.parametrize("query, expected", [
    ("cafe", {"un café crème s'il vous plaît", "cafe noir for me"}),
    ("café", {"un café crème s'il vous plaît", "cafe noir for me"}),
    ("CAFÉ", {"un café crème s'il vous plaît", "cafe noir for me"}),
    ("creme", {"un café crème s'il vous plaît"}),
])
def test_accents_fold_both_ways(store, history, query, expected):
    assert set(texts(store, search(store, query))) == expected


def test_accented_match_is_highlighted(store, history):
    text = "un café crème s'il vous plaît"
    [hit] = [hit for hit in search(store, "cafe creme") if hit.mention_id == history[text]]
    assert [text[a:b] for a, b in hit.spans] == ["café", "crème"]


def test_completion_prefers_the_frequent_word(store, history):
    with store.write():
        insert_mentions(store, [new_mention(text="delivry slow", author_handle="@typo")])
    found = texts(store, search(store, "deliv", complete_last=True))
    assert all("delivery" in text for text in found[:20])


def test_a_completion_also_a_typo_away_costs_as_a_completion(store):
    # "subscripti" is two typos from subscription but also its start: typed so far, it means the
    # frequent word, not the rare misspelling that merely starts the same.
    with store.write():
        insert_mentions(store, [new_mention(text=f"my subscription {n} renewed", author_handle=f"@s{n}")
                                for n in range(30)]
                        + [new_mention(text="subscriptiion gone", author_handle=f"@t{n}") for n in range(3)])
    found = texts(store, search(store, "subscripti", complete_last=True))
    assert all("subscription" in text for text in found[:20])


# -- term expansion properties ------------------------------------------------

WORDS = st.text(alphabet="abcdeéèfgilmnorstuvwyçñ", min_size=1, max_size=14)


def _strip(text: str) -> str:
    return unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFD", text)
                                                 if not unicodedata.combining(c)))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60))
def test_accent_folding_is_symmetric(text):
    # The plain spelling of a text is the same terms as the accented one, for queries and texts alike.
    assert query_terms(_strip(text)) == query_terms(_strip(_strip(text)))
    latin = "".join(c for c in text if c.isascii() or "LATIN" in unicodedata.name(c, ""))
    assert query_terms(latin) == query_terms(_strip(latin))
    assert text_terms(latin) == text_terms(_strip(latin))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(WORDS, min_size=1, max_size=10), st.booleans())
def test_expansion_keeps_the_typed_word_and_scores_in_range(store, history, words, typing):
    terms = list(parse_query(" ".join(words)).terms)
    if not terms:
        return
    vocab = vocabulary_for(store)
    with vocab.lock:
        options = expand(store.conn, vocab, terms, typing)
    assert len(options) == len(terms)
    for term, term_options in zip(terms, options, strict=True):
        # The word typed is always an option, except in pasted text (PASTED_FROM words or more), where a
        # word no mention holds gives way to its likeliest reading.
        assert term in term_options or len(terms) >= PASTED_FROM
        assert max(term_options.values()) == 100
        assert all(FLOOR <= value <= 100 for value in term_options.values())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=120)
       | st.lists(st.sampled_from(["dilivery", "refundnow", "pass", "word", "café", "tag:care", '"', "(", "-",
                                   "firmwear", "deliv", "NEAR", "*", "from:@u1", "status:open"]),
                  max_size=16).map(" ".join), st.booleans())
def test_search_never_raises_and_hits_are_sane(store, history, text, typing):
    hits = search(store, text, limit=20, complete_last=typing)
    assert len({hit.mention_id for hit in hits}) == len(hits)
    assert all(0 <= hit.score <= 100 for hit in hits)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_pasted_sentence_is_taken_as_written(store, history):
    # Six words or more: pasted from a mention, its misspelling included. "dilivery"
    # alone reads as delivery (above); inside pasted text it counts as written too.
    pasted = search(store, "ok the dilivery guy never rang")
    assert set(texts(store, pasted[:2])) == {"ok the dilivery guy never rang", "ok the delivery guy never rang"}
    assert pasted[0].score == pasted[1].score == 100
    typed = search(store, "the dilivery guy never rang")
    assert texts(store, typed[:2]) == ["ok the delivery guy never rang", "ok the dilivery guy never rang"]
    assert typed[0].score > typed[1].score
