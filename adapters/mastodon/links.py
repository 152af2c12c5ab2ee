"""Thread links: a mention's parent and root uri from the local ids a notification carries.

Resolved through a cache of statuses this adapter has seen and, failing
that, one `GET /statuses/:id/context` per mention, at most
CONTEXT_LOOKUPS_PER_BATCH per batch (see adapter.py for the identifier
scheme). `ThreadLinks` is a mixin of `MastodonAdapter`, which sets the
attributes declared here.
"""

from __future__ import annotations

from dataclasses import replace

from cachetools import LRUCache

from adapters.mastodon.parse import Identity, Parsed, ancestor_chain
from adapters.mastodon.rest import PATH_ID, ApiError, RestClient, Unreachable
from store.records import NewMention

CONTEXT_LOOKUPS_PER_BATCH = 20


class ThreadLinks(RestClient):
    """The status cache (local id -> (uri, root uri)) and the lookups that fill it."""

    _me: Identity
    _threads: LRUCache[str, tuple[str, str]]
    _context_allowed: bool

    def _remember(self, status_id: str, uri: str, root: str) -> None:
        self._threads[status_id] = (uri, root)

    async def _link_threads(self, entries: list[Parsed]) -> list[NewMention]:
        budget = CONTEXT_LOOKUPS_PER_BATCH
        mentions = []
        for entry in entries:
            mention = entry.mention
            parent = root = None
            if entry.in_reply_to_id:
                known = self._threads.get(entry.in_reply_to_id)
                if known is None and budget > 0 and self._context_allowed:
                    budget -= 1
                    known, keep_asking = await self._lookup_parent(entry)
                    if not keep_asking:
                        budget = 0
                parent, root = known if known else (self._me.local_ref(entry.in_reply_to_id),) * 2
            self._remember(entry.status_id, mention.remote_id, root or mention.remote_id)
            reply_ref = dict(mention.reply_ref, root_uri=root or mention.remote_id)
            mentions.append(replace(mention, parent_remote_id=parent, root_remote_id=root,
                                    reply_ref=reply_ref).cleaned())
        return mentions

    async def _lookup_parent(self, entry: Parsed) -> tuple[tuple[str, str] | None, bool]:
        """((parent uri, root uri) or None, whether more lookups are worth it now)."""
        if not PATH_ID.match(entry.status_id):
            return None, True
        try:
            context, _ = await self._call("GET", f"api/v1/statuses/{entry.status_id}/context")
        except ApiError as exc:
            if exc.status in (401, 403):
                self._context_allowed = False  # no read:statuses: placeholders from now on
            # A deleted parent is one miss; a struggling server is a reason to stop.
            return None, exc.status in (404, 410)
        except Unreachable:
            return None, False
        chain = ancestor_chain(context)
        if not chain:
            return None, True
        root = chain[0][1]
        for status_id, uri in chain:
            self._remember(status_id, uri, root)
        return self._threads.get(entry.in_reply_to_id or ""), True
