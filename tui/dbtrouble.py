"""Database errors in the console: one line saying what failed and how to fix it.

The console then keeps browsing and searching where it can and refuses writes
with a one-line notice. Which desk file is at fault, and its fix, is the store's
own diagnosis (store.files), the same one the command line gives.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from store import files
from store.db import StoreError

DATABASE_ERRORS = (sqlite3.Error, StoreError)


def is_read_only(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, sqlite3.Error) and ("readonly" in text or "read-only" in text)


def describe(error: BaseException, db_path: str | Path) -> str:
    """One line: what failed, the file, and the fix."""
    if isinstance(error, StoreError):
        return str(error)  # the store's own diagnosis already names the file and the fix
    if is_read_only(error):
        try:
            files.check_writable(Path(db_path))
        except files.DeskFileError as exc:
            return f"read-only: {exc}; browsing and search still work"
        return f"read-only: {db_path} refuses writes ({error}); browsing and search still work"
    return f"database error: {error} — {db_path}"
