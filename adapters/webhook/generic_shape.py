"""Webhook payloads into NewMention: mentiondesk's generic JSON shape (docs/webhooks.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.webhook.shapes import (
    NETWORK_PREFIX,
    IdError,
    ItemError,
    Parsed,
    ShapeError,
    finish,
    http_url,
    ident,
    network_name,
    parse_time,
    scrub,
    str_or_none,
)
from store.records import NewMention


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
    remote_id = ident(item.get("id"), "id")
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
    return finish(NewMention(
        network=NETWORK_PREFIX + name,
        account=account,
        remote_id=remote_id,
        author_handle=handle.strip().lstrip("@"),
        author_name=str_or_none(author.get("name")) or "",
        text=text,
        created_at=parse_time(item.get("created_at"), received_at),
        url=http_url(item.get("url")),
        parent_remote_id=ident(item.get("in_reply_to"), "in_reply_to", required=False),
        root_remote_id=ident(item.get("thread_root"), "thread_root", required=False),
        lang=str_or_none(item.get("lang")),
        reply_ref=reply_ref,
        raw=item,
    ))
