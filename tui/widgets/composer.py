"""The reply composer: a live counter by the network's rule, and the flow around it.

The composer claims the mention while it is open (renewing the claim as a heartbeat),
keeps drafts, asks before a reply would step on someone else's, queues or resends, and
releases its claims when it closes or the console quits. It tells the screen by messages.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Static, TextArea

from adapters.base import TextRule
from store import actions, desk
from store.db import StoreError
from store.inbox import InboxRow, Reply
from tui.actions import bindings
from tui.attempt import attempt
from tui.colours import paint
from tui.render import clock_time
from tui.widgets.composer_kit import ComposerKit

GUARD_ERRORS = (actions.AlreadyAnswered, actions.ClaimedByOther)
Send = Callable[[actions.ReplyGuard], Awaitable[object]]


class ReplyComposer(ComposerKit):
    BINDINGS = bindings("composer")
    # Tests of a console that dies shorten these; see store.desk.
    claim_ttl = desk.CLAIM_TTL
    claim_renew = desk.CLAIM_RENEW

    class Claimed(Message):
        """This console now claims the mention: its row shows it."""

        def __init__(self, mention_id: int) -> None:
            super().__init__()
            self.mention_id = mention_id

    class Released(Message):
        """Claims were let go: the inbox should show it."""

    class Closed(Message):
        """The composer closed (sent or put aside)."""

    class Queued(Message):
        """A reply (new or resent) is in the outbox for this mention."""

        def __init__(self, mention_id: int) -> None:
            super().__init__()
            self.mention_id = mention_id

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mention_id: int | None = None
        self.rule: TextRule | None = None
        self.target = ""
        self.editing_reply: int | None = None  # a failed reply being edited and resent
        self._drafts: dict[int, str] = {}
        # The mention's last reply id when its composer opened: "answered since you opened it".
        self._opened_at: dict[int, int] = {}
        self._claimed: set[int] = set()  # claims this console holds, released when it quits

    def compose(self) -> ComposeResult:
        yield Static("", id="composer-title")
        yield TextArea(id="composer-text", soft_wrap=True, show_line_numbers=False)
        yield Static("", id="composer-counter")

    def on_mount(self) -> None:
        self.display = False
        self.set_interval(self.claim_renew, self._renew_claim)

    async def on_unmount(self) -> None:
        if self.is_open and self.mention_id is not None and self._draft_timer is not None:
            # Quitting within the debounce: save the last keystrokes now, not never.
            await attempt(self, self.shift.save_draft(self.mention_id, self.text))
        if self._claimed:
            await self._release(set(self._claimed), quiet=True)

    # -- the editor ------------------------------------------------------------------
    def open(self, mention_id: int, target: str, rule: TextRule, draft: str = "", *,
             stored: str | None = None) -> None:
        self._kit_reset(stored, draft)
        self.mention_id = mention_id
        self.editing_reply = None
        self.rule = rule
        self.target = target
        self.query_one("#composer-title", Static).update(
            Text.assemble(("Reply to ", "bold"), (target, "bold"), ("  ctrl+s send · esc cancel", "dim"))
        )
        area = self.query_one(TextArea)
        area.load_text(draft)
        area.move_cursor(area.document.end)
        self.display = True
        self._update_counter()
        area.focus()

    def over_limit(self) -> int:
        return -self.rule.remaining(self.text) if self.rule else 0

    def _update_counter(self) -> None:
        if self.rule is None:
            return
        used = self.rule.count(self.text)
        left = self.rule.limit - used
        style = paint("bold $text-error" if left < 0 else ("$text-warning" if left < 20 else "dim"), self.app)
        counter = Text.assemble((f"{used}/{self.rule.limit}", style), (f"  ({self.rule.description})", "dim"))
        if (missing := self.unfilled_line()) is not None:
            counter.append_text(missing)
        self.query_one("#composer-counter", Static).update(counter)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._update_counter()
        self._draft_changed()

    def close(self) -> None:
        self._cancel_draft_save()
        self.display = False
        self.mention_id = None
        self.editing_reply = None
        self.post_message(self.Closed())

    # -- the flow (called from the screen's workers: dialogs may ask) ---------------------
    async def reply_to(self, row: InboxRow) -> None:
        """Open on `row`, its kept draft if any; claims it first."""
        if not await self._claim(row.id):
            return
        stored = await self._stored_draft(row.id)  # the database's: a console that died lost nothing
        draft = stored if stored is not None else self._drafts.get(row.id)
        if draft is None and row.network == "mastodon":
            # Mastodon notifies only @-mentioned accounts, and the mention counts toward the limit.
            draft = f"{row.author_handle} "
        self.open(row.id, row.author_handle, await self.shift.text_rule(row.network, row.id), draft or "",
                  stored=stored)

    async def edit_failed(self, row: InboxRow, failed: Reply) -> None:
        # Opening it counts like `r`: replies that exist now (the failed one too) are known.
        if not await self._claim(row.id):
            return
        self.open(row.id, row.author_handle, await self.shift.text_rule(row.network, row.id), failed.text)
        self.editing_reply = failed.id

    def put_aside(self) -> bool:
        """Close, keeping a draft and letting the claim go; False if it was not open."""
        if not self.is_open:
            return False
        mention_id = self.mention_id
        assert mention_id is not None
        self._flush_draft()  # blank text clears the stored draft
        if self.text.strip():
            self._drafts[mention_id] = self.text
            self.notify("Draft kept: r reopens it.", timeout=2)
        self.close()
        self.run_worker(self._release({mention_id}), group="claims")
        return True

    async def send(self) -> None:
        if not self.is_open or self.rule is None:
            return
        over = self.over_limit()
        if over > 0:
            self.notify(f"Reply is {over} over the {self.rule.limit} limit ({self.rule.description}); "
                        "nothing sent.", severity="error", markup=False)
            return
        if not self.text.strip():
            self.notify("The reply is empty; nothing sent.", severity="warning")
            return
        if (blocked := self._blocked_send()) is not None:
            self.notify(blocked, severity="error", markup=False)
            return
        await self._save_draft_before_send()
        mention_id, text, editing = self.mention_id, self.text, self.editing_reply
        assert mention_id is not None
        if editing is not None:
            def send(guard: actions.ReplyGuard) -> Awaitable[object]:
                return self.shift.retry_reply(editing, guard, text)
        else:
            def send(guard: actions.ReplyGuard) -> Awaitable[object]:
                return self.shift.queue_reply(mention_id, text, guard)
        if await self._queue_guarded(send, self._opened_at.get(mention_id, 0)) is None:
            return
        self._drafts.pop(mention_id, None)
        self.close()
        await self._release({mention_id})
        self.shift.wake_sender()
        self.post_message(self.Queued(mention_id))
        recall = self.shift.reply_recall if editing is None else 0  # a resent failed reply goes out at once
        self.notify(f"Reply queued — u to recall it within {recall:g} s." if recall else "Reply queued for sending.",
                    timeout=max(2.0, recall), markup=False)

    def keep_draft(self, mention_id: int, text: str) -> None:
        """A recalled reply comes back as the mention's draft: `r` reopens it."""
        self._drafts[mention_id] = text

    async def retry(self, mention_id: int, reply_id: int) -> None:
        """Resend a failed reply as it was; anything answered after it makes that a second reply: ask."""
        if await self._queue_guarded(lambda guard: self.shift.retry_reply(reply_id, guard), reply_id) is not None:
            self.shift.wake_sender()
            self.post_message(self.Queued(mention_id))

    async def _queue_guarded(self, send: Send, since_reply: int) -> object:
        """Run `send(guard)` (queue, or resend a failed reply), asking about every reply or claim
        that appeared since `since_reply`; the store re-checks at the moment of queuing."""
        from tui.screens.dialogs import Confirm  # dialogs load when first asked: not on the start path

        guard = actions.ReplyGuard(since_reply=since_reply)
        while True:
            try:
                return await attempt(self, send(guard), errors=GUARD_ERRORS)
            except actions.AlreadyAnswered as exc:
                latest = exc.answers[-1]
                said = " ".join(latest.text.split())[:80]
                where = {"sent": "sent", "manual": "to post by hand"}.get(latest.state, "queued")
                question = (f"{latest.operator} answered this mention since you opened it ({where}): "
                            f"\"{said}\". Send yours too?")
                if not await self.app.push_screen_wait(Confirm(question)):
                    return None
                guard = replace(guard, accepted=frozenset(answer.id for answer in exc.answers))
            except actions.ClaimedByOther as exc:
                if not await self.app.push_screen_wait(
                        Confirm(f"{exc.operator} is replying to this mention now. Send yours anyway?")):
                    return None
                guard = replace(guard, accepted_claim=exc.operator)

    # -- claims --------------------------------------------------------------------------
    async def _claim(self, mention_id: int) -> bool:
        """Claim the mention for this composer (asking before stepping on another's claim)
        and remember where its replies stood; False if the operator backed off."""
        from tui.screens.dialogs import Confirm

        self._claimed.add(mention_id)  # from before the claim is written: quitting mid-way still releases it
        try:
            other = await self.shift.claim(mention_id, self.claim_ttl)
            if other is not None:
                since = clock_time(other.at, self.shift.clock())
                question = f"{other.operator} is replying to this mention (since {since}). Reply anyway?"
                if not await self.app.push_screen_wait(Confirm(question)):
                    self._claimed.discard(mention_id)
                    return False
                await self.shift.claim(mention_id, self.claim_ttl, take=True)
            self._opened_at[mention_id] = await self.shift.reply_mark(mention_id)
        except (sqlite3.Error, StoreError, actions.ActionError) as exc:
            self.notify(f"Could not claim the mention: {exc}", severity="error", markup=False)
            return False
        self.post_message(self.Claimed(mention_id))
        return True

    async def _renew_claim(self) -> None:
        """The heartbeat: a claim lives while its composer is open, and lapses when the console dies."""
        mention_id = self.mention_id
        if self.display and mention_id is not None and mention_id in self._claimed:
            try:
                other = await self.shift.claim(mention_id, self.claim_ttl)
            except (sqlite3.Error, StoreError, actions.ActionError):
                return  # the next renewal or the send will say so
            if other is not None:
                self._claimed.discard(mention_id)
                self.notify(f"{other.operator} took over replying to this mention.", severity="warning",
                            markup=False)

    async def _release(self, mention_ids: set[int], *, quiet: bool = False) -> None:
        self._claimed -= mention_ids
        try:
            await self.shift.release_claims(mention_ids)
        except (sqlite3.Error, StoreError):
            return  # unreleased claims lapse within their ttl
        if not quiet:
            self.post_message(self.Released())
