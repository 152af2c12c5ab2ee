"""The `mentiondesk` command: the console, and scriptable commands on the same store."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from store.actions import ActionError
from store.db import StoreError, open_store
from tui.cli_common import fail
from tui.paths import default_config_path, default_db_path, default_operator


class _Parser(argparse.ArgumentParser):
    """Usage mistakes get one line, like every other refusal (the usage is one --help away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="PATH", type=Path, default=argparse.SUPPRESS,
                        help="database file (default: $MENTIONDESK_DB or the user data dir)")
    common.add_argument("--operator", metavar="NAME", default=argparse.SUPPRESS,
                        help="who acts, recorded in the event log (default: your login name)")
    common.add_argument("--config", metavar="PATH", type=Path, default=argparse.SUPPRESS,
                        help="accounts config (default: $MENTIONDESK_CONFIG or the user config dir)")
    parser = _Parser(
        prog="mentiondesk", parents=[common],
        description="A keyboard-driven console for a brand's social mentions. With no command, opens the console.")
    parser.add_argument("--no-demo", action="store_true", help="run without the demo stream")
    parser.add_argument("--demo", action="store_true", help="run the demo stream even with accounts configured")
    parser.add_argument("--demo-rate", type=float, default=None, metavar="N",
                        help="demo mentions per minute (default 30)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    search = sub.add_parser("search", parents=[common], help="fuzzy-search the history")
    search.add_argument("query", nargs="+", help="words (typos ok) and filters tag:care status:open from:@h net:demo")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.add_argument("--limit", type=int, default=20, metavar="N")

    export = sub.add_parser("export", parents=[common], help="write every mention (JSONL or CSV)")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("-o", "--output", type=Path, default=None, metavar="FILE", help="default: stdout")

    imp = sub.add_parser("import", parents=[common], help="read a JSONL export back, skipping duplicates")
    imp.add_argument("file", type=Path, metavar="FILE.jsonl")

    tag = sub.add_parser("tag", parents=[common], help="tag a mention care or marketing")
    tag.add_argument("id", type=int)
    tag.add_argument("tag", choices=("care", "marketing"))
    tag.add_argument("--off", action="store_true", help="remove the tag instead")
    done = sub.add_parser("done", parents=[common], help="mark a mention done")
    done.add_argument("id", type=int)
    done.add_argument("--reopen", action="store_true", help="reopen it instead")
    note = sub.add_parser("note", parents=[common], help="add an internal note (never sent)")
    note.add_argument("id", type=int)
    note.add_argument("text", nargs="+")
    assign = sub.add_parser("assign", parents=[common], help="assign a mention to an operator ('-' unassigns)")
    assign.add_argument("id", type=int)
    assign.add_argument("operator_name", metavar="OPERATOR")
    reply = sub.add_parser("reply", parents=[common], help="queue a reply (the ingest leader sends it)")
    reply.add_argument("id", type=int)
    reply.add_argument("text", nargs="+")
    reply.add_argument("--force", action="store_true", help="reply even if someone else is replying")
    handover = sub.add_parser("handover", parents=[common], help="what the next shift needs to know")
    handover.add_argument("--since", metavar="TIME", help="ISO time or 30m / 8h / 2d (default 12h)")
    handover.add_argument("--json", action="store_true")
    handover.add_argument("--leave", nargs="+", metavar="TEXT", help="leave a handover note instead")

    reindex = sub.add_parser("reindex", parents=[common],
                             help="finish indexing an interrupted import (--full: rebuild the search index)")
    reindex.add_argument("--full", action="store_true", help="rebuild the whole search index")

    accounts = sub.add_parser("accounts", parents=[common], help="list configured accounts")
    accounts.add_argument("action", nargs="?", choices=("check",), help="check: verify each credential")
    sub.add_parser("serve", parents=[common], help="run ingest and sending without a UI (SIGTERM stops)")
    return parser


def _adapter_builder(config, args):
    """A function building every adapter inside the running loop (aiohttp needs one)."""

    demo = not args.no_demo and (args.demo or (config.demo if config.demo is not None else not config.accounts))
    rate = args.demo_rate if args.demo_rate is not None else (config.demo_rate or 30.0)

    def build(get_session):
        from adapters.accounts import build_adapter

        adapters = [build_adapter(account, get_session()) for account in config.accounts]
        if demo:
            from adapters.demo import DemoAdapter

            adapters.append(DemoAdapter(rate_per_minute=rate))
        return adapters

    return build, demo, rate


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    db_path = Path(getattr(args, "db", None) or default_db_path()).expanduser()
    operator = getattr(args, "operator", None) or default_operator()
    config_path = Path(getattr(args, "config", None) or default_config_path()).expanduser()
    command = args.command
    for name in ("no_demo", "demo", "demo_rate"):
        if not hasattr(args, name):
            setattr(args, name, None if name == "demo_rate" else False)

    config = None
    if command in (None, "accounts", "serve"):
        from adapters.accounts import ConfigError, load_config  # aiohttp: only where networks are

        try:
            config = load_config(config_path)
            if command in (None, "serve"):
                for account in config.accounts:
                    account.secret()  # fail now, in one line, not inside the running console
        except ConfigError as exc:
            return fail(str(exc))
    if args.demo_rate is not None and args.demo_rate <= 0:
        return fail("--demo-rate must be positive")

    try:
        store = open_store(db_path)  # checks and migrates before anything else runs
    except StoreError as exc:
        return fail(str(exc))
    try:
        return _dispatch(command, store, args, operator, config, db_path)
    except (StoreError, ActionError) as exc:
        return fail(str(exc))
    except sqlite3.Error as exc:
        return fail(f"database error: {exc}")
    except BrokenPipeError:
        return 0
    finally:
        store.close()


def _dispatch(command, store, args, operator, config, db_path) -> int:
    if command == "search":
        from tui.cli_data import cmd_search
        return cmd_search(store, args)
    if command == "export":
        from tui.cli_data import cmd_export
        return cmd_export(store, args)
    if command == "import":
        from tui.cli_data import cmd_import
        return cmd_import(store, args, operator)
    if command in ("tag", "done", "note", "assign", "handover"):
        from tui import cli_desk
        return getattr(cli_desk, f"cmd_{command}")(store, args, operator)
    if command == "reply":
        from adapters.rules import rule_for
        from tui.cli_desk import cmd_reply
        return cmd_reply(store, args, operator, rule_for)
    if command == "reindex":
        from tui.cli_data import cmd_reindex
        return cmd_reindex(store, args)
    if command == "accounts":
        from tui.cli_accounts import check_accounts, list_accounts
        return check_accounts(config) if args.action == "check" else list_accounts(config, store)
    build, _, _ = _adapter_builder(config, args)
    store.close()
    if command == "serve":
        from tui.serve import run_serve
        return run_serve(str(db_path), build)
    from tui.terminal import NO_TERMINAL, has_terminal

    if not has_terminal():
        return fail(NO_TERMINAL)
    from tui.app import ConsoleApp

    app = ConsoleApp(str(db_path), operator=operator, adapter_factory=build, watch_terminal=True)
    app.run()
    return app.return_code or 0
