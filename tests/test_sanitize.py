"""The sanitizer: nothing that can drive a terminal or reorder a line gets through."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from store.records import NewMention
from store.sanitize import MAX_MARKS, clean_line, clean_text, terminal_safe

# What must never come out: C0 but \n and \t, DEL, C1 (ESC is C0), bidi embeddings, overrides,
# isolates and marks, and the line/paragraph separators that break rows.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029]")
# Invisible characters that spoof names: ZWSP, WJ and friends, MVS, BOM, soft hyphen, CGJ, Hangul fillers.
INVISIBLE = re.compile("[\u200b\u2060-\u2064\u180e\ufeff\u00ad\u034f\u115f\u1160\u3164\uffa0]")
EMOJI = re.compile("[\u2194-\u27bf\U0001f000-\U0001faff]")
JOINING_SCRIPT = re.compile("[\u0590-\u0dff]")
TAG = re.compile("[\U000e0000-\U000e007f]")
FLAG = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")

# Text biased towards the dangerous: escape starters, parameters, terminators, bidi, invisible
# characters, joiners next to emoji and Persian/Devanagari letters, stacks of marks, plus anything.
dangerous = st.sampled_from(
    ["\x1b", "[", "]", "P", "\\", "\x07", "\x9b", "\x9c", "\x9d", "\x90", "\x85", "0;", "31m", "\r", "\n",
     "\t", " ", "\ud800", "\udc00", "\u202e", "\u2066", "\u2069", "\u200f", "\ufeff", "\x00", "\x7f",
     "e\u0301", "é", "🎉", "\u200b", "\u200c", "\u200d", "\u2060", "\u180e", "\u00ad", "\u3164", "\ufe0f",
     "👨", "👩", "🏽", "❤", "🏴", "\U000e0067", "\U000e007f", "\U000e0041", "ی", "خ", "क", "\u094d", "ष",
     "\u0301", "\u0316", "\u0323", "\u064e", "\u20e3", "\u0958", "\u09c7", "\u09be", "\u1100", "\u1161"]
)
hostile_text = st.lists(st.one_of(dangerous, st.text(max_size=4)), max_size=40).map("".join)


def longest_mark_run(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if unicodedata.category(char) in ("Mn", "Me") else 0
        longest = max(longest, run)
    return longest


def joiners_in_place(text: str) -> bool:
    """Every ZWJ/ZWNJ left joins two emoji (ZWJ only) or two letters of a joining script."""
    for at, char in enumerate(text):
        if char not in "\u200c\u200d":
            continue
        before, after = text[at - 1:at], text[at + 1:at + 2]
        if before == "\ufe0f" and at >= 2:
            before = text[at - 2]
        emoji = char == "\u200d" and EMOJI.match(before) and EMOJI.match(after)
        if not (emoji or (JOINING_SCRIPT.match(before) and JOINING_SCRIPT.match(after))):
            return False
    return True


def assert_inert(cleaned: str) -> None:
    assert not FORBIDDEN.search(cleaned), repr(cleaned)
    assert not INVISIBLE.search(cleaned), repr(cleaned)
    assert joiners_in_place(cleaned), repr(cleaned)
    assert longest_mark_run(cleaned) <= MAX_MARKS, repr(cleaned)
    assert not TAG.search(FLAG.sub("", cleaned)), repr(cleaned)  # tag characters only inside a flag
    assert unicodedata.is_normalized("NFC", cleaned)
    cleaned.encode("utf-8")  # no lone surrogates


@settings(max_examples=250, deadline=None)
@given(hostile_text)
@example("\x1b\x1b[31m[31m")
@example("\x1b]0;title")  # an OSC that never ends
@example("\x9b\x1b[")
@example("a\u0301\u0316\u0323\u200d\u0301\u0316\u0323")  # dropping the joiner joins two runs
@example("ی\u064e\u0301\u0316\u0323\u200cخ")  # capping changes the joiner's neighbour
def test_clean_text_output_is_inert_and_idempotent(value):
    cleaned = clean_text(value)
    assert_inert(cleaned)
    assert clean_text(cleaned) == cleaned


@settings(max_examples=150, deadline=None)
@given(hostile_text)
def test_clean_line_is_one_inert_line(value):
    cleaned = clean_line(value)
    assert_inert(cleaned)
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


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("ma\u200bra_k", "mara_k"),  # ZWSP spoofing another author's name
        ("ma\u200dra", "mara"), ("ma\u200cra", "mara"),  # joiners between Latin letters
        ("a\u2060b\u180ec\ufeffd\u200ee\u200ff\u00adg", "abcdefg"),  # WJ, MVS, BOM, LRM, RLM, soft hyphen
        ("\u3164", ""), ("\u115f\u1160", ""),  # Hangul fillers: a name that looks blank
        ("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"),  # a family stays one emoji
        ("🏳\ufe0f\u200d🌈 🧑🏽\u200d💻 🏃\u200d♀\ufe0f", "🏳\ufe0f\u200d🌈 🧑🏽\u200d💻 🏃\u200d♀\ufe0f"),
        ("👨\u200d x", "👨 x"), ("\u200d👩", "👩"),  # a joiner with nothing to join
        ("می\u200cخواهم", "می\u200cخواهم"),  # Persian spelling needs its ZWNJ
        ("क्\u200dष", "क्\u200dष"),  # Devanagari half form
        ("1\ufe0f\u20e3", "1\ufe0f\u20e3"),  # keycap: two marks
        ("🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
         "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"),
        ("hi\U000e0069\U000e0067\U000e006e\U000e006f\U000e0072\U000e0065 there", "hi there"),  # hidden tag text
        ("Z" + "\u0336" * 40 + "algo", "Z\u0336\u0336\u0336algo"),
        ("Vi\u1ec7t \u0e01\u0e34\u0e48", "Vi\u1ec7t \u0e01\u0e34\u0e48"),  # Vietnamese and Thai marks untouched
    ],
)
def test_invisible_characters_and_mark_stacks(raw, expected):
    assert clean_line(raw) == expected


def test_forty_combining_marks_keep_the_row_width_bounded():
    from rich.cells import cell_len

    cleaned = clean_line("@mara" + "\u0301" * 40)
    assert longest_mark_run(cleaned) == MAX_MARKS
    assert cell_len(cleaned) == len("@mara")


@settings(max_examples=250, deadline=None)
@given(hostile_text)
@example("\x1b]52;c;ZWNobyBwd25lZA==\x07")
@example("a\rb")
def test_terminal_safe_leaves_nothing_a_terminal_acts_on(value):
    safe = terminal_safe(value)
    assert not FORBIDDEN.search(safe.replace("\r\n", "\n")), repr(safe)
    safe.encode("utf-8")
    assert terminal_safe(safe) == safe


@pytest.mark.parametrize("raw, expected", [
    ("plain text, tabs\tand\nlines", "plain text, tabs\tand\nlines"),
    ("a,b\r\n", "a,b\r\n"),  # a CSV row end
    ("eve\x1b]52;c;ZWNobw==\x07 here", "eve here"),
    ("\x1b]0;pwned\x07title", "title"),
    ("pay\rREFUND", "payREFUND"),
    ("x\u202ey\ud800", "xy"),
    ("ma\u200bra", "ma\u200bra"),  # not a terminal matter: the border removes it
])
def test_terminal_safe_examples(raw, expected):
    assert terminal_safe(raw) == expected


def test_author_names_that_spoof_another_are_cleaned_at_ingest():
    spoof = NewMention(network="demo", account="@brand", remote_id="1", author_handle="@ma\u200bra_k\u2060",
                       author_name="Mara" + "\u0301" * 40 + "\u200d", text="hi\u200b there",
                       created_at="2025-01-01")
    clean = spoof.cleaned()
    assert (clean.author_handle, clean.text) == ("@mara_k", "hi there")
    assert clean.author_name == "Mar\u00e1\u0301\u0301\u0301" and longest_mark_run(clean.author_name) == MAX_MARKS
