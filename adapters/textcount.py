"""Counting text the way networks do: grapheme clusters, URLs at a fixed weight."""

from __future__ import annotations

import regex

_GRAPHEME = regex.compile(r"\X")
# What Mastodon's validator treats as a URL: scheme, then non-space run.
URL_PATTERN = regex.compile(r"https?://[^\s<>\"]+", regex.IGNORECASE)
# Mastodon counts @user@domain as @user.
_REMOTE_MENTION = regex.compile(r"(?<![\w@])(@[\w.+-]+)@[\w.-]+\.[\w-]+", regex.UNICODE)


def graphemes(text: str) -> int:
    """Number of user-perceived characters (extended grapheme clusters)."""
    return len(_GRAPHEME.findall(text))


def bluesky_length(text: str) -> int:
    """Bluesky's two limits (300 graphemes, 3,000 UTF-8 bytes) as one count against 300.

    ceil(bytes / 10) passes 300 exactly when the bytes pass 3,000, so the
    larger of it and the grapheme count is over 300 exactly when the post
    is too long either way: one number for a counter and a limit check.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    return max(graphemes(text), -(-size // 10))


def mastodon_length(text: str, url_weight: int = 23) -> int:
    """Mastodon's StatusLengthValidator: URLs count url_weight, mention domains nothing."""
    text = URL_PATTERN.sub("x" * url_weight, text)
    text = _REMOTE_MENTION.sub(r"\1", text)
    return graphemes(text)
