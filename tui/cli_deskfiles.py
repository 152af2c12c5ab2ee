"""`mentiondesk desk init FOLDER --group GROUP`: a folder several Unix accounts share a desk in."""

from __future__ import annotations

import argparse
from pathlib import Path

from store import files
from store.db import StoreError, open_store
from tui.cli_common import fail


def cmd_desk(args: argparse.Namespace) -> int:
    folder = Path(args.folder).expanduser().absolute()
    try:
        gid = files.group_id(args.group)
        db = files.prepare_desk_folder(folder, gid)
        open_store(db).close()  # creates and migrates it, 0660 in the folder's group
        files.check_desk(db, gid)
    except (files.DeskFileError, StoreError) as exc:
        return fail(str(exc))
    print(f"desk ready: {folder} (group {args.group}, setgid 2770), database {db} (0660)")
    print(f"every operator in {args.group} opens it with: mentiondesk --db {db}   (or MENTIONDESK_DB={db})")
    return 0
