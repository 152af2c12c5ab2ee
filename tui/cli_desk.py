"""Scriptable desk actions: the same store code paths as the console's keys."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

from store import actions, desk
from store.db import Store, iso
from store.handover import format_report, handover_report
from store.sla import SlaPolicy
from tui.cli_common import fail
from tui.render import clock_time


def cmd_note(store: Store, args: argparse.Namespace, operator: str) -> int:
    desk.add_note(store, args.id, " ".join(args.text), operator)
    print(f"#{args.id} note saved")
    return 0


def cmd_links(store: Store, args: argparse.Namespace, operator: str) -> int:
    """What `o` opens and `y` copies, for scripts (`xdg-open "$(mentiondesk links 12 | head -1)"`)."""
    from store.links import mention_links

    links = mention_links(store, args.id)
    if links is None:
        return fail(f"no mention with id {args.id}")
    for url in links:
        print(url)
    return 0 if links else 1


def cmd_reply(store: Store, args: argparse.Namespace, operator: str, rule_for, *, recall: float = 0.0) -> int:
    text = " ".join(args.text)
    row = store.conn.execute("SELECT network FROM mentions WHERE id = ?", (args.id,)).fetchone()
    if row is None:
        return fail(f"no mention with id {args.id}")
    rule = rule_for(row[0])
    over = -rule.remaining(text)
    if over > 0:
        return fail(f"reply is {over} over the {rule.limit} limit ({rule.description}); nothing queued")
    try:
        # The same check as the console's, inside the transaction that queues the reply.
        queued = actions.queue_reply(store, args.id, text, operator, guard=actions.ReplyGuard(force=args.force),
                                     recall=recall)
    except actions.ClaimedByOther as exc:
        return fail(f"{exc.operator} is replying to #{args.id} now; use --force to reply anyway")
    held = f" (`mentiondesk undo` recalls it for {recall:g} s)" if recall else ""
    print(f"#{args.id} reply {queued.id} queued{held}; the ingest leader (a console or `mentiondesk serve`) sends it")
    return 0


def parse_since(value: str | None, store: Store) -> str:
    """ISO time, or a relative '8h' / '30m' / '2d'; default the last 12 hours."""
    now = store.clock()
    if not value:
        return iso(now - timedelta(hours=12))
    units = {"m": 60, "h": 3600, "d": 86400}
    usage = f"--since {value[:40]!r}: use an ISO time (2026-11-26T08:00) or 30m / 8h / 2d"
    if value[-1:] in units and value[:-1].isascii() and value[:-1].isdigit():
        try:  # 3000000d reaches before year 1: a usage mistake, not a traceback
            return iso(now - timedelta(seconds=int(value[:-1]) * units[value[-1]]))
        except (OverflowError, ValueError):
            raise ValueError(f"{usage}, at most {(now - datetime(2, 1, 1, tzinfo=UTC)).days}d back") from None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(usage) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return iso(moment)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
        raise ValueError(usage) from None


def cmd_handover(store: Store, args: argparse.Namespace, operator: str, policy: SlaPolicy | None = None) -> int:
    if args.leave:
        desk.leave_handover_note(store, " ".join(args.leave), operator)
        print("handover note left for the next shift")
        return 0
    try:
        since = parse_since(args.since, store)
    except ValueError as exc:
        return fail(str(exc))
    report = handover_report(store, since, operator, policy)
    if args.json:  # machines get the stored UTC times; people get their own clock
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=1))
    else:
        print(format_report(report, lambda moment: clock_time(moment, store.clock())))
    return 0
