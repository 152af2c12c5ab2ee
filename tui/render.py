"""Turning store rows into inert `Text`: network strings are never markup."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from rich.style import Style
from rich.text import Text

from adapters import registry
from store.links import is_web_link, link_spans

STATE_GLYPH = {"new": "●", "open": "○", "queued": "⧗", "replied": "↩", "done": "✓"}
# Styles by role ($text-warning...: tui.colours.paint gives the theme's colour); the glyph and word carry the state.
STATE_COLOR = {"new": "bold $text-warning", "open": "", "queued": "$text-warning", "replied": "$text-success",
               "done": "dim"}
NOBODY_SENDING = "queued — nobody is sending (start a console with accounts or `mentiondesk serve`)"
SENTIMENT_BADGE = {-1: ("−", "bold $text-error"), 1: ("+", "$text-success")}  # neutral shows nothing
PRIORITY_BADGE = {"urgent": ("!!", "bold $auto on $error"), "high": ("!", "bold $text-error")}


def signal_badges(row, style: Callable[[str], Any] = lambda name: name) -> Text:
    """Compact signal badges for a row: `!` priority, `FR` language, `−`/`+` sentiment, `?` needs a reply."""
    text = Text()
    if row.priority in PRIORITY_BADGE:
        label, name = PRIORITY_BADGE[row.priority]
        text.append(label, style(name))
        text.append(" ")
    if row.lang:
        text.append(row.lang.upper()[:2], "dim")
        text.append(" ")
    if row.sentiment in SENTIMENT_BADGE:
        label, name = SENTIMENT_BADGE[row.sentiment]
        text.append(label, style(name))
        text.append(" ")
    if row.needs_reply:
        text.append("?", style("bold $text-warning"))
        text.append(" ")
    return text
TAG_BADGE = {"care": ("CARE", "bold $auto on $error"), "marketing": ("MKT", "bold $auto on $primary")}


def parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


def age(value: str, now: datetime) -> str:
    moment = parse_time(value)
    if moment is None:
        return "?"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def clock_time(value: str, now: datetime, tz: tzinfo | None = None) -> str:
    """A stored UTC time as the operator reads it: local time zone (`TZ` honoured), minutes.

    `14:03` today, `Mon 14:03` within the last week, `2026-11-03 14:03` before that.
    `tz` is for tests; None is the process's local zone.
    """
    moment = parse_time(value)
    if moment is None:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the store writes UTC
    local = moment.astimezone(tz)
    days = (now.astimezone(tz).date() - local.date()).days
    if days == 0:
        return local.strftime("%H:%M")
    if 0 < days < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def wake_time(value: str, now: datetime, tz: tzinfo | None = None) -> str:
    """A stored UTC time still ahead (a snooze's end), local, to the minute:
    `14:03` today, `Fri 14:03` within the coming week, `2026-12-03 14:03` beyond."""
    moment = parse_time(value)
    if moment is None:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(tz)
    days = (local.date() - now.astimezone(tz).date()).days
    if days == 0:
        return local.strftime("%H:%M")
    if 0 < days < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def network_short(network: str) -> str:
    known = registry.find(network)
    return known.short if known else registry.family(network)[:4]


def one_line(text: str) -> str:
    return " ".join(text.split())


def highlighted(text: str, spans: list[tuple[int, int]] | None, style: str = "bold reverse") -> Text:
    """Literal text with match spans styled (never parsed as markup)."""
    result = Text(text)
    for start, end in spans or ():
        if 0 <= start < end <= len(text):
            result.stylize(style, start, end)
    return result


def linked(text: str, style: str = "") -> Text:
    """Literal text whose http(s) links are terminal hyperlinks (OSC 8), underlined so they show as links."""
    result = Text(text, style=style)
    for span in link_spans(text):
        result.stylize(Style(link=span.url, underline=True), span.start, span.end)
    return result


def link_line(url: str | None, style: str = "") -> Text:
    """A stored address on its own line: a hyperlink only when it is an http(s) link."""
    return linked(url, style) if url and is_web_link(url) else Text(url or "", style=style)


def guard_terminal_output() -> None:
    """Make every string Rich and Textual turn into cells pass through `terminal_safe`.

    The border cleans what enters the store, but a desk file written by an
    older version (or by hand) may still hold escape codes, and a paste into
    an input can carry them too. Rich `Text` and Textual `Content` both strip
    a few control codes (BEL, BS, VT, FF, CR) through one module-level
    function each, which every widget's text goes through; extending those two
    functions is the one place that covers notifications, border titles,
    inputs and the composer alike. tests/test_sanitize_console.py fails if a
    Textual or Rich upgrade moves them.
    """
    import rich.text
    import textual.content

    from store.sanitize import terminal_safe

    for module, name in ((rich.text, "strip_control_codes"), (textual.content, "_strip_control_codes")):
        original = getattr(module, name)
        if getattr(original, "terminal_safe", False):
            continue

        def strip(text: str, *args, _original=original) -> str:
            return _original(terminal_safe(text), *args)

        strip.terminal_safe = True  # type: ignore[attr-defined]  # marks the wrapper: installed once
        setattr(module, name, strip)
