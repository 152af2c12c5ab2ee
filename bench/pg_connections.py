"""How many PostgreSQL sessions each kind of mentiondesk process opens over its life (issue 15, item 2).

Counted by the server, not guessed: a throwaway server (tests/pg_support.py) with log_connections on,
one database per scenario, and the "connection authorized" lines naming that database. Scenarios, each
a real process as an operator would run it (the demo stream on, so the console leads ingest and sends):

- console: `mentiondesk --demo` in tmux at 80×24 for `--console` seconds: views 2, 3, 1, a search, a
  reply sent, another view, then q;
- serve: `mentiondesk serve --demo` for `--serve` seconds, then SIGTERM;
- cli: `mentiondesk tag 1 care`, one command;
- web: `mentiondesk web --no-demo` with one signed-in tab (a websocket, as the browser opens) for
  `--web` seconds, then the tab closed and the server stopped.

    .venv/bin/python -m bench.pg_connections [--console 180] [--serve 60] [--web 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.pg_support import Server, database_of, start_server, stop_server  # noqa: E402
from tests.procs import clean_env, cli_command, start  # noqa: E402

SESSION = "pgasync-pgconn-console"  # the tmux session (its own name: other sessions on the machine are not touched)


def log_size(server: Server) -> int:
    return len((server.folder / "server.log").read_text(errors="replace"))


def sessions_opened(server: Server, url: str, since: int) -> tuple[int, list[str]]:
    """Sessions opened on `url`'s database after the log's first `since` characters, and how long each of
    those that ended lasted."""
    log = (server.folder / "server.log").read_text(errors="replace")[since:]
    name = database_of(url)
    opened = len(re.findall(rf"connection authorized: user=\S+ database={name}\b", log))
    lengths = re.findall(rf"disconnection: session time: (\S+) user=\S+ database={name}\b", log)
    return opened, sorted(lengths)


def fresh_desk(server: Server) -> str:
    from tests.tui_support import seed

    url = server.fresh_database()
    seed(url, 30, hostile=False)
    return url


def done_on(url: str) -> str:
    """What the scenario did to the desk: its events by action, and replies in the outbox by state."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        events = conn.execute("SELECT action, count(*) FROM events GROUP BY action ORDER BY action").fetchall()
        replies = conn.execute("SELECT state, count(*) FROM replies GROUP BY state ORDER BY state").fetchall()
    return ", ".join(f"{action} {count}" for action, count in events) + \
        "; replies: " + (", ".join(f"{state} {count}" for state, count in replies) or "none")


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def console(url: str, home: Path, seconds: float) -> None:
    env = clean_env(home, MENTIONDESK_OPERATOR="ana")
    command = " ".join([*(f"{k}={v!r}" for k, v in env.items() if k.startswith(("PYTHON", "XDG", "MENTIONDESK"))),
                        *cli_command(url, "--demo")])
    _tmux("new-session", "-d", "-s", SESSION, "-x", "80", "-y", "24", f"cd {home} && {command}")
    try:
        _wait_screen("mentiondesk", 60)
        steps: list[tuple[str, ...]] = [("2",), ("3",), ("1",), ("/",), ("-l", "refund"), ("Enter",), ("Escape",),
                                        ("j",), ("r",), ("-l", "Thanks, we are looking into it"), ("C-s",),
                                        ("4",), ("1",)]
        pause = seconds / (len(steps) + 1)
        for keys in steps:
            time.sleep(pause)
            _tmux("send-keys", "-t", SESSION, *keys)
        time.sleep(pause)
        _tmux("send-keys", "-t", SESSION, "q")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _alive():
            time.sleep(0.5)
    finally:
        if _alive():
            _tmux("kill-session", "-t", SESSION)


def _alive() -> bool:
    return subprocess.run(["tmux", "has-session", "-t", SESSION], capture_output=True).returncode == 0 and \
        _tmux("list-panes", "-t", SESSION, "-F", "#{pane_dead}").strip() != "1"


def _wait_screen(text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in _tmux("capture-pane", "-p", "-t", SESSION):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the console did not show {text!r}")
        time.sleep(0.2)


def serve(url: str, home: Path, seconds: float) -> None:
    process = start(cli_command(url, "serve", before=("--demo",)), home, home / "serve.log")
    time.sleep(seconds)
    process.send_signal(signal.SIGTERM)
    process.wait(60)


def cli(url: str, home: Path) -> None:
    subprocess.run(cli_command(url, "tag", "1", "care", operator="ana"), env=clean_env(home), cwd=home,
                   check=True, capture_output=True, timeout=60)


def web(url: str, home: Path, seconds: float) -> None:
    from tests.web_support import PASSWORD, set_password, web_server

    config = home / "config.toml"
    set_password(home, config, "ana")
    with web_server(home, url, config) as server:
        asyncio.run(_one_tab(server.url, seconds, PASSWORD))


async def _one_tab(base: str, seconds: float, password: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession(base_url=base, headers={"Origin": base}) as client:
        # The server's cookies are Secure (it expects TLS in front): carried by hand over this loopback http.
        form = await client.get("/signin")
        token = re.search(r'name="form_token" value="([0-9a-f]+)"', await form.text())
        assert token is not None
        cookies = {name: morsel.value for name, morsel in form.cookies.items()}
        signed = await client.post("/signin", data={"form_token": token[1], "operator": "ana", "password": password},
                                   headers={"Cookie": _cookie_header(cookies)}, allow_redirects=False)
        assert signed.status == 303, signed.status
        cookies.update({name: morsel.value for name, morsel in signed.cookies.items()})
        async with client.ws_connect("/ws?width=80&height=24", headers={"Cookie": _cookie_header(cookies)}) as socket:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    await socket.receive(timeout=1)
                except TimeoutError:
                    continue


def _cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--console", type=float, default=180, help="seconds of the console session")
    parser.add_argument("--serve", type=float, default=60)
    parser.add_argument("--web", type=float, default=60)
    args = parser.parse_args()
    server = start_server()
    rows = []
    try:
        import psycopg

        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("ALTER SYSTEM SET log_connections = on")
            admin.execute("ALTER SYSTEM SET log_disconnections = on")
            admin.execute("SELECT pg_reload_conf()")
        time.sleep(1)  # the reload reaches the postmaster
        runs = [("console session", lambda url, home: console(url, home, args.console), f"{args.console:g} s"),
                ("serve", lambda url, home: serve(url, home, args.serve), f"{args.serve:g} s"),
                ("one CLI command (tag)", cli, "-"),
                ("web, one tab", lambda url, home: web(url, home, args.web), f"{args.web:g} s")]
        for name, scenario, length in runs:
            url = fresh_desk(server)
            time.sleep(0.5)  # the seeding session's lines written
            since = log_size(server)
            with tempfile.TemporaryDirectory() as folder:
                started = time.monotonic()
                scenario(url, Path(folder))
                took = time.monotonic() - started
            time.sleep(0.5)
            opened, lengths = sessions_opened(server, url, since)
            rows.append(f"| {name} | {length} ({took:.0f} s in all) | {opened} | {', '.join(lengths)} | "
                        f"{done_on(url)} |")
            print(rows[-1], flush=True)
    finally:
        stop_server(server)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end ({os.cpu_count()} cores)\n")
    print("| process | length | PostgreSQL sessions opened | each session's length (h:mm:ss) | what it did |\n"
          "| --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
