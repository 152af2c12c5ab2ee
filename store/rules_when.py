"""The conditions of a triage rule (`when.` keys): parsed and checked, each problem with its key.

All conditions given must hold; a list means any of its values. Words and
phrases become search terms (store.search_terms), so they match the way
search does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from store.search_terms import query_terms
from store.signals import SENTIMENT_OF

CONDITIONS = ("words", "phrases", "regex", "author", "network", "account", "lang", "sentiment", "needs_reply",
              "hours")
MAX_REGEX = 500
_HOURS = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_LANG = re.compile(r"[a-z]{2}")
Report = Callable[[str, str], None]  # (condition key, message)


@dataclass(frozen=True, slots=True)
class When:
    words: tuple[str, ...] = ()  # folded search terms; any of them
    phrases: tuple[tuple[str, ...], ...] = ()  # each a run of terms, in order; any of them
    regex: tuple[re.Pattern[str], ...] = ()
    authors: frozenset[str] = frozenset()  # lowercased, no leading @
    networks: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()
    langs: frozenset[str] = frozenset()
    sentiments: frozenset[int] = frozenset()
    needs_reply: bool | None = None
    hours: tuple[int, int] | None = None  # minutes after midnight, [start, end); wraps past midnight

    @property
    def uses_signals(self) -> bool:
        return bool(self.langs or self.sentiments) or self.needs_reply is not None



def strings(value: object) -> list[str] | None:
    """A string or a list of strings, as a list; None when it is neither."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return None


def parse_when(when: dict, problem: Report) -> When:
    values: dict[str, Any] = {}
    for key, value in when.items():
        if key not in CONDITIONS:
            problem(key, f"unknown condition {key!r} (allowed: {', '.join(CONDITIONS)})")
            continue
        if key == "needs_reply":
            if not isinstance(value, bool):
                problem(key, "needs_reply must be true or false")
            else:
                values[key] = value
            continue
        if key == "hours":
            if not isinstance(value, str) or not (found := _HOURS.fullmatch(value.strip())):
                problem(key, 'hours must be "HH:MM-HH:MM" (e.g. "22:00-07:00")')
                continue
            h1, m1, h2, m2 = (int(part) for part in found.groups())
            if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
                problem(key, f"hours {value!r} is not a span of the day")
                continue
            values[key] = (h1 * 60 + m1, h2 * 60 + m2)
            continue
        items = strings(value)
        if not items or not all(item.strip() for item in items):
            problem(key, f"{key} must be a non-empty string or list of strings")
            continue
        parsed = _condition_values(key, items, problem)
        if parsed is not None:
            values[key] = parsed
    return When(
        words=tuple(values.get("words", ())),
        phrases=tuple(values.get("phrases", ())),
        regex=tuple(values.get("regex", ())),
        authors=frozenset(values.get("author", ())),
        networks=frozenset(values.get("network", ())),
        accounts=frozenset(values.get("account", ())),
        langs=frozenset(values.get("lang", ())),
        sentiments=frozenset(values.get("sentiment", ())),
        needs_reply=values.get("needs_reply"),
        hours=values.get("hours"),
    )


def _condition_values(key: str, items: list[str], problem: Report) -> list | None:
    if key == "words":
        terms = [term for item in items for term in query_terms(item)]
        if not terms:
            problem(key, "words has no word in it")
        return terms
    if key == "phrases":
        phrases = [tuple(query_terms(item)) for item in items]
        if not all(phrases):
            problem(key, "a phrase has no word in it")
        return [phrase for phrase in phrases if phrase]
    if key == "regex":
        compiled = []
        for item in items:
            if len(item) > MAX_REGEX:
                problem(key, f"a regex of {len(item)} characters: at most {MAX_REGEX}")
                continue
            try:
                compiled.append(re.compile(item, re.IGNORECASE))
            except re.error as exc:
                problem(key, f"regex {item[:60]!r} does not compile: {exc}")
        return compiled
    if key in ("author", "account"):
        return [item.strip().lstrip("@").lower() for item in items]
    if key == "network":
        return [item.strip().lower() for item in items]
    if key == "lang":
        langs = [item.strip().lower() for item in items]
        for lang in langs:
            if not _LANG.fullmatch(lang):
                problem(key, f"lang {lang!r} is not a two-letter language code (en, fr, ...)")
        return langs
    sentiments = []
    for item in items:
        if item.strip().lower() not in SENTIMENT_OF:
            problem(key, f"sentiment {item!r} must be negative, neutral or positive")
        else:
            sentiments.append(SENTIMENT_OF[item.strip().lower()])
    return sentiments
