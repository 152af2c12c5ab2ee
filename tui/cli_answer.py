"""`mentiondesk answer`, `answers` and `approve`: group answers from scripts, through the console's store code."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from adapters.rules import over_limit
from store import group_answers as ga
from store.answer_plan import REASONS, Plan, Target, plan
from store.db import Store
from store.errors import ActionError
from store.saved_replies import checked_body, get_reply
from tui.cli_common import fail

VERBS = ("pause", "resume", "cancel")


def add_parsers(sub, common, id_type) -> None:
    answer = sub.add_parser("answer", parents=[common],
                            help="answer a group (or mention ids) at once, one reply per person; "
                                 "pause|resume|cancel ID")
    answer.add_argument("words", nargs="*", metavar="IDS", help="mention ids, or pause|resume|cancel ANSWER")
    answer.add_argument("--group", type=id_type, metavar="ID", help="answer every member of this group")
    answer.add_argument("--reply", metavar="NAME", help="a saved reply (its {variables} filled per member)")
    answer.add_argument("--text", metavar="TEXT", help="the text, with {author} {handle} ... variables")
    answer.add_argument("--preview", type=int, default=0, metavar="N", help="print the text as N members get it")
    answer.add_argument("--dry-run", action="store_true", help="say who would get it and why not; queue nothing")
    answer.add_argument("--every-post", action="store_true",
                        help="answer each post of an author who posted several times (default: the latest only)")
    answers = sub.add_parser("answers", parents=[common], help="group answers and their progress")
    answers.add_argument("--json", action="store_true")
    approve = sub.add_parser("approve", parents=[common], help="approve another operator's group answer (it is sent)")
    approve.add_argument("id", type=id_type, metavar="ID")


def _plan_lines(found: Plan) -> list[str]:
    reasons = "; ".join(found.reason_lines())
    return [f"{len(found.sends)} of {found.members} members get it" + (f"; skipped: {reasons}" if reasons else "")]


def _target(args: argparse.Namespace) -> Target:
    if args.group is not None and args.words:
        raise ActionError("answer --group ID or mention IDS, not both")
    if args.group is not None:
        return Target(args.group)
    if not args.words:
        raise ActionError("answer needs --group ID or mention IDS (see mentiondesk answer --help)")
    try:
        return Target(members=tuple(int(word) for word in args.words))
    except ValueError:
        bad = next(word for word in args.words if not word.isdigit())
        raise ActionError(f"{bad!r} is not a mention id (answer IDS..., or answer pause|resume|cancel ID)") from None


def _body(store: Store, args: argparse.Namespace) -> tuple[str, str | None]:
    if (args.reply is None) == (args.text is None):
        raise ActionError("answer needs --reply NAME or --text TEXT (one of the two)")
    if args.reply is not None:
        saved = get_reply(store, args.reply)
        return saved.body, saved.name
    return args.text, None


def cmd_answer(store: Store, args: argparse.Namespace, operator: str, approve_over: int) -> int:
    if args.words and args.words[0] in VERBS:
        return _verb(store, args.words[0], args.words[1:], operator)
    target = _target(args)
    body, name = _body(store, args)
    one_per_author = not args.every_post
    if args.dry_run or args.preview:
        found = plan(store, target, checked_body(body, "the answer"), operator, one_per_author=one_per_author,
                     over_limit=over_limit)
        for planned in found.sends[:max(args.preview, 0)]:
            print(f"→ {planned.handle} (#{planned.mention_id}): {planned.text}")
        if args.dry_run:
            print("\n".join(_plan_lines(found)) + " (dry run: nothing queued)")
            for skip in found.skips[:20]:
                print(f"  skip #{skip.mention_id}: {REASONS[skip.reason]}" + (f" {skip.detail}" if skip.detail else ""))
            return 0
    drafted = ga.draft_answer(store, target, body, operator, reply_name=name, one_per_author=one_per_author,
                              over_limit=over_limit, approve_over=approve_over)
    answer = drafted.answer
    if drafted.queued:
        print(f"answer {answer.id} to {answer.what} queued: " + _plan_lines(drafted.plan)[0])
    else:
        print(f"answer {answer.id} to {answer.what} waits for another operator's approval "
              f"({len(drafted.plan.sends)} people, over approve_over = {approve_over}): "
              f"mentiondesk approve {answer.id}")
    return 0


def _verb(store: Store, verb: str, rest: list[str], operator: str) -> int:
    if len(rest) != 1 or not rest[0].isdigit():
        return fail(f"answer {verb} needs one answer id")
    answer_id = int(rest[0])
    if verb == "cancel":
        taken = ga.cancel(store, answer_id, operator)
        print(f"answer {answer_id} cancelled; {taken} queued replies taken back unsent")
    else:
        getattr(ga, verb)(store, answer_id, operator)
        print(f"answer {answer_id} {verb}d")
    return 0


def cmd_answers(store: Store, args: argparse.Namespace) -> int:
    found = ga.list_answers(store)
    if args.json:
        print(json.dumps([asdict(p) | {"phase": p.phase} for p in found], ensure_ascii=False, indent=1))
        return 0
    if not found:
        print("no group answers yet (mentiondesk answer --group ID --reply NAME)")
    for item in found:
        who = f"drafted by {item.answer.drafted_by}" + (f", approved by {item.answer.approved_by}"
                                                         if item.answer.approved_by else "")
        print(f"{item.line()} ({who})")
    return 0


def cmd_approve(store: Store, args: argparse.Namespace, operator: str) -> int:
    found = ga.approve(store, args.id, operator, over_limit)
    print(f"answer {args.id} approved and queued: " + _plan_lines(found)[0])
    return 0
