"""`mentiondesk demo-shift`: a past shift on the demo desk, so its reports and handover have something to show."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime

from store.db import Store
from tui.cli_common import fail
from tui.settings import Settings

REPLIES = {"ana": "Sorry about this! Sending you a DM with the next steps — ana",
           "bo": "Thank you, that made our day! — bo"}


def add_demo_shift_parser(sub, common) -> None:
    shift = sub.add_parser("demo-shift", parents=[common],
                           help="play a past shift into the demo desk: mentions, and two colleagues' tags, "
                                "replies, closings and hand-offs (for reports and the handover)")
    shift.add_argument("--hours", type=float, default=8.0, help="how long the shift lasted, up to now (default 8)")


def _at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def cmd_demo_shift(store: Store, args: argparse.Namespace, settings: Settings) -> int:
    # Here, not at the top: the parser is built on every command's start path.
    from adapters.demo.past_shift import plan
    from store import actions
    from store.ingest import save_batch
    from store.outbox import claim_due, mark_sent
    from store.signals import SignalModel

    if not 1 <= args.hours <= 72:
        return fail("--hours must be between 1 and 72")
    conn = store.conn
    if conn.execute("SELECT 1 FROM mentions WHERE network != 'demo' LIMIT 1").fetchone():
        return fail("this desk holds real mentions: demo-shift only plays into a demo desk (--db another file)")
    if conn.execute("SELECT 1 FROM mentions WHERE remote_id LIKE 'past-%' LIMIT 1").fetchone():
        return fail("this desk has had its demo shift already")
    steps = plan(store.clock(), args.hours)
    arrivals = [step.mention for step in steps if step.mention is not None]
    signals = dict(zip((m.remote_id for m in arrivals),
                       SignalModel(settings.languages, settings.reply_keywords).of_all(m.text for m in arrivals),
                       strict=True))
    ids: dict[str, int] = {}
    real_clock = store.clock
    try:
        for step in steps:
            store.clock = _at(step.at)  # every change stamped when the colleague made it
            if step.mention is not None:
                ids[step.remote_id] = save_batch(store, "demo", [step.mention], None,
                                                 signals=[signals[step.remote_id]])[0]
            elif step.kind == "tag":
                actions.set_tag(store, ids[step.remote_id], step.tag, True, step.operator)
            elif step.kind == "reply":
                actions.queue_reply(store, ids[step.remote_id], REPLIES[step.operator], step.operator)
                for reply in claim_due(store, reclaim_sending=True):
                    mark_sent(store, reply, f"past-reply-{reply.id}", None)
            else:
                actions.set_status(store, ids[step.remote_id], "done", step.operator)
    finally:
        store.clock = real_clock
    done = {kind: sum(1 for s in steps if s.kind == kind) for kind in ("tag", "reply", "done")}
    print(f"demo shift of {args.hours:g} h: {len(arrivals)} mentions; ana and bo tagged {done['tag']}, "
          f"answered {done['reply']}, closed {done['done']} (S: reports, H: handover)", file=sys.stderr)
    return 0
