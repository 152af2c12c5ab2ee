"""The pacer's promises, for any limits and any mix of typed and group replies (hypothesis).

Never more than a budget in any window (a rate's sliding window, a
server's fixed one); a Retry-After is obeyed; a typed reply is never
behind a group reply; a group answer is spread, not burst.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.budget import Budget, Rate, budget_from_headers, parse_rate, rate_text
from adapters.runtime.pacing import DEFAULT_PACE, Pacer, reserve_points

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

T0 = 1_800_000_000.0

rates = st.builds(Rate, st.integers(1, 60).map(float), st.sampled_from([1.0, 10.0, 60.0, 300.0]),
                  st.sampled_from([1.0, 3.0]))


def simulate(pacer: Pacer, bulk: int, singles: list[float], *, server=None, horizon: float = 1e7):
    """Send `bulk` group replies and typed ones arriving at `singles` (offsets), each as soon as the
    pacer allows; `server(t)` is told of every send and answers the Budget it states. Returns the sends."""
    sent: list[tuple[float, bool]] = []
    waiting = sorted(T0 + offset for offset in singles)
    now = T0
    while (bulk or waiting) and now < T0 + horizon:
        options = []
        if waiting:
            options.append((pacer.ready_at(max(now, waiting[0]), bulk=False), False))
        if bulk:
            options.append((pacer.ready_at(now, bulk=True), True))
        at, is_bulk = min(options)
        if at == float("inf"):
            break
        now = at
        pacer.sent(now, bulk=is_bulk)
        sent.append((now, is_bulk))
        if server is not None:
            pacer.observe(server(now))
        if is_bulk:
            bulk -= 1
        else:
            waiting.pop(0)
    return sent


@settings(max_examples=60, deadline=None)
@given(st.lists(rates, min_size=1, max_size=3), st.integers(0, 120),
       st.lists(st.floats(0, 600, allow_nan=False), max_size=20))
def test_no_rate_is_ever_exceeded_in_any_window(given_rates, bulk, singles):
    sent = simulate(Pacer(given_rates), bulk, singles)
    times = [t for t, _ in sent]
    for rate in given_rates:
        for t in times:  # every window that ends at a send holds at most the budget
            spent = sum(rate.cost for s in times if t - rate.window < s <= t)
            assert spent <= rate.points + 1e-9, (rate, t)
        group = [s for s, is_bulk in sent if is_bulk]
        for t in group:  # and a group answer leaves the reserve
            spent = sum(rate.cost for s in group if t - rate.window < s <= t)
            assert spent <= rate.points - reserve_points(rate.points, rate.cost) + 1e-9 or \
                rate.cost > rate.points - reserve_points(rate.points, rate.cost)


class FixedWindows:
    """A server counting points in fixed windows of `window` seconds, as Mastodon and the PDS do."""

    def __init__(self, limit: int, window: float, cost: float, say_window: bool):
        self.limit, self.window, self.cost, self.say_window = limit, window, cost, say_window
        self.spent: dict[int, float] = {}

    def __call__(self, t: float) -> Budget:
        index = int((t - T0) // self.window)
        self.spent[index] = self.spent.get(index, 0.0) + self.cost
        reset = datetime.fromtimestamp(T0 + (index + 1) * self.window, UTC)
        return Budget(self.limit, max(0.0, self.limit - self.spent[index]), reset, self.cost,
                      self.window if self.say_window else None, "server")


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 60), st.sampled_from([10.0, 60.0, 300.0]), st.sampled_from([1.0, 3.0]), st.booleans(),
       st.integers(1, 150), st.lists(st.floats(0, 900, allow_nan=False), max_size=15))
def test_a_server_budget_is_never_overspent_and_a_group_answer_leaves_its_reserve(
        limit, window, cost, say_window, bulk, singles):
    limit_points = limit * cost
    server = FixedWindows(limit_points, window, cost, say_window)
    pacer = Pacer()
    pacer.observe(Budget(limit_points, limit_points, datetime.fromtimestamp(T0 + window, UTC), cost,
                         window if say_window else None, "server"))
    sent = simulate(pacer, bulk, singles, server=server)
    assert all(points <= limit_points + 1e-9 for points in server.spent.values()), server.spent
    assert len(sent) == bulk + len(singles)  # nothing is starved for good
    for index in server.spent:
        group = [t for t, is_bulk in sent if is_bulk and int((t - T0) // window) == index]
        assert len(group) * cost <= limit_points - reserve_points(limit_points, cost) + 1e-9


@settings(max_examples=60, deadline=None)
@given(st.lists(rates, max_size=2), st.floats(0.5, 3600, allow_nan=False), st.floats(0, 100, allow_nan=False))
def test_a_retry_after_holds_every_reply_until_it_ends(given_rates, seconds, offset):
    pacer = Pacer(given_rates)
    now = T0 + offset
    pacer.hold(seconds, now)
    assert pacer.ready_at(now, bulk=False) >= now + seconds
    assert pacer.ready_at(now, bulk=True) >= now + seconds
    assert pacer.free(now) == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(rates, max_size=3), st.integers(0, 40), st.floats(0, 120, allow_nan=False))
def test_a_typed_reply_is_never_behind_a_group_reply(given_rates, bulk, later):
    pacer = Pacer(given_rates)
    simulate(pacer, bulk, [])
    at = T0 + later
    assert pacer.ready_at(at, bulk=False) <= pacer.ready_at(at, bulk=True)


def test_a_group_answer_spreads_the_remaining_budget_over_the_time_to_reset():
    pacer = Pacer()
    pacer.observe(Budget(30, 30, datetime.fromtimestamp(T0 + 60, UTC), 1, None, "Mastodon limit"))
    sent = simulate(pacer, 100, [], server=FixedWindows(30, 60, 1, False), horizon=60)
    first_window = [t for t, _ in sent if t < T0 + 60]
    # 30 in the window, one kept for typed replies, the rest spread over the minute, not at once
    assert 28 <= len(first_window) <= 29
    assert first_window[-1] - first_window[0] > 50
    assert min(b - a for a, b in zip(first_window, first_window[1:], strict=False)) > 1.5


def test_with_nothing_said_or_configured_a_group_answer_goes_at_the_default_pace():
    pacer = Pacer()
    sent = simulate(pacer, 10, [])
    gaps = {round(b[0] - a[0], 6) for a, b in zip(sent, sent[1:], strict=False)}
    assert gaps == {DEFAULT_PACE.window / DEFAULT_PACE.points}
    assert pacer.ready_at(sent[-1][0], bulk=False) == sent[-1][0]  # typed replies are not held by a pace


def test_rates_parse_as_people_write_them():
    assert parse_rate("30/min") == Rate(30, 60)
    assert parse_rate("300/3h") == Rate(300, 10800)
    assert parse_rate(" 1 / s ") == Rate(1, 1)
    assert parse_rate("2/hours") == Rate(2, 3600)
    for bad in ("30", "fast", "0/min", "30/fortnight", "-1/s", 30, None, "1/0s"):
        assert parse_rate(bad) is None, bad
    assert (rate_text(0.5), rate_text(30 / 60), rate_text(1 / 3600), rate_text(5)) == ("30/min", "30/min", "1/h",
                                                                                       "5/s")


def test_budgets_are_read_from_mastodon_and_pds_headers():
    now = datetime.fromtimestamp(T0, UTC)
    mastodon = budget_from_headers({"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299",
                                    "X-RateLimit-Reset": "2027-01-15T08:05:00.000Z"},
                                   datetime(2027, 1, 15, 8, 0, tzinfo=UTC), label="Mastodon limit")
    assert mastodon == Budget(300, 299, datetime(2027, 1, 15, 8, 5, tzinfo=UTC), 1, None, "Mastodon limit")
    pds = budget_from_headers({"ratelimit-limit": "5000", "ratelimit-remaining": "4997",
                               "ratelimit-reset": str(int(T0 + 3000)), "ratelimit-policy": "5000;w=3600"}
                              | {"RateLimit-Limit": "5000", "RateLimit-Remaining": "4997",
                                 "RateLimit-Reset": str(int(T0 + 3000)), "RateLimit-Policy": "5000;w=3600"},
                              now, cost=3)
    assert pds is not None and (pds.limit, pds.remaining, pds.window, pds.cost) == (5000, 4997, 3600, 3)
    assert budget_from_headers({}, now) is None
    assert budget_from_headers({"X-RateLimit-Limit": "x", "X-RateLimit-Remaining": "1",
                                "X-RateLimit-Reset": "soon"}, now) is None


def test_a_spent_budget_shows_the_pace_after_its_reset_and_learns_an_unsaid_window():
    pacer = Pacer()
    reset = datetime.fromtimestamp(T0 + 100, UTC)
    pacer.observe(Budget(300, 300, reset, 1, None, "Mastodon limit"))
    pacer.sent(T0, bulk=True)
    pacer.observe(Budget(300, 10, reset, 1, None, "Mastodon limit"))  # under the reserve (15)
    snap = pacer.snapshot(T0 + 1)
    assert (snap.label, snap.sends_until_reset, snap.next_bulk_at) == ("Mastodon limit", 0, T0 + 100)
    assert snap.rate != "no limit"
    pacer.sent(T0 + 101, bulk=False)
    pacer.observe(Budget(300, 299, datetime.fromtimestamp(T0 + 400, UTC), 1, None, "Mastodon limit"))
    assert pacer.window_guess == 300  # the next window ended 300 s after the last
    assert pacer.snapshot(T0 + 102).interval_after == 300 / 285
