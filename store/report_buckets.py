"""Time buckets for reports: stored UTC hours folded into the operator's hours or days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

# A mention's tags in SQL ("care", "marketing", "care,marketing" or ""), in that order on both
# databases: PostgreSQL's string_agg follows insertion order, not the primary key as SQLite's does.
TAGSET = ("(SELECT CASE count(*) WHEN 0 THEN '' WHEN 1 THEN min(tag) ELSE min(tag) || ',' || max(tag) END "
          "FROM tags t WHERE t.mention_id = m.id)")

HOUR = "hour"
DAY = "day"
GRAINS = (HOUR, DAY)


def parse_stored(moment: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _floor(moment: datetime, grain: str, zone: tzinfo) -> datetime:
    local = moment.astimezone(zone)
    if grain == DAY:
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
    return local.replace(minute=0, second=0, microsecond=0)


class Buckets:
    """Consecutive buckets from `since` to `until`; `index` maps a stored hour key to its bucket."""

    def __init__(self, since: datetime, until: datetime, grain: str, zone: tzinfo):
        if grain not in GRAINS:
            raise ValueError(f"by must be one of {', '.join(GRAINS)}")
        self.grain, self.zone = grain, zone
        starts: list[datetime] = []
        cursor = _floor(since, grain, zone)
        # Step in UTC, then re-floor locally: a DST change makes some local days 23 or 25 hours
        # (26 h always lands in the next local day), and local wall-clock sums skip or repeat hours.
        step = timedelta(hours=26) if grain == DAY else timedelta(hours=1)
        while cursor < until:
            starts.append(cursor)
            cursor = _floor(cursor.astimezone(UTC) + step, grain, zone)
        self.starts = starts or [_floor(since, grain, zone)]
        self._by_start = {start: i for i, start in enumerate(self.starts)}
        self._cache: dict[str, int | None] = {}

    def __len__(self) -> int:
        return len(self.starts)

    def labels(self) -> list[str]:
        return [start.isoformat(timespec="minutes") for start in self.starts]

    def index(self, hour_key: str) -> int | None:
        """The bucket of a stored time's first 13 characters ("2026-11-29T14"), or None outside."""
        if hour_key in self._cache:
            return self._cache[hour_key]
        moment = parse_stored(hour_key + ":00:00+00:00")
        found = None if moment is None else self._by_start.get(_floor(moment, self.grain, self.zone))
        self._cache[hour_key] = found
        return found

    def index_of(self, moment: datetime) -> int | None:
        return self._by_start.get(_floor(moment, self.grain, self.zone))


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile of a sorted list (None when empty): what p50/p90 report."""
    if not values:
        return None
    rank = max(1, -(-len(values) * share // 1))  # ceil without float drift for whole shares
    return values[min(len(values), int(rank)) - 1]
