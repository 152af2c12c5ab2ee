"""The signals helper process leaves when its console is killed, instead of staying in memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import os, sys
from store.triage import _start_helper
pool = _start_helper()
print(pool.submit(os.getpid).result(), flush=True)
sys.stdin.read()  # until the test kills this process
"""


def alive(pid: int) -> bool:
    """Running, that is: a zombie waiting for init to reap it has left already."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "Z" not in state.split()[1]


def test_a_killed_console_does_not_leave_its_signals_helper_behind():
    console = subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    helper = None
    try:
        assert console.stdout is not None
        helper = int(console.stdout.readline())
        assert helper != console.pid and alive(helper)
        console.send_signal(signal.SIGKILL)
        console.wait(timeout=10)
        deadline = time.monotonic() + 10  # the helper looks for its parent every second
        while alive(helper):
            assert time.monotonic() < deadline, "the helper outlived its console by 10 s"
            time.sleep(0.05)
    finally:
        if console.poll() is None:
            console.kill()
        if helper is not None and alive(helper):
            os.kill(helper, signal.SIGKILL)
