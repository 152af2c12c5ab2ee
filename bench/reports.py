"""Benchmark: a 30-day desk report on a large history (issue 14: ≤ 1 s on 1M mentions).

The generated histories hold mentions only, so the desk's side of the last
30 days is added once (marked in the file): a reply to a fifth of the
mentions (sent 5 minutes to 6 hours after arrival, by one of four operators),
closing events for the mentions already done, and care ⇄ marketing hand-offs
through tag events. Then `build_report` runs over 30 days by day and by
hour, five times each after a warm-up; the median and max are reported.

    python -m bench.reports bench/data/1m.db
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta

from store.db import iso, open_store
from store.reports import build_report
from store.sla import SlaPolicy

OPERATORS = ("ana", "bo", "chloé", "dev")
MARK = "bench.reports.desk"
POLICY = SlaPolicy.from_table({"care": 3600.0, "marketing": 4 * 3600.0, "default": 8 * 3600.0},
                              ("care", "marketing"))


def _end_of_history(path: str) -> datetime:
    store = open_store(path)
    try:
        last = store.conn.execute("SELECT max(created_at) FROM mentions").fetchone()[0]
    finally:
        store.close()
    return datetime.fromisoformat(last.replace("Z", "+00:00"))


def add_desk_work(path: str, end: datetime, days: int = 30, seed: int = 14) -> int:
    """Replies, closings and hand-offs for the last `days` of the history; once per file."""
    store = open_store(path, clock=lambda: end)
    conn = store.conn
    try:
        if conn.execute("SELECT 1 FROM events WHERE action = ?", (MARK,)).fetchone():
            return 0
        rng = random.Random(seed)
        since = iso(end - timedelta(days=days))
        rows = conn.execute("SELECT id, created_at, status FROM mentions WHERE created_at >= ?", (since,)).fetchall()
        replies, events = [], []
        for mention_id, created, status in rows:
            arrived = datetime.fromisoformat(created.replace("Z", "+00:00"))
            operator = rng.choice(OPERATORS)
            if rng.random() < 0.2:
                sent = arrived + timedelta(minutes=rng.uniform(5, 360))
                replies.append((mention_id, "thanks, we're on it", operator, iso(sent - timedelta(minutes=1)),
                                "sent", f"bench-{mention_id}", iso(sent)))
            if status == "done":
                events.append((iso(arrived + timedelta(hours=rng.uniform(0.5, 30))), operator, "status.done",
                               mention_id, "{}"))
            if rng.random() < 0.02:
                first, second = rng.sample(("care", "marketing"), 2)
                at = arrived + timedelta(minutes=rng.uniform(1, 60))
                events.append((iso(at), operator, "tag.add", mention_id, json.dumps({"tag": first})))
                events.append((iso(at + timedelta(minutes=rng.uniform(5, 240))), rng.choice(OPERATORS),
                               "tag.add", mention_id, json.dumps({"tag": second})))
        with store.write():
            conn.executemany(
                """INSERT INTO replies (mention_id, text, operator, created_at, state, idem_key, sent_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""", replies)
            conn.executemany("INSERT INTO events (at, operator, action, mention_id, detail) VALUES (?, ?, ?, ?, ?)",
                             sorted(events))
            conn.execute("INSERT INTO events (at, operator, action, detail) VALUES (?, 'bench', ?, '{}')",
                         (iso(end), MARK))
        return len(rows)
    finally:
        store.close()


def measure(path: str, days: int = 30, runs: int = 5) -> dict[str, object]:
    end = _end_of_history(path)
    added = add_desk_work(path, end, days)
    store = open_store(path, clock=lambda: end, readonly=True)
    results: dict[str, object] = {"desk_work_added_for": added, "load": os.getloadavg()[0]}
    try:
        since = iso(end - timedelta(days=days))
        for by in ("day", "hour"):
            build_report(store, since, by=by, policy=POLICY)  # warm-up: page cache, not our code
            times, cpu = [], []
            for _ in range(runs):
                started, started_cpu = time.perf_counter(), time.thread_time()
                report = build_report(store, since, by=by, policy=POLICY)
                times.append(time.perf_counter() - started)
                cpu.append(time.thread_time() - started_cpu)
            results[by] = {"median_s": statistics.median(times), "max_s": max(times),
                           "median_cpu_s": statistics.median(cpu), "mentions": report.total,
                           "buckets": len(report.buckets)}
        results["load_end"] = os.getloadavg()[0]
    finally:
        store.close()
    return results


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1]), indent=1))
