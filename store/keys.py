"""Reply keys: chosen once, stored with the reply before any send.

A key is an AT Protocol TID (13 base32-sortable characters: microseconds
since the epoch and a random clock id). It is valid as a Bluesky record key
(so a retried create can never make a second post) and as a Mastodon
Idempotency-Key alike.
"""

from __future__ import annotations

import time

_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def new_reply_key(micros: int | None = None) -> str:
    import secrets  # with the first reply: secrets (hashlib, hmac) is not on the console's start path

    stamp = time.time_ns() // 1000 if micros is None else micros
    return _tid(stamp, secrets.randbelow(1 << 10))


def answer_key(key_base: int, answer_id: int, mention_id: int) -> str:
    """The key of one group answer's reply to one mention: the same every time it is computed,
    so queuing the answer again can only meet the first row (idem_key is unique), never double.

    Its time is the answer's drafting moment less `mention_id` microseconds: earlier than the
    reply is queued, as a lookup by key time needs (it searches from then on), and different for
    every mention of the answer; the clock bits are the answer's id.
    """
    return _tid(key_base - mention_id, answer_id & 1023)


def _tid(stamp: int, clock: int) -> str:
    value = ((stamp & ((1 << 53) - 1)) << 10) | clock
    chars = []
    for _ in range(13):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
