"""`search`, `export` and `import`: the history for scripts, on the console's own store code."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from pathlib import Path

from store.db import Store
from tui.cli_common import fail, unguarded


@contextmanager
def progress_bar(label: str, total: int | None):
    """A progress bar on a terminal (stderr), silence otherwise."""
    if not sys.stderr.isatty():
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(file=unguarded(sys.stderr)), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def cmd_search(store: Store, args: argparse.Namespace) -> int:
    from store.inbox import rows_by_id
    from store.search import search

    if args.limit < 1:
        return fail("--limit must be at least 1")
    hits = search(store, " ".join(args.query), limit=args.limit)
    rows = rows_by_id(store, [hit.mention_id for hit in hits])
    if args.json:
        out = []
        for hit in hits:
            row = rows[hit.mention_id]
            out.append({"id": row.id, "score": round(hit.score, 2), "network": row.network,
                        "author_handle": row.author_handle, "text": row.text, "created_at": row.created_at,
                        "status": row.status, "state": row.state, "tags": sorted(row.tags),
                        "spans": [list(span) for span in hit.spans]})
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    if not hits:
        print("no matches", file=sys.stderr)
        return 1
    for hit in hits:
        row = rows[hit.mention_id]
        tags = ",".join(sorted(row.tags)) or "-"
        text = " ".join(row.text.split())
        print(f"{row.id:>7}  {row.state:<7} {tags:<14} {row.network:<8} {row.author_handle:<20} {text}")
    return 0


def cmd_export(store: Store, args: argparse.Namespace) -> int:
    from store.transfer import count_mentions, iter_export, write_csv, write_jsonl

    writer = write_csv if args.format == "csv" else write_jsonl
    total = count_mentions(store)
    if args.output:
        try:
            out = args.output.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            return fail(f"cannot write {args.output}: {exc.strerror or exc}")
    else:
        out = sys.stdout
    try:
        with progress_bar("exporting", total) as progress:
            count = writer(iter_export(store), out, progress)
    finally:
        if args.output:
            out.close()
    if args.output:
        print(f"exported {count} mention(s) to {args.output}", file=sys.stderr)
    return 0


def cmd_import(store: Store, args: argparse.Namespace, operator: str) -> int:
    from store.transfer import import_lines

    path: Path = args.file
    try:
        total = _count_lines(path)
        handle = path.open("r", encoding="utf-8", errors="replace", newline="\n")
    except OSError as exc:
        return fail(f"cannot read {path}: {exc.strerror or exc}")
    with handle, progress_bar("importing", total) as progress:
        report = import_lines(store, handle, operator, progress=progress, parallel=True)
    for number, reason in report.errors[:200]:
        print(f"{path}:{number}: skipped: {reason}", file=sys.stderr)
    if len(report.errors) > 200:
        print(f"... and {len(report.errors) - 200} more bad line(s)", file=sys.stderr)
    print(f"imported {report.imported}, skipped {report.duplicates} duplicate(s), "
          f"{len(report.errors)} bad line(s)", file=sys.stderr)
    return 1 if report.errors else 0


def cmd_reindex(store: Store, args: argparse.Namespace) -> int:
    from store.search_index import index_pending, rebuild_index

    if args.full:
        with store.write():
            count = rebuild_index(store)
        print(f"search index rebuilt: {count} mention(s)", file=sys.stderr)
    else:
        count = index_pending(store)
        print(f"indexed {count} pending mention(s)", file=sys.stderr)
    return 0
