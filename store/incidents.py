"""Incidents: a surge of mentions, overall or on one topic, raised by the ingest leader for every console.

The test, run every few seconds by the leader over the last `window`:
- volume: arrivals in the window ≥ `factor` × the baseline and ≥ `min_mentions`. The baseline is
  the same window of the day on up to 7 earlier days (median) when the history reaches back that far,
  else the average window of the hour before; a desk with less than `min_history` before the window
  has no baseline yet and raises nothing on volume (a new desk's first minutes are not a surge);
- topic: one near-duplicate group gained ≥ `min_topic` members in the window and is ≥ `topic_share`
  of the window's arrivals (a new complaint has no baseline of its own: its share is the test).
While an incident of the same kind and topic is open or acknowledged it is updated, not raised again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from store.actions import ActionError
from store.db import Store, inserted_id, iso
from store.events import log_event
from store.report_buckets import parse_stored
from store.sanitize import clean_line
from store.sla import short_span

LEADER = "leader"  # the event log's operator for what the ingest leader raises


@dataclass(frozen=True, slots=True)
class SurgeRule:
    window: float = 120.0  # seconds
    factor: float = 3.0
    min_mentions: int = 50
    min_history: float = 600.0  # seconds of history before the window needed for a baseline
    min_topic: int = 15
    topic_share: float = 0.10


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    title: str
    kind: str
    topic: str
    state: str
    started_at: str
    detected_at: str
    updated_at: str
    closed_at: str | None
    baseline: float  # mentions per window expected
    peak: float  # the most seen in one window
    mentions: int  # arrived since it started (topic: the group's members since)
    group_id: int | None


@dataclass(frozen=True, slots=True)
class IncidentStats:
    """Counted in people (authors), each once: answered, else queued, else failed, else skipped."""

    incident: Incident
    detection_seconds: float | None
    first_answer_seconds: float | None  # the first reply sent to one of its mentions, after its start
    last_answer_seconds: float | None
    people: int  # authors who posted in it
    answered: int  # people with a reply sent
    failed: int  # people whose every reply failed
    skipped: int  # people left without a reply on purpose: closed without one, or skipped by a group answer
    queued: int = 0  # people whose reply waits in the outbox (pending or being sent)
    by_group_answers: int = 0  # of the answered: people answered by a group answer


_COLUMNS = ("id, title, kind, topic, state, started_at, detected_at, updated_at, closed_at, baseline, peak, "
            "mentions, group_id")


def _incident(row: tuple) -> Incident:
    values = list(row)
    values[1] = clean_line(values[1], 120)
    values[3] = clean_line(values[3], 120)
    return Incident(*values)


def _count(store: Store, start: datetime, end: datetime) -> int:
    return store.conn.execute("SELECT count(*) FROM mentions WHERE created_at >= ? AND created_at < ?",
                              (iso(start), iso(end))).fetchone()[0]


def baseline(store: Store, now: datetime, window: float, min_history: float = 0.0) -> float | None:
    """Mentions expected in the window ending `now`; None while the history is too short to say."""
    span = timedelta(seconds=window)
    oldest = store.conn.execute("SELECT min(created_at) FROM mentions").fetchone()[0]
    first = parse_stored(oldest) if oldest else None
    if first is None or first > now - span - timedelta(seconds=min_history):
        return None
    earlier = [_count(store, now - span - timedelta(days=k), now - timedelta(days=k)) for k in range(1, 8)
               if first <= now - span - timedelta(days=k)]
    if len(earlier) >= 2:
        from statistics import median  # the ingest leader's surge check, not a console's start

        return float(median(earlier))
    start = max(first, now - span - timedelta(hours=1))
    seconds = (now - span - start).total_seconds()
    return _count(store, start, now - span) * window / seconds if seconds > 0 else None


def _start_of_run(store: Store, now: datetime, per_minute: float, group_id: int | None = None) -> datetime:
    """The first minute of the surge: walking back from now while minutes stay above `per_minute`."""
    since = iso(now - timedelta(minutes=60))
    if group_id is None:
        rows = store.conn.execute(
            "SELECT substr(created_at, 1, 16), count(*) FROM mentions WHERE created_at >= ? GROUP BY 1",
            (since,)).fetchall()
    else:
        rows = store.conn.execute(
            """SELECT substr(m.created_at, 1, 16), count(*) FROM group_members gm JOIN mentions m
               ON m.id = gm.mention_id WHERE gm.group_id = ? AND m.created_at >= ? GROUP BY 1""",
            (group_id, since)).fetchall()
    counts = dict(rows)
    minute = now.replace(second=0, microsecond=0)
    start: datetime | None = None
    quiet = 0
    while minute > now - timedelta(minutes=60):
        if counts.get(iso(minute)[:16], 0) > per_minute:
            start, quiet = minute, 0
        elif start is not None:
            quiet += 1
            if quiet > 2:  # three calm minutes before it: that is where the run began
                break
        minute -= timedelta(minutes=1)
    return start or now - timedelta(minutes=5)


def _open_incident(store: Store, kind: str, topic: str) -> Incident | None:
    row = store.conn.execute(
        f"SELECT {_COLUMNS} FROM incidents WHERE kind = ? AND topic = ? AND state != 'closed' ORDER BY id DESC",
        (kind, topic)).fetchone()
    return _incident(row) if row else None


def _raise_or_update(store: Store, kind: str, topic: str, title: str, now: datetime, base: float, seen: int,
                     group_id: int | None, per_minute: float) -> Incident | None:
    current = _open_incident(store, kind, topic)
    stamp = iso(now)
    if current is not None:
        since = parse_stored(current.started_at) or now
        total = (_count(store, since, now + timedelta(seconds=1)) if group_id is None else
                 store.conn.execute("SELECT size FROM mention_groups WHERE id = ?", (group_id,)).fetchone()[0])
        store.conn.execute("UPDATE incidents SET updated_at = ?, peak = max(peak, ?), mentions = ? WHERE id = ?",
                           (stamp, seen, total, current.id))
        return None
    started = _start_of_run(store, now, per_minute, group_id)
    total = seen if group_id is None else store.conn.execute(
        "SELECT size FROM mention_groups WHERE id = ?", (group_id,)).fetchone()[0]
    incident_id = inserted_id(store.conn.execute(
        """INSERT INTO incidents (title, kind, topic, started_at, detected_at, updated_at, baseline, peak, mentions,
                                  group_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (clean_line(title, 120), kind, topic, iso(started), stamp, stamp, base, seen, total, group_id,
         json.dumps({"per_minute_threshold": per_minute}))))
    log_event(store, LEADER, "incident.raise", None, incident=incident_id, kind=kind, topic=topic, title=title)
    return get_incident(store, incident_id)


def detect(store: Store, rule: SurgeRule = SurgeRule()) -> list[Incident]:
    """One look at the last window; returns the incidents it raised (updates the open ones)."""
    now = store.clock()
    span = timedelta(seconds=rule.window)
    raised: list[Incident] = []
    with store.write():
        seen = _count(store, now - span, now + timedelta(seconds=1))
        base = baseline(store, now, rule.window, rule.min_history)
        minutes = rule.window / 60
        if base is not None and seen >= rule.min_mentions and seen >= rule.factor * base:
            per_minute = max(rule.factor * base / minutes, 1.0)
            found = _raise_or_update(store, "volume", "", f"Surge: {seen} mentions in {minutes:g} min "
                                     f"(usually {base:.0f})", now, base, seen, None, per_minute)
            raised += [found] if found else []
        if seen:
            for group_id, label, count in store.conn.execute(
                """SELECT g.id, g.label, count(*) FROM group_members gm JOIN mentions m ON m.id = gm.mention_id
                   JOIN mention_groups g ON g.id = gm.group_id
                   WHERE m.created_at >= ? AND g.merged_into IS NULL GROUP BY g.id
                   HAVING count(*) >= ? ORDER BY count(*) DESC LIMIT 5""", (iso(now - span), rule.min_topic)
            ).fetchall():
                if count / seen >= rule.topic_share:
                    found = _raise_or_update(store, "topic", str(group_id), f"Spike: {clean_line(label, 60)}",
                                             now, 0.0, count, group_id, 1.0)
                    raised += [found] if found else []
    return raised


def get_incident(store: Store, incident_id: int) -> Incident:
    row = store.conn.execute(f"SELECT {_COLUMNS} FROM incidents WHERE id = ?", (incident_id,)).fetchone()
    if row is None:
        raise ActionError(f"no incident with id {incident_id}")
    return _incident(row)


def list_incidents(store: Store, *, include_closed: bool = True, limit: int = 100) -> list[Incident]:
    where = "" if include_closed else "WHERE state != 'closed'"
    return [_incident(row) for row in store.conn.execute(
        f"SELECT {_COLUMNS} FROM incidents {where} ORDER BY id DESC LIMIT ?", (limit,))]


def incidents_since(store: Store, since: str) -> list[Incident]:
    """Incidents that started in the period or are still open: what a handover names."""
    return [_incident(row) for row in store.conn.execute(
        f"SELECT {_COLUMNS} FROM incidents WHERE started_at >= ? OR state != 'closed' ORDER BY id", (since,))]


def set_state(store: Store, incident_id: int, state: str, operator: str) -> bool:
    if state not in ("acknowledged", "closed", "open"):
        raise ActionError(f"unknown incident state {state!r}")
    with store.write():
        current = get_incident(store, incident_id)
        if current.state == state:
            return False
        store.conn.execute("UPDATE incidents SET state = ?, updated_at = ?, closed_at = ? WHERE id = ?",
                           (state, store.now(), store.now() if state == "closed" else None, incident_id))
        action = {"acknowledged": "incident.ack", "closed": "incident.close", "open": "incident.reopen"}[state]
        log_event(store, operator, action, None, incident=incident_id)
    return True


def rename(store: Store, incident_id: int, title: str, operator: str) -> None:
    title = clean_line(" ".join(title.split()), 120)
    if not title:
        raise ActionError("an incident needs a title")
    with store.write():
        get_incident(store, incident_id)
        store.conn.execute("UPDATE incidents SET title = ?, updated_at = ? WHERE id = ?",
                           (title, store.now(), incident_id))
        log_event(store, operator, "incident.rename", None, incident=incident_id, title=title)


def _members(store: Store, incident: Incident) -> str:
    """SQL selecting the incident's mention ids (bound: :group, :start, :end)."""
    if incident.group_id is not None:
        return "SELECT mention_id FROM group_members WHERE group_id = :group"
    return "SELECT id FROM mentions WHERE created_at >= :start AND created_at < :end"


def incident_stats(store: Store, incident_id: int) -> IncidentStats:
    incident = get_incident(store, incident_id)
    params = {"group": incident.group_id, "start": incident.started_at,
              "end": incident.closed_at or iso(store.clock() + timedelta(seconds=1))}
    members = _members(store, incident)
    started = parse_stored(incident.started_at)
    # One row per person: their best outcome over their mentions in the incident.
    people, answered, by_group, queued, failed, skipped, first, last = store.conn.execute(
        f"""WITH per_person AS (
                SELECT m.author_id,
                       max(CASE WHEN r.state = 'sent' THEN 1 ELSE 0 END) AS sent,
                       max(CASE WHEN r.state = 'sent' AND r.answer_id IS NOT NULL THEN 1 ELSE 0 END) AS by_group,
                       max(CASE WHEN r.state IN ('pending', 'sending', 'manual') THEN 1 ELSE 0 END) AS waiting,
                       max(CASE WHEN r.state = 'failed' THEN 1 ELSE 0 END) AS failed,
                       max(CASE WHEN m.status = 'done' AND r.id IS NULL THEN 1 ELSE 0 END) AS closed,
                       max(CASE WHEN EXISTS (SELECT 1 FROM answer_skips s WHERE s.mention_id = m.id
                                             AND s.reason IN ('unfillable', 'missing')) THEN 1 ELSE 0 END)
                           AS passed_over,
                       min(CASE WHEN r.state = 'sent' THEN r.sent_at END) AS first_sent,
                       max(CASE WHEN r.state = 'sent' THEN r.sent_at END) AS last_sent
                FROM mentions m LEFT JOIN replies r ON r.mention_id = m.id
                WHERE m.id IN ({members}) GROUP BY m.author_id)
            -- Flags are 0/1 integers compared explicitly: the same SQL on SQLite and PostgreSQL.
            SELECT count(*), coalesce(sum(sent), 0), coalesce(sum(sent * by_group), 0),
                   coalesce(sum(CASE WHEN sent = 0 AND waiting = 1 THEN 1 ELSE 0 END), 0),
                   coalesce(sum(CASE WHEN sent = 0 AND waiting = 0 AND failed = 1 THEN 1 ELSE 0 END), 0),
                   coalesce(sum(CASE WHEN sent = 0 AND waiting = 0 AND failed = 0 AND (closed = 1 OR passed_over = 1)
                                THEN 1 ELSE 0 END), 0),
                   min(first_sent), max(last_sent)
            FROM per_person""", params).fetchone()

    def since_start(moment: str | None) -> float | None:
        at = parse_stored(moment) if moment else None
        return (at - started).total_seconds() if at and started else None

    return IncidentStats(incident, since_start(incident.detected_at), since_start(first), since_start(last),
                         people, answered, failed, skipped, queued, by_group)


def span(seconds: float | None) -> str:
    return "—" if seconds is None else short_span(seconds)


def stats_line(stats: IncidentStats) -> str:
    """The incident measured in one line (incidents show, the handover)."""
    return (f"{stats.people} people: answered {stats.answered} ({stats.by_group_answers} by group answers), "
            f"queued {stats.queued}, failed {stats.failed}, skipped {stats.skipped}; first answer "
            f"{span(stats.first_answer_seconds)} after the start, last {span(stats.last_answer_seconds)}")
