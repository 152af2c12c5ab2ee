"""The sanitizer: nothing that can drive a terminal or reorder a line gets through."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from store.records import NewMention
from store.sanitize import clean_line, clean_text

# What must never come out: C0 but \n and \t, DEL, C1 (ESC is C0), bidi embeddings, overrides,
# isolates and marks, and the line/paragraph separators that break rows.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029]")

# Text biased towards the dangerous: escape starters, parameters, terminators, bidi, plus anything.
dangerous = st.sampled_from(
    ["\x1b", "[", "]", "P", "\\", "\x07", "\x9b", "\x9c", "\x9d", "\x90", "\x85", "0;", "31m", "\r", "\n",
     "\t", " ", "\ud800", "\udc00", "\u202e", "\u2066", "\u2069", "\u200f", "\ufeff", "\x00", "\x7f",
     "e\u0301", "é", "🎉"]
)
hostile_text = st.lists(st.one_of(dangerous, st.text(max_size=4)), max_size=40).map("".join)


@settings(max_examples=250, deadline=None)
@given(hostile_text)
@example("\x1b\x1b[31m[31m")
@example("\x1b]0;title")  # an OSC that never ends
@example("\x9b\x1b[")
def test_clean_text_output_is_inert_and_idempotent(value):
    cleaned = clean_text(value)
    assert not FORBIDDEN.search(cleaned), repr(cleaned)
    cleaned.encode("utf-8")  # no lone surrogates
    assert clean_text(cleaned) == cleaned


@settings(max_examples=150, deadline=None)
@given(hostile_text)
def test_clean_line_is_one_inert_line(value):
    cleaned = clean_line(value)
    assert not FORBIDDEN.search(cleaned)
    assert "\n" not in cleaned and "\t" not in cleaned
    assert cleaned == cleaned.strip()
    assert clean_line(cleaned) == cleaned


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("\x1b[1;31mbold red\x1b[0m", "bold red"),
        ("before\x1b]0;new title\x07after", "beforeafter"),
        ("before\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\after", "beforelinkafter"),
        ("a\x1bPq#0;2;0;0;0\x1b\\b", "ab"),  # DCS (sixel)
        ("a\x9b31mb", "ab"),
        ("a\x9d0;t\x9cb", "ab"),
        ("a\x1b(Bb\x1bcc", "abc"),  # charset and reset escapes
        ("\u202edesrever\u202c", "desrever"),
        ("\u2066x\u2069 \u2067y\u2069 \u2068z\u2069", "x y z"),
        ("nul\x00 bell\x07 del\x7f", "nul bell del"),
        ("line one\r\nline two\rline three", "line one\nline two\nline three"),
        ("  \ttabs\tkept\n\n", "tabs\tkept"),
        ("e\u0301te\u0301", "été"),  # NFC
        ("Ça va ? 👋🏽 — «oui»", "Ça va ? 👋🏽 — «oui»"),
    ],
)
def test_clean_text_examples(raw, expected):
    assert clean_text(raw) == expected


def test_clean_text_of_non_strings():
    assert clean_text(None) == ""
    assert clean_text(42) == "42"


def test_clean_line_folds_whitespace_and_limits():
    assert clean_line("  two\n lines\tand  tabs ") == "two lines and tabs"
    assert clean_line("x" * 500) == "x" * 300
    assert clean_line("abcdef", 4) == "abcd"


def test_new_mention_cleaned_cleans_every_network_string():
    dirty = NewMention(
        network="demo\x1b[0m", account="@brand\u202e", remote_id="id\x00 1", author_handle="@a\x07",
        author_name="A\nB", text="hi\x1b]0;x\x07 there", created_at=" 2025-01-01 ", url="https://x/\x1b[2J",
        parent_remote_id="", root_remote_id="\x00", lang="fr\x9b",
    )
    clean = dirty.cleaned()
    assert (clean.network, clean.account, clean.remote_id, clean.author_handle, clean.author_name) == (
        "demo", "@brand", "id 1", "@a", "A B")
    assert (clean.text, clean.created_at, clean.url, clean.lang) == ("hi there", "2025-01-01", "https://x/", "fr")
    # Empty optional ids become None rather than "" so they never match each other.
    assert clean.parent_remote_id is None and clean.root_remote_id is None


@settings(max_examples=200, deadline=None)
@given(hostile_text, st.integers(min_value=1, max_value=12))
@example("ab cd", 3)
def test_cleaning_with_a_limit_is_idempotent(value, limit):
    once = clean_line(value, limit)
    assert clean_line(once, limit) == once
    assert once == once.strip()


@pytest.mark.parametrize("value, expected", [("a\ud800b", "ab"), ("\udfff", ""), ("x\udc80", "x"),
                                             ("\U0001f600", "\U0001f600")])
def test_lone_surrogates_are_dropped(value, expected):
    # A JSON "\ud800" escape decodes to one; SQLite cannot store it as text.
    assert clean_text(value) == expected
    assert clean_line(value) == expected
