"""`mentiondesk report`: how the desk is doing over a period, as text, JSON or CSV."""

from __future__ import annotations

import argparse
import json
import sys

from store.db import Store
from store.reports import build_report
from store.sla import SlaPolicy
from tui.cli_common import fail
from tui.cli_desk import parse_since
from tui.render import clock_time
from tui.report_text import format_report, write_csv


def cmd_report(store: Store, args: argparse.Namespace, policy: SlaPolicy) -> int:
    try:
        since = parse_since(args.since or "7d", store)
    except ValueError as exc:
        return fail(str(exc))
    report = build_report(store, since, by=args.by, policy=policy)
    if args.json:  # machines get the stored UTC times and every bucket; people get their own clock
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=1))
    elif args.csv:
        write_csv(report, sys.stdout)
    else:
        print(format_report(report, lambda moment: clock_time(moment, store.clock())))
    return 0
