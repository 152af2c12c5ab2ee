"""Webhook payloads into NewMention: Meta Graph webhooks (Instagram, Facebook Pages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.webhook.shapes import (
    NETWORK_PREFIX,
    UNKNOWN_AUTHOR,
    ItemError,
    Parsed,
    ShapeError,
    finish,
    ident,
    parse_time,
    scrub,
    scrub_str,
    str_or_none,
)
from adapters.wire import as_dict
from store.records import NewMention
from store.sanitize import clean_line

# Meta's "object" to our network name; other objects are not mentions.
META_OBJECTS = {"instagram": "instagram", "page": "facebook"}


def parse_meta(payload: Any, *, account: str, received_at: datetime) -> Parsed:
    """{"object": "instagram"|"page", "entry": [{"id", "time", "changes"|"messaging": [...]}]}."""
    if not isinstance(payload, dict):
        raise ShapeError("expected a JSON object with \"object\" and \"entry\"")
    kind = payload.get("object")
    entries = payload.get("entry")
    if not isinstance(kind, str):
        raise ShapeError("missing \"object\"")
    if not isinstance(entries, list):
        raise ShapeError("\"entry\" must be a list")
    network = META_OBJECTS.get(kind)
    if network is None:
        # Accepted (200) so Meta does not retry for a day and a half; nothing here is a mention.
        return Parsed(skipped=[f"object {scrub_str(clean_line(kind, 40))!r} is not handled (only instagram and page)"])
    parsed = Parsed()
    for entry_index, entry in enumerate(entries):
        where = f"entry[{entry_index}]"
        if not isinstance(entry, dict):
            parsed.skipped.append(f"{where}: not an object")
            continue
        changes = entry.get("changes")
        messaging = entry.get("messaging")
        if not isinstance(changes, list) and not isinstance(messaging, list):
            parsed.skipped.append(f"{where}: has neither changes nor messaging")
            continue
        try:
            entry_id = ident(entry.get("id"), "entry id", required=False)
        except ItemError as exc:
            parsed.skipped.append(f"{where}: {exc}")
            continue
        context = _EntryContext(kind, network, account, entry_id, entry.get("time"), received_at)
        for list_name, items, parse in (("changes", changes, _meta_change), ("messaging", messaging, _meta_message)):
            if not isinstance(items, list):
                continue
            for index, item in enumerate(items):
                try:
                    mention = parse(scrub(item), context)
                except ItemError as exc:
                    parsed.skipped.append(f"{where}.{list_name}[{index}]: {exc}")
                    continue
                if mention is not None:
                    parsed.mentions.append(mention)
    return parsed


@dataclass(frozen=True, slots=True)
class _EntryContext:
    kind: str
    network: str
    account: str
    entry_id: str | None
    time: Any
    received_at: datetime

    def raw(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"object": self.kind, "entry_id": self.entry_id, "time": scrub(self.time), **item}

    def is_own(self, author_id: str | None) -> bool:
        # Our own replies come back as events; answering them would loop.
        return author_id is not None and author_id == self.entry_id


def _meta_change(change: Any, ctx: _EntryContext) -> NewMention | None:
    if not isinstance(change, dict):
        raise ItemError("not an object")
    field_name = change.get("field")
    value = change.get("value")
    if not isinstance(value, dict):
        raise ItemError("value must be an object")
    if ctx.network == "instagram" and field_name in ("comments", "live_comments"):
        return _instagram_comment(field_name, value, change, ctx)
    if ctx.network == "instagram" and field_name == "mentions":
        return _instagram_mention(value, change, ctx)
    if ctx.network == "facebook" and field_name == "feed":
        return _facebook_comment(value, change, ctx)
    return None  # other subscribed fields are not mentions


def _instagram_comment(field_name: str, value: dict, change: dict, ctx: _EntryContext) -> NewMention | None:
    comment_id = ident(value.get("id"), "value.id")
    text = value.get("text")
    if not isinstance(text, str):
        raise ItemError("value.text must be a string")
    author = value.get("from")
    if not isinstance(author, dict):
        raise ItemError("missing value.from")
    author_id = ident(author.get("id"), "value.from.id", required=False)
    if ctx.is_own(author_id):
        return None
    handle = str_or_none(author.get("username")) or author_id
    if not handle:
        raise ItemError("value.from has neither username nor id")
    media = as_dict(value.get("media"))
    media_id = ident(media.get("id"), "value.media.id", required=False)
    return finish(NewMention(
        network=NETWORK_PREFIX + "instagram",
        account=ctx.account,
        remote_id=comment_id,
        author_handle=handle,
        text=text,
        created_at=parse_time(ctx.time, ctx.received_at),
        parent_remote_id=ident(value.get("parent_id"), "value.parent_id", required=False),
        root_remote_id=media_id,
        reply_ref={"kind": "instagram_comment", "field": field_name, "comment_id": comment_id,
                   "media_id": media_id, "account_id": ctx.entry_id},
        raw=ctx.raw(change),
    ))


def _instagram_mention(value: dict, change: dict, ctx: _EntryContext) -> NewMention:
    # Meta sends only ids here; reading the text needs a Graph API call that
    # this adapter cannot make, so the operator sees where to look instead.
    media_id = ident(value.get("media_id"), "value.media_id")
    comment_id = ident(value.get("comment_id"), "value.comment_id", required=False)
    where = f"a comment ({comment_id}) on media {media_id}" if comment_id else f"the caption of media {media_id}"
    return finish(NewMention(
        network=NETWORK_PREFIX + "instagram",
        account=ctx.account,
        remote_id=comment_id or media_id,
        author_handle=UNKNOWN_AUTHOR,
        text=f"[Instagram mention in {where}; Meta's webhook does not include the text]",
        created_at=parse_time(ctx.time, ctx.received_at),
        root_remote_id=media_id,
        reply_ref={"kind": "instagram_mention", "media_id": media_id, "comment_id": comment_id,
                   "account_id": ctx.entry_id},
        raw=ctx.raw(change),
    ))


def _facebook_comment(value: dict, change: dict, ctx: _EntryContext) -> NewMention | None:
    if value.get("item") != "comment" or value.get("verb") != "add":
        return None  # likes, reactions, edits, removals and posts are not new mentions
    comment_id = ident(value.get("comment_id"), "value.comment_id")
    author = value.get("from")
    if not isinstance(author, dict):
        raise ItemError("missing value.from")
    author_id = ident(author.get("id"), "value.from.id", required=False)
    if ctx.is_own(author_id):
        return None
    name = str_or_none(author.get("name")) or ""
    handle = name or author_id
    if not handle:
        raise ItemError("value.from has neither name nor id")
    message = value.get("message", "")
    if not isinstance(message, str):
        raise ItemError("value.message must be a string")
    post_id = ident(value.get("post_id"), "value.post_id", required=False)
    parent_id = ident(value.get("parent_id"), "value.parent_id", required=False)
    created = value.get("created_time", ctx.time)
    return finish(NewMention(
        network=NETWORK_PREFIX + "facebook",
        account=ctx.account,
        remote_id=comment_id,
        author_handle=handle,
        author_name=name,
        text=message,
        created_at=parse_time(created, ctx.received_at),
        # A top-level comment's parent is the post itself.
        parent_remote_id=parent_id if parent_id != post_id else None,
        root_remote_id=post_id,
        reply_ref={"kind": "facebook_comment", "comment_id": comment_id, "post_id": post_id,
                   "page_id": ctx.entry_id, "author_id": author_id},
        raw=ctx.raw(change),
    ))


def _meta_message(event: Any, ctx: _EntryContext) -> NewMention | None:
    if not isinstance(event, dict):
        raise ItemError("not an object")
    message = event.get("message")
    if not isinstance(message, dict) or message.get("is_echo"):
        return None  # deliveries, reads, postbacks and our own echoes
    mid = ident(message.get("mid"), "message.mid")
    sender = event.get("sender")
    if not isinstance(sender, dict):
        raise ItemError("missing sender")
    sender_id = ident(sender.get("id"), "sender.id")
    if ctx.is_own(sender_id):
        return None
    text = message.get("text")
    if text is None:
        text = "[attachment]" if message.get("attachments") else ""
    if not isinstance(text, str):
        raise ItemError("message.text must be a string")
    reply_to = as_dict(message.get("reply_to"))
    kind = "instagram_message" if ctx.network == "instagram" else "messenger_message"
    return finish(NewMention(
        network=NETWORK_PREFIX + ctx.network,
        account=ctx.account,
        remote_id=mid,
        author_handle=sender_id,
        text=text,
        created_at=parse_time(event.get("timestamp", ctx.time), ctx.received_at),
        parent_remote_id=ident(reply_to.get("mid"), "message.reply_to.mid", required=False),
        reply_ref={"kind": kind, "recipient_id": sender_id, "mid": mid, "account_id": ctx.entry_id},
        raw=ctx.raw(event),
    ))
