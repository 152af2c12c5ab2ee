"""Bluesky: the notification list read page by page, and what was read cut into batches.

Part of BlueskyAdapter (a base class of it): the polling loop in `adapter`
calls `_walk` for everything above the stored cursor's floor, then
`_batches` for the oldest-first batches whose cursors are resume points.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from adapters.base import Adapter
from adapters.bluesky.embeds import quoted_uris
from adapters.bluesky.notifications import (
    ONE_MICROSECOND,
    TAKEN_REASONS,
    MalformedNotification,
    NotificationCursor,
    Sifted,
    mention_from_notification,
    sift_page,
)
from adapters.bluesky.session import XrpcClient
from adapters.bluesky.xrpc_errors import Unreachable, XrpcError
from adapters.http import AuthError
from store.records import NewMention

log = logging.getLogger(__name__)


class NotificationPaging(Adapter):
    #: pages of listNotifications (the lexicon allows 1..100)
    page_limit = 100
    #: how far below the newest taken notification a late-indexed one is still caught
    late_window = timedelta(minutes=10)
    #: most URIs the stored cursor remembers
    seen_cap = 1000

    _xrpc: XrpcClient
    backfill: int
    _send_reasons: bool
    _reported: set[str]

    async def _page(self, api_cursor: str | None) -> tuple[list, str | None]:
        while True:
            params = [("limit", str(self.page_limit))]
            if self._send_reasons:
                params += [("reasons", reason) for reason in TAKEN_REASONS]
            if api_cursor:
                params.append(("cursor", api_cursor))
            try:
                body = await self._xrpc.authed("GET", "app.bsky.notification.listNotifications", params=params)
            except XrpcError as exc:
                # An older AppView may not know `reasons`; we filter ourselves anyway.
                if exc.status == 400 and exc.error == "InvalidRequest" and self._send_reasons:
                    self._send_reasons = False
                    continue
                raise
            items = body.get("notifications")
            if not isinstance(items, list):
                raise XrpcError(200, None, "notifications without a list", xrpc=False)
            cursor = body.get("cursor")
            return items, cursor if isinstance(cursor, str) and cursor else None

    async def _walk(self, cursor: NotificationCursor | None) -> tuple[Sifted, datetime | None]:
        """Page from the newest notification down to the cursor's floor.

        Without a cursor (a new database) the newest `backfill` mentions are
        taken, paging as far as needed; the returned lower edge is where the
        stream's floor starts, so what lies below is never taken later.
        """
        whole = Sifted()
        taken: set[str] = set()
        api_cursor: str | None = None
        pages = 0
        while True:
            items, next_cursor = await self._page(api_cursor)
            pages += 1
            page = sift_page(items, cursor, taken)
            whole.fresh += page.fresh
            whole.loose += page.loose
            if page.oldest is not None:
                whole.oldest = page.oldest if whole.oldest is None else min(whole.oldest, page.oldest)
            more = bool(items) and next_cursor is not None and next_cursor != api_cursor
            if cursor is None:
                enough = len(whole.fresh) > self.backfill or (len(whole.fresh) == self.backfill > 0)
                if more and not enough and pages < self._backfill_pages():
                    api_cursor = next_cursor
                    continue
                return self._backfilled(whole, more)
            if page.reached_old or not more:
                return whole, None
            api_cursor = next_cursor

    def _backfill_pages(self) -> int:
        # Pages also hold likes and follows when an AppView ignores `reasons`: allow some slack.
        return self.backfill // self.page_limit + 10

    def _backfilled(self, whole: Sifted, more: bool) -> tuple[Sifted, datetime | None]:
        """Keep the newest `backfill` of a first walk; the floor goes just above what is left out."""
        fresh = whole.fresh = sorted(whole.fresh, key=lambda entry: entry[0], reverse=True)
        if len(fresh) > self.backfill:
            lower = fresh[self.backfill][0] + ONE_MICROSECOND
            whole.fresh = fresh[:self.backfill]
            return whole, lower
        if not more:  # the whole history was read: nothing below it to look for
            return whole, whole.oldest + ONE_MICROSECOND if whole.oldest else None
        if fresh:
            return whole, fresh[-1][0]  # older ones may exist beyond what was read
        return whole, whole.oldest + ONE_MICROSECOND if whole.oldest else None

    async def _quoted_views(self, sifted: Sifted) -> dict[str, dict]:
        """AppView views of the posts the new mentions quote; what cannot be fetched is shown as a link."""
        wanted = list(dict.fromkeys(uri for _, _, item in sifted.fresh
                                    for uri in quoted_uris(item.get("record"))))
        views: dict[str, dict] = {}
        for start in range(0, len(wanted), 25):
            try:
                body = await self._xrpc.authed("GET", "app.bsky.feed.getPosts",
                                               params=[("uris", uri) for uri in wanted[start:start + 25]])
            except (XrpcError, Unreachable, AuthError) as exc:
                log.info("%s: quoted posts not fetched: %s", self.source, exc)
                break
            posts = body.get("posts")
            for view in posts if isinstance(posts, list) else []:
                if isinstance(view, dict) and isinstance(view.get("uri"), str):
                    views[view["uri"]] = view
        return views

    def _loose_reasons(self, loose: list[tuple[str, object]]) -> list[str]:
        """Reasons for unplaceable items, each reported once per run."""
        reasons = []
        for reason, item in loose:
            mark = json.dumps(item, sort_keys=True, default=str)[:2000]
            if mark in self._reported:
                continue
            if len(self._reported) > 10_000:
                self._reported.clear()
            self._reported.add(mark)
            uri = item.get("uri") if isinstance(item, dict) else None
            reasons.append(f"{uri if isinstance(uri, str) else 'notification'}: {reason}"[:500])
        return reasons

    def _batches(self, cursor: NotificationCursor | None, sifted: Sifted, lower: datetime | None,
                 views: dict[str, dict]) -> list[tuple[list[NewMention], list[str], NotificationCursor]]:
        """Oldest first, so each committed cursor is a valid resume point."""
        oldest_first = list(reversed(sifted.fresh))
        state = cursor or NotificationCursor()
        if not oldest_first:
            return [] if cursor is not None else [([], [], self._advance(state, [], lower))]
        out = []
        for start in range(0, len(oldest_first), self.page_limit):
            mentions, skipped, taken = [], [], []
            for moment, uri, item in oldest_first[start:start + self.page_limit]:
                taken.append((uri, moment))
                try:
                    mentions.append(mention_from_notification(item, self.account, views))
                except MalformedNotification as exc:
                    skipped.append(f"{uri[:300]}: {exc}")
            state = self._advance(state, taken, lower)
            out.append((mentions, skipped, state))
        return out

    def _advance(self, state: NotificationCursor, taken: list, lower: datetime | None) -> NotificationCursor:
        return state.advanced(taken, lower, late_window=self.late_window, cap=self.seen_cap)
