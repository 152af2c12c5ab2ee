"""A real `mentiondesk web` process over a seeded desk, for the browser and server tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.procs import clean_env, run, start, wait_for

PASSWORD = "correct horse battery staple"
CHROMIUM = Path("/usr/bin/chromium")
# What the brief of issue 15 asks for: no GPU, no network of its own, a profile of its own (user_data_dir).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
_ESCAPES = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78])")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def terminal_text(stream: bytes) -> str:
    """What a terminal was sent, escape sequences removed (text of one style stays contiguous)."""
    return _ESCAPES.sub("", stream.decode("utf-8", "replace"))


def set_password(home: Path, config: Path, name: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
    return run([*mentiondesk(), "web", "passwd", name, "--config", str(config)], home, input=password + "\n")


def mentiondesk() -> list[str]:
    import sys

    return [sys.executable, "-m", "tui"]


@dataclass
class WebServer:
    url: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextmanager
def web_server(home: Path, db: Path | str, config: Path) -> Iterator[WebServer]:
    """`mentiondesk web` on a free loopback port, no demo stream: the desk holds only what the test put."""
    port = free_port()
    log = home / "web.log"
    process = start([*mentiondesk(), "web", "--port", str(port), "--no-demo", "--db", str(db),
                     "--config", str(config)], home, log)
    server = WebServer(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_for(lambda: process.poll() is not None or _answers(server.url + "/signin"), timeout=30,
                 what="mentiondesk web answering")
        assert process.poll() is None, log.read_text()
        yield server
    finally:
        server.stop()


def child_pids(pid: int) -> list[int]:
    """The processes `pid` started and that still run (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def running(pid: int) -> bool:
    """Whether `pid` still runs (a zombie waiting for a parent to reap it does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "PASSWORD", "WebServer", "child_pids", "clean_env", "free_port", "running",
           "set_password", "terminal_text", "web_server"]
