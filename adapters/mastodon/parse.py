"""Mastodon API objects as mentiondesk records: pure functions, no I/O.

A notification becomes a `NewMention` here (see adapters/mastodon/adapter.py for
the identifier and thread-link scheme this implements); links.py adds
the thread links it has to look up. Also the small readers the adapter
shares with this mapping: ids, accts, URLs, and the text comparisons used
to recognise our own earlier replies.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from yarl import URL

from adapters.mastodon.html import status_text
from store.db import iso
from store.records import NewMention
from store.sanitize import clean_line

NETWORK = "mastodon"

_ACCT = re.compile(r"^[\w][\w.+-]*(?:@[\w.-]+(?::\d{1,5})?)?$")
_LEADING_MENTIONS = re.compile(r"^(?:@[\w.+-]+(?:@[\w.-]+)?[\s,:]*)+")


class _Malformed(Exception):
    pass


def id_key(value: str) -> tuple[int, str]:
    """Order of opaque ids: longer is newer, then lexical (never int())."""
    return len(value), value


def max_id(ids: Iterable[str | None]) -> str | None:
    present = [value for value in ids if value]
    return max(present, key=id_key) if present else None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who we are on the server, for handles and for excluding ourselves."""

    account: str  # the configured account label (NewMention.account)
    domain: str  # accounts' domain (may differ from the API host)
    host: str  # API host, for local-id placeholders
    own_id: str = ""
    own_acct: str = ""  # local acct of the brand account ("brand")

    def full_acct(self, acct: str) -> str:
        return acct if "@" in acct else f"{acct}@{self.domain}"

    def is_own(self, account_id: object, acct: object) -> bool:
        if self.own_id and isinstance(account_id, str | int) and str(account_id) == self.own_id:
            return True
        if self.own_acct and isinstance(acct, str):
            return self.full_acct(acct.lstrip("@")).lower() == self.full_acct(self.own_acct).lower()
        return False

    def local_ref(self, status_id: str) -> str:
        return f"mastodon-id:{self.host}/{status_id}"


@dataclass(frozen=True, slots=True)
class Parsed:
    notification_id: str
    status_id: str
    in_reply_to_id: str | None
    mention: NewMention


def text_id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip() and len(value) <= 200:
        return value.strip()
    return None


def acct_of(value: object) -> str | None:
    if isinstance(value, str):
        acct = value.strip().lstrip("@")
        if _ACCT.match(acct) and len(acct) <= 300:
            return acct
    return None


def _timestamp(*values: object) -> str | None:
    for value in values:
        if not isinstance(value, str):
            continue
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        try:
            return iso(moment)
        except (OverflowError, ValueError):
            continue
    return None


def web_url(value: object) -> str | None:
    if isinstance(value, str) and value.strip().lower().startswith(("https://", "http://")):
        return value.strip()
    return None


def parse_notification(item: Any, me: Identity, now: datetime) -> Parsed | None:
    """One notification as a mention; None for other types; _Malformed if unusable."""
    if not isinstance(item, dict):
        raise _Malformed("not a JSON object")
    if item.get("type") != "mention":
        return None
    notification_id = text_id(item.get("id"))
    if notification_id is None:
        raise _Malformed("no notification id")
    status = item.get("status")
    if not isinstance(status, dict):
        raise _Malformed("mention without a status")
    status_id = text_id(status.get("id"))
    if status_id is None:
        raise _Malformed("status without an id")
    account = status.get("account") if isinstance(status.get("account"), dict) else item.get("account")
    if not isinstance(account, dict):
        raise _Malformed("status without an author")
    acct = acct_of(account.get("acct"))
    if acct is None:
        raise _Malformed("author without a valid acct")
    uri = web_url(status.get("uri")) or text_id(status.get("uri"))
    remote_id = uri if uri and ":" in uri else me.local_ref(status_id)
    created_at = _timestamp(status.get("created_at"), item.get("created_at")) or iso(now)
    display_name = account.get("display_name")
    visibility = status.get("visibility")
    visibility = visibility.strip().lower() if isinstance(visibility, str) else "direct"
    language = status.get("language")
    in_reply_to_id = text_id(status.get("in_reply_to_id"))
    others: list[str] = []
    mentions = status.get("mentions")
    for entry in mentions if isinstance(mentions, list) else []:
        if not isinstance(entry, dict):
            continue
        other = acct_of(entry.get("acct"))
        if other and not me.is_own(entry.get("id"), other) and other.lower() != acct.lower() \
                and other not in others:
            others.append(other)
    reply_ref = {
        "status_id": status_id,
        "visibility": clean_line(visibility, 32),
        "acct": acct,
        "mentions": others,
        "in_reply_to_id": in_reply_to_id,
        "uri": remote_id,
    }
    mention = NewMention(
        network=NETWORK,
        account=me.account,
        remote_id=remote_id,
        author_handle="@" + me.full_acct(acct),
        author_name=display_name if isinstance(display_name, str) else "",
        text=status_text(status),
        created_at=created_at,
        url=web_url(status.get("url")) or web_url(status.get("uri")),
        lang=language if isinstance(language, str) else None,
        reply_ref=reply_ref,
        raw=item,
    )
    return Parsed(notification_id, status_id, in_reply_to_id, mention)


def parse_notifications(items: Any, me: Identity, now: datetime) -> tuple[list[Parsed], list[str], str | None]:
    """A page of notifications: (mentions, skip reasons, highest valid id).

    Every bad item becomes one reason; the good ones around it are kept.
    """
    if not isinstance(items, list):
        return [], [f"notification page is not a list ({type(items).__name__})"], None
    parsed: list[Parsed] = []
    skipped: list[str] = []
    ids: list[str] = []
    for index, item in enumerate(items):
        label = text_id(item.get("id")) if isinstance(item, dict) else None
        if label:
            ids.append(label)
        try:
            result = parse_notification(item, me, now)
        except _Malformed as exc:
            skipped.append(clean_line(f"notification {label or f'#{index}'}: {exc}", 500))
            continue
        except Exception as exc:  # noqa: BLE001 - a surprise in one item must not cost the page
            skipped.append(clean_line(f"notification {label or f'#{index}'}: unreadable ({type(exc).__name__})",
                                      500))
            continue
        if result is not None:
            parsed.append(result)
    return parsed, skipped, max_id(ids)


# --- thread links and pagination ---------------------------------------------------

def ancestor_chain(context: Any) -> list[tuple[str, str]]:
    """(local id, uri) of a `/statuses/:id/context` answer's ancestors, root first.

    Ancestors without a usable id or uri are left out; an unreadable answer is [].
    """
    ancestors = context.get("ancestors") if isinstance(context, dict) else None
    if not isinstance(ancestors, list):
        return []
    return [(s_id, uri) for s_id, uri in ((text_id(a.get("id")), web_url(a.get("uri")))
                                          for a in ancestors if isinstance(a, dict)) if s_id and uri]


def min_id_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return text_id(URL(url).query.get("min_id"))
    except ValueError:
        return None


# --- accounts and reply text ---------------------------------------------------------

def domain_of(account: str) -> str:
    acct = account.strip().lstrip("@")
    return acct.split("@", 1)[1].lower() if "@" in acct else ""


def local_part(account: str) -> str:
    acct = acct_of(account)
    return acct.split("@")[0] if acct else ""


def mentions_acct(text: str, acct: str, local_domain: str) -> bool:
    """Does `text` already @-mention `acct` (as the server would resolve it)?"""
    user, _, domain = acct.partition("@")
    forms = [re.escape(f"{user}@{domain}")] if domain else [re.escape(user), re.escape(f"{user}@{local_domain}")]
    pattern = rf"(?<![\w@/]){'@'}(?:{'|'.join(forms)})(?![\w@]|[.-]\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def with_author_mention(text: str, acct: str | None, local_domain: str, own_acct: str = "") -> str:
    """The reply as posted: the author @-mentioned first (they are not notified otherwise)."""
    if not acct or own_acct and acct.lower() in (own_acct.lower(), f"{own_acct}@{local_domain}".lower()):
        return text
    if mentions_acct(text, acct, local_domain):
        return text
    return f"@{acct} {text}"


_SCHEME = re.compile(r"(?<![\w/])https?://", re.IGNORECASE)
_MENTION_DOMAIN = re.compile(r"(?<![\w@/])(@[\w.+-]*\w)@[\w-]+(?:\.[\w-]+)+(?::\d{1,5})?")
_TRAILING_SLASH = re.compile(r"(?<=\w)/(?=\s|$)")
_TID = re.compile(r"^[2-7a-z]{13}$")
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def comparable_text(text: str) -> str:
    """Text as compared when looking for an already posted reply.

    Servers rewrite what they are given: GoToSocial links a bare
    `www.example.com` as `http://www.example.com`, unescapes `&amp;` and
    shortens `@alice@its.domain` to `@alice`; Takahē lengthens `@alice` to
    `@alice@its.domain`. So entities, link schemes, mention domains, leading
    mentions, emoji presentation selectors, case and whitespace are all
    evened out on both sides.
    """
    text = unicodedata.normalize("NFC", html.unescape(text)).replace("\ufe0f", "")
    text = _SCHEME.sub("", text)
    text = _MENTION_DOMAIN.sub(r"\1", text)
    text = _TRAILING_SLASH.sub("", text)
    text = _LEADING_MENTIONS.sub("", text.strip())
    return " ".join(text.split()).casefold()


def key_time(key: str) -> datetime | None:
    """When a reply key (an AT Protocol TID: microseconds, then 10 clock bits) was made."""
    if not isinstance(key, str) or not _TID.match(key):
        return None
    value = 0
    for char in key:
        value = value * 32 + _TID_ALPHABET.index(char)
    try:
        return datetime.fromtimestamp((value >> 10) / 1_000_000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def status_time(status: dict[str, Any]) -> datetime | None:
    stamp = _timestamp(status.get("created_at"))
    return datetime.fromisoformat(stamp) if stamp else None
