"""Spikes of arrivals within a period: minutes far above the period's own typical minute.

A minute is a spike when it holds at least `factor` times the median minute
of the period (empty minutes count) and `floor` more mentions than that
median; neighbouring spike minutes (up to `gap` quiet minutes apart) form one
spike. What spiked is named by the words most over-represented in it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from store.db import Store, iso
from store.report_buckets import parse_stored

_WORD = re.compile(r"[#@]?\w{4,}", re.UNICODE)
_COMMON = frozenset("""this that with have from your what when will just they them there their about would
could been were then than into over only some very more much also still here like please thanks thank hello
avec pour dans mais sont vous nous votre cette tout plus merci bonjour""".split())


@dataclass(frozen=True, slots=True)
class Spike:
    start: str  # stored UTC time of the first spike minute
    end: str  # end of the last spike minute
    mentions: int
    typical_per_minute: float
    peak_per_minute: int
    words: list[str]  # what it was about: words far more frequent in it than in the period


def _minutes(store: Store, since: str, until: str) -> Counter[str]:
    return Counter(dict(store.conn.execute(
        "SELECT substr(created_at, 1, 16), count(*) FROM mentions WHERE created_at >= ? AND created_at < ? "
        "GROUP BY 1", (since, until)).fetchall()))


def _words(store: Store, since: str, until: str, limit: int = 2000) -> Counter[str]:
    counts: Counter[str] = Counter()
    for (text,) in store.conn.execute(
        "SELECT text FROM mentions WHERE created_at >= ? AND created_at < ? ORDER BY created_at LIMIT ?",
        (since, until, limit),
    ):
        counts.update({w.lower() for w in _WORD.findall(text)} - _COMMON)
    return counts


def find_spikes(store: Store, since: str, until: str | None = None, *, factor: float = 4.0, floor: int = 10,
                gap: int = 2, limit: int = 10) -> list[Spike]:
    until = until or store.now()
    start, end = parse_stored(since), parse_stored(until)
    if start is None or end is None or end <= start:
        return []
    per_minute = _minutes(store, since, until)
    total_minutes = max(1, int((end - start).total_seconds() // 60))
    if not per_minute:
        return []
    counts = list(per_minute.values()) + [0] * max(0, total_minutes - len(per_minute))
    typical = float(median(counts))
    threshold = max(typical * factor, typical + floor)
    hot = sorted(minute for minute, count in per_minute.items() if count >= threshold)
    episodes: list[list[str]] = []
    for minute in hot:
        moment = datetime.fromisoformat(minute + ":00+00:00")
        if episodes and moment - datetime.fromisoformat(episodes[-1][-1] + ":00+00:00") <= timedelta(minutes=gap + 1):
            episodes[-1].append(minute)
        else:
            episodes.append([minute])
    background = _words(store, since, until) if episodes else Counter()
    spikes = []
    for episode in sorted(episodes, key=lambda e: -sum(per_minute[m] for m in e))[:limit]:
        first = datetime.fromisoformat(episode[0] + ":00+00:00")
        last = datetime.fromisoformat(episode[-1] + ":00+00:00") + timedelta(minutes=1)
        inside = _words(store, iso(first), iso(last))
        size = sum(per_minute[m] for m in episode)
        # Lift: share inside the spike over share in the period (add-one so rare words do not win alone).
        lifted = sorted(inside, key=lambda w: -(inside[w] / size) / ((background[w] + 1) / (sum(counts) + 1)))
        words = [w for w in lifted if inside[w] >= max(3, size // 10)][:4]
        spikes.append(Spike(iso(first), iso(last), size, typical, max(per_minute[m] for m in episode), words))
    return sorted(spikes, key=lambda s: s.start)
