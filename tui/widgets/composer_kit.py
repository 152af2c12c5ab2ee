"""The composer's daily kit: drafts kept in the database as typed, saved replies, and $EDITOR.

A mixin of ReplyComposer, kept apart so that the reply flow (claims, guards) stays readable.
Drafts are saved a moment after the last keystroke, on the store thread; sending removes
the draft in the transaction that queues the reply.
"""

from __future__ import annotations

import asyncio
import contextlib

from rich.text import Text
from textual import work
from textual.app import SuspendNotSupported
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import TextArea
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from store.saved_replies import fill, unfilled
from tui.attempt import attempt
from tui.editor import EditorError, run_editor
from tui.shift import Shift, console_of

DRAFT_DEBOUNCE = 0.4  # seconds after the last keystroke


class ComposerKit(Vertical):
    """The composer's base: what the reply flow (ReplyComposer) and the kit both need."""

    mention_id: int | None = None
    _draft_timer: Timer | None = None
    _draft_saving: Worker | None = None
    _unfilled: tuple[str, ...] = ()
    _stored: str | None = None  # the text the database holds for this mention, as far as we know
    _baseline = ""  # what the composer opened with when nothing was stored (`@author `): not a draft

    @property
    def shift(self) -> Shift:
        return console_of(self).shift

    @property
    def is_open(self) -> bool:
        return self.display and self.mention_id is not None

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    def _update_counter(self) -> None:
        """The counter under the text (the composer draws it)."""

    def _kit_reset(self, stored: str | None, opened_with: str) -> None:
        self._cancel_draft_save()
        self._unfilled = ()
        self._stored = stored
        self._baseline = opened_with if stored is None else ""

    async def _stored_draft(self, mention_id: int) -> str | None:
        draft = await attempt(self, self.shift.load_draft(mention_id))
        return draft

    # -- drafts ------------------------------------------------------------------------
    def _draft_changed(self) -> None:
        if not self.is_open:
            return
        self._cancel_draft_save()
        self._draft_timer = self.set_timer(DRAFT_DEBOUNCE, self._flush_draft)

    def _cancel_draft_save(self) -> None:
        if self._draft_timer is not None:
            self._draft_timer.stop()
            self._draft_timer = None

    def _flush_draft(self) -> None:
        """Save now (the timer fired, or the composer is being put aside)."""
        if (pending := self._draft_to_save()) is not None:
            self._draft_saving = self.run_worker(attempt(self, self.shift.save_draft(*pending)), group="draft")

    async def _save_draft_before_send(self) -> None:
        """Saved before the reply is queued, and awaited: a save still on its way to the store
        thread could land after the queueing (which removes the draft) and leave a stale draft."""
        if (saving := self._draft_saving) is not None and saving.is_running:
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await saving.wait()  # the debounce's save, if it is still on its way
        if (pending := self._draft_to_save()) is not None:
            await attempt(self, self.shift.save_draft(*pending))

    def _draft_to_save(self) -> tuple[int, str] | None:
        self._cancel_draft_save()
        mention_id, text = self.mention_id, self.text
        if text == self._baseline:
            text = ""
        if mention_id is None or text == (self._stored or ""):
            return None
        self._stored = text
        return mention_id, text

    # -- saved replies -------------------------------------------------------------------
    def _blocked_send(self) -> str | None:
        """Why the text must not be sent yet: a saved reply's variable nobody filled in."""
        left = unfilled(self.text, self._unfilled)
        if left:
            names = " ".join(f"{{{name}}}" for name in left)
            return f"Fill in {names} before sending (this mention has no value for it)."
        return None

    def unfilled_line(self) -> Text | None:
        left = unfilled(self.text, self._unfilled)
        if not left:
            return None
        return Text(f"  fill in: {' '.join(f'{{{name}}}' for name in left)}", "bold red")

    @work(group="composer-kit", exclusive=True)  # the picker waits for the operator
    async def action_pick_saved_reply(self) -> None:
        from tui.screens.reply_picker import ReplyPicker

        mention_id = self.mention_id
        if not self.is_open or mention_id is None:
            self.notify("Open the composer first (r).", severity="warning")
            return
        shift = self.shift
        replies = await attempt(self, shift.saved_replies())
        values = await attempt(self, shift.mention_values(mention_id))
        if replies is None or values is None:
            return
        if not replies:
            self.notify("No saved replies yet: T opens them, or `mentiondesk replies add`.", severity="warning")
            return
        tags = (await shift.rows([mention_id])).get(mention_id)
        chosen = await console_of(self).push_screen_wait(
            ReplyPicker(replies, lang=values.get("lang"), tags=tags.tags if tags else frozenset(), values=values))
        if chosen is None or self.mention_id != mention_id:
            return
        filled = fill(chosen.body, values)
        self.query_one(TextArea).insert(filled.text)
        self._unfilled = tuple(dict.fromkeys((*self._unfilled, *filled.missing)))
        self._update_counter()
        if filled.missing:
            self.notify(f"Fill in {' '.join('{' + name + '}' for name in filled.missing)} before sending.",
                        severity="warning", markup=False)

    # -- $VISUAL / $EDITOR ------------------------------------------------------------------
    @work(group="composer-kit", exclusive=True)
    async def action_external_editor(self) -> None:
        if not self.is_open or self.mention_id is None:
            self.notify("Open the composer first (r).", severity="warning")
            return
        mention_id, before = self.mention_id, self.text
        app = console_of(self)
        try:
            try:
                # The terminal is the editor's until it exits; repaints wait, ingest and timers go on.
                with app.suspend(), app.batch_update():
                    edited = await asyncio.to_thread(run_editor, before)
            except SuspendNotSupported:
                if not app.is_headless:
                    self.notify("This terminal cannot hand over to an editor.", severity="error")
                    return
                edited = await asyncio.to_thread(run_editor, before)  # headless: no terminal to hand over
        except EditorError as exc:
            self.notify(f"{exc}.", severity="warning", markup=False)
            return
        if self.mention_id != mention_id or not self.is_open:
            return
        area = self.query_one(TextArea)
        area.load_text(edited)
        area.move_cursor(area.document.end)
        self._update_counter()
        self._flush_draft()
        area.focus()
