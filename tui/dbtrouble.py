"""Database errors in the console: one line saying what failed and how to fix it.

A shared desk whose -wal or -shm file was left 0644 by the first operator lets
the second one read but not write. The console then keeps browsing and
searching, refuses writes with a one-line notice, and names the file to fix.
"""

from __future__ import annotations

import grp
import os
import pwd
import sqlite3
import stat
from pathlib import Path

from store.db import StoreError

DATABASE_ERRORS = (sqlite3.Error, StoreError)


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def not_writable(db_path: str | Path, *, uid: int | None = None, gids: set[int] | None = None) -> Path | None:
    """The first desk file (folder, database, -wal, -shm) that `uid` may not write, by its mode bits."""
    uid = os.geteuid() if uid is None else uid
    if uid == 0:
        return None  # root writes anything
    gids = set(os.getgroups()) | {os.getegid()} if gids is None else gids
    path = Path(db_path)
    for candidate in (path.parent, path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            info = candidate.stat()
        except OSError:
            continue  # -wal/-shm come and go; a missing one is created by whoever can
        if info.st_uid == uid:
            allowed = info.st_mode & stat.S_IWUSR
        elif info.st_gid in gids:
            allowed = info.st_mode & stat.S_IWGRP
        else:
            allowed = info.st_mode & stat.S_IWOTH
        if not allowed:
            return candidate
    return None


def is_read_only(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, sqlite3.Error) and ("readonly" in text or "read-only" in text)


def describe(error: BaseException, db_path: str | Path, *, uid: int | None = None,
             gids: set[int] | None = None) -> str:
    """One line: what failed, the file, and the fix."""
    if is_read_only(error):
        culprit = not_writable(db_path, uid=uid, gids=gids)
        who = _user(os.geteuid() if uid is None else uid)
        if culprit is None:
            return f"read-only: {db_path} refuses writes ({error}); browsing and search still work"
        info = culprit.stat()
        gids = set(os.getgroups()) | {os.getegid()} if gids is None else gids
        if info.st_gid not in gids and info.st_uid != (os.geteuid() if uid is None else uid):
            fix = f"add {who} to group {_group(info.st_gid)}"
        else:
            fix = f"chmod {'g+ws' if culprit.is_dir() else 'g+w'} {culprit}"
        return f"read-only: {culprit} is not writable by {who} — fix: {fix} (see README, shared desk)"
    return f"database error: {error} — {db_path}"
