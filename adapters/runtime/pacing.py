"""When an account may send its next reply: pure arithmetic over what the network allows.

One `Pacer` per account, fed by observations (the budget a server's
headers state, a Retry-After hold, each send made) and asked one
question: from when may the next reply of this kind go?

- A typed reply (single) goes as soon as every hard limit has room: no
  Retry-After hold is running, the server's remaining budget covers it,
  and no configured or documented `Rate` would be exceeded in any window.
- A reply of a group answer (bulk) also leaves RESERVE of each budget for
  typed replies, and is spread: the server's remaining budget over the
  time to its reset, a fixed rate evenly over its shortest window, or the
  default pace when nothing else is known. It never bursts a budget to zero.

Times are seconds since the epoch, from the caller's clock (the store's),
so tests drive it without waiting.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.budget import Budget, Rate, rate_text

#: share of each budget a group answer leaves for replies operators type
RESERVE = 0.05
#: the pace of a group answer when the server states no limit and none is configured
DEFAULT_PACE = Rate(60, 60, 1, "default pace")
#: a hold longer than this is a misread header, not a wait to obey for days
MAX_HOLD = 86_400.0
INF = math.inf


def reserve_points(points: float, cost: float) -> float:
    """Whole replies' worth of points a group answer leaves untouched."""
    return math.floor(RESERVE * points / cost) * cost


class _Window:
    """A Rate as a log of what was spent in its sliding window (and its running total, so a day's
    window of thousands of sends is asked in the time of the few that leave it)."""

    def __init__(self, rate: Rate):
        self.rate = rate
        self.log: deque[tuple[float, float]] = deque()  # (time, points), oldest first
        self.total = 0.0

    def spend(self, now: float) -> None:
        while self.log and self.log[0][0] <= now - self.rate.window:
            self.total -= self.log.popleft()[1]
        self.log.append((now, self.rate.cost))
        self.total += self.rate.cost

    def cap(self, bulk: bool) -> float:
        return self.rate.points - (reserve_points(self.rate.points, self.rate.cost) if bulk else 0.0)

    def used(self, at: float) -> float:
        used = self.total
        for when, points in self.log:
            if when > at - self.rate.window:
                break
            used -= points
        return used

    def free_at(self, at: float, bulk: bool) -> float:
        """Earliest time >= `at` when one more reply fits in every window ending then."""
        cap = self.cap(bulk)
        if self.rate.cost > cap:
            return INF
        excess = self.used(at) + self.rate.cost - cap
        if excess <= 1e-9:
            return at
        for when, points in self.log:
            if when <= at - self.rate.window:
                continue
            excess -= points
            if excess <= 1e-9:
                return when + self.rate.window
        return INF  # unreachable: the log holds at least `excess`

    @property
    def spacing(self) -> float:
        """Seconds between a group answer's sends at this rate, reserve kept."""
        return self.rate.window * self.rate.cost / max(self.rate.cost, self.cap(bulk=True))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The pace as the desk shows it: what sets it, how fast, and what the next hours look like."""

    label: str
    interval: float  # seconds between a group answer's sends now
    next_bulk_at: float
    hold_until: float | None = None
    limit: float | None = None
    remaining: float | None = None
    reset_at: float | None = None
    #: sends at `interval` until the server's budget resets, then `interval_after` each
    sends_until_reset: int | None = None
    interval_after: float | None = None

    @property
    def rate(self) -> str:
        return rate_text(1 / self.interval) if self.interval > 0 else "no limit"


class Pacer:
    def __init__(self, rates: Sequence[Rate] = (), *, default: Rate = DEFAULT_PACE):
        self.windows = [_Window(rate) for rate in rates]
        self.default = default
        self.budget: Budget | None = None
        self.remaining = 0.0
        self.reset = 0.0
        self.hold_until = 0.0
        self.last_bulk: float | None = None
        self.window_guess: float | None = None  # a server that does not say its window's length

    # --- what happened -----------------------------------------------------------

    def observe(self, budget: Budget) -> None:
        """The server stated its budget (in a response to a send)."""
        reset = budget.reset.timestamp()
        if budget.window is None and self.budget is not None and reset > self.reset + 1:
            self.window_guess = reset - self.reset  # a new window began: that is how long one lasts
        self.budget = budget
        self.remaining = budget.remaining
        self.reset = budget.reset.timestamp()

    def hold(self, seconds: float, now: float) -> None:
        """The server said to wait (429, Retry-After): nothing goes before then."""
        self.hold_until = max(self.hold_until, now + min(max(seconds, 0.0), MAX_HOLD))

    def sent(self, now: float, *, bulk: bool) -> None:
        """A reply went to the network (whatever it answered, it counted)."""
        for window in self.windows:
            window.spend(now)
        state = self._server(now)
        if state is not None and self.budget is not None:
            self.remaining, self.reset = max(0.0, state[0] - self.budget.cost), state[1]
        if bulk:
            self.last_bulk = now if self.last_bulk is None else max(self.last_bulk, now)

    # --- what may go -----------------------------------------------------------------

    def _server(self, at: float) -> tuple[float, float] | None:
        """The server's (remaining, reset) as of `at`; None when unknown (never said, or its window ended
        without saying how long the next one is). A window of known length refills. Asks only: a
        question about a later time must not change what is known now."""
        budget = self.budget
        if budget is None:
            return None
        if at < self.reset:
            return self.remaining, self.reset
        if budget.window is None:
            return None
        return budget.limit, self.reset + math.ceil((at - self.reset + 1e-9) / budget.window) * budget.window

    def _server_at(self, at: float, bulk: bool) -> float:
        state, budget = self._server(at), self.budget
        if state is None or budget is None:
            return at
        remaining, reset = state
        floor = reserve_points(budget.limit, budget.cost) if bulk else 0.0
        return at if remaining - budget.cost >= floor - 1e-9 else reset

    def _spacing(self, at: float) -> tuple[float, str, int | None]:
        """(seconds between group sends, what sets it, sends left before the server's reset)."""
        spacing, label, left = 0.0, "", None
        state, budget = self._server(at), self.budget
        if state is not None and budget is not None:
            remaining, reset = state
            left = max(0, math.floor((remaining - reserve_points(budget.limit, budget.cost)) / budget.cost + 1e-9))
            base = self.last_bulk if self.last_bulk is not None else at
            if left > 0:
                spacing, label = max(0.0, reset - base) / left, budget.label
        if self.windows:
            shortest = min(self.windows, key=lambda w: w.rate.window)
            if shortest.spacing > spacing:
                spacing, label = shortest.spacing, shortest.rate.label
        if state is None and not self.windows:
            spacing, label = self.default.window * self.default.cost / self.default.points, self.default.label
        return spacing, label, left

    def ready_at(self, now: float, *, bulk: bool) -> float:
        """The earliest time (>= now) a reply of this kind may go; inf: never, as configured."""
        at = max(now, self.hold_until)
        for _ in range(16):  # each limit may push past another's; they settle in a few rounds
            later = at
            for window in self.windows:
                later = max(later, window.free_at(later, bulk))
            later = max(later, self._server_at(later, bulk))
            if bulk and self.last_bulk is not None:
                later = max(later, self.last_bulk + self._spacing(later)[0])
            if later == at or later == INF:
                return later
            at = later
        return at

    def free(self, now: float) -> int:
        """How many typed replies may go right now, one after another."""
        if self.hold_until > now:
            return 0
        counts = [math.floor((w.cap(bulk=False) - w.used(now)) / w.rate.cost + 1e-9) for w in self.windows]
        state = self._server(now)
        if state is not None and self.budget is not None:
            counts.append(math.floor(state[0] / self.budget.cost + 1e-9))
        return max(0, min(counts, default=1_000_000))

    def snapshot(self, now: float) -> Snapshot:
        spacing, label, left = self._spacing(now)
        budget, state = self.budget, self._server(now)
        hold = self.hold_until if self.hold_until > now else None
        after = None
        if budget is not None and state is not None:
            window = budget.window or self.window_guess
            usable = budget.limit - reserve_points(budget.limit, budget.cost)
            after = window * budget.cost / max(budget.cost, usable) if window else None
            if not left:  # spent until the reset: what follows is the pace to tell
                spacing, label = after or self.default.window * self.default.cost / self.default.points, budget.label
        return Snapshot(label, spacing, self.ready_at(now, bulk=True), hold,
                        budget.limit if state and budget else None, state[0] if state else None,
                        state[1] if state else None, left if state else None, after)
