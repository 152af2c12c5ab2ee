"""Build a deterministic, realistic mention history: a database and/or JSONL.

    python -m bench.generate --size 1m --db bench/data/1m.db [--jsonl bench/data/1m.jsonl]
    python -m bench.generate --size 5m --profile flood --db bench/data/flood-5m.db

Profiles: "usual" (about 5 % open: a desk that keeps up) and "flood" (70 % open,
spread over the whole history: a desk that is behind, or an imported backlog).

The database is written the way an import writes it: store.ingest.insert_mentions
in transactions of --batch mentions, inside store.search_index.deferred_indexing
so the search index is built in a few big passes at the end (--inline-index:
every transaction indexes its own rows). Building it is the ingest benchmark:
the time inside the transactions and the final indexing are recorded (wall
and CPU) in <db>.build.json, apart from the time spent inventing the texts.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import resource
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import cast, text_for  # noqa: E402
from store.db import iso, open_store  # noqa: E402
from store.ingest import insert_mentions  # noqa: E402
from store.records import NewMention  # noqa: E402
from store.search_index import deferred_indexing  # noqa: E402

SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000, "5m": 5_000_000}
# Share of mentions left open; None: the usual desk (open mostly among the newest 3 %).
PROFILES: dict[str, float | None] = {"usual": None, "flood": 0.7}
START = datetime(2024, 1, 1, tzinfo=UTC)
CARE_TOPICS = {"refund", "delivery", "battery", "login", "billing"}


class Row:
    """One generated mention plus what operators later did with it."""

    __slots__ = ("mention", "status", "tags")

    def __init__(self, mention: NewMention, status: str, tags: tuple[str, ...]):
        self.mention, self.status, self.tags = mention, status, tags

    def as_json(self) -> str:
        m = self.mention
        return json.dumps({
            "network": m.network, "account": m.account, "remote_id": m.remote_id,
            "author_handle": m.author_handle, "author_name": m.author_name, "text": m.text,
            "created_at": m.created_at, "url": m.url, "lang": m.lang, "status": self.status,
            "tags": list(self.tags),
        }, ensure_ascii=False)


def rows(size: int, seed: int = 2024, open_share: float | None = None) -> Iterator[Row]:
    """The same `size` mentions for the same seed, oldest first (`open_share`: see PROFILES)."""
    rng = random.Random(seed)
    authors = cast(max(200, size // 10), seed)
    weights = list(itertools.accumulate(1.0 / (rank + 20) ** 1.1 for rank in range(len(authors))))
    span = timedelta(days=730) / size
    for index in range(size):
        author = rng.choices(authors, cum_weights=weights)[0]
        friend = rng.choice(authors).handle.lstrip("@").split("@")[0]
        text, topic = text_for(author, rng, friend, pool=max(1000, size // 3))
        recent = index > size * 0.97
        share = open_share if open_share is not None else (0.55 if recent else 0.04)
        status = "open" if rng.random() < share else "done"
        tags: tuple[str, ...] = ()
        if topic in CARE_TOPICS and rng.random() < 0.6:
            tags = ("care",)
        elif topic not in CARE_TOPICS and rng.random() < 0.45:
            tags = ("marketing",) if rng.random() < 0.9 else ("care", "marketing")
        network = author.network
        remote = f"{network}-{seed}-{index}"
        mention = NewMention(
            network=network, account="lumio", remote_id=remote, author_handle=author.handle,
            author_name=author.name, text=text, created_at=iso(START + span * index),
            url=f"https://{network.split(':')[-1]}.example/{remote}", lang=author.lang,
        )
        yield Row(mention, status, tags)


def write_db(path: Path, size: int, *, batch: int = 10_000, seed: int = 2024,
             jsonl: Path | None = None, progress: bool = True, deferred: bool = True,
             open_share: float | None = None) -> dict:
    """Insert `size` mentions into a new database at `path`; returns timings.

    `deferred` indexes once at the end (store.search_index.deferred_indexing,
    what an import should do); otherwise every transaction indexes its rows.
    """
    if path.exists():
        raise SystemExit(f"{path} exists; delete it first")
    path.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(path, clock=lambda: START)
    out = jsonl.open("w", encoding="utf-8") if jsonl else None
    insert_seconds = insert_cpu = 0.0
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    generator = rows(size, seed, open_share)
    done = 0
    try:
        with deferred_indexing(store) if deferred else contextlib.nullcontext():
            while done < size:
                chunk = list(itertools.islice(generator, batch))
                if not chunk:
                    break
                if out:
                    out.write("\n".join(row.as_json() for row in chunk) + "\n")
                tick, cpu = time.perf_counter(), time.process_time()
                _insert(store, chunk)
                insert_seconds += time.perf_counter() - tick
                insert_cpu += time.process_time() - cpu
                done += len(chunk)
                if progress:
                    print(f"\r{done:,}/{size:,} mentions, {done / insert_seconds:,.0f} rows/s inserting",
                          end="", file=sys.stderr, flush=True)
            # Leaving the block indexes everything deferred: timed from here.
            tick, cpu = time.perf_counter(), time.process_time()
        index_seconds, index_cpu = time.perf_counter() - tick, time.process_time() - cpu
        tick = time.perf_counter()
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        checkpoint = time.perf_counter() - tick
    finally:
        if out:
            out.close()
        store.close()
    if progress:
        print(file=sys.stderr)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {"rows": done, "deferred_index": deferred,
              "helper_cpu_seconds": (children.ru_utime + children.ru_stime
                                     - children_before.ru_utime - children_before.ru_stime),
              "insert_seconds": insert_seconds,
              "insert_cpu_seconds": insert_cpu, "index_seconds": index_seconds, "index_cpu_seconds": index_cpu,
              "checkpoint_seconds": checkpoint, "total_seconds": time.perf_counter() - started,
              "batch": batch, "seed": seed, "open_share": open_share,
              "load_before": load_before, "load_after": os.getloadavg()[0],
              "built_at": datetime.now(UTC).isoformat(timespec="seconds")}
    build_record(path).write_text(json.dumps(result, indent=1))
    return result


def _insert(store, chunk: list[Row]) -> None:
    by_status: dict[str, list[Row]] = {}
    for row in chunk:
        by_status.setdefault(row.status, []).append(row)
    with store.write() as conn:
        for status, group in by_status.items():
            ids = insert_mentions(store, [row.mention for row in group], status=status)
            if len(ids) != len(group):
                raise SystemExit("duplicate remote ids in generated rows")
            conn.executemany("INSERT INTO tags (mention_id, tag, operator, at) VALUES (?, ?, ?, ?)",
                             [(mention_id, tag, "bench", iso(START)) for mention_id, row in zip(ids, group, strict=True)
                              for tag in row.tags])


def build_record(path: Path) -> Path:
    """Where the figures of the build that made `path` are kept."""
    return path.with_name(path.name + ".build.json")


def write_jsonl(path: Path, size: int, *, seed: int = 2024, open_share: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for row in rows(size, seed, open_share):
            out.write(row.as_json() + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="100k")
    parser.add_argument("--db", type=Path, help="database to create")
    parser.add_argument("--jsonl", type=Path, help="JSONL history to write")
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="usual",
                        help="usual: ~5 %% open; flood: 70 %% open")
    parser.add_argument("--open-share", type=float, help="share of mentions left open (overrides --profile)")
    parser.add_argument("--inline-index", action="store_true",
                        help="index in every transaction instead of once at the end")
    args = parser.parse_args(argv)
    size = SIZES[args.size]
    share = args.open_share if args.open_share is not None else PROFILES[args.profile]
    if args.db:
        result = write_db(args.db, size, batch=args.batch, seed=args.seed, jsonl=args.jsonl,
                          deferred=not args.inline_index, open_share=share)
        print(json.dumps(result))
    elif args.jsonl:
        write_jsonl(args.jsonl, size, seed=args.seed, open_share=share)
    else:
        parser.error("give --db and/or --jsonl")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
