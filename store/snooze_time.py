"""When a snooze ends, as the operator types it: `2h`, `90m`, `tomorrow`, `fri 14:00`, `next monday`,
`14:00`, `2026-12-01 09:00`. Times of day are in the operator's time zone (`TZ` honoured).

Pure functions (no SQL): the console's dialog and `mentiondesk snooze` both use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from store.errors import ActionError

MORNING = time(9, 0)
MAX_AHEAD = timedelta(days=366)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DURATION = re.compile(r"(?:(\d{1,4})\s*([wdhm]))", re.I)
_CLOCK = re.compile(r"^(\d{1,2})(?::(\d{2}))?$")
HELP = "use 2h, 90m, 1d, tomorrow, fri 14:00, next monday, 14:00 or 2026-12-01 09:00"


@dataclass(frozen=True, slots=True)
class Choice:
    """One entry of the short list the `z` dialog offers."""

    label: str
    until: datetime


def _at(day: date, clock: time, tz: tzinfo | None) -> datetime:
    """`clock` on `day` in the operator's zone, as an aware UTC time (DST is the zone's business)."""
    naive = datetime.combine(day, clock)
    local = naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()  # naive: the process's zone
    return local.astimezone(UTC)


def _today(now: datetime, tz: tzinfo | None) -> date:
    return now.astimezone(tz).date()


def _clock(text: str) -> time | None:
    found = _CLOCK.match(text)
    if not found:
        return None
    hour, minute = int(found[1]), int(found[2] or 0)
    if hour > 23 or minute > 59:
        raise ActionError(f"{text!r} is not a time of day (00:00 to 23:59)")
    return time(hour, minute)


def _weekday(word: str) -> int | None:
    word = word.lower()
    if len(word) < 3:
        return None
    for index, name in enumerate(WEEKDAYS):
        if name.startswith(word):
            return index
    return None


def parse_until(text: str, now: datetime, tz: tzinfo | None = None) -> datetime:
    """The aware UTC moment `text` names, after `now`; ActionError (one line) otherwise."""
    try:
        return _parse(text, now, tz)
    except (OverflowError, ValueError):  # year 1 in a zone east of UTC, a sum of weeks past year 9999
        raise ActionError(f"{' '.join(str(text).split())[:64]!r} is out of range; {HELP}") from None


def _parse(text: str, now: datetime, tz: tzinfo | None) -> datetime:
    raw = " ".join(str(text).split())[:64]
    words = raw.lower().split()
    if not words:
        raise ActionError(f"say when: {HELP}")
    joined = "".join(words)
    if _DURATION.sub("", joined) == "" and _DURATION.search(joined):
        delta = timedelta()
        for amount, unit in _DURATION.findall(joined):
            delta += timedelta(**{{"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}[unit.lower()]: int(amount)})
        if delta <= timedelta():
            raise ActionError(f"{raw!r} is no time at all; {HELP}")
        return _checked(now + delta, now, raw)
    strictly_later = words[0] == "next" and len(words) > 1  # "next monday" on a Monday: a week on
    if strictly_later:
        words = words[1:]
    clock = _clock(words[-1]) if len(words) > 1 else None
    head = words[:-1] if clock is not None else words
    if len(head) == 1 and clock is None and (alone := _clock(head[0])) is not None:
        # A time of day alone: today if still ahead, else tomorrow.
        moment = _at(_today(now, tz), alone, tz)
        return _checked(moment if moment > now else _at(_today(now, tz) + timedelta(days=1), alone, tz), now, raw)
    if len(head) == 1:
        word = head[0]
        today = _today(now, tz)
        if word in ("tomorrow", "tmr", "tom"):
            return _checked(_at(today + timedelta(days=1), clock or MORNING, tz), now, raw)
        if word == "today" and clock is not None:
            return _checked(_at(today, clock, tz), now, raw)
        if (weekday := _weekday(word)) is not None:
            ahead = (weekday - today.weekday()) % 7 or (7 if strictly_later else 0)
            moment = _at(today + timedelta(days=ahead), clock or MORNING, tz)
            if moment <= now:
                moment = _at(today + timedelta(days=ahead or 7), clock or MORNING, tz)
            return _checked(moment, now, raw)
        try:
            day = date.fromisoformat(word)
        except ValueError:
            day = None
        if day is not None:
            return _checked(_at(day, clock or MORNING, tz), now, raw)
    try:
        moment = datetime.fromisoformat(raw.replace(" ", "T", 1).replace("Z", "+00:00"))
    except ValueError:
        raise ActionError(f"cannot read {raw!r} as a time; {HELP}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz) if tz is not None else moment.astimezone()
    return _checked(moment.astimezone(UTC), now, raw)


def _checked(moment: datetime, now: datetime, raw: str) -> datetime:
    if moment <= now:
        raise ActionError(f"{raw!r} has already passed; pick a later time")
    if moment - now > MAX_AHEAD:
        raise ActionError(f"{raw!r} is more than a year ahead; pick an earlier time")
    return moment


def choices(now: datetime, tz: tzinfo | None = None) -> list[Choice]:
    """The short list: 1 h, 3 h, tomorrow 9:00, next Monday 9:00 (in the operator's zone)."""
    today = _today(now, tz)
    monday = today + timedelta(days=(7 - today.weekday()) or 7)
    return [Choice("1 hour", now + timedelta(hours=1)), Choice("3 hours", now + timedelta(hours=3)),
            Choice("Tomorrow 9:00", _at(today + timedelta(days=1), MORNING, tz)),
            Choice("Next Monday 9:00", _at(monday, MORNING, tz))]
