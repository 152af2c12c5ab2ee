"""Reply keys: chosen once, stored with the reply before any send.

A key is an AT Protocol TID (13 base32-sortable characters: microseconds
since the epoch and a random clock id). It is valid as a Bluesky record key
(so a retried create can never make a second post) and as a Mastodon
Idempotency-Key alike.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def new_reply_key(micros: int | None = None) -> str:
    stamp = time.time_ns() // 1000 if micros is None else micros
    value = ((stamp & ((1 << 53) - 1)) << 10) | secrets.randbelow(1 << 10)
    chars = []
    for _ in range(13):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
