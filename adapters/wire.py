"""Reading decoded JSON from outside: a value of the shape the code expects, or an empty one.

Wire data is hostile (a field can be missing, null, or another type), and
these keep that check in one place so mypy sees a typed value afterwards.
"""

from __future__ import annotations

from typing import Any


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_str(value: object) -> str:
    return value if isinstance(value, str) else ""
