"""Who gets a group answer, and why the others do not: one decision per member, from the database.

A plan is computed for the preview and again inside the transaction that queues the
answer (what others did in between counts). Each member gets the body filled for them
(saved-reply variables) or is skipped with a reason: already answered by anyone, already
got this answer (or this group's), an earlier post of an author who posted again (one
reply per person, to their latest post), or a variable with no value (`{author}` is
never sent).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from store.db import Store
from store.errors import ActionError
from store.saved_replies import fill

#: (store, {mention id: filled text}) -> {mention id: characters over its reply limit} (adapters.rules.over_limit)
LimitCheck = Callable[[Store, Mapping[int, str]], dict[int, int]]

#: why a member is skipped: key -> what the operator reads
REASONS = {
    "answered": "already answered (by anyone)",
    "got_answer": "already got this answer",
    "earlier_post": "posted again: gets one reply, to the latest post",
    "author_answered": "answered on another post",
    "unfillable": "no value for a variable",
    "too_long": "too long for the network once filled in",
    "missing": "no such mention",
}


@dataclass(frozen=True, slots=True)
class Planned:
    mention_id: int
    handle: str
    text: str


@dataclass(frozen=True, slots=True)
class Skipped:
    mention_id: int
    reason: str  # a key of REASONS
    detail: str = ""  # e.g. the variable with no value


@dataclass(frozen=True, slots=True)
class Plan:
    sends: list[Planned]
    skips: list[Skipped]
    reasons: dict[str, int] = field(default_factory=dict)  # skip reason -> count

    @property
    def members(self) -> int:
        return len(self.sends) + len(self.skips)

    def reason_lines(self) -> list[str]:
        """"12 already answered (by anyone)", most frequent first."""
        return [f"{count} {REASONS[reason]}" for reason, count in Counter(self.reasons).most_common()]


@dataclass(frozen=True, slots=True)
class Target:
    """What an answer goes to: a live group, or the mentions of a marked selection."""

    group_id: int | None = None
    members: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if (self.group_id is None) == (not self.members):
            raise ActionError("an answer goes to a group or to a list of mentions (one of the two)")


def member_ids(store: Store, target: Target) -> list[int]:
    if target.group_id is None:
        return sorted(set(target.members))
    found = store.conn.execute("SELECT merged_into FROM mention_groups WHERE id = ?", (target.group_id,)).fetchone()
    if found is None:
        raise ActionError(f"no group with id {target.group_id}")
    if found[0] is not None:
        raise ActionError(f"group {target.group_id} was merged into group {found[0]}: answer that one")
    return [row[0] for row in store.conn.execute(
        "SELECT mention_id FROM group_members WHERE group_id = ? ORDER BY mention_id", (target.group_id,))]


@dataclass(frozen=True, slots=True)
class _Member:
    id: int
    author_id: int
    created_at: str
    values: dict[str, str | None]
    answered: bool  # a reply pending, sending, sent or kept for manual posting
    got_answer: bool  # one of those came from this answer (or another answer to this group)


def _members(store: Store, ids: list[int], operator: str, answers: list[int]) -> list[_Member]:
    rows = store.conn.execute(
        """SELECT m.id, m.author_id, m.created_at, a.display_name, a.handle, m.network, acc.handle, m.url, m.lang,
                  EXISTS (SELECT 1 FROM replies r WHERE r.mention_id = m.id AND r.state != 'failed'),
                  EXISTS (SELECT 1 FROM replies r WHERE r.mention_id = m.id AND r.state != 'failed'
                          AND r.answer_id IN (SELECT value FROM json_each(:answers)))
           FROM mentions m JOIN authors a ON a.id = m.author_id JOIN accounts acc ON acc.id = m.account_id
           WHERE m.id IN (SELECT value FROM json_each(:ids))""",
        {"ids": json.dumps(ids), "answers": json.dumps(answers)}).fetchall()
    members = []
    for mid, author_id, created, display, handle, network, account, url, lang, answered, got in rows:
        values = {"author": display or None, "handle": handle or None, "network": network, "account": account or None,
                  "url": url or None, "lang": lang or None, "id": str(mid), "operator": operator}
        members.append(_Member(mid, author_id, created, values, bool(answered), bool(got)))
    return members


def _authors_answered(store: Store, answers: list[int]) -> set[int]:
    """Authors who got (or are getting) one of `answers` on any of their mentions."""
    return {row[0] for row in store.conn.execute(
        """SELECT DISTINCT m.author_id FROM replies r JOIN mentions m ON m.id = r.mention_id
           WHERE r.answer_id IN (SELECT value FROM json_each(?)) AND r.state != 'failed'""", (json.dumps(answers),))}


def related_answers(store: Store, answer_id: int | None, group_id: int | None) -> list[int]:
    """This answer and the earlier answers to the same group: "got this answer" looks at all of them."""
    found = [] if answer_id is None else [answer_id]
    if group_id is not None:
        found += [row[0] for row in store.conn.execute(
            "SELECT id FROM group_answers WHERE group_id = ? AND state != 'cancelled'", (group_id,))]
    return sorted(set(found))


def plan(store: Store, target: Target, body: str, operator: str, *, one_per_author: bool = True,
         answer_id: int | None = None, over_limit: LimitCheck | None = None) -> Plan:
    """Send or skip, for every member; `operator` fills {operator} (the drafter); `over_limit`
    (when given) skips a text the member's network would refuse as too long."""
    ids = member_ids(store, target)
    answers = related_answers(store, answer_id, target.group_id)
    members = _members(store, ids, operator, answers)
    got_authors = _authors_answered(store, answers) if one_per_author and answers else set()
    sends: list[Planned] = []
    skips = [Skipped(mid, "missing") for mid in sorted(set(ids) - {m.id for m in members})]
    by_author: dict[int, list[_Member]] = {}
    for member in members:
        by_author.setdefault(member.author_id, []).append(member)
    for posts in by_author.values():
        posts.sort(key=lambda m: (m.created_at, m.id), reverse=True)  # the latest first
        author_answered = any(m.answered for m in posts)
        for index, member in enumerate(posts):
            if member.got_answer or member.author_id in got_authors:
                skips.append(Skipped(member.id, "got_answer"))
            elif member.answered:
                skips.append(Skipped(member.id, "answered"))
            elif one_per_author and author_answered:
                skips.append(Skipped(member.id, "author_answered"))
            elif one_per_author and index > 0:
                skips.append(Skipped(member.id, "earlier_post", f"#{posts[0].id}"))
            else:
                filled = fill(body, member.values)
                if filled.missing:
                    skips.append(Skipped(member.id, "unfillable", " ".join(f"{{{n}}}" for n in filled.missing)))
                else:
                    sends.append(Planned(member.id, member.values["handle"] or "", filled.text))
    if over_limit is not None and sends:
        over = over_limit(store, {p.mention_id: p.text for p in sends})
        skips += [Skipped(p.mention_id, "too_long", f"{over[p.mention_id]} over") for p in sends
                  if over.get(p.mention_id, 0) > 0]
        sends = [p for p in sends if over.get(p.mention_id, 0) <= 0]
    sends.sort(key=lambda p: p.mention_id)
    skips.sort(key=lambda s: s.mention_id)
    return Plan(sends, skips, dict(Counter(s.reason for s in skips)))


def group_of(store: Store, mention_id: int) -> int | None:
    """The live group a mention is in, if any (what `A` answers when nothing is marked)."""
    row = store.conn.execute(
        """SELECT g.id FROM group_members gm JOIN mention_groups g ON g.id = gm.group_id
           WHERE gm.mention_id = ? AND g.merged_into IS NULL""", (mention_id,)).fetchone()
    return row[0] if row else None
