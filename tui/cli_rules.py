"""`mentiondesk rules check` (the file, one line per problem) and `rules test` (a dry run on the history)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from store.db import Store
from store.rules_apply import set_priority
from store.rules_dryrun import DryRun, dry_run
from store.rules_file import load_rules
from store.sanitize import clean_line
from store.saved_replies import list_replies
from store.signals import SignalModel
from tui.cli_common import fail
from tui.cli_desk import parse_since
from tui.settings import Settings


def rules_path(args: argparse.Namespace, settings: Settings) -> Path | None:
    return Path(args.file) if getattr(args, "file", None) else settings.rules


def cmd_rules_check(args: argparse.Namespace, settings: Settings) -> int:
    path = rules_path(args, settings)
    if path is None:
        return fail('no rules file: set rules = "PATH" in the config file, or pass --file PATH')
    book = load_rules(path)
    problems = book.problems
    for problem in problems:
        print(problem.render(str(path)))
    if problems:
        return 1
    print(f"{path}: {len(book.rules)} rules, no problems")
    return 0


def cmd_rules_test(store: Store, args: argparse.Namespace, settings: Settings) -> int:
    path = rules_path(args, settings)
    if path is None:
        return fail('no rules file: set rules = "PATH" in the config file, or pass --file PATH')
    book = load_rules(path)
    problems = book.problems
    if problems:
        for problem in problems:
            print(problem.render(str(path)))
        return fail(f"{path}: {len(problems)} problem(s); fix them first (mentiondesk rules check)", 1)
    if args.rule and args.rule not in {rule.name for rule in book.rules}:
        return fail(f"{path}: no rule named {args.rule!r} (rules: {', '.join(r.name for r in book.rules)})")
    try:
        since = parse_since(args.since or "7d", store)
    except ValueError as exc:
        return fail(str(exc))
    report = dry_run(store, book, since, only=args.rule, model=SignalModel(settings.languages, settings.reply_keywords))
    if args.json:
        print(json.dumps(as_json(report, str(path)), ensure_ascii=False, indent=1))
    else:
        print("\n".join(format_dry_run(report, str(path))))
        saved = {reply.name for reply in list_replies(store)}
        for rule in book.rules:
            if rule.suggest and rule.suggest not in saved and (args.rule is None or rule.name == args.rule):
                print(f"note: {rule.name} (line {rule.line}) suggests {rule.suggest!r}: no saved reply of that "
                      "name yet (mentiondesk replies add)")
    return 0


def cmd_priority(store: Store, args: argparse.Namespace, operator: str) -> int:
    """Set or clear a priority (a rule's, say): logged under the operator like every desk verb."""
    level = None if args.level == "-" else args.level
    if not store.conn.execute("SELECT 1 FROM mentions WHERE id = ?", (args.id,)).fetchone():
        return fail(f"no mention with id {args.id}")
    changed = set_priority(store, args.id, level, operator)
    print(f"#{args.id} priority {level or 'cleared'}" + ("" if changed else " (unchanged)"))
    return 0


def _snippet(text: str, width: int = 70) -> str:
    line = clean_line(" ".join(text.split()), 400)
    return line if len(line) <= width else line[:width - 1] + "…"


def format_dry_run(report: DryRun, path: str) -> list[str]:
    lines = [f"{path}: dry run over {report.scanned:,} mentions received since {report.since[:16]} UTC "
             "(nothing written)"]
    for position, rule in enumerate(report.rules, start=1):
        kinds = ", ".join(f"{name} {count:,}" for name, count in rule.changes.most_common())
        lines.append(f"{position:>2}. {rule.name} (line {rule.line}): matched {rule.matched:,}, "
                     f"would change {rule.changed:,}" + (f" ({kinds})" if kinds else ""))
        lines += [f"      #{mention_id} {author}: {_snippet(text)}" for mention_id, author, text in rule.examples]
    never = report.never_fired
    if never:
        lines.append("never fire: " + ", ".join(f"{rule.name} (line {rule.line})" for rule in never))
    for first, second, count in report.overlaps:
        lines.append(f"overlap: {first} and {second} both match {count:,} mentions")
    return lines


def as_json(report: DryRun, path: str) -> dict:
    return {
        "file": path, "since": report.since, "scanned": report.scanned,
        "rules": [{"name": r.name, "line": r.line, "matched": r.matched, "changed": r.changed,
                   "changes": dict(r.changes),
                   "examples": [{"id": i, "author": a, "text": t} for i, a, t in r.examples]} for r in report.rules],
        "never_fired": [r.name for r in report.never_fired],
        "overlaps": [{"rules": [a, b], "mentions": count} for a, b, count in report.overlaps],
    }
