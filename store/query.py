"""Parsing what the operator types into the search box.

`tag:care status:open from:@handle net:demo group:12` are filters; everything else
is free text, searched with typo tolerance. from: takes a handle with or
without @, in any case, whole or its user part (mara for
@mara@mastodon.social or @mara.bsky.social). A `key:value` token with an
unknown key or a value the key does not take (`tag:urgent`) is free text
too, so nothing typed is ever an error. Several values of one key mean
"any of them"; different keys must all hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from store.search_terms import query_terms

TAGS = ("care", "marketing")
STATUSES = ("open", "done")
MAX_TERMS = 8
MAX_QUERY_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Filters:
    tags: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()  # handles without the leading @, as typed
    networks: tuple[str, ...] = ()
    groups: tuple[int, ...] = ()  # near-duplicate groups (flood mode): group:12

    def __bool__(self) -> bool:
        return bool(self.tags or self.statuses or self.authors or self.networks or self.groups)


@dataclass(frozen=True, slots=True)
class Query:
    text: str  # the free-text part, as typed
    terms: tuple[str, ...]  # its folded search terms, distinct, at most MAX_TERMS
    filters: Filters

    @property
    def is_empty(self) -> bool:
        return not self.terms and not self.filters


def _add(values: dict[str, list[str]], key: str, value: str) -> None:
    if value not in values[key]:
        values[key].append(value)


def parse_query(text: str) -> Query:
    """Split `text` into filters and free text; never raises."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = text[:MAX_QUERY_CHARS]
    values: dict[str, list[str]] = {"tag": [], "status": [], "from": [], "net": [], "group": []}
    free: list[str] = []
    for token in text.split():
        key, sep, value = token.partition(":")
        key = key.lower()
        if sep and key in values and value:
            if key == "tag" and value.lower() in TAGS:
                _add(values, key, value.lower())
                continue
            if key == "status" and value.lower() in STATUSES:
                _add(values, key, value.lower())
                continue
            if key == "from" and value.lstrip("@"):
                _add(values, key, value.lstrip("@"))
                continue
            if key == "net":
                _add(values, key, value.lower())
                continue
            if key == "group" and value.isascii() and value.isdigit() and len(value) < 19:
                _add(values, key, value)
                continue
        free.append(token)
    free_text = " ".join(free)
    filters = Filters(tuple(values["tag"]), tuple(values["status"]), tuple(values["from"]),
                      tuple(values["net"]), tuple(int(v) for v in values["group"]))
    return Query(free_text, tuple(query_terms(free_text)[:MAX_TERMS]), filters)
