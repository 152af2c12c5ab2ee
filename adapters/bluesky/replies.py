"""Bluesky: a reply sent as a post whose record key was chosen before sending.

Part of BlueskyAdapter (a base class of it). The reply's key (a TID stored
before sending) is the record key, so a retried create can never make a
second post; a create that fails because the key is taken adopts the
record already there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from multidict import CIMultiDict

from adapters.base import Adapter, ReplyError, ReplyRequest, SentReply
from adapters.bluesky.facets import build_facets, handles_in
from adapters.bluesky.notifications import post_langs
from adapters.bluesky.records import DID, POST, parse_post_uri, post_url, strong_ref
from adapters.bluesky.session import Session, XrpcClient
from adapters.bluesky.visibility import BLOCKED, DELETED, Hidden, hidden_reason
from adapters.bluesky.xrpc_errors import Unreachable, XrpcError
from adapters.budget import Rate, budget_from_headers
from adapters.http import AuthError, rate_limit_reset, seconds_until
from adapters.retry import human_seconds
from adapters.textcount import graphemes
from adapters.wire import as_dict
from store.db import iso

log = logging.getLogger(__name__)

#: what one post costs of the PDS's write budget, and the budget (docs.bsky.app, advanced-guides/rate-limits)
CREATE_POINTS = 3.0
WRITE_POINTS = (Rate(5000, 3600, CREATE_POINTS, "Bluesky points/h"),
                Rate(35000, 86400, CREATE_POINTS, "Bluesky points/day"))

MAX_GRAPHEMES = 300
MAX_BYTES = 3000

_TID = re.compile(r"[234567a-j][234567abcdefghijklmnopqrstuvwxyz]{12}")
# Answers meaning "that record key is taken": the reference PDS says a
# generic 500; others say 409 or one of these names.
_KEY_TAKEN = frozenset({"RecordAlreadyExists", "AlreadyExists", "InvalidSwap", "Conflict", "DuplicateRecord"})


class ReplySending(Adapter):
    handle_ttl = timedelta(hours=24)
    handle_miss_ttl = timedelta(minutes=5)

    def send_rates(self) -> tuple[Rate, ...]:
        """Bluesky's documented write budget per account, on top of what the PDS's headers say."""
        return (*WRITE_POINTS, *super().send_rates())

    _xrpc: XrpcClient
    _clock: Callable[[], datetime]
    lang: str | None
    _handles: dict[str, tuple[str | None, datetime]]

    # -- identity ------------------------------------------------------------------

    async def _resolve(self, handle: str) -> str | None:
        """Handle -> DID, cached (24 h found, 5 min not found); network trouble raises."""
        now = self._clock()
        cached = self._handles.get(handle)
        if cached is not None and cached[1] > now:
            return cached[0]
        did = await self._xrpc.resolve_handle(handle)
        self._handles[handle] = (did, now + (self.handle_ttl if did else self.handle_miss_ttl))
        return did

    @staticmethod
    def _text_problem(text: object) -> str | None:
        if not isinstance(text, str) or not text.strip():
            return "the reply is empty"
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            return "the reply contains characters that are not valid Unicode"
        count = graphemes(text)
        if count > MAX_GRAPHEMES:
            return f"the reply is {count} graphemes; Bluesky allows {MAX_GRAPHEMES}"
        if size > MAX_BYTES:
            return f"the reply is {size} bytes of UTF-8; Bluesky allows {MAX_BYTES}"
        return None

    @staticmethod
    def _reply_refs(reply_ref: object) -> tuple[dict[str, str], dict[str, str]]:
        parent = strong_ref(reply_ref)
        if parent is None:
            raise ReplyError("the mention has no post reference (uri and cid) to reply to", permanent=True)
        # The thread's root is the parent's own root, or the parent when it is top-level.
        root = strong_ref(reply_ref.get("root")) if isinstance(reply_ref, dict) else None
        return parent, root or parent

    async def _facets(self, text: str, request: ReplyRequest, session: Session) -> list[dict]:
        known = {session.handle.lower(): session.did}
        author_did = request.reply_ref.get("author_did") if isinstance(request.reply_ref, dict) else None
        if isinstance(author_did, str) and DID.fullmatch(author_did):
            known[request.author_handle.lstrip("@").lower()] = author_did
        dids = {handle: known[handle] if handle in known else await self._resolve(handle)
                for handle in handles_in(text)}
        return build_facets(text, dids)

    def _url(self, uri: str) -> str | None:
        target = parse_post_uri(uri)
        if target is None:
            return None
        session = self._xrpc.session
        actor = session.handle if session is not None else target[0]
        return post_url(actor, target[1])

    def _adopt(self, found: dict, request: ReplyRequest, parent: dict[str, str]) -> SentReply:
        """Our record key already holds a post: it is ours unless it answers something else."""
        uri = found.get("uri")
        if not isinstance(uri, str) or parse_post_uri(uri) is None:
            raise ReplyError("getRecord answered without a post uri", unknown_outcome=True)
        value = as_dict(found.get("value"))
        reply = as_dict(value.get("reply"))
        existing_parent = reply.get("parent", {}).get("uri") if isinstance(reply.get("parent"), dict) else None
        if existing_parent is not None and existing_parent != parent["uri"]:
            raise ReplyError(f"record key {request.key} already holds a reply to another post ({uri})",
                             permanent=True)
        return SentReply(uri, self._url(uri))

    async def _own_post(self, key: str) -> dict | None:
        session = await self._xrpc.signed_in()
        try:
            return await self._xrpc.request("GET", "com.atproto.repo.getRecord", base=self._xrpc.service(),
                                            params=[("repo", session.did), ("collection", POST), ("rkey", key)])
        except XrpcError as exc:
            if exc.status == 404 or (exc.status == 400 and exc.error in ("RecordNotFound", "NotFound")):
                return None
            raise

    def _reply_error(self, exc: XrpcError, writing: bool) -> ReplyError:
        if exc.status == 429:
            now = self._clock()
            wait = seconds_until(rate_limit_reset(exc.headers, now), now, default=60.0)
            return ReplyError(f"Bluesky rate limit: retry in {human_seconds(wait)}", retry_after=wait)
        if exc.status >= 500 or exc.status == 408:
            return ReplyError(f"Bluesky server error: {exc}", unknown_outcome=writing)
        return ReplyError(f"Bluesky refused the reply: {exc}", permanent=True)

    async def _thread_view(self, uri: str) -> dict | None:
        """The AppView's view of one post (as the brand); None when it cannot say."""
        try:
            return await self._xrpc.authed("GET", "app.bsky.feed.getPostThread",
                                           params=[("uri", uri), ("depth", "0"), ("parentHeight", "0")])
        except XrpcError as exc:
            if exc.xrpc and exc.status in (400, 404) and exc.error in ("NotFound", "RecordNotFound"):
                return {"thread": {"$type": "app.bsky.feed.defs#notFoundPost", "uri": uri, "notFound": True}}
            if exc.status == 429:
                raise
            # An AppView that is down or absent cannot veto: send as the PDS allows.
            log.info("%s: cannot check the thread of %s: %s", self.source, uri, exc)
            return None

    async def _check_visible(self, parent: dict[str, str], root: dict[str, str], author: str) -> None:
        """Refuse, for good, a reply the AppView would show to nobody."""
        hidden = hidden_reason(await self._thread_view(parent["uri"]), author)
        if hidden is None and root["uri"] != parent["uri"]:
            # A deleted root still shows its replies; a block with its author hides them.
            found = hidden_reason(await self._thread_view(root["uri"]))
            if found is not None and found.kind != DELETED:
                hidden = Hidden(found.kind, f"{found.reason} (it started the thread)" if found.kind == BLOCKED
                                else found.reason)
        if hidden is not None:
            raise ReplyError(f"not sent: {hidden.reason}, so Bluesky would show the reply to nobody", permanent=True)

    async def send_reply(self, request: ReplyRequest) -> SentReply:
        problem = self._text_problem(request.text)
        if problem:
            raise ReplyError(problem, permanent=True)
        if not _TID.fullmatch(request.key or ""):
            raise ReplyError(f"reply key {request.key!r} is not a TID record key", permanent=True)
        parent, root = self._reply_refs(request.reply_ref)
        writing = False
        try:
            session = await self._xrpc.signed_in()
            record: dict[str, Any] = {
                "$type": POST,
                "text": request.text,
                "createdAt": iso(self._clock()),
                "reply": {"root": root, "parent": parent},
            }
            langs = post_langs(request.reply_ref)[:1] or ([self.lang] if self.lang else [])
            if langs:
                record["langs"] = langs
            facets = await self._facets(request.text, request, session)
            if facets:
                record["facets"] = facets
            await self._check_visible(parent, root, request.author_handle)
            writing = True
            seen: CIMultiDict = CIMultiDict()
            try:
                created = await self._xrpc.authed("POST", "com.atproto.repo.createRecord", body={
                    "repo": session.did, "collection": POST, "rkey": request.key, "record": record,
                }, seen=seen)
            except XrpcError as exc:
                self.note_budget(budget_from_headers(exc.headers, self._clock(), cost=CREATE_POINTS,
                                                     label="PDS limit"))
                if not (exc.status >= 500 or exc.status == 409 or exc.error in _KEY_TAKEN
                        or "already" in exc.message.lower()):
                    raise
                # Maybe an earlier attempt of ours already wrote this key.
                try:
                    found = await self._own_post(request.key)
                except (XrpcError, Unreachable, AuthError) as lookup:
                    raise ReplyError(f"Bluesky answered {exc}; checking for the post failed: {lookup}",
                                     unknown_outcome=True) from None
                if found is None:
                    raise
                return self._adopt(found, request, parent)
            self.note_budget(budget_from_headers(seen, self._clock(), cost=CREATE_POINTS, label="PDS limit"))
            uri = created.get("uri")
            if not isinstance(uri, str) or parse_post_uri(uri) is None:
                uri = f"at://{session.did}/{POST}/{request.key}"
            return SentReply(uri, self._url(uri))
        except AuthError as exc:
            raise ReplyError(f"Bluesky sign-in failed: {exc}", retry_after=300.0) from None
        except XrpcError as exc:
            raise self._reply_error(exc, writing) from None
        except Unreachable as exc:
            reached = writing and exc.maybe_sent  # before the createRecord, nothing of the reply went out
            raise ReplyError(f"Bluesky unreachable: {exc}", unknown_outcome=reached, not_sent=not reached) from None

    async def find_reply(self, request: ReplyRequest) -> SentReply | None:
        """The post at our record key, if an earlier attempt made it."""
        if not _TID.fullmatch(request.key or ""):
            return None
        parent, _ = self._reply_refs(request.reply_ref)
        try:
            found = await self._own_post(request.key)
        except AuthError as exc:
            raise ReplyError(f"Bluesky sign-in failed: {exc}", retry_after=300.0) from None
        except XrpcError as exc:
            error = self._reply_error(exc, writing=False)
            raise ReplyError(f"could not look for the reply: {error}", retry_after=error.retry_after,
                             unknown_outcome=True) from None
        except Unreachable as exc:
            # A lookup posts nothing: the reply keeps its own "may have been posted" while it waits.
            raise ReplyError(f"could not look for the reply: {exc}", unknown_outcome=exc.maybe_sent,
                             not_sent=not exc.maybe_sent) from None
        return None if found is None else self._adopt(found, request, parent)
