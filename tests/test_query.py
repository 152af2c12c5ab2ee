"""The search box's little language: filters, free text, and nothing that can fail."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from store.query import MAX_TERMS, Filters, parse_query


def test_filters_and_text_are_separated():
    query = parse_query("tag:care status:open from:@Mara_K net:demo delivry late")
    assert query.filters == Filters(tags=("care",), statuses=("open",), authors=("Mara_K",), networks=("demo",))
    assert query.text == "delivry late"
    assert query.terms == ("delivry", "late")


def test_keys_are_case_insensitive_and_handles_lose_the_at():
    query = parse_query("TAG:Marketing Status:DONE FROM:ana")
    assert query.filters == Filters(tags=("marketing",), statuses=("done",), authors=("ana",))
    assert parse_query("from:@@ana").filters.authors == ("ana",)


def test_unknown_keys_and_invalid_values_are_text():
    query = parse_query("tag:urgent status:closed colour:fr lang:french http://x.example from: tag:")
    assert not query.filters
    assert query.text == "tag:urgent status:closed colour:fr lang:french http://x.example from: tag:"
    assert "urgent" in query.terms and "colour" in query.terms and "fr" in query.terms


def test_repeated_values_mean_any_of_them_and_are_not_duplicated():
    query = parse_query("status:open status:done status:open net:demo net:Mastodon")
    assert query.filters.statuses == ("open", "done")
    assert query.filters.networks == ("demo", "mastodon")


def test_terms_are_folded_and_distinct():
    query = parse_query("Remboursé REMBOURSE rembourse Straße café_bar")
    assert query.terms == ("rembourse", "strasse", "cafe", "bar")


def test_filters_only_and_empty():
    assert parse_query("tag:care").terms == ()
    assert not parse_query("tag:care").is_empty
    assert parse_query("   ").is_empty
    assert parse_query("!!! ... ???").is_empty


def test_fts_syntax_is_just_text():
    query = parse_query('"refund" AND (late OR NEAR(x y)) -spam')
    assert not query.filters
    assert query.terms == ("refund", "and", "late", "or", "near", "x", "y", "spam")
    assert parse_query("col:* ^start").terms == ("col", "start")


def test_term_count_is_bounded():
    assert len(parse_query(" ".join(f"word{i}" for i in range(50))).terms) == MAX_TERMS


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_query_never_raises(text):
    query = parse_query(text)
    assert len(query.terms) <= MAX_TERMS
    assert all(term and " " not in term for term in query.terms)
