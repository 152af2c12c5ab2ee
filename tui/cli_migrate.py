"""`mentiondesk migrate --to URL|FILE`: the desk (--db) copied whole into a new one, counts checked."""

from __future__ import annotations

import argparse
import sys

from store.db import Store, StoreError, open_store
from store.desk_copy import copy_desk
from store.pg_open import masked


def cmd_migrate(store: Store, args: argparse.Namespace) -> int:
    target_name = masked(args.to)
    if masked(store.path) == target_name:
        raise StoreError(f"--to names the desk being copied ({target_name}): name a new, empty one")
    target = open_store(args.to)  # creates and migrates it; refuses a newer or foreign database in one line
    try:
        report = copy_desk(store, target)
    finally:
        target.close()
    width = max(len(count.table) for count in report.counts)
    for count in report.counts:
        mark = "" if count.source == count.target else "   <- differs"
        print(f"{count.table:<{width}}  {count.source:>9}  {count.target:>9}{mark}")
    if not report.equal:
        print(f"mentiondesk: copied into {target_name}, but some counts differ (above)", file=sys.stderr)
        return 1
    print(f"copied {sum(count.source for count in report.counts)} rows in {len(report.counts)} tables into "
          f"{target_name}; counts equal; {report.indexed} mentions indexed for search", file=sys.stderr)
    return 0
