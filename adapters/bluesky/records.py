"""Bluesky post references: at-URIs, strong refs and the identifiers inside them.

Both directions need these: incoming notifications are checked with them
before becoming mentions, and an outgoing reply writes them into its
record, so they live apart from either.
"""

from __future__ import annotations

import re

from adapters.bluesky.facets import is_handle

POST = "app.bsky.feed.post"

RKEY = re.compile(r"[A-Za-z0-9._:~-]{1,512}")
DID = re.compile(r"did:[a-z]+:[A-Za-z0-9._:%-]{1,2048}")
# A BCP-47 language tag, loosely: "en", "pt-BR", "zh-Hant-TW" (a post's `langs`).
LANG_TAG = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8}){0,6}")


def parse_post_uri(value: object) -> tuple[str, str] | None:
    """(authority, rkey) of an at://…/app.bsky.feed.post/… URI, else None."""
    if not isinstance(value, str) or not value.startswith("at://") or len(value) > 3000:
        return None
    parts = value[len("at://"):].split("/")
    if len(parts) != 3 or parts[1] != POST or not RKEY.fullmatch(parts[2]):
        return None
    if not (DID.fullmatch(parts[0]) or is_handle(parts[0])):
        return None
    return parts[0], parts[2]


def strong_ref(value: object) -> dict[str, str] | None:
    """A {uri, cid} pointing at a post, cleaned, or None when either part is unusable."""
    if not isinstance(value, dict):
        return None
    uri, cid = value.get("uri"), value.get("cid")
    if not isinstance(uri, str) or parse_post_uri(uri) is None or not isinstance(cid, str) or not cid.strip():
        return None
    return {"uri": uri, "cid": cid.strip()}


def post_url(actor: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{actor}/post/{rkey}"
