"""What a network allows an account to post: budgets servers report, and rates the operator sets.

A `Budget` is one server's word in one response (Mastodon's
`X-RateLimit-*`, a PDS's `RateLimit-*` headers); a `Rate` is a fixed
allowance (a bridge's configured `rate = "30/min"`, Bluesky's documented
points). The sender's pacer (adapters/runtime/pacing.py) combines them.

Kept free of aiohttp so the console's leader can import it at start.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Budget:
    """A server's count for this account: `remaining` of `limit` points until `reset`.

    `cost` is what one reply spends of it (3 points for a Bluesky create,
    1 request on Mastodon); `window` the length of a full window when the
    server says it (RateLimit-Policy `w=`), else None.
    """

    limit: float
    remaining: float
    reset: datetime
    cost: float = 1.0
    window: float | None = None
    label: str = "server limit"


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `points` points in any `window` seconds; one reply costs `cost`."""

    points: float
    window: float
    cost: float = 1.0
    label: str = "configured"

    @property
    def sends(self) -> float:
        """Replies per window."""
        return self.points / self.cost

    def text(self) -> str:
        return rate_text(self.sends / self.window)


_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
          "d": 86400, "day": 86400}
_RATE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*")
RATE_EXAMPLE = 'a number of replies per time, such as "30/min", "300/3h" or "1/s"'


def parse_rate(value: object, label: str = "configured") -> Rate | None:
    """`"30/min"`, `"300/3h"`, `"1/s"` as a Rate; None when it is not one (or not positive and finite)."""
    if not isinstance(value, str):
        return None
    found = _RATE.fullmatch(value.lower())
    if found is None:
        return None
    name = found.group(3)
    unit = _UNITS.get(name) or _UNITS.get(name.removesuffix("s"))  # "mins", "hours"
    if unit is None:
        return None
    count, times = float(found.group(1)), float(found.group(2) or 1)
    window = times * unit
    if not (0 < count < 1e9 and 0 < window <= 7 * 86400 and math.isfinite(count / window)):
        return None
    return Rate(count, window, 1.0, label)


def rate_text(per_second: float) -> str:
    """A pace as a person says it: "30/min", "2/s", "12/h"."""
    for unit, seconds in (("s", 1), ("min", 60), ("h", 3600)):
        amount = per_second * seconds
        if amount >= 1 or unit == "h":
            shown = f"{amount:.1f}".rstrip("0").rstrip(".") if amount < 10 else f"{round(amount)}"
            return f"{shown}/{unit}"
    return ""  # unreachable: the loop returns on "h"


# --- from response headers ----------------------------------------------------------

_POLICY_WINDOW = re.compile(r";\s*w\s*=\s*(\d+)")


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) and number >= 0 else None


def budget_from_headers(headers: Mapping[str, str], now: datetime, *, cost: float = 1.0,
                        label: str = "server limit") -> Budget | None:
    """The budget a response's rate-limit headers state, or None when they state none (or nonsense).

    Mastodon and GoToSocial send `X-RateLimit-Limit/-Remaining/-Reset`
    (reset an ISO time); the atproto PDS sends `RateLimit-Limit/-Remaining/
    -Reset` (epoch seconds) and `RateLimit-Policy: 5000;w=3600`.
    """
    from adapters.http import parse_http_time  # aiohttp stays out of the leader's start

    for prefix in ("X-RateLimit-", "RateLimit-"):
        limit, remaining = _number(headers.get(prefix + "Limit")), _number(headers.get(prefix + "Remaining"))
        reset = parse_http_time(headers.get(prefix + "Reset"), now)
        if limit is None or remaining is None or reset is None or limit <= 0:
            continue
        policy = _POLICY_WINDOW.search(headers.get(prefix + "Policy", "") or "")
        window = float(policy.group(1)) if policy and 0 < int(policy.group(1)) <= 7 * 86400 else None
        # A reset more than a week away is a misread clock, not a budget to plan on.
        if (reset - now).total_seconds() > 7 * 86400:
            return None
        return Budget(limit, min(remaining, limit), reset, cost, window, label)
    return None
