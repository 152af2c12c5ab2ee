"""`mentiondesk views`: the desk's saved views (keys 7-9) and this operator's order of each view."""

from __future__ import annotations

import argparse
import json

from store.db import Store
from store.inbox import VIEWS
from store.preferences import oldest_first_views, set_oldest_first
from store.priority import view_list
from store.sanitize import clean_line
from store.saved_views import SAVED_KEYS, SAVED_PREFIX, remove_view, save_view, saved_view, saved_view_ids, saved_views
from store.sla import SlaPolicy
from tui.cli_common import fail


def add_views_parser(sub, common) -> None:
    views = sub.add_parser("views", parents=[common], help="saved views on keys 7-9 (shared), and view order")
    verbs = views.add_subparsers(dest="views_command", metavar="list|show|add|rm|order", required=True)
    verbs.add_parser("list", parents=[common], help="every saved view with its key, search and count")
    show = verbs.add_parser("show", parents=[common],
                            help="a quick view's mentions as the console lists them (priority: most urgent first)")
    show.add_argument("view", choices=tuple(VIEWS), help="e.g. priority, open, care")
    show.add_argument("--limit", type=int, default=30, metavar="N", help="how many (default 30)")
    show.add_argument("--json", action="store_true")
    add = verbs.add_parser("add", parents=[common], help="save a search as a view for the whole desk")
    add.add_argument("name")
    add.add_argument("query", nargs="+", help="words and filters, as typed after /")
    add.add_argument("--key", choices=SAVED_KEYS, help="the key it sits on (default: the first free one)")
    add.add_argument("--replace", action="store_true", help="replace the search of a view of that name")
    rm = verbs.add_parser("rm", parents=[common], help="remove a saved view (by name or key)")
    rm.add_argument("name")
    order = verbs.add_parser("order", parents=[common], help="list a view oldest or newest first (yours only)")
    order.add_argument("view", help=f"{', '.join(VIEWS)} or a saved view's name")
    order.add_argument("direction", choices=("oldest", "newest"))


def cmd_views(store: Store, args: argparse.Namespace, operator: str, sla: SlaPolicy) -> int:
    command = args.views_command
    if command == "show":
        return _show(store, args, operator, sla)
    if command == "add":
        view = save_view(store, args.name, " ".join(args.query), operator, key=args.key, replace=args.replace)
        print(f"view {view.key}: {view.name} = {view.query}")
    elif command == "rm":
        view = remove_view(store, args.name, operator)
        print(f"removed view {view.key}: {view.name}")
    elif command == "order":
        return _order(store, args, operator)
    else:
        oldest = oldest_first_views(store, operator)
        for view in saved_views(store):
            order = "oldest first" if view.view in oldest else "newest first"
            count = len(saved_view_ids(store, view.name))
            print(f"{view.key}  {view.name}  {view.query}  ({count} now, {order}; saved by {view.operator})")
        for name in VIEWS:
            if name in oldest:
                print(f"   {name}  (oldest first)")
    return 0


def _order(store: Store, args: argparse.Namespace, operator: str) -> int:
    view = args.view
    if view not in VIEWS:
        found = saved_view(store, view)
        if found is None:
            return fail(f"no view called {view[:40]!r}: quick views are {', '.join(VIEWS)}; "
                        "saved views are listed by `mentiondesk views list`")
        view = SAVED_PREFIX + found.name
    set_oldest_first(store, operator, view, args.direction == "oldest")
    print(f"{view.removeprefix(SAVED_PREFIX)}: {args.direction} first (for {operator})")
    return 0


def _show(store: Store, args: argparse.Namespace, operator: str, sla: SlaPolicy) -> int:
    if not 1 <= args.limit <= 10_000:
        return fail("--limit must be between 1 and 10000")
    oldest = args.view in oldest_first_views(store, operator)
    listed = view_list(store, args.view, sla, operator, args.limit, oldest_first=oldest)
    total, entries = listed.total, listed.rows
    if args.json:
        print(json.dumps({"view": args.view, "total": total, "mentions": [
            {"id": e.row.id, "network": e.row.network, "author_handle": e.row.author_handle, "text": e.row.text,
             "created_at": e.row.created_at, "state": e.row.state, "tags": sorted(e.row.tags),
             "lang": e.row.lang, "sentiment": e.row.sentiment, "needs_reply": e.row.needs_reply,
             "due_in": None if e.sla is None else round(e.sla.left), "late": bool(e.sla and e.sla.late)}
            for e in entries]}, ensure_ascii=False, indent=1))
        return 0
    print(f"{VIEWS[args.view].label}: {total} mention{'s' if total != 1 else ''}"
          + (f", the first {len(entries)}" if len(entries) < total else ""))
    for e in entries:
        row = e.row
        clock = e.sla.label() if e.sla else "-"
        signals = "".join(("?" if row.needs_reply else "", {-1: "−", 1: "+"}.get(row.sentiment or 0, "")))
        text = " ".join(clean_line(row.text, 200).split())
        print(f"{row.id:>7}  {clock:<9} {','.join(sorted(row.tags)) or '-':<16} {signals:<2} "
              f"{row.network:<8} {clean_line(row.author_handle, 40):<20} {text}")
    return 0
