"""Mentions in: REST catch-up, the live stream with its safety-net catch-up, polling, thread watching.

REST catch-up with `min_id` (gapless, newest-first pages walked forward),
then a live stream, with REST catch-up again after every reconnect because
streams have no replay; REST polling every `poll_interval` when no stream
can be had. `IngestLoop` is the stream() side of `MastodonAdapter`, which
sets the attributes declared here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from datetime import datetime, timedelta
from typing import Any

from cachetools import LRUCache

from adapters.base import Adapter, Batch, SourceState
from adapters.http import Links, rate_limit_reset, seconds_until
from adapters.mastodon import threads
from adapters.mastodon.instance import InstanceFacts
from adapters.mastodon.links import ThreadLinks
from adapters.mastodon.parse import id_key, max_id, min_id_of, parse_notifications, text_id
from adapters.mastodon.rest import PATH_ID, ApiError, Unreachable, token_refused, words
from adapters.mastodon.stream import Connection, StreamDropped, transport_reason
from adapters.mastodon.transports import StreamTransports
from adapters.retry import Backoff, human_seconds, jitter
from store.db import iso
from store.sanitize import clean_line

log = logging.getLogger(__name__)

PAGE_LIMIT = 80


class _Transient(Exception):
    pass


class _RateLimited(Exception):
    def __init__(self, until: datetime | None):
        super().__init__("rate limited")
        self.until = until


class _AuthRejected(Exception):
    pass


class IngestLoop(StreamTransports, InstanceFacts, ThreadLinks, Adapter):
    """Catch-up, live and polling: the Adapter's stream()."""

    _sleep: Callable[[float], Any]
    poll_interval: float
    _cursor: str | None
    _seen: LRUCache[str, None]
    _watch: threads.ThreadWatch
    _polling_steady: bool
    _rest_backoff: Backoff
    _stream_backoff: Backoff
    _auth_backoff: Backoff

    async def stream(self, cursor: str | None) -> AsyncGenerator[Batch, None]:
        self._cursor = text_id(cursor)
        self.report(SourceState.CONNECTING, f"connecting to {self._base.host}")
        while True:
            try:
                async with contextlib.aclosing(self._cycle()) as cycle:
                    async for batch in cycle:
                        yield batch
            except _RateLimited as exc:
                now = self._clock()
                wait = jitter(seconds_until(exc.until, now, default=60.0, high=3600.0))
                until = now + timedelta(seconds=wait)
                self.report(SourceState.RATE_LIMITED, f"until {until:%H:%M:%S}Z", until=iso(until))
                await self._sleep(wait)
            except _AuthRejected as exc:
                await self._wait(SourceState.AUTH_FAILED, str(exc), self._auth_backoff.next())
            except StreamDropped as exc:
                await self._wait(SourceState.RECONNECTING, f"stream lost ({exc})", self._stream_backoff.next())
            except _Transient as exc:
                await self._wait(SourceState.RECONNECTING, str(exc), self._rest_backoff.next())
            except Exception as exc:  # noqa: BLE001 - a bug must not silently end ingest
                log.exception("unexpected error in the %s stream", self.source)
                await self._wait(SourceState.RECONNECTING, f"unexpected {type(exc).__name__}",
                                 self._rest_backoff.next())

    async def _wait(self, state: SourceState, why: str, delay: float) -> None:
        until = self._clock() + timedelta(seconds=delay)
        self.report(state, f"{why}; next try in {human_seconds(delay)}", until=iso(until))
        await self._sleep(delay)

    async def _cycle(self) -> AsyncGenerator[Batch, None]:
        """One connection's life: open stream, catch up, then live until it drops."""
        await self._prepare()
        connection, why, down = await self._connect_stream()
        steady = self._polling_steady and connection is None and not down
        self._polling_steady = False
        try:
            async for batch in self._catch_up(announce=not steady):
                yield batch
            self._rest_backoff.reset()
            if connection is None and self._watch.due(self._clock()):
                follow_ups = await self._watch_threads()
                if follow_ups is not None:
                    yield follow_ups
            if connection is None:
                if down:
                    delay = min(self._stream_backoff.next(), self.poll_interval)
                    await self._wait(SourceState.RECONNECTING, f"streaming unavailable ({why}), polling", delay)
                else:
                    if not steady:  # one status line, not a flicker every poll
                        self.report(SourceState.LIVE,
                                    f"polling every {human_seconds(self.poll_interval)} ({why})")
                    self._polling_steady = True
                    await self._sleep(self.poll_interval)
                return
            self.report(SourceState.LIVE, self._live_detail(connection))
            async for batch in self._live(connection):
                yield batch
        finally:
            if connection is not None:
                await connection.close()

    async def _prepare(self) -> None:
        try:
            await self._verify()
            await self._load_instance()
        except ApiError as exc:
            raise self._ingest_error(exc) from None
        except Unreachable as exc:
            raise _Transient(self._describe_unreachable(exc)) from None
        self._auth_backoff.reset()

    def _ingest_error(self, exc: ApiError) -> Exception:
        if token_refused(exc):
            return _AuthRejected(f"{self._base.host} rejected the access token ({exc.status}{words(exc)})")
        if exc.status == 403:
            return _AuthRejected(f"the token may not read notifications (403): {exc.message}")
        if exc.status == 429:
            return _RateLimited(rate_limit_reset(exc.headers, self._clock()))
        if exc.status >= 500:  # retried with backoff: no "try again later"
            return _Transient(f"{self._base.host} is unavailable (HTTP {exc.status}{words(exc)})")
        return _Transient(self._describe(exc))

    async def _catch_up(self, *, announce: bool = True) -> AsyncGenerator[Batch, None]:
        if announce:
            self.report(SourceState.CATCHING_UP, "since the last mention" if self._cursor else "newest mentions")
        if self._cursor is None:
            items, _ = await self._notifications([])
            batch = await self._batch(items)
            if batch is not None:
                yield batch
            return
        query_from = self._cursor
        while True:
            items, links = await self._notifications([("min_id", query_from)])
            if isinstance(items, list) and not items:
                return
            before = self._cursor
            batch = await self._batch(items)
            if batch is not None:
                yield batch
            if self._cursor is None or before is not None and id_key(self._cursor) <= id_key(before):
                return  # nothing newer in this page: the server ignored min_id, or sent junk
            query_from = self._cursor
            prev = links.get("prev")
            hint = min_id_of(str(prev["url"])) if prev and "url" in prev else None
            if hint and id_key(hint) > id_key(query_from):
                query_from = hint

    async def _notifications(self, extra: list[tuple[str, str]]) -> tuple[Any, Links]:
        params = [("types[]", "mention"), ("limit", str(PAGE_LIMIT)), *extra]
        try:
            return await self._call("GET", "api/v1/notifications", params=params)
        except ApiError as exc:
            raise self._ingest_error(exc) from None
        except Unreachable as exc:
            raise _Transient(self._describe_unreachable(exc)) from None

    async def _batch(self, items: Any) -> Batch | None:
        """Parse, dedupe, resolve thread links; None when nothing changes."""
        parsed, skipped, top = parse_notifications(items, self._me, self._clock())
        fresh = []
        for entry in sorted(parsed, key=lambda p: id_key(p.notification_id)):
            if entry.notification_id in self._seen:
                continue
            self._mark_seen(entry.notification_id)
            fresh.append(entry)
        mentions = await self._link_threads(fresh)
        cursor = None
        if top and (self._cursor is None or id_key(top) > id_key(self._cursor)):
            cursor = self._cursor = top
        if not mentions and not skipped and cursor is None:
            return None
        return Batch(mentions=mentions, cursor=cursor, skipped=skipped)

    async def _live(self, connection: Connection) -> AsyncGenerator[Batch, None]:
        events = connection.events()
        opened = self._clock()
        safety_interval = max(300.0, 5 * self.poll_interval)
        next_event = asyncio.ensure_future(anext(events))
        safety = asyncio.ensure_future(self._sleep(safety_interval))
        watch = asyncio.ensure_future(asyncio.sleep(0) if self._watch.due(self._clock()) else self._next_watch())
        try:
            while True:
                done, _ = await asyncio.wait({next_event, safety, watch}, return_when=asyncio.FIRST_COMPLETED)
                if watch in done:
                    batch = await self._watch_threads()
                    if batch is not None:
                        yield batch
                    watch = asyncio.ensure_future(self._next_watch())
                if next_event in done:
                    try:
                        kind, payload = next_event.result()
                    except Exception as exc:  # noqa: BLE001 - whatever broke the stream, reconnect
                        if (self._clock() - opened).total_seconds() >= 60:
                            self._stream_backoff.reset()  # it was a good connection; start over
                        if isinstance(exc, StreamDropped):
                            raise
                        reason = "the server closed it" if isinstance(exc, StopAsyncIteration) \
                            else transport_reason(exc)
                        raise StreamDropped(reason) from None
                    self._stream_backoff.reset()
                    next_event = asyncio.ensure_future(anext(events))
                    batch = await self._stream_batch(kind, payload)
                    if batch is not None:
                        yield batch
                if safety in done:
                    async for batch in self._catch_up(announce=False):
                        yield batch
                    safety = asyncio.ensure_future(self._sleep(safety_interval))
        finally:
            for task in (next_event, safety, watch):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await events.aclose()

    async def _stream_batch(self, kind: str, payload: Any) -> Batch | None:
        if kind == "skip":
            return Batch(mentions=[], cursor=None, skipped=[clean_line(payload, 500)])
        if isinstance(payload, dict) and payload.get("type") != "mention":
            return None  # favourites, follows...: not ours, and no cursor move
        parsed, skipped, _ = parse_notifications([payload], self._me, self._clock())
        fresh = [entry for entry in parsed if entry.notification_id not in self._seen]
        for entry in fresh:
            self._mark_seen(entry.notification_id)
        mentions = await self._link_threads(fresh)
        top = max_id(entry.notification_id for entry in fresh)
        cursor = None
        if top and (self._cursor is None or id_key(top) > id_key(self._cursor)):
            cursor = self._cursor = top
        if not mentions and not skipped:
            return None
        return Batch(mentions=mentions, cursor=cursor, skipped=skipped)

    async def _next_watch(self) -> None:
        if self._watch.interval <= 0:
            await asyncio.Event().wait()  # watching is off
        await self._sleep(self._watch.interval)

    async def _watch_threads(self) -> Batch | None:
        """Follow-ups in threads we answered that no notification announced (threads.py).

        The store ignores one it already has (same uri), so a notification
        and this watch may both deliver it.
        """
        now = self._watch.last = self._clock()
        if not self._context_allowed or not self._me.own_id or not PATH_ID.match(self._me.own_id):
            return None
        try:
            recent, _ = await self._call("GET", f"api/v1/accounts/{self._me.own_id}/statuses",
                                         params=[("limit", "40"), ("exclude_reblogs", "true")])
        except (ApiError, Unreachable):
            return None  # the next round asks again; mentions keep flowing meanwhile
        replies, own_ids = self._watch.to_watch(recent, now)
        follow_ups: list[dict[str, Any]] = []
        for reply in replies:
            reply_id = text_id(reply.get("id")) or ""
            if not PATH_ID.match(reply_id):
                continue
            try:
                context, _ = await self._call("GET", f"api/v1/statuses/{reply_id}/context")
            except ApiError as exc:
                if exc.status in (401, 403):
                    self._context_allowed = False
                if exc.status in (404, 410):
                    continue  # our reply was deleted
                break
            except Unreachable:
                break
            follow_ups.extend(self._watch.follow_ups(context, reply, own_ids, self._me, self._remember))
        if not follow_ups:
            return None
        notifications = [{"id": f"thread:{s.get('id')}", "type": "mention", "created_at": s.get("created_at"),
                          "account": s.get("account"), "status": s} for s in follow_ups]
        parsed, skipped, _ = parse_notifications(notifications, self._me, now)
        mentions = await self._link_threads(parsed)
        self._watch.handed_out([mention.remote_id for mention in mentions])
        return Batch(mentions=mentions, cursor=None, skipped=skipped) if mentions or skipped else None

    def _mark_seen(self, notification_id: str) -> None:
        self._seen[notification_id] = None
