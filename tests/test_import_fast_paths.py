"""The import's fast paths give exactly what the general code gives: cleaning, JSON, line splitting."""

from __future__ import annotations

import io
import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from store.import_rows import BadLine, _loads, _row, parse_chunk, parse_record
from store.lines import LineReader
from store.sanitize import _clean_text, clean_line, clean_text

# Characters on both sides of every rule: what the fast path keeps (ASCII, Latin-1, emoji), whitespace
# of every kind, and what cleaning removes or changes (controls, escapes, bidi, joiners, invisible and
# combining marks, decomposed letters, scripts that are not mark-free, lone surrogates).
TRICKY = ("a", "Z", " ", "  ", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\xa0", "\xad", "é",
          "e\u0301", "\u0301\u0302\u0303\u0304\u0305", "\u034f", "\x1b[31m", "\x1b]0;t\x07", "\x9b1m", "\x07",
          "\x7f", "\u200b", "\u200c", "\u200d", "\u202e", "\u2066", "\u2028", "\u3000", "\ufeff", "\ufe0f",
          "😂", "👨\u200d👩", "\U0001f3f4\U000e0067\U000e0062\U000e007f", "\U000e0041", "\ud800", "क्\u200dष",
          "ก\u0e48\u0e48\u0e48\u0e48", "\u1160", "Ω", "\u2126", "ﬁ", "x" * 7)
texts = st.one_of(
    st.lists(st.sampled_from(TRICKY), max_size=12).map("".join),
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x2ff), max_size=40),
)


@settings(max_examples=600, deadline=None)
@given(text=texts, multiline=st.booleans(), limit=st.integers(0, 30))
def test_clean_text_fast_path_equals_the_general_rules(text, multiline, limit):
    assert clean_text(text, multiline=multiline, limit=limit) == _clean_text(text, multiline, limit)


@settings(max_examples=600, deadline=None)
@given(value=st.one_of(texts, st.none(), st.integers(), st.floats(allow_nan=False)), limit=st.integers(0, 30))
def test_clean_line_fast_path_equals_the_general_rules(value, limit):
    expected = "" if value is None else _clean_text(str(value), False, limit)
    assert clean_line(value, limit) == expected


def same_json(a: Any, b: Any) -> bool:
    """Equal, NaN included, and of the same types all the way down (1 and 1.0 and True differ)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def json_values(big: bool) -> st.SearchStrategy:
    numbers = st.integers(min_value=-2**63, max_value=2**64 - 1)
    if big:  # orjson reads these as floats: the import must not see that
        numbers = numbers | st.integers(min_value=2**63 - 2, max_value=2**70) | st.integers(max_value=-2**63 + 1)
    return st.recursive(
        st.none() | st.booleans() | numbers | st.floats() | st.text(max_size=12),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
        max_leaves=16)


JSON_ODDITIES = ['{"a": NaN}', '{"a": Infinity, "a": 2}', '{"t": "a\\ud800b"}', '[1e400]', '{"a": 1}\r',
                 ' {"a": "\\u0000"} ', '{"a": 1} x', '\ufeff{}', '{"a": -0}', '{"a": 1.0}', '[' * 3000 + ']' * 3000,
                 '{"n": ' + "9" * 5000 + '}', '"just a string"', '{"a": "\\uDFFF\\uD800"}', '{"k": 1, "k": {}}',
                 'null', '{"text": "t", "remote_id": -9223372036854775809}']


def encoded(text: str, as_bytes: bool) -> str | bytes:
    return text.encode("utf-8", "surrogatepass") if as_bytes else text


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(json_values(False).map(lambda v: json.dumps(v, ensure_ascii=False)),
                      json_values(False).map(json.dumps), st.sampled_from(JSON_ODDITIES), st.text(max_size=30)),
       as_bytes=st.booleans())
def test_fast_json_reads_what_json_reads_and_refuses_what_it_refuses(text, as_bytes):
    try:
        expected = json.loads(text)
    except (ValueError, RecursionError):
        try:
            _loads(encoded(text, as_bytes))
        except BadLine:
            return
        raise AssertionError("read a line json refuses") from None
    if "9" * 19 in text or "-9223372036854775809" in text:
        return  # integers beyond 64 bits: the next test
    assert same_json(_loads(encoded(text, as_bytes)), expected)


record_fields = st.sampled_from(["network", "remote_id", "url", "author_handle", "author_name", "text", "created_at",
                                 "tags", "status", "replies", "received_at", "lang", "account", "other"])


def reference_row(text: str):
    """What the import made of a line before orjson: json.loads, then the same checks."""
    try:
        return _row(json.loads(text))
    except BadLine as exc:
        return str(exc)


@settings(max_examples=300, deadline=None)
@given(record=st.dictionaries(record_fields, json_values(True), max_size=10),
       replies=st.lists(st.dictionaries(st.sampled_from(["text", "state", "sent_at", "remote_id", "operator"]),
                                        json_values(True), max_size=5), max_size=2),
       as_bytes=st.booleans())
def test_records_with_any_numbers_import_as_json_reads_them(record, replies, as_bytes):
    for n, reply in enumerate(replies):
        reply.setdefault("text", f"reply {n}")
    base = {"network": "demo", "remote_id": "r", "author_handle": "@a", "text": "t", "created_at": "2025"}
    text = json.dumps({**base, **record, "replies": replies} if replies else {**base, **record})
    try:
        got = _row(_loads(encoded(text, as_bytes)))
    except BadLine as exc:
        got = str(exc)
    assert got == reference_row(text)


lines_of_records = st.lists(st.one_of(
    st.fixed_dictionaries({"network": st.sampled_from(["demo", "mastodon", " \x1b[0m"]),
                           "remote_id": st.text(max_size=8), "author_handle": texts, "text": texts,
                           "created_at": st.sampled_from(["2025-01-01T00:00:00Z", ""])},
                          optional={"tags": st.sampled_from([["care"], "marketing,care", ["vip"], 3]),
                                    "status": st.sampled_from(["open", "done", "closed"]),
                                    "replies": st.sampled_from([[], [{"text": "ok", "state": "pending"}], "x"]),
                                    "url": texts, "lang": texts, "account": st.one_of(texts, st.integers()),
                                    "author_name": st.one_of(texts, st.lists(st.integers(), max_size=1))}
                          ).map(lambda record: json.dumps(record, ensure_ascii=False)),
    st.sampled_from(["", "   ", "\xa0", "{not json", "[1]", '{"a": NaN}'])), max_size=8)


@settings(max_examples=150, deadline=None)
@given(lines=lines_of_records, as_bytes=st.booleans())
def test_a_parsed_chunk_agrees_line_by_line_with_parse_record(lines, as_bytes):
    """The parsing processes' answer is parse_record's, line by line; blank lines are neither rows nor errors."""
    given_lines = [encoded(line, as_bytes) for line in lines]
    rows, documents, _, errors, last = parse_chunk(7, given_lines)
    expected_rows, expected_errors = [], []
    # Bytes are what a reader hands over: as text they are what LineReader decodes.
    texts = [line.decode("utf-8", "replace") if isinstance(line, bytes) else line for line in given_lines]
    for number, line in enumerate(texts, start=7):
        if not line.strip():
            continue
        try:
            parsed = parse_record(line)
        except BadLine as exc:
            expected_errors.append((number, str(exc)))
            continue
        m = parsed.mention
        expected_rows.append((m.network, m.remote_id, m.account, m.author_handle, m.author_name, m.text, m.url,
                              m.lang, m.created_at, parsed.received_at, m.parent_remote_id, m.root_remote_id,
                              parsed.status, tuple(parsed.tags), tuple(parsed.replies)))
    assert (rows, errors, last) == (expected_rows, expected_errors, 6 + len(lines))
    assert len(documents) == len(rows)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.binary(max_size=30).filter(lambda b: b"\n" not in b), max_size=12),
       bom=st.booleans(), size=st.integers(1, 5), limit=st.integers(1, 40))
def test_chunks_number_and_read_lines_like_iteration(lines, bom, size, limit):
    data = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines)
    expected = list(LineReader(io.BytesIO(data), limit=limit))
    got = [(number, line) for first, chunk in LineReader(io.BytesIO(data), limit=limit).chunks(size, 1 << 20)
           for number, line in enumerate(chunk, start=first)]
    assert all(len(chunk) <= size for _, chunk in LineReader(io.BytesIO(data), limit=limit).chunks(size, 1 << 20))
    assert [number for number, _ in got] == [number for number, _ in expected]
    for (_, raw), (_, text) in zip(got, expected, strict=True):
        assert (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw) == text
