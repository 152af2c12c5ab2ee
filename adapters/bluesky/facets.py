"""Bluesky rich text: facets out (mentions, links) and plain text in.

Facet offsets are UTF-8 *byte* offsets into the post text (start inclusive,
end exclusive), so every index here is computed on `text.encode()`; any
emoji or accent before a mention shifts them away from `str` indices.

Outgoing: `find_mentions` / `find_links` locate `@handle` and `http(s)://`
spans the way the Bluesky app does (a mention or link starts the text or
follows whitespace or "("); `build_facets` turns them into facets once the
caller has resolved handles to DIDs. Only explicit http(s) URLs become
links: bare domains need a TLD list to tell "example.com" from "file.txt".

Incoming: `render_text` turns a post's text and facets into plain text in
which a link's real target is visible even when the display text hides or
shortens it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

MENTION = "app.bsky.richtext.facet#mention"
LINK = "app.bsky.richtext.facet#link"

# A candidate @token; validation happens afterwards so that "@a.b_c" is
# rejected rather than silently shortened to "@a.b".
_MENTION_TOKEN = re.compile(r"(?:^|(?<=[\s(]))@([A-Za-z0-9][A-Za-z0-9.-]*)")
_LINK_TOKEN = re.compile(r"(?:^|(?<=[\s(]))(https?://\S+)", re.IGNORECASE)
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
# The handle spec reserves these; they never resolve on the network.
_RESERVED_TLDS = frozenset({"alt", "arpa", "example", "internal", "invalid", "local", "localhost", "onion"})
_TRAILING_PUNCTUATION = ".,;:!?\"'"


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of text as UTF-8 byte offsets, with what it refers to."""

    byte_start: int
    byte_end: int
    value: str  # the handle (lower case, no "@") or the full URL


def is_handle(value: str) -> bool:
    """Handle syntax (atproto spec): DNS labels, at least two, TLD not numeric."""
    if not value or len(value) > 253:
        return False
    labels = value.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return False
    tld = labels[-1].lower()
    return not tld[0].isdigit() and tld not in _RESERVED_TLDS


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def find_mentions(text: str) -> list[Span]:
    """`@handle` spans; the span includes the "@"."""
    spans = []
    for match in _MENTION_TOKEN.finditer(text):
        handle = match.group(1).rstrip(".")
        end = match.start(1) + len(handle)
        # The token stopped on a letter it cannot contain ("_", "é"):
        # this is not a handle followed by punctuation.
        if end < len(text) and (text[end].isalnum() or text[end] == "_"):
            continue
        if not is_handle(handle):
            continue
        spans.append(Span(_byte_offset(text, match.start()), _byte_offset(text, end), handle.lower()))
    return spans


def _trim_link(url: str) -> str:
    """Drop punctuation that ends the sentence rather than the URL."""
    while url:
        if url[-1] in _TRAILING_PUNCTUATION:
            url = url[:-1]
        elif url[-1] == ")" and url.count(")") > url.count("("):
            url = url[:-1]
        else:
            break
    return url


def _has_host(url: str) -> bool:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return bool(host)


def find_links(text: str) -> list[Span]:
    """Explicit http(s) URL spans; the value is the URL exactly as written."""
    spans = []
    for match in _LINK_TOKEN.finditer(text):
        url = _trim_link(match.group(1))
        if not _has_host(url):
            continue
        start = match.start(1)
        spans.append(Span(_byte_offset(text, start), _byte_offset(text, start + len(url)), url))
    return spans


def build_facets(text: str, dids: Mapping[str, str | None]) -> list[dict[str, Any]]:
    """Facets for `text`: links, and mentions whose handle resolved in `dids`.

    `dids` maps lower-case handles to DIDs (None or absent: unresolved, and
    that mention gets no facet: a facet must carry a DID). A mention inside
    a link is part of the link.
    """
    links = find_links(text)
    facets = [_facet(span, {"$type": LINK, "uri": span.value}) for span in links]
    for span in find_mentions(text):
        did = dids.get(span.value)
        if not did or any(_overlaps(span, link) for link in links):
            continue
        facets.append(_facet(span, {"$type": MENTION, "did": did}))
    facets.sort(key=lambda facet: facet["index"]["byteStart"])
    return facets


def _facet(span: Span, feature: dict[str, str]) -> dict[str, Any]:
    return {"index": {"byteStart": span.byte_start, "byteEnd": span.byte_end}, "features": [feature]}


def _overlaps(a: Span, b: Span) -> bool:
    return a.byte_start < b.byte_end and b.byte_start < a.byte_end


# --- incoming -----------------------------------------------------------------

def _link_spans(facets: object, size: int) -> list[tuple[int, int, str]]:
    """Well-formed, non-overlapping link facets; anything odd is ignored."""
    if not isinstance(facets, list):
        return []
    spans = []
    for facet in facets:
        if not isinstance(facet, dict) or not isinstance(facet.get("index"), dict):
            continue
        start, end = facet["index"].get("byteStart"), facet["index"].get("byteEnd")
        if type(start) is not int or type(end) is not int or not 0 <= start < end <= size:
            continue
        features = facet.get("features")
        uris = [feature.get("uri") for feature in features if isinstance(feature, dict)
                and feature.get("$type") == LINK] if isinstance(features, list) else []
        uri = next((u for u in uris if isinstance(u, str) and u.strip()), None)
        if uri is not None:
            spans.append((start, end, uri.strip()))
    spans.sort()
    kept: list[tuple[int, int, str]] = []
    for span in spans:
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


def _show_link(display: str, uri: str) -> str:
    if display == uri:
        return display
    shown = display.strip()
    for ellipsis in ("...", "…"):
        if shown.endswith(ellipsis):
            shown = shown[: -len(ellipsis)]
    bare = uri.split("://", 1)[-1]
    if shown and (uri.startswith(shown) or bare.startswith(shown)):
        return uri  # the app shortened the URL for display: show all of it
    # The display text says something else: never hide where a link goes.
    return f"{display} ({uri})"


def render_text(text: object, facets: object = None) -> str:
    """A post's text as plain text, with each link's full target visible.

    Malformed facets (bad types, out of range, splitting a character,
    overlapping) are ignored, never fatal: the text itself always survives.
    """
    if not isinstance(text, str):
        return ""
    # JSON may carry lone surrogates; keep them through the round trip.
    data = text.encode("utf-8", "surrogatepass")
    pieces: list[str] = []
    position = 0
    for start, end, uri in _link_spans(facets, len(data)):
        try:
            before = data[position:start].decode("utf-8", "surrogatepass")
            display = data[start:end].decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            continue  # offsets inside a character: not a usable facet
        pieces.append(before)
        pieces.append(_show_link(display, uri))
        position = end
    try:
        pieces.append(data[position:].decode("utf-8", "surrogatepass"))
    except UnicodeDecodeError:  # pragma: no cover - position is always a boundary here
        return text
    return "".join(pieces)


def handles_in(text: str) -> Iterable[str]:
    """The distinct handles mentioned in `text`, in order."""
    return list(dict.fromkeys(span.value for span in find_mentions(text)))
