"""Facets: UTF-8 byte offsets out, plain text in."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.bluesky.facets import (
    LINK,
    MENTION,
    build_facets,
    find_links,
    find_mentions,
    handles_in,
    is_handle,
    render_text,
)

ALICE = "did:plc:alice0000000000000000000"
BOB = "did:plc:bob000000000000000000000"


def slice_of(text: str, facet: dict) -> str:
    index = facet["index"]
    return text.encode("utf-8")[index["byteStart"]:index["byteEnd"]].decode("utf-8")


def test_offsets_are_utf8_bytes_after_emoji_and_accents():
    text = "Héllo 👋🏽 café ✨ @alice.bsky.social, see https://example.com/ça?x=1."
    facets = build_facets(text, {"alice.bsky.social": ALICE})
    assert [slice_of(text, f) for f in facets] == ["@alice.bsky.social", "https://example.com/ça?x=1"]
    mention, link = facets
    prefix = "Héllo 👋🏽 café ✨ "
    assert mention["index"]["byteStart"] == len(prefix.encode()) != len(prefix)
    assert mention["features"] == [{"$type": MENTION, "did": ALICE}]
    assert link["features"] == [{"$type": LINK, "uri": "https://example.com/ça?x=1"}]


def test_unresolved_handle_gets_no_facet_but_links_still_do():
    text = "@ghost.example.org see https://a.example"
    facets = build_facets(text, {"ghost.example.org": None})
    assert [f["features"][0]["$type"] for f in facets] == [LINK]


def test_mention_boundaries():
    assert [s.value for s in find_mentions("(@Alice.bsky.social) and @bob.test.")] == \
        ["alice.bsky.social", "bob.test"]
    # an e-mail address, a bare word, an underscore and a reserved TLD are not mentions
    assert find_mentions("mail me@alice.bsky.social or @alice or @a.b_c or @x.invalid or @1.2") == []
    assert handles_in("@a.com @A.com @b.com") == ["a.com", "b.com"]


def test_handle_syntax():
    assert is_handle("alice.bsky.social")
    assert is_handle("xn--ls8h.test")
    assert not is_handle("alice")
    assert not is_handle("-a.com")
    assert not is_handle("a.1com")
    assert not is_handle("a." + "b" * 64)
    assert not is_handle("handle.invalid")


def test_link_trailing_punctuation_and_parentheses():
    text = "docs (https://en.wikipedia.org/wiki/Foo_(bar)) and https://x.example/a), ok? http://y.example!"
    assert [s.value for s in find_links(text)] == [
        "https://en.wikipedia.org/wiki/Foo_(bar)", "https://x.example/a", "http://y.example"]
    assert find_links("https:// nothing and mailto:x@y.z and ftp://a.b") == []


def test_mention_inside_a_link_is_part_of_the_link():
    text = "https://x.example/(@alice.bsky.social)"
    facets = build_facets(text, {"alice.bsky.social": ALICE})
    assert [f["features"][0]["$type"] for f in facets] == [LINK]


def test_render_text_shows_the_real_link_target():
    full = "https://example.com/a/very/long/path?q=1"
    text = "read example.com/a/very/lo... now or click here"
    data = text.encode()
    short = data.index(b"example.com")
    here = data.index(b"click here")
    facets = [
        {"index": {"byteStart": short, "byteEnd": short + len("example.com/a/very/lo...")},
         "features": [{"$type": LINK, "uri": full}]},
        {"index": {"byteStart": here, "byteEnd": here + len("click here")},
         "features": [{"$type": LINK, "uri": "https://evil.example/"}]},
    ]
    assert render_text(text, facets) == f"read {full} now or click here (https://evil.example/)"


def test_render_text_ignores_broken_facets():
    text = "é @bob.test"
    broken = [
        {"index": {"byteStart": 1, "byteEnd": 2}, "features": [{"$type": LINK, "uri": "https://x"}]},  # mid-char
        {"index": {"byteStart": 0, "byteEnd": 99}, "features": [{"$type": LINK, "uri": "https://x"}]},
        {"index": {"byteStart": "0", "byteEnd": 2}, "features": [{"$type": LINK, "uri": "https://x"}]},
        {"index": {"byteStart": True, "byteEnd": 2}, "features": [{"$type": LINK, "uri": "https://x"}]},
        {"index": None}, None, "x",
        {"index": {"byteStart": 3, "byteEnd": 12}, "features": [{"$type": MENTION, "did": BOB}]},
    ]
    assert render_text(text, broken) == text
    assert render_text(text, "nonsense") == text
    assert render_text(None, []) == ""


# --- properties ---------------------------------------------------------------------

HANDLES = st.sampled_from(["alice.bsky.social", "bob.test", "brand.example.com", "x1.co"])
URLS = st.sampled_from(["https://example.com", "https://example.com/ça?q=é#frag", "http://a.b/c_(d)",
                        "https://xn--ls8h.example/💩"])
FILLER = st.text(max_size=12)
SEPARATOR = st.sampled_from([" ", "\n", "(", " (", "\t"])


@st.composite
def texts_with_spans(draw):
    pieces, expected = [draw(FILLER)], []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            value = draw(HANDLES)
            token = "@" + value
        else:
            value = token = draw(URLS)
        pieces += [draw(SEPARATOR), token, draw(st.sampled_from([" ", ". ", ", ", "\n", ""])), draw(FILLER)]
        expected.append(token)
    return "".join(pieces)


@settings(max_examples=300, deadline=None)
@given(texts_with_spans())
def test_every_facet_slice_decodes_to_its_mention_or_link(text):
    dids = {"alice.bsky.social": ALICE, "bob.test": BOB, "brand.example.com": ALICE, "x1.co": BOB}
    facets = build_facets(text, dids)
    previous_end = 0
    for facet in facets:
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        assert previous_end <= start < end <= len(text.encode("utf-8"))
        previous_end = end
        piece = slice_of(text, facet)
        feature = facet["features"][0]
        if feature["$type"] == MENTION:
            assert piece.startswith("@") and dids[piece[1:].lower()] == feature["did"]
        else:
            assert piece == feature["uri"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.lists(st.fixed_dictionaries({
    "index": st.fixed_dictionaries({"byteStart": st.integers(-5, 80), "byteEnd": st.integers(-5, 80)}),
    "features": st.lists(st.fixed_dictionaries({"$type": st.just(LINK), "uri": st.text(max_size=20)}),
                         max_size=2)}), max_size=5))
def test_render_text_never_fails_and_keeps_text_outside_links(text, facets):
    rendered = render_text(text, facets)
    assert isinstance(rendered, str)
    if not facets:
        assert rendered == text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(FILLER, st.one_of(HANDLES.map(lambda h: "@" + h), URLS)), max_size=5), FILLER)
def test_every_spaced_mention_and_link_gets_its_facet(parts, tail):
    text = "".join(f"{filler} {token} " for filler, token in parts) + tail
    facets = build_facets(text, {"alice.bsky.social": ALICE, "bob.test": BOB,
                                 "brand.example.com": ALICE, "x1.co": BOB})
    found = iter([slice_of(text, facet) for facet in facets])
    # Filler may hold mentions of its own; ours must all be there, in order.
    assert all(any(piece == token for piece in found) for _, token in parts)
