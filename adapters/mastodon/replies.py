"""Sending a reply, and finding one an earlier attempt may have posted.

Replies: visibility is the narrower of the mention's and the brand
account's default posting visibility (`source.privacy`), as Mastodon's own
composer does; unknown visibilities are answered `direct`. So a public
mention gets a public reply only if the account posts public by default;
Mastodon keeps replies out of the public timelines either way.

A reply whose answer was lost is looked up before it is sent again
(`find_reply`): recognised by account, `in_reply_to_id` and time, text
only breaking ties; when unsure it is held for the operator.
`ReplySending` is a mixin of `MastodonAdapter`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from multidict import CIMultiDict

from adapters.base import ReplyError, ReplyNeedsCheck, ReplyRequest, SentReply
from adapters.budget import Budget, budget_from_headers
from adapters.http import rate_limit_reset, seconds_until
from adapters.mastodon.html import html_to_text
from adapters.mastodon.instance import VISIBILITY_RANK, InstanceFacts
from adapters.mastodon.links import ThreadLinks
from adapters.mastodon.parse import (
    acct_of,
    comparable_text,
    key_time,
    status_time,
    text_id,
    web_url,
    with_author_mention,
)
from adapters.mastodon.rest import PATH_ID, ApiError, Unreachable, token_refused, words
from adapters.wire import as_dict
from store.sanitize import clean_line

# How far a server's clock may lag ours when telling our earlier post from older ones.
CLOCK_SLACK = 600.0


class ReplySending(InstanceFacts, ThreadLinks):
    """Replies out: send_reply and find_reply of the Adapter interface."""

    note_budget: Callable[[Budget | None], None]  # Adapter's

    async def send_reply(self, request: ReplyRequest) -> SentReply:
        ref = request.reply_ref if isinstance(request.reply_ref, dict) else {}
        status_id = text_id(ref.get("status_id"))
        if status_id is None:
            raise ReplyError("this mention has no status id to reply to", permanent=True)
        text = request.text.strip()
        if not text:
            raise ReplyError("the reply is empty", permanent=True)
        with contextlib.suppress(ApiError, Unreachable):
            await self._verify()  # learn the default visibility; posting works without it
        body = {
            "status": self.reply_text(text, ref),
            "in_reply_to_id": status_id,
            "visibility": self.reply_visibility(ref.get("visibility")),
        }
        key = {"Idempotency-Key": request.key} if request.key else {}
        answer: CIMultiDict[str] = CIMultiDict()  # header names in any case
        try:
            data, _ = await self._call("POST", "api/v1/statuses", json_body=body, extra_headers=key,
                                       answer_headers=answer)
        except ApiError as exc:
            self.note_budget(budget_from_headers(exc.headers, self._clock(), label="Mastodon limit"))
            raise self._reply_error(exc) from None
        except Unreachable as exc:
            raise ReplyError(f"could not post to {self._base.host}: {exc.message}",
                             unknown_outcome=exc.sent, not_sent=not exc.sent) from None
        self.note_budget(budget_from_headers(answer, self._clock(), label="Mastodon limit"))
        sent = self._sent_reply(data, ref)
        if sent is None:
            raise ReplyError(f"{self._base.host} accepted the reply but its answer is unreadable",
                             unknown_outcome=True)
        return sent

    async def find_reply(self, request: ReplyRequest) -> SentReply | None:
        """Our earlier post of this reply, None when there is none, ReplyNeedsCheck when unsure.

        Recognised by what a server cannot rewrite: our account, replying to
        this very status, created after the reply was queued (its key's time,
        less CLOCK_SLACK for servers whose clocks differ). Text only breaks
        ties, after comparable_text evens out the servers' rewriting. One
        candidate whose text matches is adopted; anything else that could be
        ours (two matches, or a match only by the rest) is held for the
        operator rather than posted again.
        """
        ref = request.reply_ref if isinstance(request.reply_ref, dict) else {}
        status_id = text_id(ref.get("status_id"))
        if status_id is None:
            return None
        try:
            await self._verify(strict=True)
            candidates = await self._own_replies_to(status_id)
        except ApiError as exc:
            error = self._reply_error(exc)
            raise ReplyError(f"cannot check for an earlier reply: {error}", permanent=error.permanent,
                             retry_after=error.retry_after) from None
        except Unreachable as exc:
            # Nothing was posted by the lookup; the reply keeps its own "may have been posted".
            raise ReplyError(f"cannot check for an earlier reply: {exc.message}", not_sent=not exc.sent) from None
        queued = key_time(request.key)
        if queued is not None:
            earliest = queued - timedelta(seconds=CLOCK_SLACK)
            candidates = [s for s in candidates if (status_time(s) or earliest) >= earliest]
        if not candidates:
            return None
        wanted = comparable_text(self.reply_text(request.text.strip(), ref))
        same = [s for s in candidates
                if comparable_text(html_to_text(s.get("content"), s.get("mentions"))) == wanted]
        if len(same) == 1:
            return self._sent_reply(same[0], ref)
        links = ", ".join(web_url(s.get("url")) or web_url(s.get("uri")) or str(s.get("id")) for s in
                          (same or candidates)[:3])
        why = "posts" if len(same) > 1 else "a post with different text"
        raise ReplyNeedsCheck(f"held: an earlier attempt may have posted it; {self._base.host} shows {why} "
                              f"of ours in reply ({clean_line(links, 300)}); check before replying again")

    async def _own_replies_to(self, status_id: str) -> list[dict[str, Any]]:
        """Our statuses replying to `status_id`, from its thread and our recent posts, once each."""
        found: dict[str, dict[str, Any]] = {}
        pages: list[Any] = []
        if PATH_ID.match(status_id):
            try:
                context, _ = await self._call("GET", f"api/v1/statuses/{status_id}/context")
                if isinstance(context, dict) and isinstance(context.get("descendants"), list):
                    pages.append(context["descendants"])
            except ApiError as exc:
                if exc.status not in (404, 410):
                    raise
        if self._me.own_id and PATH_ID.match(self._me.own_id):
            recent, _ = await self._call("GET", f"api/v1/accounts/{self._me.own_id}/statuses",
                                         params=[("limit", "40"), ("exclude_reblogs", "true")])
            if isinstance(recent, list):
                pages.append(recent)
        for page in pages:
            for status in page:
                if not isinstance(status, dict) or text_id(status.get("in_reply_to_id")) != status_id:
                    continue
                author = as_dict(status.get("account"))
                own_id = text_id(status.get("id"))
                if own_id and self._me.is_own(author.get("id"), author.get("acct")):
                    found.setdefault(own_id, status)
        return list(found.values())

    def reply_text(self, text: str, reply_ref: Mapping[str, Any]) -> str:
        """`text` with the author @-mentioned first (they are not notified otherwise)."""
        acct = acct_of(reply_ref.get("acct"))
        if acct and self._me.is_own(None, acct):
            return text
        return with_author_mention(text, acct, self._me.domain)

    def reply_visibility(self, original: object) -> str:
        """Never wider than the mention, nor than the account's default."""
        rank = VISIBILITY_RANK.get(original if isinstance(original, str) else "", 3)
        rank = max(rank, VISIBILITY_RANK.get(self._default_visibility, 0))
        return next(name for name, value in VISIBILITY_RANK.items() if value == rank)

    def _sent_reply(self, data: Any, ref: Mapping[str, Any]) -> SentReply | None:
        if not isinstance(data, dict):
            return None
        status_id = text_id(data.get("id"))
        if status_id is None:
            return None
        uri = web_url(data.get("uri")) or self._me.local_ref(status_id)
        root = ref.get("root_uri") or ref.get("uri") or uri
        self._remember(status_id, uri, root if isinstance(root, str) else uri)
        return SentReply(remote_id=uri, url=web_url(data.get("url")))

    def _reply_error(self, exc: ApiError) -> ReplyError:
        host = self._base.host
        if exc.status == 429:
            wait = seconds_until(rate_limit_reset(exc.headers, self._clock()), self._clock(), default=60.0)
            return ReplyError(f"{host} is rate-limiting posts: {exc.message}", retry_after=wait)
        if token_refused(exc):
            return ReplyError(f"{host} rejected the access token ({exc.status}): {exc.message}", permanent=True)
        if exc.status == 403:
            return ReplyError(f"not allowed (403, is write:statuses granted?): {exc.message}", permanent=True)
        if exc.status == 404:
            return ReplyError(f"the post no longer exists or is not visible (404): {exc.message}", permanent=True)
        if exc.status == 422:
            return ReplyError(f"{host} refused the reply (422): {exc.message}", permanent=True)
        if exc.status in (408, 409, 425) or exc.status >= 500:
            return ReplyError(f"{host} answered HTTP {exc.status}{words(exc)}", unknown_outcome=True)
        if 300 <= exc.status < 400:
            return ReplyError(f"{host} redirected the request (HTTP {exc.status})", permanent=True)
        return ReplyError(f"{host} refused the reply (HTTP {exc.status}): {exc.message}", permanent=True)
