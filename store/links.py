"""The web links of a mention: its own address, then the http(s) links in its text.

Only http and https are links: a `javascript:`, `file:` or custom-scheme
address in a post is text, never something a key opens or a terminal
makes clickable. Texts are sanitized where they enter the store, and the
pattern refuses control characters anyway, so a link can never carry an
escape sequence into the terminal's hyperlink.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from store.db import Store

# Up to the first space, quote, angle bracket or control character.
_URL = re.compile(r"https?://[^\s<>\"'`\x00-\x1f\x7f-\x9f\u2028\u2029]+", re.IGNORECASE)
_TRAILING = ".,;:!?…'\"»”’"
_CLOSERS = {")": "(", "]": "[", "}": "{"}
MAX_LINKS = 50


@dataclass(frozen=True, slots=True)
class LinkSpan:
    start: int
    end: int  # text[start:end] == url
    url: str


def link_spans(text: str) -> list[LinkSpan]:
    """Every http(s) link in `text`, in order.

    Sentence punctuation after a link is not part of it, nor a closing
    bracket it did not open ("(see https://x.example/a)").
    """
    spans: list[LinkSpan] = []
    for match in _URL.finditer(text):
        url = match.group()
        while url:
            last = url[-1]
            if last in _TRAILING or (last in _CLOSERS and url.count(_CLOSERS[last]) < url.count(last)):
                url = url[:-1]
            else:
                break
        if len(url) > len("https://") and "://" in url and url.split("://", 1)[1].strip("/"):
            spans.append(LinkSpan(match.start(), match.start() + len(url), url))
    return spans


def is_web_link(url: str | None) -> bool:
    """Whether `url` is one whole http(s) link (a mention's stored address may be anything)."""
    return bool(url) and any(span == LinkSpan(0, len(url or ""), url or "") for span in link_spans(url or ""))


def links_of(url: str | None, text: str) -> list[str]:
    """The mention's own address first (when it is a web link), then its text's links, each once."""
    links: list[str] = [url] if url and is_web_link(url) else []
    for span in link_spans(text):
        if span.url not in links:
            links.append(span.url)
    return links[:MAX_LINKS]


def mention_links(store: Store, mention_id: int) -> list[str] | None:
    """The links of mention `mention_id` (None: no such mention)."""
    row = store.conn.execute("SELECT url, text FROM mentions WHERE id = ?", (mention_id,)).fetchone()
    return None if row is None else links_of(row[0], row[1])
