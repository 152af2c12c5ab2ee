"""Helpers shared by several test modules."""

from __future__ import annotations

import sqlite3
import subprocess

from store.db import open_store
from store.schema import SCHEMA_VERSION


def newer_schema(path) -> None:
    """A mentiondesk database as a newer release would leave it."""
    open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()


def assert_one_line_refusal(result: subprocess.CompletedProcess) -> str:
    """A refused command: non-zero, one `mentiondesk:` line on stderr, no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mentiondesk: ")
    assert result.stdout == ""
    return lines[0]
