"""The group-answer dialog: one text for a group (or the marked mentions), filled in for each person.

Type the answer or pick a saved reply (ctrl+t); the dialog shows how many get it and why the
others are skipped, and the text as the first three will read it, recomputed as you type.
ctrl+s queues it (store.group_answers, one commit), or asks another operator to approve it
when it goes to more than `[flood] approve_over` people.
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from adapters.rules import over_limit
from store import group_answers as ga
from store.answer_plan import Plan, Target, plan
from store.errors import ActionError
from store.saved_replies import checked_body, mention_values
from tui.screens.reply_picker import ReplyPicker
from tui.shift import console_of

PREVIEWS = 3
SETTLE_S = 0.15  # replan once typing pauses this long


class GroupAnswerDialog(ModalScreen[str | None]):
    """Dismisses with the line to tell the operator (queued / waits for approval), or None."""

    BINDINGS = [Binding("ctrl+s", "send", "Send", priority=True), Binding("ctrl+t", "pick", "Saved reply"),
                Binding("ctrl+l", "every_post", "Every post"), Binding("escape", "cancel", "Cancel")]

    def __init__(self, target: Target, title: str, approve_over: int) -> None:
        super().__init__()
        self.target = target
        self._title = title
        self._approve_over = approve_over
        self._reply_name: str | None = None
        self.one_per_author = True  # someone who posted several times gets one reply, to the latest post
        self.plan: Plan | None = None  # the last plan shown

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="group-answer"):
            yield Static(Text(self._title, style="bold"))
            yield TextArea(id="answer-text")
            yield Static(id="answer-plan")
            yield Static(id="answer-preview")
            yield Static(Text("ctrl+t: saved reply · ctrl+s: send (or ask for approval) · ctrl+l: every post / "
                              "latest post only · escape: cancel · {author} {handle} {operator} … are filled per "
                              "person", style="dim"))

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()
        self._replan("")

    @on(TextArea.Changed)
    def _typed(self, event: TextArea.Changed) -> None:
        self._replan(event.text_area.text, settle=True)

    @work(group="answer-plan", exclusive=True)
    async def _replan(self, body: str, settle: bool = False) -> None:
        if settle:
            await asyncio.sleep(SETTLE_S)  # a newer keystroke cancels this one (exclusive)
        shift = console_of(self).shift
        summary, preview = self.query_one("#answer-plan", Static), self.query_one("#answer-preview", Static)
        if not body.strip():
            self.plan = None
            summary.update(Text("Write the answer, or ctrl+t for a saved reply.", style="dim"))
            preview.update("")
            return
        try:
            found = await shift.store.run(lambda store: plan(store, self.target, checked_body(body, "the answer"),
                                                             shift.operator, one_per_author=self.one_per_author,
                                                             over_limit=over_limit))
        except ActionError as exc:
            self.plan = None
            summary.update(Text(str(exc), style="bold red"))
            preview.update("")
            return
        self.plan = found
        line = Text(f"{len(found.sends)} of {found.members} get it", style="bold")
        line.append(" (one reply per person)" if self.one_per_author else " (every post, even several per person)")
        if found.skips:
            line.append(f" · skipped: {'; '.join(found.reason_lines())}")
        if len(found.sends) > self._approve_over:
            line.append(f"\nover {self._approve_over} people: ctrl+s asks another operator to approve it", "yellow")
        summary.update(line)
        shown = Text()
        for planned in found.sends[:PREVIEWS]:
            shown.append(f"→ {planned.handle} #{planned.mention_id}: ", "dim")
            shown.append(planned.text + "\n")  # from the network and the operator: plain Text, never markup
        preview.update(shown)

    @work(group="answer-act")
    async def action_pick(self) -> None:
        shift = console_of(self).shift
        replies = await shift.saved_replies()
        if not replies:
            self.notify("No saved replies yet: T adds one.", severity="warning")
            return
        first = self.plan.sends[0].mention_id if self.plan and self.plan.sends else None
        values = (await shift.store.run(mention_values, first, shift.operator)).mapping() if first else {}
        chosen = await self.app.push_screen_wait(ReplyPicker(replies, lang=None, tags=(), values=values))
        if chosen is not None:
            self._reply_name = chosen.name
            self.query_one(TextArea).text = chosen.body  # the body, variables kept: filled per person

    @work(group="answer-act", exclusive=True)
    async def action_send(self) -> None:
        shift = console_of(self).shift
        body = self.query_one(TextArea).text
        try:
            drafted = await shift.store.run(ga.draft_answer, self.target, body, shift.operator,
                                            reply_name=self._reply_name, approve_over=self._approve_over,
                                            one_per_author=self.one_per_author, over_limit=over_limit)
        except ActionError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        shift.wake_sender()
        people = len(drafted.plan.sends)
        if drafted.queued:
            self.dismiss(f"Answer {drafted.answer.id} queued: {people} replies, "
                         f"{len(drafted.plan.skips)} skipped. P pauses, C cancels.")
        else:
            self.dismiss(f"Answer {drafted.answer.id} to {people} people waits for another operator's approval "
                         f"(over {self._approve_over}).")

    def action_every_post(self) -> None:
        self.one_per_author = not self.one_per_author
        self._replan(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)
