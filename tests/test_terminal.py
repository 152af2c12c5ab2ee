"""The console over SSH: no terminal, a hang-up, a closed terminal.

The real console runs in a child process on a pseudo-terminal, as sshd would
start it; the test plays the SSH client by closing the pty's master side or
sending SIGHUP, and checks that the process left and gave up the lease and
its claim (before the fix: SIGHUP killed it with the lease held, and a closed
terminal left it spinning forever).
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import sqlite3
import struct
import subprocess
import termios

import pytest

from tests.procs import ROOT, clean_env, cli_command, run, wait_for
from tests.tui_support import seed


def _rows(db, sql: str) -> list:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []  # not created yet
    finally:
        conn.close()


class Console:
    """`mentiondesk` on the slave side of a pty (80×24); the test holds the master."""

    def __init__(self, home, db) -> None:
        master, slave = pty.openpty()
        self.master: int | None = master
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.proc = subprocess.Popen(cli_command(db, operator="bob"), stdin=slave, stdout=slave, stderr=slave,
                                     env=clean_env(home, TERM="xterm-256color"), cwd=ROOT, start_new_session=True)
        os.close(slave)

    def drain(self) -> None:
        """Read what the console drew, so it never blocks on a full pty buffer."""
        while self.master is not None and select.select([self.master], [], [], 0)[0]:
            try:
                if not os.read(self.master, 65536):
                    return
            except OSError:
                return

    def press(self, key: bytes) -> None:
        assert self.master is not None, "pressed after hanging up"
        os.write(self.master, key)

    def hang_up(self) -> None:
        assert self.master is not None, "hung up twice"
        os.close(self.master)
        self.master = None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.master is not None:
            os.close(self.master)


@pytest.fixture
def console(tmp_path):
    db = tmp_path / "desk.db"
    seed(str(db), count=5)
    running = Console(tmp_path, db)
    yield running, db
    running.stop()


def _replying(running: Console, db) -> None:
    """Wait until the console leads ingest and holds a claim (r pressed once the rows are in)."""
    def claimed():
        running.drain()
        if _rows(db, "SELECT holder FROM leases") and not _rows(db, "SELECT operator FROM claims"):
            running.press(b"r")
        return _rows(db, "SELECT operator FROM claims") == [("bob",)] and _rows(db, "SELECT holder FROM leases")
    wait_for(claimed, timeout=30, what="the console leading and replying", interval=0.3)


@pytest.mark.parametrize("how", ["close the terminal", "SIGHUP"])
def test_a_lost_terminal_ends_the_console_and_releases_lease_and_claim(console, how):
    running, db = console
    _replying(running, db)
    if how == "SIGHUP":
        running.proc.send_signal(signal.SIGHUP)
    else:
        running.hang_up()
    def exited():
        running.drain()  # after SIGHUP the terminal is still there: keep reading what it draws
        return running.proc.poll() is not None
    try:
        wait_for(exited, timeout=5, what=f"the console leaving after: {how}", interval=0.05)
    except AssertionError:
        pytest.fail(f"the console kept running 5 s after: {how}")
    code = running.proc.returncode
    assert code == 129  # 128 + SIGHUP, not killed by the signal (-1) and not a crash
    assert _rows(db, "SELECT * FROM leases WHERE holder != ''") == []  # released: the row keeps its epoch, no holder
    assert _rows(db, "SELECT * FROM claims") == []


def test_without_a_terminal_the_console_refuses_in_one_line(tmp_path):
    db = tmp_path / "desk.db"
    seed(str(db), count=3)
    result = run(cli_command(db), tmp_path, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert result.stdout == ""  # no escape codes into the pipe
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "ssh -t" in lines[0], result.stderr
    assert _rows(db, "SELECT * FROM leases WHERE holder != ''") == []  # it never started ingesting
    # The commands still work through a pipe.
    search = run(cli_command(db, "search", "refund"), tmp_path, timeout=30, stdin=subprocess.DEVNULL)
    assert search.returncode == 0 and "refund" in search.stdout.lower()


def test_the_watch_notices_a_hang_up_and_a_vanished_parent_once(monkeypatch):
    from tui.terminal import TerminalWatch

    lost: list[str] = []
    read_end, write_end = os.pipe()
    try:
        watch = TerminalWatch(lost.append, fd=read_end)
        assert watch.check() is None and lost == []
        os.close(write_end)  # the other side is gone: the fd polls as hung up
        assert watch.check() == "terminal hung up"
        assert watch.check() == "terminal hung up" and lost == ["terminal hung up"]  # reported once
    finally:
        os.close(read_end)
    read_end, write_end = os.pipe()
    try:
        watch = TerminalWatch(lost.append, fd=read_end)
        monkeypatch.setattr(os, "getppid", lambda: 1)  # sshd died: we were re-parented
        assert watch.check() == "parent process gone"
    finally:
        os.close(read_end)
        os.close(write_end)
