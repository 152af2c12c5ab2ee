"""`mentiondesk incidents` and `mentiondesk groups`: flood mode from scripts, through the same store code."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from store import groups, incidents
from store.db import Store
from tui.cli_common import fail
from tui.render import clock_time


def cmd_incidents(store: Store, args: argparse.Namespace, operator: str) -> int:
    when = lambda moment: clock_time(moment, store.clock())  # noqa: E731 - a one-line formatter
    action = args.action or "list"
    if action == "list":
        found = incidents.list_incidents(store, include_closed=args.all)
        if args.json:
            print(json.dumps([asdict(i) for i in found], ensure_ascii=False, indent=1))
        elif not found:
            print("no incidents" if args.all else "no open incidents (--all lists closed ones too)")
        for item in [] if args.json else found:
            print(f"#{item.id} {item.state:<12} {when(item.started_at)}  {item.mentions} mentions  {item.title}")
        return 0
    if args.id is None:
        return fail(f"incidents {action} needs an incident id")
    if action == "show":
        stats = incidents.incident_stats(store, args.id)
        if args.json:
            print(json.dumps(asdict(stats), ensure_ascii=False, indent=1))
            return 0
        item = stats.incident
        print(f"#{item.id} {item.title} ({item.state}, {item.kind})")
        print(f"started {when(item.started_at)}, detected {when(item.detected_at)} "
              f"({incidents.span(stats.detection_seconds)} after it started); {item.mentions} mentions; "
              f"peak {item.peak:g} per window against {item.baseline:g} usually")
        print(incidents.stats_line(stats))
        return 0
    if action == "rename":
        if not args.title:
            return fail("incidents rename needs a new title")
        incidents.rename(store, args.id, " ".join(args.title), operator)
        print(f"#{args.id} renamed")
        return 0
    state = {"ack": "acknowledged", "close": "closed", "reopen": "open"}[action]
    changed = incidents.set_state(store, args.id, state, operator)
    print(f"#{args.id} {state}" if changed else f"#{args.id} was already {state}")
    return 0


def cmd_groups(store: Store, args: argparse.Namespace, operator: str) -> int:
    action = args.action or "list"
    if action == "list":
        found = groups.list_groups(store, min_size=args.min)
        if args.json:
            print(json.dumps([asdict(g) for g in found], ensure_ascii=False, indent=1))
            return 0
        if not found:
            print("no groups yet (the ingest leader groups mentions as they arrive)")
        for group in found:
            print(f"group {group.id}: {group.size} mentions, {group.waiting} waiting, {group.authors} people, "
                  f"{','.join(group.networks)} — {group.label}")
        return 0
    numbers = args.numbers
    needed = {"show": 1, "split": 1, "move": 2, "merge": 2, "rename": 1}[action]
    if len(numbers) < needed:
        return fail(f"groups {action} needs {needed} id(s): see mentiondesk groups --help")
    if action == "show":
        detail = groups.group_detail(store, numbers[0])
        if detail is None:
            return fail(f"no group with id {numbers[0]}")
        if args.json:
            print(json.dumps(asdict(detail), ensure_ascii=False, indent=1))
            return 0
        summary = detail.summary
        print(f"group {summary.id}: {summary.label}")
        print(f"{summary.size} mentions from {summary.authors} people, {summary.waiting} waiting for a reply")
        for phrasing in detail.phrasings:
            print(f"  ×{phrasing.count}  {phrasing.text}")
        print("members: " + " ".join(f"#{i}" for i in detail.member_ids[:50])
              + (" …" if len(detail.member_ids) > 50 else ""))
        return 0
    if action == "split":
        print(f"#{numbers[0]} is now group {groups.split_member(store, numbers[0], operator)}")
    elif action == "move":
        groups.move_member(store, numbers[0], numbers[1], operator)
        print(f"#{numbers[0]} moved to group {numbers[1]}")
    elif action == "merge":
        moved = groups.merge_groups(store, numbers[0], numbers[1], operator)
        print(f"group {numbers[0]} merged into group {numbers[1]} ({moved} mentions)")
    else:
        if not args.name:
            return fail("groups rename needs a new name: --name TEXT")
        groups.rename_group(store, numbers[0], args.name, operator)
        print(f"group {numbers[0]} renamed")
    return 0
