"""Each account's sending pace, as the leader's sender last saw it, and when group answers will be done.

The sender writes one `PaceState` per account (JSON in account_state,
key "pacing") after each send; every console and the CLI read it to say
"answer #12: 120 queued, ~4 min at 30/min (Mastodon limit)".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from store.account_state import get_account_value, put_account_value
from store.db import Store

PACING = "pacing"


@dataclass(frozen=True, slots=True)
class PaceState:
    """An account's pace: `interval` seconds between a group answer's sends, set by `label`.

    `sends_until_reset` more go at that interval until the server's budget
    resets at `reset_at`, then one every `interval_after` (None: the same).
    Times are ISO; `hold_until` is a Retry-After being obeyed.
    """

    label: str
    rate: str  # the interval as a person says it: "30/min"
    interval: float
    next_send_at: str | None
    updated_at: str
    hold_until: str | None = None
    limit: float | None = None
    remaining: float | None = None
    reset_at: str | None = None
    sends_until_reset: int | None = None
    interval_after: float | None = None

    @classmethod
    def from_json(cls, value: Any) -> PaceState | None:
        if not isinstance(value, dict):
            return None
        try:
            return cls(**{f.name: value[f.name] for f in fields(cls) if f.name in value})
        except TypeError:
            return None


def save_pace(store: Store, source: str, state: PaceState) -> None:
    put_account_value(store, source, PACING, json.dumps(asdict(state)))


def get_pace(store: Store, source: str) -> PaceState | None:
    row = get_account_value(store, source, PACING)
    try:
        return PaceState.from_json(json.loads(row.value)) if row is not None else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class SentReplyTime:
    sent_at: str
    bulk: bool  # of a group answer


def recent_sends(store: Store, source: str, since: str) -> list[SentReplyTime]:
    """When the account's replies sent since `since` went, oldest first: what a new leader's pacer
    starts from, so a restart does not forget a window's sends."""
    network, _, handle = source.partition(":")
    return [SentReplyTime(row[0], bool(row[1])) for row in store.conn.execute(
        """SELECT r.sent_at, r.answer_id IS NOT NULL FROM replies r JOIN mentions m ON m.id = r.mention_id
           JOIN accounts acc ON acc.id = m.account_id
           WHERE r.state = 'sent' AND r.sent_at >= ? AND acc.handle = ?
             AND (acc.network = ? OR acc.network LIKE ? || ':%') ORDER BY r.sent_at""",
        (since, handle, network, network))]


@dataclass(frozen=True, slots=True)
class AccountEta:
    """When an account will have sent a group answer's queued replies (or all of them: answer_id None)."""

    source: str
    answer_id: int | None
    queued: int  # of this answer, on this account, not sent yet
    ahead: int  # group replies the account sends before them (earlier answers)
    seconds: float | None  # None: the pace is not known (no leader has sent on this account yet)
    pace: PaceState | None
    held: bool = False  # a server's Retry-After is being obeyed


_FAMILY = "CASE WHEN instr(acc.network, ':') > 0 THEN substr(acc.network, 1, instr(acc.network, ':') - 1) " \
          "ELSE acc.network END || ':' || acc.handle"


def pacing_eta(store: Store, answer_id: int | None = None) -> list[AccountEta]:
    """Per account, how many of answer `answer_id`'s replies (None: of every answer) wait, and about
    how long until the last is sent at the account's pace."""
    rows = store.conn.execute(
        f"""SELECT {_FAMILY}, count(*), max(r.id) FROM replies r JOIN mentions m ON m.id = r.mention_id
            JOIN accounts acc ON acc.id = m.account_id
            WHERE r.answer_id IS NOT NULL AND (? IS NULL OR r.answer_id = ?)
              AND r.state IN ('pending', 'sending')
            GROUP BY 1 ORDER BY 1""", (answer_id, answer_id)).fetchall()
    now = store.clock()
    etas = []
    for source, queued, last in rows:
        ahead = 0
        if answer_id is not None:
            network, _, handle = source.partition(":")
            ahead = store.conn.execute(
                f"""SELECT count(*) FROM replies r JOIN mentions m ON m.id = r.mention_id
                    JOIN accounts acc ON acc.id = m.account_id
                    WHERE r.answer_id IS NOT NULL AND r.answer_id != ? AND r.id < ?
                      AND r.state IN ('pending', 'sending') AND {_FAMILY} = ?""",
                (answer_id, last, source)).fetchone()[0]
        pace = get_pace(store, source)
        hold = _at(pace.hold_until) if pace is not None else None
        etas.append(AccountEta(source, answer_id, queued, ahead,
                               None if pace is None else eta_seconds(pace, ahead + queued, now), pace,
                               hold is not None and hold > now.timestamp()))
    return etas


def _at(text: str | None) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp() if text else None
    except ValueError:
        return None


def eta_seconds(pace: PaceState, sends: int, now: datetime) -> float:
    """Seconds from `now` until `sends` more group replies have gone at `pace`."""
    if sends <= 0:
        return 0.0
    start = max([now.timestamp()] + [t for t in (_at(pace.next_send_at), _at(pace.hold_until)) if t is not None])
    first = start - now.timestamp()
    rest = sends - 1
    reset = _at(pace.reset_at)
    if pace.sends_until_reset is not None and reset is not None and rest > pace.sends_until_reset:
        after = pace.interval_after if pace.interval_after is not None else pace.interval
        return max(first + rest * pace.interval,
                   max(first, reset - now.timestamp()) + (rest - pace.sends_until_reset) * after)
    return first + rest * pace.interval


def answers_waiting(store: Store) -> list[int]:
    """Group answers with replies still to send, oldest first."""
    return [row[0] for row in store.conn.execute(
        """SELECT DISTINCT answer_id FROM replies WHERE answer_id IS NOT NULL AND state IN ('pending', 'sending')
           ORDER BY answer_id""")]


def describe_pace(pace: PaceState, now: datetime) -> str:
    """One line: "29/min (Mastodon limit), 12 of 30 left until 12:05:00Z"."""
    parts = [f"{pace.rate} ({pace.label})"]
    if pace.limit is not None and pace.remaining is not None:
        until = f" until {pace.reset_at[11:19]}Z" if pace.reset_at else ""
        parts.append(f"{pace.remaining:g} of {pace.limit:g} left{until}")
    hold = _at(pace.hold_until)
    if pace.hold_until and hold is not None and hold > now.timestamp():
        parts.append(f"rate-limited by the server until {pace.hold_until[11:19]}Z")
    return ", ".join(parts) + f" (as of {pace.updated_at[11:19]}Z)"


def human_eta(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def describe_eta(etas: list[AccountEta], answer_id: int | None = None) -> str:
    """One line: "answer #12: 120 queued, ~4 min at 30/min (Mastodon limit)" (several accounts: the slowest)."""
    name = f"answer #{answer_id}" if answer_id is not None else "group answers"
    queued = sum(eta.queued for eta in etas)
    if not queued:
        return f"{name}: nothing queued"
    known = [eta for eta in etas if eta.seconds is not None and eta.pace is not None]
    if not known:
        return f"{name}: {queued} queued, pace not known yet"
    slowest = max(known, key=lambda eta: eta.seconds or 0.0)
    assert slowest.pace is not None and slowest.seconds is not None
    held = f", held until {(slowest.pace.hold_until or '')[11:19]}Z by the server" if slowest.held else ""
    return (f"{name}: {queued} queued, ~{human_eta(slowest.seconds)} at {slowest.pace.rate} "
            f"({slowest.pace.label}{held})")
