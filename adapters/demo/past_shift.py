"""A past shift on the demo network: its mentions and what two colleagues did with them, in time order.

A desk that only ever ran the live demo has no replies, hand-offs or closings, so its reports and
handover have nothing to show. `mentiondesk demo-shift` plays this plan into the desk: the demo
network's posts over the last hours, and ana (care) and bo (marketing) tagging, answering (some late
against the usual targets), closing, and handing mentions over between the two teams; the last hour is
left waiting, as a shift leaves it. Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from adapters.demo.adapter import DemoAdapter
from store.records import NewMention

CARE_WORDS = ("refund", "rembours", "broken", "cassé", "late", "retard", "help", "aide", "can't", "won't",
              "marche plus", "ne charge", "login", "order", "commande", "?")
MARKETING_WORDS = ("giveaway", "#win", "concours", "love", "amazing", "adore", "launch", "génial")


@dataclass(frozen=True, slots=True)
class Step:
    at: datetime
    kind: str  # "arrive", "tag", "reply", "done"
    remote_id: str
    operator: str = ""
    tag: str = ""
    mention: NewMention | None = None


def _past(mention: NewMention) -> NewMention:
    """Own remote ids, so the live demo stream (same numbers) never collides with the shift's posts."""
    def own(value: str | None) -> str | None:
        return None if value is None else f"past-{value}"
    return replace(mention, remote_id=f"past-{mention.remote_id}", parent_remote_id=own(mention.parent_remote_id),
                   root_remote_id=own(mention.root_remote_id))


def plan(now: datetime, hours: float = 8.0, per_hour: float = 60.0, seed: int = 17) -> list[Step]:
    """Every step of the shift ending at `now`, sorted by time."""
    rng = random.Random(seed)
    adapter = DemoAdapter(rate_per_minute=per_hour / 60, seed=seed, burst_every=None)
    start = now - timedelta(hours=hours)
    steps: list[Step] = []
    count = int(hours * per_hour)
    for n in range(1, count + 1):
        created = start + timedelta(seconds=(n - 0.5) * hours * 3600 / count)
        mention = _past(adapter._next_mention(n, created))
        steps.append(Step(created, "arrive", mention.remote_id, mention=mention))
        if now - created < timedelta(hours=1):
            continue  # the last hour waits for the next shift
        text = mention.text.lower()
        team = ("care" if any(w in text for w in CARE_WORDS)
                else "marketing" if any(w in text for w in MARKETING_WORDS) else None)
        if team is None or rng.random() < 0.15:
            continue  # some slip through untouched
        steps += _handled(mention.remote_id, team, created, now, rng)
    return sorted((s for s in steps if s.at < now), key=lambda s: (s.at, s.kind != "arrive"))


def _handled(remote_id: str, team: str, created: datetime, now: datetime, rng: random.Random) -> list[Step]:
    operator, other, other_team = ("ana", "bo", "marketing") if team == "care" else ("bo", "ana", "care")
    tagged = created + timedelta(minutes=rng.uniform(2, 25))
    out = [Step(tagged, "tag", remote_id, operator, team)]
    if rng.random() < 0.12:  # the other team takes it up too: a hand-off
        out.append(Step(tagged + timedelta(minutes=rng.uniform(10, 120)), "tag", remote_id, other, other_team))
    if rng.random() < (0.8 if team == "care" else 0.4):
        # Care aims at 1 h, and misses it now and then; marketing answers within hours.
        wait = rng.uniform(8, 95) if team == "care" else rng.uniform(20, 300)
        replied = created + timedelta(minutes=wait)
        out.append(Step(replied, "reply", remote_id, operator))
        if rng.random() < 0.6:
            out.append(Step(replied + timedelta(minutes=rng.uniform(3, 40)), "done", remote_id, operator))
    return out
