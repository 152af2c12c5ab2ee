"""How the desk is doing over a period: volume, response and resolution times, backlog, SLA, hand-off.

Built for a million mentions: the mentions of the period are read in one
grouped scan (hour × network × tags × state), everything else from the
much smaller replies, events and tags tables; times are folded into the
operator's hours or days in Python from the stored UTC hours.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from store.db import Store, iso
from store.report_buckets import TAGSET, Buckets, parse_stored, percentile
from store.report_handoff import Handoff, handoff_between
from store.sanitize import clean_line
from store.signals import SENTIMENTS
from store.sla import SlaPolicy

TAG_KEYS = ("care", "marketing", "both", "untriaged")


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds from a mention's arrival to an outcome, for one group of mentions."""

    key: str
    count: int
    p50: float | None
    p90: float | None


@dataclass(frozen=True, slots=True)
class SlaSummary:
    targets: dict[str, float]  # what was configured ("care", "mastodon", "default") -> seconds
    answered_on_time: int
    answered_late: int
    waiting_on_time: int
    waiting_late: int

    @property
    def breaches(self) -> int:
        return self.answered_late + self.waiting_late


@dataclass(frozen=True)
class Report:
    """Field names are the `report --json` format."""

    since: str
    until: str
    by: str
    buckets: list[str]
    # "tag" | "network" | "status" | "sentiment" -> key -> count per bucket
    volume: dict[str, dict[str, list[int]]]
    backlog: list[int]  # open mentions at the end of each bucket
    first_response: dict[str, list[Timing]]  # "tag" | "network" | "operator" -> timings
    resolution: dict[str, list[Timing]]  # "tag" | "network" | "operator" -> timings
    sla: SlaSummary | None
    handoff: Handoff
    total: int = 0
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def tag_key(tagset: str) -> str:
    tags = set(tagset.split(",")) if tagset else set()
    return "both" if len(tags) == 2 else (tags.pop() if tags else "untriaged")


def _sla_case(store: Store, policy: SlaPolicy, now: datetime) -> tuple[str, list[str]]:
    """A CASE giving, per (network, tags), the latest arrival time that is not yet late."""
    networks = {row[0] for row in store.conn.execute("SELECT DISTINCT network FROM accounts")}
    whens: list[str] = []
    params: list[str] = []
    for network in sorted(networks | set(policy.by_network)):
        for tagset in ("", "care", "marketing", "care,marketing"):
            target = policy.target([t for t in tagset.split(",") if t], network)
            if target is not None:
                whens.append("WHEN ? THEN ?")
                params += [f"{network}|{tagset}", iso(now - timedelta(seconds=target))]
    if not whens:
        return "NULL", []
    return f"CASE network || '|' || tagset {' '.join(whens)} END", params


def _timings(groups: dict[str, list[float]]) -> list[Timing]:
    out = []
    for key, values in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        values.sort()
        out.append(Timing(key, len(values), percentile(values, 0.5), percentile(values, 0.9)))
    return out


def _operator(name: str, seen: dict[str, str]) -> str:
    if name not in seen:
        seen[name] = clean_line(name, 64) or "?"
    return seen[name]


def _durations(rows: Iterable[tuple[str, str, str, str, str]]) -> tuple[dict[str, list[Timing]], list[float]]:
    """Timings by tag, network and operator from (network, tagset, created, outcome_at, operator) rows."""
    groups: dict[str, dict[str, list[float]]] = {"tag": defaultdict(list), "network": defaultdict(list),
                                                  "operator": defaultdict(list)}
    every: list[float] = []
    names: dict[str, str] = {}
    for network, tagset, created, outcome, operator in rows:
        start, end = parse_stored(created), parse_stored(outcome)
        if start is None or end is None:
            continue
        seconds = max(0.0, (end - start).total_seconds())
        every.append(seconds)
        groups["tag"][tag_key(tagset)].append(seconds)
        groups["network"][network].append(seconds)
        groups["operator"][_operator(operator, names)].append(seconds)
    return {dim: _timings(values) for dim, values in groups.items()}, every


_TAGSET = TAGSET


def build_report(store: Store, since: str, until: str | None = None, *, by: str = "day",
                 zone: tzinfo | None = None, policy: SlaPolicy | None = None) -> Report:
    conn = store.conn
    now = store.clock()
    until = until or iso(now + timedelta(milliseconds=1))  # the period includes what happened just now
    start, end = parse_stored(since), parse_stored(until)
    if start is None or end is None:
        raise ValueError("since and until must be ISO times")
    buckets = Buckets(start, end, by, zone or now.astimezone().tzinfo or start.tzinfo)  # type: ignore[arg-type]
    width = len(buckets)
    policy = policy or SlaPolicy()
    volume: dict[str, dict[str, list[int]]] = {"tag": {}, "network": {}, "status": {}, "sentiment": {}}

    def add(dim: str, key: str, index: int, count: int) -> None:
        volume[dim].setdefault(key, [0] * width)[index] += count

    late_case, late_params = _sla_case(store, policy, now)
    waiting = {"on_time": 0, "late": 0}
    total = 0
    for hour, network, tagset, status, answered, late, sentiment, count in conn.execute(
        f"""SELECT hour, network, tagset, status, answered,
                   status = 'open' AND NOT answered AND created_at < {late_case} AS late, sentiment, count(*)
            FROM (SELECT substr(m.created_at, 1, 13) AS hour, m.network, m.status, m.created_at, {_TAGSET} AS tagset,
                         EXISTS (SELECT 1 FROM replies r WHERE r.mention_id = m.id AND r.state != 'failed') AS answered,
                         m.sentiment
                  FROM mentions m WHERE m.created_at >= ? AND m.created_at < ?)
            GROUP BY 1, 2, 3, 4, 5, 6, 7""",
        (*late_params, since, until),
    ):
        index = buckets.index(hour)
        if index is None:
            continue
        total += count
        add("tag", tag_key(tagset), index, count)
        add("network", network, index, count)
        add("status", status, index, count)
        add("sentiment", SENTIMENTS.get(sentiment, "unknown"), index, count)  # unknown: signals never ran on it
        if status == "open" and not answered and late is not None:
            waiting["late" if late else "on_time"] += count

    first = conn.execute(
        f"""SELECT m.network, {_TAGSET}, m.created_at, f.at, f.operator
            FROM (SELECT mention_id, at, operator FROM (
                      SELECT mention_id, CASE state WHEN 'sent' THEN sent_at ELSE created_at END AS at, operator,
                             row_number() OVER (
                                 PARTITION BY mention_id
                                 ORDER BY CASE state WHEN 'sent' THEN sent_at ELSE created_at END, id) AS n
                      FROM replies WHERE state IN ('sent', 'manual')) ranked WHERE n = 1) f
            JOIN mentions m ON m.id = f.mention_id
            WHERE m.created_at >= ? AND m.created_at < ?""",
        (since, until),
    ).fetchall()
    first_response, _ = _durations(first)
    answered_late = answered_on_time = 0
    for network, tagset, created, at, _operator in first:
        target = policy.target([t for t in tagset.split(",") if t], network)
        begin, done = parse_stored(created), parse_stored(at)
        if target is None or begin is None or done is None:
            continue
        if (done - begin).total_seconds() > target:
            answered_late += 1
        else:
            answered_on_time += 1

    resolution, _ = _durations(conn.execute(
        f"""WITH last AS (SELECT mention_id, max(id) AS id FROM events
                          WHERE action = 'status.done' AND at >= ? GROUP BY mention_id)
            SELECT m.network, {_TAGSET}, m.created_at, e.at, e.operator
            FROM last JOIN events e ON e.id = last.id JOIN mentions m ON m.id = last.mention_id
            WHERE m.status = 'done' AND m.created_at >= ? AND m.created_at < ?""",
        (since, since, until),
    ).fetchall())

    sla = None
    if policy:
        targets = {**policy.by_tag, **policy.by_network}
        if policy.default is not None:
            targets["default"] = policy.default
        sla = SlaSummary(targets, answered_on_time, answered_late, waiting["on_time"], waiting["late"])
    return Report(
        since=since, until=until, by=by, buckets=buckets.labels(), volume=volume,
        backlog=_backlog(store, buckets, volume, since, until), first_response=first_response,
        resolution=resolution, sla=sla, handoff=handoff_between(store, since, until), total=total,
        notes=["backlog is rebuilt from the event log: mentions closed without an event (imported) "
               "count as closed when they arrived"],
    )


def _backlog(store: Store, buckets: Buckets, volume: dict[str, dict[str, list[int]]], since: str,
             until: str) -> list[int]:
    """Open mentions at the end of each bucket, walking back from now.

    open(t) = open now - arrivals after t + closings after t - reopenings after t: one
    count of open mentions plus per-bucket counts, instead of replaying a million histories.
    """
    conn = store.conn
    width = len(buckets)
    open_now = conn.execute("SELECT count(*) FROM mentions WHERE status = 'open'").fetchone()[0]
    arrived_later = conn.execute("SELECT count(*) FROM mentions WHERE created_at >= ?", (until,)).fetchone()[0]
    net_later = 0
    net = [0] * width  # closings minus reopenings per bucket
    for hour, action, count in conn.execute(
        """SELECT substr(at, 1, 13), action, count(*) FROM events
           WHERE action IN ('status.done', 'status.open') AND at >= ? GROUP BY 1, 2""", (since,)
    ):
        delta = count if action == "status.done" else -count
        index = buckets.index(hour)
        if index is None:
            net_later += delta if hour >= until[:13] else 0
        else:
            net[index] += delta
    arrivals = [sum(series[i] for series in volume["tag"].values()) for i in range(width)]
    out = [0] * width
    level = open_now - arrived_later + net_later
    for i in range(width - 1, -1, -1):
        out[i] = max(0, level)
        level += net[i] - arrivals[i]
    return out
