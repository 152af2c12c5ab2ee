"""Benchmark: near-duplicate grouping (issue 13) — quality on the labelled flood, speed, opening a big group.

    python -m bench.grouping            # prints JSON; figures go in bench/RESULTS.md by hand

- quality: the labelled flood (tests/fixtures/flood_labelled.jsonl, 600 mentions) grouped through the
  store as the leader does (batches of 100); pairwise precision/recall and the share of mentions in
  their complaint's main group; and the same for neighbouring thresholds (how sensitive it is).
- speed: ms per mention of `Grouper.place` (with the periodic merges) on the flood texts and on the
  benchmark generator's longer multi-topic texts.
- a 5,000-member group: `group_detail` and the console's `group:N` search page (200 rows).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from store.db import open_store
from store.grouping import Grouper
from store.groups import group_detail, group_new_mentions
from store.ingest import insert_mentions
from store.records import NewMention
from store.search import search
from tests.test_grouping import labelled, quality


def _mentions(texts: list[str], prefix: str) -> list[NewMention]:
    return [NewMention(network="demo", account="@brand", remote_id=f"{prefix}{n}", author_handle=f"@p{n % 997}",
                       text=text, created_at=f"2026-11-29T12:{n // 600 % 60:02d}:{n % 60:02d}.000Z")
            for n, text in enumerate(texts)]


def flood_quality(threshold: float, folder: Path) -> dict[str, float]:
    lines = labelled()
    store = open_store(folder / f"q{threshold}.db")
    try:
        ids = insert_mentions(store, _mentions([line["text"] for line in lines], "q"))
        grouper = Grouper(threshold=threshold)
        while group_new_mentions(store, grouper, limit=100):
            pass
        member_of = dict(store.conn.execute(
            "SELECT gm.mention_id, coalesce(g.merged_into, g.id) FROM group_members gm "
            "JOIN mention_groups g ON g.id = gm.group_id"))
    finally:
        store.close()
    truth = {i: line["label"] for i, line in zip(ids, lines, strict=True)}
    precision, recall, right = quality(truth, {i: member_of.get(i, -i) for i in ids})
    return {"precision": round(precision, 3), "recall": round(recall, 3), "right_group": round(right, 3)}


def speed(texts: list[str]) -> float:
    grouper = Grouper()
    started = time.thread_time()
    for n, text in enumerate(texts, 1):
        placed = grouper.place(n, text)
        if placed.seed_mention is not None:
            grouper.promote(placed.cluster, 10_000_000 + n)
        if n % 25 == 0:
            for source, target, _ in grouper.similar_pairs():
                if source > 0 and target > 0:
                    grouper.merge(source, target)
    return (time.thread_time() - started) / len(texts) * 1000


def big_group(folder: Path, size: int = 5000) -> dict[str, float]:
    store = open_store(folder / "big.db")
    try:
        insert_mentions(store, _mentions([f"no shuttle at the airport, stuck here since {n}h" for n in range(size)]
                                         + [f"love the new lamp number {n}" for n in range(size)], "b"))
        grouper = Grouper()
        while group_new_mentions(store, grouper):
            pass
        group_id, members = store.conn.execute(
            "SELECT id, size FROM mention_groups ORDER BY size DESC LIMIT 1").fetchone()
        started = time.perf_counter()
        detail = group_detail(store, group_id)
        detail_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        page = search(store, f"group:{group_id}", limit=200)
        page_ms = (time.perf_counter() - started) * 1000
        assert detail is not None and len(page) == 200
        return {"members": members, "group_detail_ms": round(detail_ms, 1), "group_page_ms": round(page_ms, 1)}
    finally:
        store.close()


def main() -> dict[str, object]:
    from bench.generate import rows

    results: dict[str, object] = {"load": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results["quality"] = {str(t): flood_quality(t, folder) for t in (0.3, 0.35, 0.4)}
        flood_texts = [line["text"] for line in labelled()] * 5
        results["ms_per_mention_flood_texts"] = round(speed(flood_texts), 3)
        generated = [row.mention.text for row, _ in zip(rows(10_000), range(10_000), strict=False)]
        results["ms_per_mention_generated_texts"] = round(speed(generated), 3)
        results["big_group"] = big_group(folder)
    results["load_end"] = os.getloadavg()[0]
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
