"""`mentiondesk sla set|show`: the desk's one SLA policy (first-reply targets), and what other verbs go by."""

from __future__ import annotations

import argparse
import json
import sys

from adapters.accounts import NETWORKS, SLA_TAGS, parse_duration
from store.db import Store
from store.sanitize import clean_line
from store.sla import SlaPolicy
from store.sla_desk import as_table, describe, desk_sla, read_desk_sla, set_desk_sla
from tui.cli_common import fail

NAMES = ("default", *SLA_TAGS, *NETWORKS)
EXAMPLE = "e.g. `sla set care 1h marketing 4h default 8h`"


def add_sla_parser(sub, common) -> None:
    sla = sub.add_parser("sla", parents=[common], help="the desk's first-reply targets (one policy for every console)")
    verbs = sla.add_subparsers(dest="sla_command", metavar="set|show", required=True)
    set_ = verbs.add_parser("set", parents=[common], help="set the desk's targets: NAME DURATION pairs "
                            f"({', '.join(NAMES)}), {EXAMPLE}")
    set_.add_argument("targets", nargs="+", metavar="NAME DURATION")
    show = verbs.add_parser("show", parents=[common], help="the desk's targets, who set them and when")
    show.add_argument("--json", action="store_true")


def parse_targets(words: list[str]) -> SlaPolicy | str:
    """`care 1h marketing 4h default 8h` -> a policy, or the one line saying what is wrong."""
    if len(words) % 2:
        return f"sla set: give NAME DURATION pairs, {EXAMPLE}"
    table: dict[str, float] = {}
    for name, value in zip(words[::2], words[1::2], strict=True):
        key = name.lower()
        if key not in NAMES:
            return f"sla set: no target called {clean_line(name, 40)!r}: use {', '.join(NAMES)}"
        seconds = parse_duration(value)
        if seconds is None or seconds < 60:
            return (f"sla set: {clean_line(value, 40)!r} is not a duration for {key}: "
                    "use e.g. 90m, 1h, 2d (a minute at least)")
        table[key] = seconds
    return SlaPolicy.from_table(table, SLA_TAGS)


def cmd_sla(store: Store, args: argparse.Namespace, operator: str) -> int:
    if args.sla_command == "set":
        policy = parse_targets(args.targets)
        if isinstance(policy, str):
            return fail(policy)
        rekeyed = set_desk_sla(store, policy, operator)
        print(f"the desk's SLA is now {describe(policy)} (set by {operator}; {rekeyed} open mentions re-keyed)")
        return 0
    desk = desk_sla(store)
    if args.json:
        print(json.dumps(None if desk is None else {
            "targets": as_table(desk.policy), "set_by": desk.set_by, "set_at": desk.set_at,
            "seeded_from_config": desk.seeded}, ensure_ascii=False))
        return 0
    if desk is None:
        print("this desk has no SLA yet: `mentiondesk sla set` sets one (or the first console whose config "
              "has an [sla])")
        return 0
    who = "set before the desk logged who sets it"
    if desk.set_by:
        who = f"set by {clean_line(desk.set_by, 64)} at {desk.set_at}" + (" from their config's [sla]" * desk.seeded)
    print(f"{describe(desk.policy)}; {who}")
    return 0


def desk_policy(store: Store, config: SlaPolicy, operator: str) -> SlaPolicy:
    """What handover, reports and views go by: the desk's policy (a desk with none takes this config's);
    a config that differs is said in one line on stderr."""
    seeded = read_desk_sla(store, config, operator)
    if notice := seeded.notice():
        print(f"mentiondesk: {notice}", file=sys.stderr)
    return seeded.desk.policy
