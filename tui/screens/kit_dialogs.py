"""The daily kit's dialogs on the split view: snoozing (`z`) and the saved replies (`T`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from textual.widget import Widget

from store.db import iso
from store.inbox import InboxRow
from tui.render import wake_time
from tui.shift import console_of

Act = Callable[..., Awaitable[Any]]  # act(call, errors=()): the screen's "save, then sync"


class KitDialogs:
    def __init__(self, host: Widget, act: Act) -> None:
        self._host = host
        self._act = act

    async def snooze(self, mention_ids: list[int], row: InboxRow | None) -> None:
        """Ask until when, then snooze every id in one transaction (or wake them)."""
        from tui.screens.snooze_dialog import WAKE, SnoozeDialog

        shift = console_of(self._host).shift
        title = f"Snooze #{mention_ids[0]} until…" if len(mention_ids) == 1 else \
            f"Snooze {len(mention_ids)} mentions until…"
        answer = await self._host.app.push_screen_wait(
            SnoozeDialog(title, shift.clock, snoozed_until=row.snoozed_until if row else None))
        if answer is None:
            return
        if answer == WAKE:
            if await self._act(shift.unsnooze(mention_ids)) is not None:
                self._host.notify("Awake: back in the open views as new — u to undo.", timeout=3)
            return
        assert isinstance(answer, datetime)
        changes = await self._act(shift.snooze(mention_ids, answer))
        if changes is not None:
            when = wake_time(iso(answer), shift.clock())
            self._host.notify(f"Snoozed until {when}, or until the author writes again (Z lists snoozed) — u to undo.",
                              timeout=3, markup=False)

    def saved_replies(self) -> None:
        from tui.screens.saved_replies import SavedRepliesScreen

        self._host.app.push_screen(SavedRepliesScreen())
