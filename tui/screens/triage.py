"""The keys that change mentions: `c`, `m`, `e`, `a` (and `z`) on the selected row or on every
marked row, `space` and `V` to mark, `u` to undo.

Every change goes through `Shift.change`/`assign` (store.bulk): one transaction,
one undo entry, whatever the number of rows; the toast says what was done and
that `u` takes it back. Marks are a `Selection` of mention ids that the screen
owns and the inbox only draws.

A new field plugs in without touching this module beyond one action: register
a `store.fields.Field` (e.g. "snooze"), add its module to store.undo.KIND_MODULES,
and have the key's action call `change("snooze", until, clears=True)`; marks,
one transaction, the toast and `u` come with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from store.bulk import TOGGLE, Outcome
from tui.selection import Selection, ids_between
from tui.widgets.id_window import IdWindow

if TYPE_CHECKING:
    from tui.screens.main import MainScreen

Act = Callable[..., Awaitable[Any]]  # act(call, errors=()): the screen's "save, then sync"
UNDO_HINT = " — u to undo"


class Triage:
    def __init__(self, screen: MainScreen, act: Act) -> None:
        self._screen = screen
        self._act = act
        self.selection = Selection()

    def targets(self) -> list[int] | None:
        """Every marked row, else the selected one (None, and the operator told, when there is neither)."""
        if self.selection:
            return self.selection.ordered()
        mention_id = self._screen.inbox.selected_id
        if mention_id is None:
            self._screen.notify("No mention selected.", severity="warning")
            return None
        return [mention_id]

    async def change(self, field: str, value: object = TOGGLE, *, ids: list[int] | None = None,
                     clears: bool = False) -> Outcome | None:
        """Apply a store.fields field to the targets; `clears` drops the marks (the rows leave the view)."""
        ids = ids if ids is not None else self.targets()
        if ids is None:
            return None
        outcome = await self._act(self._screen.shift.change(field, ids, value))
        if outcome is not None:
            self.done(outcome, clears=clears)
        return outcome

    def done(self, outcome: Outcome, *, clears: bool = False) -> None:
        """The toast after an action (and the marks dropped if `clears`)."""
        if clears:
            self.clear()
        if outcome.changed:
            self._screen.notify(outcome.label + UNDO_HINT, timeout=4, markup=False)
        else:
            self._screen.notify(f"{outcome.label}: no change.", timeout=2, markup=False)

    # -- marks ----------------------------------------------------------------------------
    def _redraw(self) -> None:
        self._screen.inbox.refresh()
        self._screen.pane.update_title()
        self._screen.refresh_bindings()  # the footer offers "esc Clear marks" while there are marks

    def mark(self) -> None:
        """Mark or unmark the selected row and move on, so consecutive rows mark with repeated presses."""
        inbox = self._screen.inbox
        if (mention_id := inbox.selected_id) is None:
            return
        self.selection.toggle(mention_id)
        inbox.action_move(1)
        self._redraw()

    async def mark_range(self) -> None:
        """Mark every row from the last one marked to the selected one, loaded in the list or not."""
        screen = self._screen
        inbox = screen.inbox
        if (mention_id := inbox.selected_id) is None:
            return
        anchor = self.selection.anchor
        between: Sequence[int] = ()
        if anchor is not None:
            between = ids_between(inbox.ids, anchor, mention_id)
            window = inbox.ids
            if not between and isinstance(window, IdWindow) and not window.complete and not screen.searching:
                # The anchor's row may lie outside the loaded slice: the view's ids in between, from the store.
                try:
                    found = await screen.shift.view_ids_between(screen.view, anchor, mention_id)
                except Exception as exc:  # the file may be gone: say so, mark nothing
                    screen.database_trouble(exc)
                    return
                between = found if found and anchor in found and mention_id in found else ()
        if between:
            self.selection.extend(between, mention_id)
        else:  # nothing marked in this list yet: this row starts the range
            self.selection.toggle(mention_id)
        self._redraw()

    def clear(self) -> bool:
        """Drop every mark; False when there were none (escape then does its other work)."""
        if not self.selection.clear():
            return False
        self._redraw()
        return True

    # -- undo -----------------------------------------------------------------------------
    async def undo(self) -> None:
        undone = await self._act(self._screen.shift.undo())
        if undone is None:
            return
        message = undone.message
        if undone.kind == "reply" and undone.count:
            self._screen.composer.keep_draft(undone.detail["mention_id"], undone.detail["text"])
            message += " r reopens it as the draft."
        self._screen.notify(message, severity="information" if undone.count else "warning", timeout=6,
                            markup=False)


class TriageKeys:
    """The screen's actions for these keys, mixed into MainScreen so that its module stays wiring."""

    _triage: Triage

    async def action_tag(self, tag: str) -> None:
        await self._triage.change(f"tag:{tag}")

    async def action_done(self) -> None:
        await self._triage.change("status", clears=True)

    def action_mark(self) -> None:
        self._triage.mark()

    async def action_mark_range(self) -> None:
        await self._triage.mark_range()

    async def action_undo(self) -> None:
        await self._triage.undo()
