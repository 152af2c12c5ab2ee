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


def mastodon_length(text: str, url_weight: int = 23) -> int:
    """Mastodon's StatusLengthValidator: URLs count url_weight, mention domains nothing."""
    text = URL_PATTERN.sub("x" * url_weight, text)
    text = _REMOTE_MENTION.sub(r"\1", text)
    return graphemes(text)
