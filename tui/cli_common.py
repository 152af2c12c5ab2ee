"""Shared bits of the command line."""

from __future__ import annotations

import sys


def fail(message: str, code: int = 2) -> int:
    """One clear line on stderr, and the exit status."""
    print(f"mentiondesk: {message}", file=sys.stderr)
    return code
