"""The `mentiondesk` command: the console, and scriptable commands on the same store."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.accounts import ConfigError
from store.actions import ActionError
from store.db import NotWritable, StoreError, open_for_reading, open_store
from store.files import make_private
from store.group_answers import APPROVE_OVER
from store.sla import SlaPolicy
from tui import startup
from tui.cli_bulk import add_target_arguments, missing_targets
from tui.cli_common import fail, terminal_safe_output
from tui.paths import DEFAULT_DB, DEMO_DB, data_dir, demo_db_path
from tui.settings import Settings, build_settings

if TYPE_CHECKING:
    from store.triage import Triage

MAX_ID = 2**63 - 1  # SQLite's largest integer
MAX_DEMO_RATE = 120_000.0  # two thousand a second, the storm benchmark's rate: beyond that it measures the disk


def mention_id(text: str) -> int:
    """A mention id as SQLite can store it; anything else is a usage mistake, not a traceback."""
    if not (text.isascii() and text.isdigit() and len(text) <= 19) or not 1 <= int(text) <= MAX_ID:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a mention id (a whole number, as search lists)")
    return int(text)


def limit_count(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 6) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text[:40]!r}: use a whole number from 1 to 999999")
    return int(text)


def demo_rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = float("nan")
    if not 0 < rate <= MAX_DEMO_RATE:  # nan and inf fail too
        raise argparse.ArgumentTypeError(f"{text[:40]!r}: use mentions per minute, above 0 and at most "
                                         f"{MAX_DEMO_RATE:,.0f}")
    return rate


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mentiondesk")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _VersionAction(argparse.Action):
    """`--version`, reading the package's metadata only when asked: importlib.metadata costs every
    start of the console about 10-25 ms otherwise."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str = "show the version and exit") -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        print(f"mentiondesk {_version()}")  # stdout, as argparse's own version action
        parser.exit(0)


class _Parser(argparse.ArgumentParser):
    """Usage mistakes get one line, like every other refusal (the usage is one --help away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


# The console's own options, as build_parser declares them: a command line of only these opens the console.
_CONSOLE_VALUED = ("--db", "--operator", "--config", "--demo-rate")
_CONSOLE_FLAGS = ("--no-demo", "--demo", "--demo-flood")


def console_only(argv: Sequence[str]) -> bool:
    """Whether `argv` only sets the console's own options (no command, no --help or --version, spelt out
    in full): then the commands' forty parsers, 5-7 ms of every console start, need not be built."""
    tokens = iter(argv)
    for token in tokens:
        name, given, _ = token.partition("=")
        if name in _CONSOLE_VALUED:
            if not given and next(tokens, None) is None:
                return False  # the full parser words the mistake
        elif token not in _CONSOLE_FLAGS:
            return False
    return True


def build_parser(*, commands: bool = True) -> argparse.ArgumentParser:
    """The command line; without `commands`, the console's options only (see console_only)."""
    common = _Parser(add_help=False)
    common.add_argument("--db", metavar="PATH|URL", default=argparse.SUPPRESS,
                        help="database file, or postgresql://user@host/dbname for a shared server "
                             "(default: $MENTIONDESK_DB or the user data dir)")
    common.add_argument("--operator", metavar="NAME", default=argparse.SUPPRESS,
                        help="who acts, recorded in the event log (default: your login name)")
    common.add_argument("--config", metavar="PATH", type=Path, default=argparse.SUPPRESS,
                        help="config file (default: $MENTIONDESK_CONFIG or the user config dir)")
    parser = _Parser(
        prog="mentiondesk", parents=[common],
        description="A keyboard-driven console for a brand's social mentions. With no command, opens the console.")
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument("--no-demo", action="store_true", help="run without the demo stream")
    parser.add_argument("--demo", action="store_true", help="run the demo stream even with accounts configured")
    parser.add_argument("--demo-rate", type=demo_rate, default=None, metavar="N",
                        help="demo mentions per minute (default 30)")
    parser.add_argument("--demo-flood", action="store_true",
                        help="the demo stream, with a flood (a cancelled festival day) starting at once")
    if not commands:
        parser.set_defaults(command=None)
        return parser
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    search = sub.add_parser("search", parents=[common], help="fuzzy-search the history")
    search.add_argument("query", nargs="+", help="words (typos ok) and filters tag:care status:open from:@h net:demo")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.add_argument("--limit", type=limit_count, default=20, metavar="N")

    export = sub.add_parser("export", parents=[common], help="write every mention (JSONL or CSV)")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("-o", "--output", type=Path, default=None, metavar="FILE", help="default: stdout")

    imp = sub.add_parser("import", parents=[common], help="read a JSONL export back, skipping duplicates")
    imp.add_argument("file", metavar="FILE.jsonl", help="a file, a pipe or FIFO, or - for stdin")
    imp.add_argument("--no-signals", action="store_true",
                     help="leave language, sentiment and needs-reply for later (`signals backfill`)")
    signals = sub.add_parser("signals", parents=[common],
                             help="language, sentiment, needs-reply of mentions stored without them")
    signals.add_argument("action", choices=("backfill", "status"),
                         help="backfill: fill them (resumable); status: how many have none")

    tag = sub.add_parser("tag", parents=[common], help="tag mentions care or marketing (ids or --query)")
    tag.add_argument("ids", type=mention_id, nargs="*", metavar="ID")
    tag.add_argument("tag", choices=("care", "marketing"))
    tag.add_argument("--off", action="store_true", help="remove the tag instead")
    done = sub.add_parser("done", parents=[common], help="mark mentions done (ids or --query)")
    done.add_argument("ids", type=mention_id, nargs="*", metavar="ID")
    done.add_argument("--reopen", action="store_true", help="reopen them instead")
    note = sub.add_parser("note", parents=[common], help="add an internal note (never sent)")
    note.add_argument("id", type=mention_id)
    note.add_argument("text", nargs="+")
    assign = sub.add_parser("assign", parents=[common],
                            help="assign mentions (ids or --query) to an operator ('-' unassigns)")
    assign.add_argument("ids", type=mention_id, nargs="*", metavar="ID")
    assign.add_argument("operator_name", metavar="OPERATOR")
    assign.add_argument("--new-operator", action="store_true",
                        help="assign to a name nobody has used on this desk yet")
    for verb in (tag, done, assign):
        add_target_arguments(verb)
    undo = sub.add_parser("undo", parents=[common], help="undo your last action (recall a reply not yet sent)")
    undo.add_argument("--list", action="store_true", help="list what undo can take back, newest first")
    reply = sub.add_parser("reply", parents=[common], help="queue a reply (the ingest leader sends it)")
    reply.add_argument("id", type=mention_id)
    reply.add_argument("text", nargs="+")
    reply.add_argument("--force", action="store_true", help="reply even if someone else is replying")
    links = sub.add_parser("links", parents=[common], help="print a mention's web links, its own address first")
    links.add_argument("id", type=mention_id)
    handover = sub.add_parser("handover", parents=[common], help="what the next shift needs to know")
    handover.add_argument("--since", metavar="TIME", help="ISO time or 30m / 8h / 2d (default 12h)")
    handover.add_argument("--json", action="store_true")
    handover.add_argument("--leave", nargs="+", metavar="TEXT", help="leave a handover note instead")

    from tui.cli_views import add_views_parser
    add_views_parser(sub, common)
    from tui.cli_sla import add_sla_parser
    add_sla_parser(sub, common)
    from tui.cli_demo import add_demo_shift_parser
    add_demo_shift_parser(sub, common)
    from tui.cli_kit_args import add_parsers
    add_parsers(sub, common, mention_id)
    from tui.web.cli_args import add_web_parser
    add_web_parser(sub, common, _Parser)

    report = sub.add_parser("report", parents=[common], help="volume, response times, backlog, SLA and hand-off")
    report.add_argument("--since", metavar="TIME", help="ISO time or 30m / 8h / 7d (default 7d)")
    report.add_argument("--by", choices=("hour", "day"), default="day", help="bucket size (default day)")
    report_format = report.add_mutually_exclusive_group()
    report_format.add_argument("--json", action="store_true")
    report_format.add_argument("--csv", action="store_true")

    incidents = sub.add_parser("incidents", parents=[common], help="surges raised by the ingest leader")
    incidents.add_argument("action", nargs="?", choices=("list", "show", "ack", "close", "reopen", "rename"))
    incidents.add_argument("id", nargs="?", type=mention_id, metavar="ID")
    incidents.add_argument("title", nargs="*", help="the new title (rename)")
    incidents.add_argument("--json", action="store_true")
    incidents.add_argument("--all", action="store_true", help="closed ones too")
    group_cmd = sub.add_parser("groups", parents=[common], help="near-duplicate groups of mentions")
    group_cmd.add_argument("action", nargs="?", choices=("list", "show", "split", "move", "merge", "rename"),
                           help="show GROUP | split MENTION | move MENTION GROUP | merge GROUP INTO | "
                                "rename GROUP --name TEXT")
    group_cmd.add_argument("numbers", nargs="*", type=mention_id, metavar="ID")
    group_cmd.add_argument("--name", help="the new name (rename)")
    group_cmd.add_argument("--min", type=mention_id, default=2, help="smallest group listed (default 2)")
    group_cmd.add_argument("--json", action="store_true")

    from tui.cli_answer import add_parsers as add_answer_parsers
    add_answer_parsers(sub, common, mention_id)

    reindex = sub.add_parser("reindex", parents=[common],
                             help="finish indexing an interrupted import (--full: rebuild the search index)")
    reindex.add_argument("--full", action="store_true", help="rebuild the whole search index")

    migrate = sub.add_parser("migrate", parents=[common],
                             help="copy the whole desk (--db) into a new one: --to postgresql://... or FILE.db")
    migrate.add_argument("--to", required=True, metavar="URL|FILE", help="the new, empty desk to fill")

    accounts = sub.add_parser("accounts", parents=[common], help="list configured accounts")
    accounts.add_argument("action", nargs="?", choices=("check",), help="check: verify each credential")
    desk = sub.add_parser("desk", help="set up a folder that several Unix accounts share a desk in")
    desk_sub = desk.add_subparsers(dest="desk_command", metavar="init", parser_class=_Parser, required=True)
    init = desk_sub.add_parser("init", help="make FOLDER a shared desk: setgid 2770, database 0660 in GROUP "
                                            "(a postgresql:// URL: its tables owned by role GROUP)")
    init.add_argument("folder", metavar="FOLDER|URL")
    init.add_argument("--group", required=True, metavar="GROUP",
                      help="the Unix group (PostgreSQL: the role) every operator is in")
    priority = sub.add_parser("priority", parents=[common], help="set a mention's priority ('-' clears it)")
    priority.add_argument("id", type=mention_id)
    priority.add_argument("level", choices=("low", "normal", "high", "urgent", "-"))
    rules = sub.add_parser("rules", parents=[common], help="check the triage rules file, or dry-run it on the history")
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="check|test", parser_class=_Parser, required=True)
    check = rules_sub.add_parser("check", parents=[common], help="validate the rules file (one line per problem)")
    check.add_argument("--file", metavar="PATH", help="another rules file (default: rules in the config)")
    test = rules_sub.add_parser("test", parents=[common], help="what each rule would have done to the history")
    test.add_argument("--since", metavar="TIME", help="ISO time or 30m / 8h / 2d (default 7d)")
    test.add_argument("--rule", metavar="NAME", help="only this rule")
    test.add_argument("--file", metavar="PATH", help="another rules file (default: rules in the config)")
    test.add_argument("--json", action="store_true")
    sub.add_parser("serve", parents=[common], help="run ingest and sending without a UI (SIGTERM stops)")
    sub.add_parser("config", parents=[common],
                   help="print the effective settings and where each came from (secrets redacted)")
    return parser


def _adapter_builder(settings: Settings, flood: bool = False):
    """A function building every adapter inside the running loop (aiohttp needs one)."""

    def build(get_session):
        from adapters import registry

        adapters = [registry.build(account, get_session()) for account in settings.accounts]
        if settings.runs_demo:
            adapters.append(registry.demo(settings.demo_rate, flood=flood))
        return adapters

    return build


def _cli_values(args: argparse.Namespace) -> dict[str, object]:
    """The settings the command line gave (None: not given, a lower layer decides)."""
    demo = False if getattr(args, "no_demo", False) else True if (
        getattr(args, "demo", False) or getattr(args, "demo_flood", False)) else None
    return {"db": getattr(args, "db", None), "operator": getattr(args, "operator", None),
            "config": getattr(args, "config", None), "demo": demo, "demo_rate": getattr(args, "demo_rate", None)}


def main(argv: Sequence[str] | None = None) -> int:
    # Everything printed goes through one filter: names, notes, server errors and file names come from outside.
    with terminal_safe_output():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    given = sys.argv[1:] if argv is None else argv
    parser = build_parser(commands=not console_only(given))
    args = parser.parse_args(given)
    if args.command is not None:
        startup.resume()  # only the console's start holds the collector (tui.startup)
    if args.command in ("tag", "done", "assign") and (mistake := missing_targets(args)):
        parser.error(f"{args.command}: {mistake}")
    if args.command == "desk":
        from tui.cli_deskfiles import cmd_desk
        return cmd_desk(args)
    command = args.command
    try:
        settings = build_settings(_cli_values(args))
        if command in (None, "serve", "web"):
            for account in settings.accounts:  # fail now, in one line, not inside the running console
                account.check_secrets()
                account.check_builds()
    except ConfigError as exc:
        return fail(str(exc))
    if command == "config":
        from tui.cli_config import print_settings
        return print_settings(settings)
    if command == "web":
        from tui.web.cli import cmd_passwd, web_refusal
        if args.web_command == "passwd":
            return cmd_passwd(args, settings)
        if refusal := web_refusal(settings):  # before the desk is opened or anything is said
            return fail(refusal)
    if command == "rules" and args.rules_command == "check":
        from tui.cli_rules import cmd_rules_check
        return cmd_rules_check(args, settings)
    db_path = settings.db_path
    if not settings.db_chosen:
        make_private(data_dir(), (DEFAULT_DB, DEMO_DB))  # earlier builds left it 0755/0644
        if command in (None, "serve", "web") and settings.runs_demo and not settings.accounts:
            # The demo stream and no real account: its data belongs in its own file.
            db_path = demo_db_path()
            args.notice = demo_notice(db_path)
            print(f"mentiondesk: {args.notice}", file=sys.stderr)

    try:
        store = open_store(db_path)  # checks and migrates before anything else runs
    except NotWritable as exc:
        # A desk this user may only read still serves the console (browse, search) and read-only verbs.
        if not _reads_only(command, args):
            return fail(str(exc))
        try:
            store = open_for_reading(db_path)
        except StoreError:
            return fail(str(exc))
        if command is not None:  # the console says it in its banner
            print(f"mentiondesk: read-only: {exc}", file=sys.stderr)
    except StoreError as exc:
        return fail(str(exc))
    try:
        return _dispatch(command, store, args, settings, db_path)
    except (StoreError, ActionError) as exc:
        return fail(str(exc))
    except sqlite3.Error as exc:
        return fail(f"database error: {exc}")
    except BrokenPipeError:
        return 0
    finally:
        store.close()


def _reads_only(command: str | None, args: argparse.Namespace) -> bool:
    """Whether the command can do its work on a desk it may not write."""
    if command in ("incidents", "groups"):
        return args.action in (None, "list", "show")
    if command == "views":
        return args.views_command in ("list", "show")
    if command == "signals":
        return args.action == "status"
    if command == "sla":
        return args.sla_command == "show"
    if command in ("answers", "answer"):
        return command == "answers" or bool(args.dry_run)
    return (command in (None, "search", "export", "report", "rules", "links")
            or (command == "handover" and not args.leave)
            or (command == "replies" and args.replies_command in ("list", "export")))


def _dispatch(command: str | None, store, args: argparse.Namespace, settings: Settings,
              db_path: Path | str) -> int:
    operator = settings.operator
    if command == "search":
        from tui.cli_data import cmd_search
        return cmd_search(store, args)
    if command == "export":
        from tui.cli_data import cmd_export
        return cmd_export(store, args)
    if command == "import":
        from tui.cli_data import cmd_import
        return cmd_import(store, args, operator, settings)
    if command == "demo-shift":
        from tui.cli_demo import cmd_demo_shift
        return cmd_demo_shift(store, args, settings)
    if command == "signals":
        from tui.cli_data import cmd_signals
        return cmd_signals(store, args, settings)
    if command == "sla":
        from tui.cli_sla import cmd_sla
        return cmd_sla(store, args, operator)
    sla = settings.sla
    if command in ("handover", "report") or (command == "views" and args.views_command == "show"):
        from tui.cli_sla import desk_policy
        sla = desk_policy(store, settings.sla, operator)  # the desk's, not this config's
    if command == "handover":
        from tui.cli_desk import cmd_handover
        return cmd_handover(store, args, operator, sla)
    if command in ("tag", "done", "assign", "undo"):
        from tui import cli_bulk
        return getattr(cli_bulk, f"cmd_{command}")(store, args, operator)
    if command in ("note", "links"):
        from tui import cli_desk
        return getattr(cli_desk, f"cmd_{command}")(store, args, operator)
    if command == "reply":
        from adapters.rules import rule_for, rule_for_mention
        from tui.cli_desk import cmd_reply
        # The server's stored limit, counting the @author the adapter adds; defaults when never learnt.
        return cmd_reply(store, args, operator,
                         lambda network: rule_for_mention(store, args.id) or rule_for(network),
                         recall=settings.reply_recall)
    if command == "views":
        from tui.cli_views import cmd_views
        return cmd_views(store, args, operator, sla)
    if command in ("incidents", "groups"):
        from tui import cli_flood
        return getattr(cli_flood, f"cmd_{command}")(store, args, operator)
    if command in ("answer", "answers", "approve"):
        from tui import cli_answer
        if command == "answer":
            return cli_answer.cmd_answer(store, args, operator, settings.approve_over)
        if command == "answers":
            return cli_answer.cmd_answers(store, args)
        return cli_answer.cmd_approve(store, args, operator)
    if command == "report":
        from tui.cli_report import cmd_report
        return cmd_report(store, args, sla)
    if command in ("replies", "snooze", "unsnooze"):
        from tui import cli_kit
        return getattr(cli_kit, f"cmd_{command}")(store, args, operator)
    if command == "priority":
        from tui.cli_rules import cmd_priority
        return cmd_priority(store, args, operator)
    if command == "rules":
        from tui.cli_rules import cmd_rules_test
        return cmd_rules_test(store, args, settings)
    if command == "reindex":
        from tui.cli_data import cmd_reindex
        return cmd_reindex(store, args)
    if command == "migrate":
        from tui.cli_migrate import cmd_migrate
        return cmd_migrate(store, args)
    if command == "accounts":
        from tui.cli_accounts import check_accounts, list_accounts
        return check_accounts(settings) if args.action == "check" else list_accounts(settings, store)
    build = _adapter_builder(settings, flood=getattr(args, "demo_flood", False))
    store.close()
    if command == "web":
        from tui.web.cli import cmd_web
        return cmd_web(args, settings, db_path)
    if command == "serve":
        from tui.serve import run_serve
        return run_serve(str(db_path), build, reply_deadline=settings.reply_deadline, ttl=settings.lease_ttl,
                         triage=triage_for(settings))
    from tui.actions import KeymapError, resolve_keymap
    from tui.terminal import NO_TERMINAL, has_terminal, serves_browser

    try:
        resolve_keymap(settings.keymap)  # action ids are the console's: checked before anything starts
    except KeymapError as exc:
        return fail(f"{settings.config_path}: {exc}")
    if not (has_terminal() or serves_browser()):
        return fail(NO_TERMINAL)
    app = console_app(db_path, operator, build, getattr(args, "notice", None), watch_terminal=True,
                      reply_deadline=settings.reply_deadline, lease_ttl=settings.lease_ttl,
                      keymap=settings.keymap, sla=settings.sla, reply_recall=settings.reply_recall,
                      triage=partial(triage_for, settings), theme=settings.theme,
                      approve_over=settings.approve_over)
    app.run()
    return app.return_code or 0


def triage_for(settings: Settings) -> Triage:
    """Signals for every new mention and the rules file, if any (models load on the first batch)."""
    from store.signals import SignalModel
    from store.triage import Triage

    return Triage(settings.rules, SignalModel(settings.languages, settings.reply_keywords))


def demo_notice(db_path: Path | str) -> str:
    return f"demo stream: made-up mentions go to {db_path}, not your desk's file (--db chooses another)"


def console_app(db_path: Path | str, operator: str, build, notice: str | None, *, watch_terminal: bool = False,
                reply_deadline: float | None = None, lease_ttl: float | None = None,
                keymap: Mapping[str, str] | None = None, sla: SlaPolicy | None = None,
                reply_recall: float = 0.0, triage: Triage | Callable[[], Triage] | None = None,
                theme: str | None = None, approve_over: int = APPROVE_OVER):
    """The console, with a toast for what the operator must know from the start; `watch_terminal`
    makes it leave when its terminal hangs up (off in tests, which have none)."""
    from tui.app import ConsoleApp

    app = ConsoleApp(str(db_path), operator=operator, adapter_factory=build, watch_terminal=watch_terminal,
                     reply_deadline=reply_deadline, leader_ttl=lease_ttl, keymap=keymap, sla=sla,
                     reply_recall=reply_recall, triage=triage, theme=theme, approve_over=approve_over)
    if notice:
        app.notify(notice, markup=False, timeout=15)  # queued: shown once the console runs
    return app
