"""`mentiondesk desk init FOLDER|URL --group GROUP`: a desk several operators share (store/desk_share.py)."""

from __future__ import annotations

import argparse

from store.db import StoreError
from tui.cli_common import fail


def cmd_desk(args: argparse.Namespace) -> int:
    from store.desk_share import share_desk

    try:
        lines = share_desk(args.folder, args.group)
    except StoreError as exc:
        return fail(str(exc))
    for line in lines:
        print(line)
    return 0
