"""The shared desk's dialogs: a note, an assignment, the handover report and the greeting."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.widget import Widget

from store import desk
from store.bulk import Outcome
from store.inbox import InboxRow
from tui.render import clock_time
from tui.shift import Shift, console_of

Act = Callable[..., Awaitable[Any]]  # act(call, errors=()): the screen's "save, then sync"


class DeskDialogs:
    """Asks the operator, then saves through `act`; run from the screen's workers (dialogs wait)."""

    def __init__(self, host: Widget, act: Act) -> None:
        self._host = host
        self._act = act

    @property
    def _shift(self) -> Shift:
        return console_of(self._host).shift

    def _when(self, moment: str) -> str:
        return clock_time(moment, self._shift.clock())

    async def _ask(self, screen: Any) -> Any:
        return await self._host.app.push_screen_wait(screen)

    async def note(self, mention_id: int) -> None:
        from tui.screens.dialogs import AskNote

        text = await self._ask(AskNote(f"Internal note on #{mention_id} (never sent)"))
        if text and text.strip() and await self._act(self._shift.add_note(mention_id, text)) is not None:
            self._host.notify("Note saved.", timeout=1.5)

    async def assign(self, mention_ids: list[int], row: InboxRow | None) -> Outcome | None:
        """Ask whom to assign these mentions to, then assign them all (one undo); `row` is the first's."""
        from tui.screens.dialogs import AskText, Confirm

        current = row.assignee if row and row.assignee and len(mention_ids) == 1 else self._shift.operator
        what = f"#{mention_ids[0]}" if len(mention_ids) == 1 else f"{len(mention_ids)} marked mentions"
        name = await self._ask(AskText(f"Assign {what} to (empty: unassign)", value=current,
                                       placeholder="operator"))
        if name is None:
            return None
        name = name.strip()
        try:
            return await self._act(self._shift.assign(mention_ids, name or None), errors=(desk.UnknownOperator,))
        except desk.UnknownOperator:
            question = f"Nobody called {name!r} has used this desk yet (a typo?). Assign to {name!r} anyway?"
            if not await self._ask(Confirm(question)):
                return None
            return await self._act(self._shift.assign(mention_ids, name, allow_new=True))

    async def handover(self, since: str) -> None:
        from store.handover import format_report  # here: the report's modules load when first asked for
        from tui.screens.dialogs import AskNote, ShowText

        report = await self._shift.handover_report(since)
        if await self._ask(ShowText("Shift handover", format_report(report, self._when))) != "note":
            return
        text = await self._ask(AskNote("Handover note for the next shift"))
        if text and text.strip() and await self._act(self._shift.leave_handover_note(text)) is not None:
            self._host.notify("Handover note left.", timeout=2)

    async def greet(self, since: str) -> None:
        """Show the handover notes others left since this operator was last here."""
        others = await self._shift.handover_notes(since)
        if others:
            from tui.screens.dialogs import ShowText

            body = "\n\n".join(f"{note.operator} at {self._when(note.at)}:\n{note.text}" for note in others)
            await self._ask(ShowText("Handover notes for you", body))
