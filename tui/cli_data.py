"""`search`, `export` and `import`: the history for scripts, on the console's own store code."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO

from store.db import Store
from store.files import DeskFileError, refuse_planted
from tui.cli_common import fail, unguarded
from tui.settings import Settings


@contextmanager
def progress_bar(label: str, total: int | None, *, in_bytes: bool = False):
    """A progress bar on a terminal (stderr), silence otherwise."""
    if not sys.stderr.isatty():
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    amount = DownloadColumn() if in_bytes else MofNCompleteColumn()
    with Progress(TextColumn(label), BarColumn(), amount, TimeRemainingColumn(),
                  console=Console(file=unguarded(sys.stderr)), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)


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
            out = open_private_output(args.output)
        except (OSError, DeskFileError) as exc:
            return fail(f"cannot write {args.output}: {getattr(exc, 'strerror', None) or exc}")
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


def open_private_output(path: Path) -> IO[str]:
    """An export holds customers' messages and internal notes: the file is 0600, new or not."""
    refuse_planted(path)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        info = os.fstat(descriptor)
        if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != 0o600:
            os.fchmod(descriptor, 0o600)
        return os.fdopen(descriptor, "w", encoding="utf-8", newline="")
    except BaseException:
        os.close(descriptor)
        raise


class SourceError(Exception):
    pass


def open_import_source(name: str) -> tuple[BinaryIO, int | None, str]:
    """(bytes, size when known, name for messages): a regular file, a pipe or FIFO, or - for stdin.

    Anything else (/dev/zero, a terminal, a directory) is refused: it has no end or no lines.
    """
    if name == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise SourceError("stdin is a terminal; pipe a file in (mentiondesk import - < FILE.jsonl)")
        stream, label = sys.stdin.buffer, "stdin"
    else:
        try:
            stream, label = open(name, "rb"), name  # a FIFO waits here for its writer, as cat would
        except OSError as exc:
            raise SourceError(f"cannot read {name}: {exc.strerror or exc}") from None
    info = os.fstat(stream.fileno())
    if stat.S_ISREG(info.st_mode):
        return stream, info.st_size, label
    if stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode):
        return stream, None, label
    kind = "a terminal" if os.isatty(stream.fileno()) else (
        "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "not a regular file")
    if stream is not sys.stdin.buffer:
        stream.close()
    raise SourceError(f"{label} is {kind}, not a file or a pipe; nothing imported")


def cmd_import(store: Store, args: argparse.Namespace, operator: str, settings: Settings) -> int:
    from store.importing import import_lines
    from store.lines import LineReader

    try:
        stream, size, label = open_import_source(args.file)
    except SourceError as exc:
        return fail(str(exc))
    reader = LineReader(stream)
    first = store.conn.execute("SELECT coalesce(max(id), 0) FROM mentions").fetchone()[0]
    try:
        with progress_bar("importing", size, in_bytes=True) as progress:
            report = import_lines(store, reader, operator, progress=lambda _: progress(reader.bytes_read),
                                  parallel=True)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    for error in report.errors[:200]:
        print(f"{label}:{error.number}: skipped: {error.reason}", file=sys.stderr)
    if len(report.errors) > 200:
        print(f"... and {len(report.errors) - 200} more bad line(s)", file=sys.stderr)
    print(f"imported {report.imported}, skipped {report.duplicates} duplicate(s), "
          f"{len(report.errors)} bad line(s)", file=sys.stderr)
    if report.imported and not args.no_signals:
        _fill_signals(store, settings, first, say=sys.stderr.isatty())  # scripts read the line above
    return 1 if report.errors else 0


def _fill_signals(store: Store, settings: Settings, after: int = 0, *, say: bool = True) -> int:
    """Signals for the mentions above `after` that have none, every core busy; interrupted, the rest waits."""
    from store.signals_backfill import pending, run_backfill

    left = pending(store, after)
    if not left:
        return 0
    if say:
        print(f"language, sentiment and needs-reply for {left} mention(s) (ctrl+c stops; "
              "`mentiondesk signals backfill` goes on)", file=sys.stderr)
    with progress_bar("signals", left) as progress:
        done = run_backfill(store, settings.languages, settings.reply_keywords, after=after, progress=progress)
    if say:
        print(f"signals filled for {done} mention(s)", file=sys.stderr)
    return done


def cmd_signals(store: Store, args: argparse.Namespace, settings: Settings) -> int:
    from store.signals_backfill import pending

    if args.action == "status":
        print(f"{pending(store)} mention(s) without signals")
        return 0
    _fill_signals(store, settings)
    return 0


def cmd_reindex(store: Store, args: argparse.Namespace) -> int:
    from store.search_index import index_pending, rebuild_index

    if args.full:
        count = rebuild_index(store)
        print(f"search index rebuilt: {count} mention(s)", file=sys.stderr)
    else:
        count = index_pending(store)
        print(f"indexed {count} pending mention(s)", file=sys.stderr)
    return 0
