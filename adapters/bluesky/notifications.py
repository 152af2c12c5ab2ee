"""Bluesky notifications: where the stream resumes, and notification -> NewMention.

`app.bsky.notification.listNotifications` is newest-first, has no "since"
parameter, and its own cursor only pages older, so where to resume is ours
to keep (see `NotificationCursor`). None of this does I/O: the adapter
fetches pages and hands them to `sift_page` and `mention_from_notification`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from adapters.bluesky.embeds import with_embeds
from adapters.bluesky.facets import is_handle, render_text
from adapters.bluesky.records import DID, LANG_TAG, POST, parse_post_uri, post_url, strong_ref
from adapters.wire import as_dict
from store.db import iso
from store.records import NewMention

TAKEN_REASONS = ("mention", "reply", "quote")
# A new database takes this many of the newest mentions (the account's `backfill` overrides).
DEFAULT_BACKFILL = 100
MAX_BACKFILL = 10_000
ONE_MICROSECOND = timedelta(microseconds=1)


# --- time -----------------------------------------------------------------------

def _parse_time(value: object) -> datetime | None:
    """An RFC 3339 / ISO 8601 time as aware UTC; naive means UTC; junk is None."""
    if not isinstance(value, str) or not 10 <= len(value) <= 64:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _exact(moment: datetime) -> str:
    """Microsecond precision: notification times are compared, not shown."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# --- where the stream resumes ---------------------------------------------------------

@dataclass(frozen=True)
class NotificationCursor:
    """What has been taken from the notification list, as a stored cursor.

    Notifications are ordered by their `indexedAt`, which the AppView sets
    to min(createdAt, indexedAt): a post indexed late (relay lag, a slow
    client clock) lands *below* newer ones already seen. So instead of a
    bare high-water mark the cursor keeps a floor and the URIs taken at or
    above it: a poll pages from the newest down to the first item older
    than `floor`, and takes every mention/reply/quote not in `seen`.

    Invariant: every such notification at or above `floor` that existed
    when it was examined is in `seen`. The floor only rises: to the lower
    edge of what was examined, to `late_window` below the newest item
    taken, or to the oldest kept entry when `seen` exceeds its cap.
    """

    floor: datetime | None = None
    seen: dict[str, datetime] = field(default_factory=dict)

    VERSION = 1

    def is_old(self, moment: datetime) -> bool:
        return self.floor is not None and moment < self.floor

    def has(self, uri: str) -> bool:
        return uri in self.seen

    def advanced(self, taken: Iterable[tuple[str, datetime]], lower: datetime | None, *,
                 late_window: timedelta, cap: int) -> NotificationCursor:
        seen = dict(self.seen)
        seen.update(taken)
        floors = [moment for moment in (self.floor, lower) if moment is not None]
        if seen:
            newest = max(seen.values())
            floors.append(newest - late_window)
            if len(seen) > cap:
                first_dropped = sorted(seen.values(), reverse=True)[cap]
                # Drop whole instants, never part of one; a tie larger than the cap stays.
                if first_dropped < newest:
                    floors.append(first_dropped + ONE_MICROSECOND)
        floor = max(floors) if floors else None
        if floor is not None:
            seen = {uri: moment for uri, moment in seen.items() if moment >= floor}
        return NotificationCursor(floor, seen)

    def dump(self) -> str:
        newest_first = sorted(self.seen.items(), key=lambda item: (item[1], item[0]), reverse=True)
        return json.dumps({
            "v": self.VERSION,
            "floor": _exact(self.floor) if self.floor else None,
            "seen": [[_exact(moment), uri] for uri, moment in newest_first],
        }, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def load(cls, text: str) -> NotificationCursor:
        """Parse a stored cursor; ValueError says why it cannot be used."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            raise ValueError("not JSON") from None
        if not isinstance(data, dict) or data.get("v") != cls.VERSION:
            raise ValueError("not a Bluesky notification cursor of this version")
        floor = data.get("floor")
        parsed_floor = _parse_time(floor)
        if floor is not None and parsed_floor is None:
            raise ValueError("bad floor time")
        seen: dict[str, datetime] = {}
        entries = data.get("seen")
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], str):
                moment = _parse_time(entry[0])
                if moment is not None:
                    seen[entry[1]] = moment
        return cls(parsed_floor, seen)


# --- notifications -> mentions ------------------------------------------------------

class MalformedNotification(ValueError):
    """A notification that cannot become a mention; the message is the reason."""


def notification_time(raw: object) -> datetime | None:
    return _parse_time(raw.get("indexedAt")) if isinstance(raw, dict) else None


def post_langs(record: object) -> list[str]:
    """The record's language tags that look like BCP-47 (at most 3, as the lexicon allows)."""
    langs = record.get("langs") if isinstance(record, dict) else None
    return [lang for lang in langs if isinstance(lang, str) and LANG_TAG.fullmatch(lang)][:3] \
        if isinstance(langs, list) else []


def mention_from_notification(raw: object, account: str, views: Mapping[str, dict] | None = None) -> NewMention:
    """Map one listNotifications item; MalformedNotification says what is wrong.

    `views`: AppView post views by URI, for the posts this one quotes.
    """
    if not isinstance(raw, dict):
        raise MalformedNotification("not a JSON object")
    uri = raw.get("uri")
    target = parse_post_uri(uri)
    if not isinstance(uri, str) or target is None:
        raise MalformedNotification("uri is not an app.bsky.feed.post at-uri")
    cid = raw.get("cid")
    if not isinstance(cid, str) or not cid.strip():
        raise MalformedNotification("no cid (a reply needs one)")
    author = raw.get("author")
    if not isinstance(author, dict):
        raise MalformedNotification("no author")
    did = author.get("did")
    if not isinstance(did, str) or not DID.fullmatch(did):
        raise MalformedNotification("author has no valid DID")
    handle = author.get("handle")
    # "handle.invalid" (a broken handle) is not a handle: show the DID.
    actor = handle.lower() if isinstance(handle, str) and is_handle(handle) else did
    record = raw.get("record")
    if not isinstance(record, dict):
        raise MalformedNotification("no record")
    if record.get("$type", POST) != POST:
        raise MalformedNotification("record is not a post")
    text = record.get("text", "")
    if not isinstance(text, str):
        raise MalformedNotification("record text is not a string")
    indexed = notification_time(raw)
    created = _parse_time(record.get("createdAt"))
    # A createdAt later than indexing is a wrong clock (or a pin-to-top trick).
    if created is None or (indexed is not None and created > indexed):
        created = indexed
    if created is None:
        raise MalformedNotification("neither createdAt nor indexedAt is a valid time")
    reply = as_dict(record.get("reply"))
    parent = as_dict(reply.get("parent"))
    root = as_dict(reply.get("root"))
    langs = post_langs(record)
    name = author.get("displayName")
    return NewMention(
        network="bluesky",
        account=account,
        remote_id=uri,
        author_handle="@" + actor,
        author_name=name if isinstance(name, str) else "",
        text=with_embeds(render_text(text, record.get("facets")), record, views),
        created_at=iso(created),
        url=post_url(actor, target[1]),
        parent_remote_id=parent.get("uri") if parse_post_uri(parent.get("uri")) else None,
        root_remote_id=root.get("uri") if parse_post_uri(root.get("uri")) else None,
        lang=langs[0] if langs else None,
        reply_ref={"uri": uri, "cid": cid.strip(), "root": strong_ref(root), "author_did": did, "langs": langs},
        raw=raw,
    ).cleaned()


@dataclass
class Sifted:
    """One page sorted out: new items to take, and items that cannot be placed."""

    fresh: list[tuple[datetime, str, dict]] = field(default_factory=list)
    loose: list[tuple[str, object]] = field(default_factory=list)  # (reason, item)
    reached_old: bool = False
    oldest: datetime | None = None


def sift_page(items: list, cursor: NotificationCursor | None, taken: set[str]) -> Sifted:
    """New mention/reply/quote items of one page, newest first.

    `taken` (URIs already taken in this walk) is updated. The whole page is
    looked at even after an old item, in case a server orders loosely.
    """
    result = Sifted()
    for item in items:
        moment = notification_time(item)
        if moment is None:
            result.loose.append(("no valid indexedAt", item))
            continue
        result.oldest = moment if result.oldest is None else min(result.oldest, moment)
        if cursor is not None and cursor.is_old(moment):
            result.reached_old = True
            continue
        if item.get("reason") not in TAKEN_REASONS:
            continue
        uri = item.get("uri")
        if not isinstance(uri, str) or not uri:
            result.loose.append(("no uri", item))
            continue
        if uri in taken or (cursor is not None and cursor.has(uri)):
            continue
        taken.add(uri)
        result.fresh.append((moment, uri, item))
    return result
