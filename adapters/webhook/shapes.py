"""Webhook payloads into NewMention: mentiondesk's generic JSON shape and Meta's.

Pure functions of the decoded JSON, no I/O. A payload whose envelope is
wrong raises ShapeError (the sender gets 400 and nothing is stored); an
item inside an accepted payload that is malformed is skipped with a reason
and the rest are kept. The generic shape is documented in docs/webhooks.md.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, overload

from adapters.wire import as_dict
from store.db import iso
from store.records import NewMention
from store.sanitize import clean_line

NETWORK_PREFIX = "webhook:"
MAX_DEPTH = 64
MAX_ID = 1000
# Numbers at or above this are epoch milliseconds: as seconds they would be after year 5000.
_MILLIS_FROM = 100_000_000_000
_NETWORK_JUNK = re.compile(r"[^a-z0-9._-]+")
_NUMERIC = re.compile(r"-?\d+(\.\d+)?")
_UNKNOWN_AUTHOR = "(unknown)"


class ShapeError(ValueError):
    """The payload as a whole is not the expected shape (answered 400)."""


class ItemError(ValueError):
    """One item cannot be used; it is skipped with this reason."""


@dataclass(frozen=True, slots=True)
class Parsed:
    mentions: list[NewMention] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def decode_json(body: bytes) -> Any:
    """The request body as JSON, strictly: UTF-8, no NaN/Infinity."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ShapeError("body is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ShapeError("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ShapeError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ShapeError:
        raise
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise ShapeError(f"malformed JSON: {str(exc).splitlines()[0][:200]}") from None


def _reject_constant(name: str) -> Any:
    raise ShapeError(f"malformed JSON: {name} is not a JSON number")


def scrub(value: Any, depth: int = 0) -> Any:
    """A copy that the store can always write.

    json.loads turns an escaped lone surrogate ("\\ud800") into a str that
    SQLite refuses to encode, which would fail the whole batch's commit;
    such characters become U+FFFD. Depth is bounded so nothing downstream
    recurses without limit.
    """
    if depth > MAX_DEPTH:
        raise ItemError(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        return _scrub_str(value)
    if isinstance(value, dict):
        return {_scrub_str(str(key)): scrub(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, depth + 1) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ItemError("contains a non-finite number")
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise ItemError(f"contains a {type(value).__name__}, not a JSON value")


def _scrub_str(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def network_name(value: Any) -> str:
    """The sender's network name made safe: lowercase [a-z0-9._-], at most 32 characters."""
    if value is None:
        raise ItemError("missing network")
    if not isinstance(value, str):
        raise ItemError("network must be a string")
    name = value.strip().lower().removeprefix(NETWORK_PREFIX)
    name = _NETWORK_JUNK.sub("-", name).strip("-._")[:32].strip("-._")
    if not name:
        raise ItemError("network name is empty once reduced to [a-z0-9._-]")
    return name


def parse_time(value: Any, received_at: datetime) -> str:
    """ISO 8601 (offset or Z; none means UTC) or Unix epoch seconds, as UTC ISO.

    Missing means "now" (the time it was received). Numbers from 10^11 on
    are read as milliseconds.
    """
    if value is None:
        return iso(received_at)
    if isinstance(value, bool):
        raise ItemError("created_at must be ISO 8601 or epoch seconds, not a boolean")
    if isinstance(value, str) and _NUMERIC.fullmatch(value.strip()):
        value = float(value.strip())
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ItemError("created_at is not a finite number")
        try:
            seconds = value / 1000 if abs(value) >= _MILLIS_FROM else value
            return iso(datetime.fromtimestamp(seconds, UTC))
        except (OverflowError, OSError, ValueError):
            raise ItemError("created_at is out of range") from None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ItemError("created_at is not ISO 8601 or epoch seconds") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        try:
            return iso(moment)
        except (OverflowError, ValueError):
            raise ItemError("created_at is out of range") from None
    raise ItemError("created_at must be ISO 8601 or epoch seconds")


class IdError(ShapeError):
    """An id that would not be stored exactly as sent: the whole delivery is refused (400).

    Cleaning ids (trimming, NFC, dropping invisible characters) once
    collapsed distinct ids into one stored mention while every delivery was
    answered "accepted"; refusing makes the sender see the problem instead.
    """


def id_problem(text: str) -> str | None:
    """Why `text` cannot be stored byte for byte as an id, or None if it can."""
    if text != text.strip():
        return "has leading or trailing whitespace"
    if " ".join(text.split()) != text:
        return "contains tabs, line breaks or runs of spaces"
    if "\ufffd" in text or _scrub_str(text) != text:
        # scrub() has already turned an unpaired surrogate into U+FFFD: two such ids would collide.
        return "contains U+FFFD or an unpaired surrogate (an id mangled before it was sent)"
    nfc = unicodedata.normalize("NFC", text)
    if clean_line(text, MAX_ID + 1) != nfc:
        return "contains control or invisible formatting characters (NUL, U+200E, ...)"
    if nfc != text:
        return "is not in Unicode normalisation form NFC"
    return None


@overload
def _ident(value: Any, name: str, *, required: Literal[True] = True) -> str: ...
@overload
def _ident(value: Any, name: str, *, required: Literal[False]) -> str | None: ...
def _ident(value: Any, name: str, *, required: bool = True) -> str | None:
    """An id given as a string or an integer (Meta sends both), stored exactly as sent."""
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 10**MAX_ID:
            raise ItemError(f"{name} is longer than {MAX_ID} characters")
        value = str(value)
    if isinstance(value, str):
        if len(value) > MAX_ID:
            raise ItemError(f"{name} is longer than {MAX_ID} characters")
        if value:
            problem = id_problem(value)
            if problem:
                raise IdError(f"{name} {problem}: send ids exactly as the network gives them")
            return value
        if required:
            raise ItemError(f"{name} is empty")
        return None
    if value is None:
        if required:
            raise ItemError(f"missing {name}")
        return None
    if required:
        raise ItemError(f"{name} must be a string or an integer")
    return None


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _http_url(value: Any) -> str | None:
    """Only http(s) links: the console may open them."""
    if isinstance(value, str) and value.strip().lower().startswith(("https://", "http://")):
        return value.strip()
    return None


def _finish(mention: NewMention) -> NewMention:
    cleaned = mention.cleaned()
    if not cleaned.author_handle:
        raise ItemError("author handle is empty once control characters are removed")
    return cleaned


# --- the generic shape ----------------------------------------------------


def parse_generic(payload: Any, *, account: str, received_at: datetime) -> Parsed:
    """One mention object, or {"network"?: str, "mentions": [mention, ...]}."""
    if not isinstance(payload, dict):
        raise ShapeError("expected a JSON object: one mention or {\"mentions\": [...]}")
    if "mentions" not in payload:
        try:
            return Parsed([_generic_item(payload, None, account, received_at)])
        except ItemError as exc:
            raise ShapeError(str(exc)) from None
    items = payload["mentions"]
    if not isinstance(items, list):
        raise ShapeError("\"mentions\" must be a list")
    default_network = payload.get("network")
    parsed = Parsed()
    for index, item in enumerate(items):
        try:
            parsed.mentions.append(_generic_item(item, default_network, account, received_at))
        except IdError as exc:
            raise IdError(f"mentions[{index}].{exc}") from None
        except ItemError as exc:
            parsed.skipped.append(f"mentions[{index}]: {exc}")
    return parsed


def _generic_item(item: Any, default_network: Any, account: str, received_at: datetime) -> NewMention:
    item = scrub(item)
    if not isinstance(item, dict):
        raise ItemError("a mention must be a JSON object")
    name = network_name(item.get("network", default_network))
    remote_id = _ident(item.get("id"), "id")
    author = item.get("author")
    if isinstance(author, str):
        author = {"handle": author}
    if not isinstance(author, dict):
        raise ItemError("author must be an object with a handle")
    handle = author.get("handle")
    if not isinstance(handle, str) or not handle.strip().lstrip("@"):
        raise ItemError("missing author.handle")
    text = item.get("text")
    if not isinstance(text, str):
        raise ItemError("missing text" if text is None else "text must be a string")
    reply_ref: dict[str, Any] = {"kind": "generic", "network": name, "id": remote_id}
    if isinstance(item.get("reply_context"), dict):
        reply_ref["context"] = item["reply_context"]
    return _finish(NewMention(
        network=NETWORK_PREFIX + name,
        account=account,
        remote_id=remote_id,
        author_handle=handle.strip().lstrip("@"),
        author_name=_string(author.get("name")) or "",
        text=text,
        created_at=parse_time(item.get("created_at"), received_at),
        url=_http_url(item.get("url")),
        parent_remote_id=_ident(item.get("in_reply_to"), "in_reply_to", required=False),
        root_remote_id=_ident(item.get("thread_root"), "thread_root", required=False),
        lang=_string(item.get("lang")),
        reply_ref=reply_ref,
        raw=item,
    ))


# --- Meta Graph webhooks --------------------------------------------------

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
        return Parsed(skipped=[f"object {_scrub_str(clean_line(kind, 40))!r} is not handled (only instagram and page)"])
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
            entry_id = _ident(entry.get("id"), "entry id", required=False)
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
    comment_id = _ident(value.get("id"), "value.id")
    text = value.get("text")
    if not isinstance(text, str):
        raise ItemError("value.text must be a string")
    author = value.get("from")
    if not isinstance(author, dict):
        raise ItemError("missing value.from")
    author_id = _ident(author.get("id"), "value.from.id", required=False)
    if ctx.is_own(author_id):
        return None
    handle = _string(author.get("username")) or author_id
    if not handle:
        raise ItemError("value.from has neither username nor id")
    media = as_dict(value.get("media"))
    media_id = _ident(media.get("id"), "value.media.id", required=False)
    return _finish(NewMention(
        network=NETWORK_PREFIX + "instagram",
        account=ctx.account,
        remote_id=comment_id,
        author_handle=handle,
        text=text,
        created_at=parse_time(ctx.time, ctx.received_at),
        parent_remote_id=_ident(value.get("parent_id"), "value.parent_id", required=False),
        root_remote_id=media_id,
        reply_ref={"kind": "instagram_comment", "field": field_name, "comment_id": comment_id,
                   "media_id": media_id, "account_id": ctx.entry_id},
        raw=ctx.raw(change),
    ))


def _instagram_mention(value: dict, change: dict, ctx: _EntryContext) -> NewMention:
    # Meta sends only ids here; reading the text needs a Graph API call that
    # this adapter cannot make, so the operator sees where to look instead.
    media_id = _ident(value.get("media_id"), "value.media_id")
    comment_id = _ident(value.get("comment_id"), "value.comment_id", required=False)
    where = f"a comment ({comment_id}) on media {media_id}" if comment_id else f"the caption of media {media_id}"
    return _finish(NewMention(
        network=NETWORK_PREFIX + "instagram",
        account=ctx.account,
        remote_id=comment_id or media_id,
        author_handle=_UNKNOWN_AUTHOR,
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
    comment_id = _ident(value.get("comment_id"), "value.comment_id")
    author = value.get("from")
    if not isinstance(author, dict):
        raise ItemError("missing value.from")
    author_id = _ident(author.get("id"), "value.from.id", required=False)
    if ctx.is_own(author_id):
        return None
    name = _string(author.get("name")) or ""
    handle = name or author_id
    if not handle:
        raise ItemError("value.from has neither name nor id")
    message = value.get("message", "")
    if not isinstance(message, str):
        raise ItemError("value.message must be a string")
    post_id = _ident(value.get("post_id"), "value.post_id", required=False)
    parent_id = _ident(value.get("parent_id"), "value.parent_id", required=False)
    created = value.get("created_time", ctx.time)
    return _finish(NewMention(
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
    mid = _ident(message.get("mid"), "message.mid")
    sender = event.get("sender")
    if not isinstance(sender, dict):
        raise ItemError("missing sender")
    sender_id = _ident(sender.get("id"), "sender.id")
    if ctx.is_own(sender_id):
        return None
    text = message.get("text")
    if text is None:
        text = "[attachment]" if message.get("attachments") else ""
    if not isinstance(text, str):
        raise ItemError("message.text must be a string")
    reply_to = as_dict(message.get("reply_to"))
    kind = "instagram_message" if ctx.network == "instagram" else "messenger_message"
    return _finish(NewMention(
        network=NETWORK_PREFIX + ctx.network,
        account=ctx.account,
        remote_id=mid,
        author_handle=sender_id,
        text=text,
        created_at=parse_time(event.get("timestamp", ctx.time), ctx.received_at),
        parent_remote_id=_ident(reply_to.get("mid"), "message.reply_to.mid", required=False),
        reply_ref={"kind": kind, "recipient_id": sender_id, "mid": mid, "account_id": ctx.entry_id},
        raw=ctx.raw(event),
    ))
