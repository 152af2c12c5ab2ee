"""The arguments of `replies`, `snooze` and `unsnooze` (kept apart from their code: parsing stays cheap)."""

from __future__ import annotations

from pathlib import Path


def add_parsers(sub, common, id_type) -> None:
    replies = sub.add_parser("replies", parents=[common], help="the desk's saved replies")
    verbs = replies.add_subparsers(dest="replies_command", metavar="list|add|edit|rm|export|import", required=True)
    listing = verbs.add_parser("list", parents=[common], help="every saved reply")
    listing.add_argument("--json", action="store_true")
    for verb in ("add", "edit"):
        parser = verbs.add_parser(verb, parents=[common], help=f"{verb} a saved reply (--body - reads stdin)")
        parser.add_argument("name", metavar="NAME")
        parser.add_argument("--body", required=verb == "add", metavar="TEXT",
                            help="the text, with {author} {handle} {operator} {network} {account} {url} {lang} {id}")
        parser.add_argument("--lang", metavar="CODE", help="en, fr, pt-br...; empty: any language")
        parser.add_argument("--tags", metavar="TAGS", help="care, marketing or both, comma separated")
        if verb == "edit":
            parser.add_argument("--name", dest="new_name", metavar="NEW", help="rename it")
    rm = verbs.add_parser("rm", parents=[common], help="delete a saved reply")
    rm.add_argument("name", metavar="NAME")
    export = verbs.add_parser("export", parents=[common], help="write every saved reply (TOML or JSONL)")
    export.add_argument("--format", choices=("toml", "jsonl"), default=None, help="default: by -o's suffix, else toml")
    export.add_argument("-o", "--output", type=Path, default=None, metavar="FILE", help="default: stdout")
    imp = verbs.add_parser("import", parents=[common], help="add or update saved replies from an export")
    imp.add_argument("file", metavar="FILE", help="a .toml or .jsonl file, or - for stdin")
    imp.add_argument("--format", choices=("toml", "jsonl"), default=None, help="default: by suffix, else toml")

    snoozing = sub.add_parser("snooze", parents=[common], help="snooze mentions until a time (2h, tomorrow, fri 14:00)")
    snoozing.add_argument("ids", type=id_type, nargs="+", metavar="ID")
    snoozing.add_argument("until", metavar="UNTIL")
    unsnoozing = sub.add_parser("unsnooze", parents=[common], help="wake snoozed mentions now")
    unsnoozing.add_argument("ids", type=id_type, nargs="+", metavar="ID")
