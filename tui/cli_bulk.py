"""`tag`, `done` and `assign` on one or many mentions (ids or a search query), and `undo`.

The same store code as the console's keys (store.bulk): one transaction,
one event per mention, one undo entry that `u` or `mentiondesk undo` takes back.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from store import bulk, desk
from store.db import Store
from store.inbox import rows_by_id
from store.undo import NothingToUndo, entries, undo_last
from tui.cli_common import fail
from tui.render import one_line

DRY_RUN_SHOWN = 5


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--query", metavar="QUERY",
                        help="every mention this search finds, instead of ids: 'tag:marketing status:open giveaway'")
    parser.add_argument("--dry-run", action="store_true", help="count (and list a few of) the mentions; change nothing")


def missing_targets(args: argparse.Namespace) -> str | None:
    """A usage mistake in choosing mentions, or None."""
    if args.query is not None and args.ids:
        return "give mention ids or --query, not both"
    if args.query is None and not args.ids:
        return "give one or more mention ids, or --query QUERY"
    return None


def _targets(store: Store, args: argparse.Namespace) -> list[int]:
    return bulk.query_ids(store, args.query) if args.query is not None else list(dict.fromkeys(args.ids))


def _dry_run(store: Store, ids: list[int], words: str) -> int:
    print(f"would be {words.lower()}: {len(ids)} mention{'' if len(ids) == 1 else 's'}" +
          (" (dry run, nothing changed)" if ids else ""))
    rows = rows_by_id(store, ids[:DRY_RUN_SHOWN])
    for mention_id in ids[:DRY_RUN_SHOWN]:
        row = rows.get(mention_id)
        print(f"  #{mention_id} " + (f"{row.author_handle}: {one_line(row.text)[:60]}" if row else "(no such mention)"))
    if len(ids) > DRY_RUN_SHOWN:
        print(f"  … and {len(ids) - DRY_RUN_SHOWN} more")
    return 0


def _apply(store: Store, args: argparse.Namespace, words: str, act: Callable[[list[int]], bulk.Outcome]) -> int:
    ids = _targets(store, args)
    if args.dry_run:
        return _dry_run(store, ids, words)
    if not ids:
        print("no mention matches; nothing changed")
        return 0
    _report(act(ids), ids, words)
    return 0


def _report(outcome: bulk.Outcome, ids: list[int], words: str) -> None:
    if len(ids) == 1:
        print(f"#{ids[0]} {words}" + ("" if outcome.changed else " (no change)"))
        return
    unchanged = outcome.total - outcome.changed
    print(f"{outcome.label}" + (f" ({unchanged} already were)" if unchanged else "") +
          ("; mentiondesk undo takes it back" if outcome.changed else ""))


def cmd_tag(store: Store, args: argparse.Namespace, operator: str) -> int:
    words = f"{'untagged' if args.off else 'tagged'} {args.tag}"
    return _apply(store, args, words, lambda ids: bulk.change(store, operator, f"tag:{args.tag}", ids, not args.off))


def cmd_done(store: Store, args: argparse.Namespace, operator: str) -> int:
    status = "open" if args.reopen else "done"
    return _apply(store, args, "reopened" if args.reopen else "marked done",
                  lambda ids: bulk.change(store, operator, "status", ids, status))


def cmd_assign(store: Store, args: argparse.Namespace, operator: str) -> int:
    assignee = None if args.operator_name in ("", "-") else args.operator_name
    try:
        return _apply(store, args, f"assigned to {assignee}" if assignee else "unassigned",
                      lambda ids: bulk.assign(store, operator, ids, assignee, allow_new=args.new_operator))
    except desk.UnknownOperator as exc:
        return fail(f"{exc} (a typo?); use --new-operator to assign to {exc.name!r} anyway")


def cmd_undo(store: Store, args: argparse.Namespace, operator: str) -> int:
    if args.list:
        for entry in entries(store, operator):
            print(f"{entry.at}  {entry.label}")
        return 0
    try:
        undone = undo_last(store, operator)
    except NothingToUndo as exc:
        return fail(str(exc), 1)
    print(undone.message)
    if undone.kind == "reply" and undone.count:
        print(f"its text: {undone.detail['text']}")  # to queue again, edited
    return 0 if undone.count else 1
