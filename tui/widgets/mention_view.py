"""The selected mention in full: its thread, the author's history, its log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from rich.console import Group
from rich.rule import Rule
from rich.style import Style
from rich.text import Text
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from store.db import iso
from store.inbox import MentionDetail, Reply
from store.report_buckets import parse_stored
from store.sla import SNOOZE_ACTIONS, paused_seconds, short_span, sla_state
from tui.colours import paint
from tui.dbtrouble import DATABASE_ERRORS
from tui.messages import DatabaseTrouble
from tui.render import (
    NOBODY_SENDING,
    STATE_COLOR,
    STATE_GLYPH,
    TAG_BADGE,
    age,
    clock_time,
    link_line,
    linked,
    network_short,
    one_line,
    signal_badges,
    wake_time,
)
from tui.shift import console_of

# The outbox's states as the operator reads them: queued is not yet on the network.
REPLY_STATE_WORD = {"pending": "queued", "sending": "sending", "sent": "sent", "failed": "failed",
                    "manual": "reply by hand"}
REPLY_STATE_STYLE = {"sent": "$text-success", "pending": "$text-warning", "sending": "$text-warning",
                     "failed": "bold $text-error", "manual": "$text-secondary"}
EVENT_WORDS = {
    "tag.add": "tagged {tag}", "tag.remove": "untagged {tag}", "status.done": "marked done",
    "status.open": "reopened", "reply.queue": "wrote a reply", "reply.sent": "reply sent",
    "reply.failed": "reply failed: {reason}", "reply.retry": "retried a reply",
    "reply.retry_scheduled": "will retry: {reason}", "reply.manual": "reply by hand: {reason}",
    "reply.waiting": "waiting for network: {reason}",
    "note.add": "noted: {text}", "assign": "assigned to {to}", "unassign": "unassigned",
    "claim": "started replying", "claim.release": "stopped replying",
    "snooze": "snoozed it", "unsnooze": "woke it", "snooze.wake": "woke ({reason})",
    "draft.save": "started a draft", "draft.clear": "dropped a draft",
    "priority.set": "set priority {priority}", "reply.suggest": "suggested the saved reply {name}",
}


def describe_event(action: str, detail: dict) -> str:
    template = EVENT_WORDS.get(action, action)
    try:
        return template.format(**detail)
    except (KeyError, IndexError):
        return action


class MentionView(VerticalScroll, can_focus=True):
    """Read-only; everything from the network is rendered as plain Text."""

    class Read(Message):
        """The operator has read the mention: its row is no longer new."""

        def __init__(self, mention_id: int) -> None:
            super().__init__()
            self.mention_id = mention_id

    def __init__(self, *, clock, id: str | None = None) -> None:
        super().__init__(id=id)
        self._clock = clock
        self.detail: MentionDetail | None = None
        self._stamps: list[str] = []  # every time shown as an age, to redraw only when one changes
        self._ages: tuple[str, ...] = ()

    def compose(self):
        yield Static(Text("Select a mention.", style="dim"), id="mention-body")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.show(self.detail))  # its colours
        self.set_interval(1.0, self.refresh_ages)  # "16s" does not freeze; redrawn only if an age changed

    def show(self, detail: MentionDetail | None) -> None:
        self.detail = detail
        body = self.query_one_optional("#mention-body", Static)
        if body is None:
            return  # the console is closing (a late load or theme change)
        if detail is None:
            body.update(Text("Nothing selected.", style="dim"))
            return
        self._stamps = []
        body.update(self._detail_renderable(detail))
        now = self._clock()
        self._ages = tuple(age(stamp, now) for stamp in self._stamps)

    async def load(self, mention_id: int | None, selected: Callable[[], int | None]) -> None:
        """Fetch and show the mention if it is still `selected()` then; showing it marks it read."""
        if mention_id is None:
            self.show(None)
            return
        await asyncio.sleep(0)  # let a held key's next move cancel this load first
        shift = console_of(self).shift
        try:
            detail = await shift.detail(mention_id)
        except DATABASE_ERRORS as exc:
            self.post_message(DatabaseTrouble(exc))
            return
        if selected() != mention_id:
            return
        if detail is not None and not detail.row.seen:
            try:
                await shift.mark_seen(mention_id)
            except DATABASE_ERRORS as exc:
                self.post_message(DatabaseTrouble(exc))  # read-only: show it anyway, it stays "new"
            else:
                self.post_message(self.Read(mention_id))
                detail = replace(detail, row=replace(detail.row, seen=True))  # it is being read now
        if selected() == mention_id:
            self.show(detail)

    def shows(self, mention_id: int) -> bool:
        """Whether this mention's detail has loaded (a fast key press can come before it)."""
        return self.detail is not None and self.detail.row.id == mention_id

    def failed_replies(self, mention_id: int) -> list[Reply]:
        """The shown mention's failed replies, oldest first (none if another mention is shown)."""
        detail = self.detail
        replies = detail.replies if detail and detail.row.id == mention_id else []
        return [reply for reply in replies if reply.state == "failed"]

    def refresh_ages(self) -> None:
        """Called every second: redraw only when an age on screen ("16s" → "17s") changed."""
        if self.detail is None:
            return
        now = self._clock()
        if tuple(age(stamp, now) for stamp in self._stamps) != self._ages:
            self.show(self.detail)

    def _age(self, stamp: str, now) -> str:
        self._stamps.append(stamp)
        return age(stamp, now)

    def _sla(self, d: MentionDetail, now: datetime) -> str:
        """Where an unanswered open mention stands against its first-response target."""
        row = d.row
        policy = console_of(self).shift.sla
        created = parse_stored(row.created_at)
        if row.status != "open" or created is None or any(r.state != "failed" for r in d.replies):
            return ""
        snoozes = [(e.action, e.at) for e in reversed(d.events) if e.action in SNOOZE_ACTIONS]
        state = sla_state(policy, row.tags, row.network, created, now, paused_seconds(snoozes, now))
        if state is None:
            return ""
        target = short_span(state.target)
        return f"first reply {state.label()} (target {target})"

    def _detail_renderable(self, d: MentionDetail) -> Group:
        now = self._clock()
        row = d.row
        app = self.app

        def c(style: str) -> Style:  # a role ($text-warning...) in this theme's colour
            return paint(style, app)

        head = Text()
        head.append(f"{STATE_GLYPH[row.state]} {row.state.upper()}", c(STATE_COLOR[row.state]))
        for tag in ("care", "marketing"):
            if tag in row.tags:
                label, badge = TAG_BADGE[tag]
                head.append(" ")
                head.append(label, c(badge))
        badges = signal_badges(row, c)
        if badges:
            head.append(" ")
            head.append_text(badges)
        head.append(f"   #{row.id} · {row.network} → {d.account}", "dim")
        who = Text()
        who.append(row.author_handle, "bold")
        if d.author_name:
            who.append(f"  {d.author_name}")
        who.append(f"  · {self._age(row.created_at, now)} ago · {clock_time(row.created_at, now)}", "dim")
        parts: list = [head, who]
        if sla := self._sla(d, now):
            parts.append(Text(sla, c("bold $text-error") if sla.startswith("first reply late") else "dim"))
        if row.state == "queued" and not row.sender_alive:
            parts.append(Text(NOBODY_SENDING, c("bold $text-error")))
        desk = Text()
        if d.assignee:
            desk.append(f"assigned to {d.assignee}  ", c("bold $text-accent"))
        if d.claimed_by and d.claim_expires and d.claim_expires > iso(now):
            desk.append(f"✎ {d.claimed_by} is replying  ", c("bold $text-warning"))
        if row.snoozed_until:
            desk.append(f"snoozed until {wake_time(row.snoozed_until, now)} (z wakes it)  ", c("bold $text-secondary"))
        me = console_of(self).shift.operator
        for draft in d.drafts:
            whose = "your draft (r reopens it)" if draft.operator == me else f"draft by {draft.operator}"
            desk.append(f"✐ {whose}, {clock_time(draft.updated_at, now)}  ", "bold")
        if desk:
            parts.append(desk)
        parts += [Text(""), linked(row.text), Text("")]
        if d.url:
            parts.append(link_line(d.url, "dim"))
        if len(d.thread) > 1:
            parts.append(Rule(Text(f"Thread ({len(d.thread)})"), style="dim"))
            for entry in d.thread:
                line = Text()
                marker = "▶ " if entry.is_focus else "  "
                line.append(marker, "bold")
                if entry.kind == "reply":
                    line.append(entry.who, c("$text-success"))
                    line.append(f" [{REPLY_STATE_WORD.get(entry.state, entry.state)}]",
                                c(REPLY_STATE_STYLE.get(entry.state, "")))
                else:
                    line.append(entry.who, "bold" if entry.is_focus else "")
                line.append(f" · {self._age(entry.at, now)}", "dim")
                parts.append(line)
                parts.append(linked("    " + one_line(entry.text)[:400], "" if entry.is_focus else "dim"))
        if d.replies:
            parts.append(Rule(Text("Our replies"), style="dim"))
            for reply in d.replies:
                line = Text()
                shown = reply.shown_state  # "waiting for network" is a pending reply's finer state
                line.append(REPLY_STATE_WORD.get(shown, shown), c(REPLY_STATE_STYLE.get(reply.state, "")))
                if reply.state == "failed" and reply.uncertain:
                    line.append(" · may have been posted", c("bold $text-warning"))
                line.append(f" · {reply.operator} · {self._age(reply.sent_at or reply.created_at, now)}", "dim")
                if reply.error:
                    line.append(f" · {reply.error}", c("$text-error"))
                if reply.remote_url:
                    line.append(" · ", "dim")
                    line.append_text(link_line(reply.remote_url, "dim"))
                parts.append(line)
                parts.append(linked("    " + reply.text))
        if d.notes:
            parts.append(Rule(Text(f"Internal notes ({len(d.notes)})"), style="dim"))
            for note in d.notes:
                parts.append(Text.assemble((f"  {note.operator}", "bold"),
                                           (f" · {self._age(note.at, now)} ago", "dim")))
                parts.append(Text("    " + note.text))
        parts.append(Rule(Text(f"{row.author_handle}: {d.author_total} earlier mention(s)"), style="dim"))
        if not d.author_history:
            parts.append(Text("  first time we hear from them", "dim"))
        for earlier in d.author_history[:10]:
            line = Text()
            line.append(f"  {STATE_GLYPH[earlier.state]} ", c(STATE_COLOR[earlier.state]))
            line.append(f"{self._age(earlier.created_at, now)} ago · {network_short(earlier.network)} · ", "dim")
            line.append(one_line(earlier.text)[:200])
            parts.append(line)
        if d.events:
            parts.append(Rule(Text("History"), style="dim"))
            for event in d.events[:15]:
                line = Text()
                line.append(f"  {self._age(event.at, now)} ago ", "dim")
                line.append(event.operator, "bold")
                line.append(" " + describe_event(event.action, event.detail))
                parts.append(line)
        return Group(*parts)
