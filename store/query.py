"""Parsing what the operator types into the search box.

`tag:care status:open from:@handle net:demo group:12 lang:fr sentiment:neg needs:reply` are
filters; everything else is free text, searched with typo tolerance. from: takes a handle with or
without @, in any case, whole or its user part (mara for
@mara@mastodon.social or @mara.bsky.social). A `key:value` token with an
unknown key or a value the key does not take (`tag:urgent`) is free text
too, so nothing typed is ever an error. Several values of one key mean
"any of them"; different keys must all hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from store.search_terms import query_terms
from store.signals import SENTIMENT_OF

TAGS = ("care", "marketing")
STATUSES = ("open", "done")
NEEDS = {"reply": True, "none": False, "no-reply": False}
_LANG = re.compile(r"[a-z]{2}")
MAX_TERMS = 8
MAX_QUERY_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Filters:
    tags: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()  # handles without the leading @, as typed
    networks: tuple[str, ...] = ()
    groups: tuple[int, ...] = ()  # near-duplicate groups (flood mode): group:12
    langs: tuple[str, ...] = ()  # detected (or, before signals, the network's) language
    sentiments: tuple[int, ...] = ()  # -1, 0, 1
    needs_reply: bool | None = None  # needs:reply / needs:none

    def __bool__(self) -> bool:
        return bool(self.tags or self.statuses or self.authors or self.networks or self.groups or self.langs
                    or self.sentiments or self.needs_reply is not None)


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
    values: dict[str, list[str]] = {"tag": [], "status": [], "from": [], "net": [], "group": [], "lang": [],
                                    "sentiment": [], "needs": []}
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
            if key == "lang" and _LANG.fullmatch(value.lower()):
                _add(values, key, value.lower())
                continue
            if key == "sentiment" and value.lower() in SENTIMENT_OF:
                _add(values, key, value.lower())
                continue
            if key == "needs" and value.lower() in NEEDS:
                _add(values, key, value.lower())
                continue
        free.append(token)
    free_text = " ".join(free)
    needs = {NEEDS[value] for value in values["needs"]}
    filters = Filters(tuple(values["tag"]), tuple(values["status"]), tuple(values["from"]),
                      tuple(values["net"]), tuple(int(v) for v in values["group"]), tuple(values["lang"]),
                      tuple(dict.fromkeys(SENTIMENT_OF[value] for value in values["sentiment"])),
                      needs.pop() if len(needs) == 1 else None)
    return Query(free_text, tuple(query_terms(free_text)[:MAX_TERMS]), filters)
