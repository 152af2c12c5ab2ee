"""`mentiondesk web` (serve the console to browsers) and `mentiondesk web passwd NAME`."""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import logging
import os
import signal
import sys
from pathlib import Path

from store.operators import OperatorNameError, check_operator
from tui.cli_common import fail
from tui.settings import Settings
from tui.web.passwords import PasswordFileError, WebUsers, password_problem, read_users, write_users


def _users(settings: Settings) -> WebUsers:
    return read_users(settings.web_users_path)


def cmd_passwd(args: argparse.Namespace, settings: Settings) -> int:
    try:
        name = check_operator(args.name)
        users = _users(settings)
    except (OperatorNameError, PasswordFileError) as exc:
        return fail(str(exc))
    hashes = dict(users.hashes)
    if args.remove:
        if hashes.pop(name, None) is None:
            return fail(f"{name} has no web password in {users.path}")
        write_users(users, hashes)
        print(f"mentiondesk: {name} can no longer sign in to `mentiondesk web` ({users.path})", file=sys.stderr)
        return 0
    password = _ask_password(name)
    if password is None:
        return fail("the two passwords differ: nothing changed")
    if problem := password_problem(password):
        return fail(f"{problem}: nothing changed")
    from tui.web.passwords import hash_password

    hashes[name] = hash_password(password)
    write_users(users, hashes)
    print(f"mentiondesk: {name} can sign in to `mentiondesk web` (hash in {users.path}, 0600)", file=sys.stderr)
    return 0


def _ask_password(name: str) -> str | None:
    """From the terminal without echo, twice; from a pipe (scripts, tests), its first line."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    try:
        first = getpass.getpass(f"web password for {name}: ")
        second = getpass.getpass("again: ")
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        return None
    return first if first == second else None


def web_refusal(settings: Settings) -> str | None:
    """Why `mentiondesk web` cannot serve, checked before anything else is said or opened."""
    if settings.sources.get("operator") == "cli":
        return "web: --operator does not apply: each browser signs in, and its console runs as that operator"
    try:
        users = _users(settings)
    except PasswordFileError as exc:
        return str(exc)
    if not users.hashes:
        return f"no operator can sign in yet: add one with `mentiondesk web passwd NAME` (writes {users.path})"
    return None


def console_options(args: argparse.Namespace) -> list[str]:
    """The console settings given to `mentiondesk web` that each tab's console must share."""
    options = ["--no-demo"] if getattr(args, "no_demo", False) else ["--demo"] if getattr(args, "demo", False) else []
    if getattr(args, "demo_rate", None) is not None:
        options += ["--demo-rate", str(args.demo_rate)]
    return options


def cmd_web(args: argparse.Namespace, settings: Settings, db_path: Path | str) -> int:
    from tui.web.console_process import console_argv
    from tui.web.server import WebConsole, exposure_note

    if refusal := web_refusal(settings):
        return fail(refusal)
    try:
        users = _users(settings)
    except PasswordFileError as exc:  # changed since web_refusal read it
        return fail(str(exc))
    config_path, options = settings.config_path, console_options(args)
    state = {"users": users, "mtime": _mtime(users.path)}

    def current_users() -> WebUsers:
        # `web passwd` takes effect at once (a removed operator's session stops working), without a restart.
        mtime = _mtime(users.path)
        if mtime != state["mtime"]:
            try:
                state["users"], state["mtime"] = read_users(users.path), mtime
            except PasswordFileError as exc:
                logging.getLogger("mentiondesk.web").warning("event=users_unreadable reason=%s", exc)
        return state["users"]  # type: ignore[return-value]

    console = WebConsole(host=args.host, port=args.port, users=current_users, public_url=args.public_url,
                         argv_for=lambda operator: console_argv(operator, db_path, config_path, options))
    where = f"http://{args.host}:{args.port}" if ":" not in args.host else f"http://[{args.host}]:{args.port}"

    def ready() -> None:
        print(f"mentiondesk web: serving the console on {where} to {len(users.hashes)} operator(s) "
              f"of {db_path} (Ctrl+C stops)", file=sys.stderr, flush=True)
        if note := exposure_note(args.host):
            print(f"mentiondesk web: {note}", file=sys.stderr, flush=True)

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s mentiondesk web: %(message)s")
    try:
        return asyncio.run(_serve(console, ready))
    except OSError as exc:
        reason = "the port is already in use (choose another with --port)" if exc.errno == errno.EADDRINUSE \
            else (exc.strerror or str(exc))
        return fail(f"cannot listen on {args.host}:{args.port}: {reason}")


async def _serve(console, ready) -> int:
    from tui.web.server import run

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await run(console, ready)
    except asyncio.CancelledError:
        pass
    return 0


def _mtime(path: Path) -> float | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None
