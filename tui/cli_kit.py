"""`replies` (the desk's saved replies), `snooze` and `unsnooze`: the same store code as the keys."""

from __future__ import annotations

import argparse
import json
import sys
import tomllib

from store import saved_replies, snooze
from store.db import Store, iso
from store.snooze_time import parse_until
from tui.cli_common import fail
from tui.cli_data import open_private_output
from tui.render import wake_time

MAX_IMPORT_BYTES = 8 * 1024 * 1024


def _body(text: str | None) -> str | None:
    return sys.stdin.read() if text == "-" else text


def _tags(text: str | None) -> list[str] | None:
    return None if text is None else [tag.strip() for tag in text.split(",") if tag.strip()]


def _format(given: str | None, path: str | None) -> str:
    return given or ("jsonl" if path and path.endswith(".jsonl") else "toml")


def cmd_replies(store: Store, args: argparse.Namespace, operator: str) -> int:
    verb = args.replies_command
    if verb == "list":
        replies = saved_replies.list_replies(store)
        if args.json:
            for reply in replies:
                print(json.dumps(reply.record(), ensure_ascii=False))
            return 0
        for reply in replies:
            labels = " ".join(filter(None, [reply.lang, *reply.tags]))
            first = " ".join(reply.body.split())[:60]
            print(f"{reply.name}" + (f"  [{labels}]" if labels else "") + f"  {first}")
        if not replies:
            print("no saved replies yet (mentiondesk replies add NAME --body TEXT)", file=sys.stderr)
        return 0
    if verb == "add":
        reply = saved_replies.add_reply(store, args.name, _body(args.body) or "", operator, lang=args.lang or "",
                                        tags=_tags(args.tags) or [])
        print(f"saved reply {reply.name!r} added")
        return 0
    if verb == "edit":
        reply = saved_replies.edit_reply(store, args.name, operator, new_name=args.new_name, body=_body(args.body),
                                         lang=args.lang, tags=_tags(args.tags))
        print(f"saved reply {reply.name!r} saved")
        return 0
    if verb == "rm":
        saved_replies.remove_reply(store, args.name, operator)
        print(f"saved reply {args.name!r} deleted")
        return 0
    if verb == "export":
        return _export(store, args)
    return _import(store, args, operator)


def _export(store: Store, args: argparse.Namespace) -> int:
    records = [reply.record() for reply in saved_replies.list_replies(store)]
    if _format(args.format, str(args.output) if args.output else None) == "jsonl":
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    else:
        import tomli_w

        text = tomli_w.dumps({"reply": records}, multiline_strings=True)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        with open_private_output(args.output) as out:  # replies may quote internal wording: 0600
            out.write(text)
    except OSError as exc:
        return fail(f"cannot write {args.output}: {exc.strerror or exc}")
    print(f"exported {len(records)} saved reply(ies) to {args.output}", file=sys.stderr)
    return 0


def _import(store: Store, args: argparse.Namespace, operator: str) -> int:
    try:
        if args.file == "-":
            raw = sys.stdin.buffer.read(MAX_IMPORT_BYTES + 1)
        else:
            with open(args.file, "rb") as source:
                raw = source.read(MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        return fail(f"cannot read {args.file}: {exc.strerror or exc}")
    if len(raw) > MAX_IMPORT_BYTES:
        return fail(f"{args.file} is over {MAX_IMPORT_BYTES // (1024 * 1024)} MiB; saved replies are small")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return fail(f"{args.file} is not UTF-8 text")
    try:
        if _format(args.format, args.file) == "jsonl":
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            table = tomllib.loads(text)
            records = table.get("reply", [])
            if not isinstance(records, list) or set(table) - {"reply"}:
                return fail(f"{args.file}: expected [[reply]] tables (name, lang, tags, body) and nothing else")
    except (ValueError, RecursionError) as exc:  # json and tomllib errors are ValueErrors
        return fail(f"{args.file}: not valid {_format(args.format, args.file).upper()}: {exc}")
    imported = saved_replies.import_replies(store, records, operator)
    print(f"imported saved replies: {imported.added} added, {imported.updated} updated")
    return 0


def cmd_snooze(store: Store, args: argparse.Namespace, operator: str) -> int:
    now = store.clock()
    until = parse_until(args.until, now)
    changes = snooze.snooze(store, args.ids, until, operator)
    changed = {change.mention_id for change in changes}
    for mention_id in args.ids:
        note = "" if mention_id in changed else " (no change)"
        print(f"#{mention_id} snoozed until {wake_time(iso(until), now)}{note}")
    return 0


def cmd_unsnooze(store: Store, args: argparse.Namespace, operator: str) -> int:
    changed = {change.mention_id for change in snooze.unsnooze(store, args.ids, operator)}
    for mention_id in args.ids:
        print(f"#{mention_id} awake" + ("" if mention_id in changed else " (was not snoozed)"))
    return 0

