"""The `mentiondesk` command: the console, and scriptable commands on the same store."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

from store.db import Store, StoreError, open_store
from tui.paths import default_db_path, default_operator


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="PATH", type=Path, default=None,
                        help="database file (default: $MENTIONDESK_DB or the user data dir)")
    common.add_argument("--operator", metavar="NAME", default=None,
                        help="who acts, recorded in the event log (default: your login name)")
    parser = argparse.ArgumentParser(
        prog="mentiondesk", parents=[common],
        description="A keyboard-driven console for a brand's social mentions. With no command, opens the console.")
    parser.add_argument("--no-demo", action="store_true", help="run without the demo stream")
    parser.add_argument("--demo-rate", type=float, default=30.0, metavar="N",
                        help="demo mentions per minute (default 30)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    search = sub.add_parser("search", parents=[common], help="fuzzy-search the history")
    search.add_argument("query", nargs="+", help="words (typos ok) and filters tag:care status:open from:@h net:demo")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.add_argument("--limit", type=int, default=20, metavar="N")

    export = sub.add_parser("export", parents=[common], help="write every mention (JSONL or CSV)")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("-o", "--output", type=Path, default=None, metavar="FILE", help="default: stdout")

    imp = sub.add_parser("import", parents=[common], help="read a JSONL export back, skipping duplicates")
    imp.add_argument("file", type=Path, metavar="FILE.jsonl")
    return parser


def fail(message: str, code: int = 2) -> int:
    print(f"mentiondesk: {message}", file=sys.stderr)
    return code


@contextmanager
def progress_bar(label: str, total: int | None):
    """A progress bar on a terminal (stderr), silence otherwise."""
    if not sys.stderr.isatty():
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
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
        report = import_lines(store, handle, operator, progress=progress)
    for number, reason in report.errors[:200]:
        print(f"{path}:{number}: skipped: {reason}", file=sys.stderr)
    if len(report.errors) > 200:
        print(f"... and {len(report.errors) - 200} more bad line(s)", file=sys.stderr)
    print(f"imported {report.imported}, skipped {report.duplicates} duplicate(s), "
          f"{len(report.errors)} bad line(s)", file=sys.stderr)
    return 1 if report.errors else 0


def run_console(db_path: Path, args: argparse.Namespace, operator: str) -> int:
    from tui.app import ConsoleApp

    adapters = []
    if not args.no_demo:
        from adapters.demo import DemoAdapter

        if args.demo_rate <= 0:
            return fail("--demo-rate must be positive")
        adapters.append(DemoAdapter(rate_per_minute=args.demo_rate))
    app = ConsoleApp(str(db_path), operator=operator, adapters=adapters)
    app.run()
    return app.return_code or 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    db_path = (args.db or default_db_path()).expanduser()
    operator = args.operator or default_operator()
    try:
        store = open_store(db_path)  # checks and migrates before anything else runs
    except StoreError as exc:
        return fail(str(exc))
    try:
        if args.command == "search":
            return cmd_search(store, args)
        if args.command == "export":
            return cmd_export(store, args)
        if args.command == "import":
            return cmd_import(store, args, operator)
    except StoreError as exc:
        return fail(str(exc))
    except BrokenPipeError:
        return 0
    finally:
        store.close()
    return run_console(db_path, args, operator)
