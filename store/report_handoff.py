"""The care ⇄ marketing hand-off: mentions both teams touched, how long between them, and who.

A mention is handed off when it carries both tags, or when one team's tag
was removed and the other's added (it moved). The gap is the time between
the first team's tag and the second's; each side is credited to whoever
set that tag (an operator, or a rule).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from store.db import Store
from store.report_buckets import parse_stored, percentile
from store.sanitize import clean_line


@dataclass(frozen=True, slots=True)
class HandoffPair:
    first_team: str  # "care" or "marketing": whose tag came first
    first_operator: str
    second_operator: str
    count: int


@dataclass(frozen=True, slots=True)
class Handoff:
    both: int  # mentions carrying both tags now (tagged in the period)
    moved: int  # mentions whose tag went from one team to the other in the period
    care_first: int
    marketing_first: int
    gap_p50: float | None  # seconds between the first team's tag and the second's
    gap_p90: float | None
    pairs: list[HandoffPair]


def _who(name: str | None) -> str:
    return clean_line(name, 64) or "?"


def handoff_between(store: Store, since: str, until: str) -> Handoff:
    conn = store.conn
    # Per mention, the tag events of the period in order: (tag, added?, operator, at).
    history: dict[int, list[tuple[str, bool, str, str]]] = {}
    for mention_id, action, detail, operator, at in conn.execute(
        """SELECT mention_id, action, detail, operator, at FROM events
           WHERE action IN ('tag.add', 'tag.remove') AND at >= ? AND at < ? ORDER BY mention_id, id""",
        (since, until),
    ):
        try:
            tag = json.loads(detail).get("tag")
        except (ValueError, AttributeError):
            continue
        if tag in ("care", "marketing"):
            history.setdefault(mention_id, []).append((tag, action == "tag.add", operator, at))
    # Tags present now (also those set by an import, which left no event).
    current: dict[int, dict[str, tuple[str, str]]] = {}
    for mention_id, tag, operator, at in conn.execute(
        """SELECT a.mention_id, a.tag, a.operator, a.at FROM tags a
           JOIN tags b ON b.mention_id = a.mention_id AND b.tag != a.tag
           WHERE a.mention_id IN (SELECT mention_id FROM tags WHERE at >= ? AND at < ?)
             AND a.at < ? AND b.at < ?""", (since, until, until, until)
    ):
        current.setdefault(mention_id, {})[tag] = (operator, at)

    gaps: list[float] = []
    pairs: Counter[tuple[str, str, str]] = Counter()
    first_counts: Counter[str] = Counter()
    both = moved = 0
    for mention_id in set(history) | set(current):
        firsts: dict[str, tuple[str, str]] = {}
        removed_before_other = False
        for tag, added, operator, at in history.get(mention_id, []):
            if added:
                firsts.setdefault(tag, (operator, at))
            elif len(firsts) == 1 and tag in firsts:
                removed_before_other = True
        for tag, seen in current.get(mention_id, {}).items():
            firsts.setdefault(tag, seen)
        if len(firsts) < 2:
            continue
        if mention_id in current:
            both += 1
        elif removed_before_other:
            moved += 1
        else:
            continue  # both were set and one dropped again later: a correction, not a hand-off
        (team_a, (op_a, at_a)), (_team_b, (op_b, at_b)) = sorted(firsts.items(), key=lambda item: item[1][1])
        first_counts[team_a] += 1
        pairs[(team_a, _who(op_a), _who(op_b))] += 1
        start, end = parse_stored(at_a), parse_stored(at_b)
        if start and end:
            gaps.append(max(0.0, (end - start).total_seconds()))
    gaps.sort()
    return Handoff(
        both=both, moved=moved, care_first=first_counts["care"], marketing_first=first_counts["marketing"],
        gap_p50=percentile(gaps, 0.5), gap_p90=percentile(gaps, 0.9),
        pairs=[HandoffPair(team, a, b, n) for (team, a, b), n in pairs.most_common(10)],
    )
