"""Per-account facts learnt from a network, shared by every process.

The ingest leader learns them (a Mastodon server's length limit and how it
counts); the CLI and consoles that run no adapter read them here instead of
assuming defaults. Values are JSON under a key per account in the
account_state table (store.account_state), beside the adapters' sessions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from store.account_state import get_account_value, put_account_value
from store.db import Store

TEXT_LIMITS = "text_limits"
# How a server counts a reply's length (adapters.textcount.count_as):
#   mastodon   -- graphemes, each URL counts url_weight, `@user@domain` counts as `@user`
#   codepoints -- every code point of the text as sent, mentions and URLs in full (GoToSocial)
#   full_mentions -- code points after each bare `@user` becomes `@user@domain` (Takahē)
#   graphemes  -- graphemes of the text as sent, in full (Pleroma, Akkoma)
COUNTINGS = ("mastodon", "codepoints", "full_mentions", "graphemes")


@dataclass(frozen=True, slots=True)
class TextLimits:
    limit: int
    counting: str = "mastodon"
    url_weight: int = 23
    domain: str = ""  # accounts' domain, for `full_mentions`
    software: str = ""  # what the server said it runs, for the operator

    @classmethod
    def from_json(cls, value: Any) -> TextLimits | None:
        if not isinstance(value, dict):
            return None
        limit, weight = value.get("limit"), value.get("url_weight", 23)
        counting = value.get("counting", "mastodon")
        if not (isinstance(limit, int) and limit > 0 and isinstance(weight, int) and weight >= 0):
            return None
        if counting not in COUNTINGS:
            return None
        domain, software = value.get("domain", ""), value.get("software", "")
        return cls(limit, counting, weight, domain if isinstance(domain, str) else "",
                   software if isinstance(software, str) else "")


def _source(network: str, handle: str) -> str:
    """The adapter's source key (Adapter.source), which account_state is keyed by."""
    return f"{network}:{handle}"


def set_setting(store: Store, network: str, handle: str, key: str, value: Any) -> None:
    """Store `value` (JSON-able) under `key` for the account, replacing any earlier one."""
    put_account_value(store, _source(network, handle), key, json.dumps(value))


def get_setting(store: Store, network: str, handle: str, key: str) -> Any:
    row = get_account_value(store, _source(network, handle), key)
    if row is None:
        return None
    try:
        return json.loads(row.value)
    except ValueError:
        return None


def save_text_limits(store: Store, network: str, handle: str, limits: TextLimits) -> None:
    if get_text_limits(store, network, handle) != limits:
        set_setting(store, network, handle, TEXT_LIMITS, asdict(limits))


def get_text_limits(store: Store, network: str, handle: str) -> TextLimits | None:
    return TextLimits.from_json(get_setting(store, network, handle, TEXT_LIMITS))


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """What counting a reply to one mention needs: its network, account, author and the server's rule."""

    network: str
    account: str
    author_handle: str
    reply_ref: dict
    limits: TextLimits | None


_TARGET_SQL = """SELECT m.id, m.network, acc.handle, a.handle, m.reply_ref, s.value
           FROM mentions m JOIN accounts acc ON acc.id = m.account_id JOIN authors a ON a.id = m.author_id
           LEFT JOIN account_state s ON s.source = acc.network || ':' || acc.handle AND s.key = ?"""


def _target(row: tuple) -> ReplyTarget:
    try:
        ref = json.loads(row[4] or "{}")
        stored = json.loads(row[5]) if row[5] else None
    except ValueError:
        ref, stored = {}, None
    return ReplyTarget(row[1], row[2], row[3], ref if isinstance(ref, dict) else {}, TextLimits.from_json(stored))


def reply_target(store: Store, mention_id: int) -> ReplyTarget | None:
    row = store.conn.execute(f"{_TARGET_SQL} WHERE m.id = ?", (TEXT_LIMITS, mention_id)).fetchone()
    return None if row is None else _target(row)


def reply_targets(store: Store, mention_ids: list[int]) -> dict[int, ReplyTarget]:
    """reply_target for many mentions in one query (a group answer counts thousands)."""
    rows = store.conn.execute(f"{_TARGET_SQL} WHERE m.id IN (SELECT value FROM json_each(?))",
                              (TEXT_LIMITS, json.dumps(mention_ids))).fetchall()
    return {row[0]: _target(row) for row in rows}
