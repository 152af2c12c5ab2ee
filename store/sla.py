"""First-response targets (SLA): how long a mention may wait for its first reply.

A target comes from the mention's tags, its network, or the desk's default;
when several apply the shortest wins (a care complaint on a network with a
tighter target must meet the tighter one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from store.report_buckets import parse_stored


@dataclass(frozen=True)
class SlaPolicy:
    by_tag: Mapping[str, float] = field(default_factory=dict)  # tag -> seconds
    by_network: Mapping[str, float] = field(default_factory=dict)  # network -> seconds
    default: float | None = None

    @classmethod
    def from_table(cls, table: Mapping[str, float], tags: Iterable[str]) -> SlaPolicy:
        """From the config's [sla] table: `default`, tag names and network names, each in seconds."""
        tag_names = set(tags)
        return cls(
            by_tag={k: v for k, v in table.items() if k in tag_names},
            by_network={k: v for k, v in table.items() if k not in tag_names and k != "default"},
            default=table.get("default"),
        )

    def __bool__(self) -> bool:
        return bool(self.by_tag or self.by_network or self.default)

    def target(self, tags: Iterable[str], network: str) -> float | None:
        """Seconds allowed for the first reply, or None when no target applies."""
        candidates = [self.by_tag[t] for t in tags if t in self.by_tag]
        if network in self.by_network:
            candidates.append(self.by_network[network])
        if candidates:
            return min(candidates)
        return self.default


@dataclass(frozen=True, slots=True)
class SlaState:
    """Where one mention stands against its target: `left` seconds (negative: late)."""

    target: float
    due_at: datetime
    left: float

    @property
    def late(self) -> bool:
        return self.left < 0

    def label(self) -> str:
        return f"late {short_span(-self.left)}" if self.late else f"due {short_span(self.left)}"


def sla_state(policy: SlaPolicy, tags: Iterable[str], network: str, created: datetime, now: datetime,
              paused: float = 0.0) -> SlaState | None:
    """The clock of an unanswered mention; `paused` seconds (snoozed time) do not count."""
    target = policy.target(tags, network)
    if target is None:
        return None
    due = created + timedelta(seconds=target + paused)
    return SlaState(target, due, (due - now).total_seconds())


SNOOZE_ACTIONS = ("snooze", "unsnooze", "snooze.wake")


def paused_seconds(events: list[tuple[str, str]], now: datetime) -> float:
    """Seconds a mention spent snoozed, from its (action, at) events in order: that time does not count."""
    total = 0.0
    since: datetime | None = None
    for action, at in events:
        moment = parse_stored(at)
        if moment is None:
            continue
        if action == "snooze" and since is None:
            since = moment
        elif action in ("unsnooze", "snooze.wake") and since is not None:
            total += max(0.0, (moment - since).total_seconds())
            since = None
    if since is not None:
        total += max(0.0, (now - since).total_seconds())
    return total


def short_span(seconds: float) -> str:
    """3s, 12m, 3h, 2d: the one unit an operator reads at a glance (rounded down)."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
