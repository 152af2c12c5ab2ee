"""Follow-ups in threads the desk answered: which threads to re-read, and what in them is new.

A reply to the brand's reply that does not repeat `@brand` creates no
notification on GoToSocial, so the customer's follow-up would never reach
the desk. The adapter therefore re-reads, every `interval` seconds, the
context of its newest replies of the last `HOURS` hours (at most `MAX`)
and ingests others' statuses that answer one of ours. Pure bookkeeping
here; the adapter does the HTTP.

Cost per round: 1 request for our recent statuses + 1 per watched reply,
so 11 every 2 minutes, about 28 of the 300 requests per 5 minutes a token
may make.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cachetools import LRUCache

from adapters.mastodon.parse import Identity, ancestor_chain, status_time, text_id, web_url
from adapters.wire import as_dict

HOURS = 48
MAX = 10
INTERVAL = 120.0


class ThreadWatch:
    def __init__(self, interval: float = INTERVAL):
        self.interval = interval  # <= 0: off
        self.last: datetime | None = None
        self._yielded: LRUCache[str, None] = LRUCache(20_000)  # follow-up uris handed out already

    def due(self, now: datetime) -> bool:
        if self.interval <= 0:
            return False
        return self.last is None or (now - self.last).total_seconds() >= self.interval

    def to_watch(self, recent: Any, now: datetime) -> tuple[list[dict[str, Any]], set[str]]:
        """(our replies worth re-reading, newest first; ids of all our recent statuses)."""
        ours = [s for s in recent if isinstance(s, dict) and text_id(s.get("id"))] if isinstance(recent, list) else []
        since = now - timedelta(hours=HOURS)
        replies = [s for s in ours if text_id(s.get("in_reply_to_id")) and (status_time(s) or since) >= since]
        return replies[:MAX], {text_id(s.get("id")) or "" for s in ours}

    def follow_ups(self, context: Any, reply: dict[str, Any], own_ids: set[str], me: Identity,
                   remember: Callable[[str, str, str], None]) -> list[dict[str, Any]]:
        """Others' statuses in `context` answering one of ours, not handed out before.

        Every status of the thread is `remember`ed (local id, uri, root uri)
        so the mentions made of them link to their parents without lookups.
        """
        reply_uri = web_url(reply.get("uri"))
        chain = ancestor_chain(context)
        root = chain[0][1] if chain else reply_uri
        if not reply_uri or not root:
            return []
        for chain_id, chain_uri in [*chain, (text_id(reply.get("id")) or "", reply_uri)]:
            remember(chain_id, chain_uri, root)
        descendants = context.get("descendants") if isinstance(context, dict) else None
        found = []
        for status in descendants if isinstance(descendants, list) else []:
            status_id = text_id(status.get("id")) if isinstance(status, dict) else None
            if status_id is None:
                continue
            uri = web_url(status.get("uri"))
            if uri:
                remember(status_id, uri, root)
            author = as_dict(status.get("account"))
            if text_id(status.get("in_reply_to_id")) not in own_ids or me.is_own(author.get("id"), author.get("acct")):
                continue
            if uri not in self._yielded:
                found.append(status)
        return found

    def handed_out(self, uris: list[str]) -> None:
        for uri in uris:
            self._yielded[uri] = None
