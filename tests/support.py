"""Helpers shared by several test modules."""

from __future__ import annotations

import asyncio
import inspect
import random
import sqlite3
import subprocess
import time

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


def random_bytes(path) -> None:
    """Not an SQLite file at all."""
    path.write_bytes(random.Random(7).randbytes(8192))


def header_then_garbage(path) -> None:
    """An SQLite header over garbage: a damaged database."""
    path.write_bytes(b"SQLite format 3\x00" + random.Random(8).randbytes(8192))


def foreign_sqlite(path) -> None:
    """Somebody else's SQLite database."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    conn.commit()
    conn.close()


async def until(condition, seconds: float = 10.0, what: str = "condition"):
    """Poll `condition` (a function, sync or async) until it is truthy; fail after `seconds`.

    A database still being created or briefly locked by another process reads as "not yet".
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
        except sqlite3.OperationalError:
            value = None
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def cli_in_process(monkeypatch, capsys, tmp_path, *args: str) -> tuple[int, str, str]:
    """`mentiondesk ARGS` run in this process (fast), as operator alice with no config file: (status, out, err)."""
    from tui.cli import main

    monkeypatch.setenv("MENTIONDESK_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("MENTIONDESK_OPERATOR", "alice")
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err
