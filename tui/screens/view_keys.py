"""`O` orders a view oldest first, `*` saves a search as a view, `7`-`9` open saved views.

A mixin of the split view, so that main.py only wires it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from textual import work
from textual.screen import Screen

from store.saved_views import SAVED_PREFIX, ViewExists
from tui.shift import Shift
from tui.topbar import view_label
from tui.widgets.inbox_pane import InboxPane
from tui.widgets.search_bar import SearchBar
from tui.widgets.status_bar import StatusBar


class ViewKeys(Screen):
    """The split view's ordering and saved-view keys; the screen provides the pane, the shift and `_act`."""

    pane: InboxPane
    status: StatusBar

    @property
    def shift(self) -> Shift:
        raise NotImplementedError  # the screen's

    @property
    def search_bar(self) -> SearchBar:
        raise NotImplementedError

    async def _act(self, call: Awaitable[Any], errors: tuple[type[Exception], ...] = ()) -> Any:
        raise NotImplementedError

    async def action_view(self, view: str) -> None:
        raise NotImplementedError

    @work(group="dialog")
    async def action_toggle_order(self) -> None:
        if self.search_bar.searching:
            self.notify("Search results are ranked by match: leave the search (escape) to order a view.",
                        severity="warning")
            return
        pane = self.pane
        if pane.view == "priority":
            self.notify("Priority lists the most urgent first (due time, then needs-reply, then negative).",
                        severity="warning")
            return
        oldest_first = await self._act(self.shift.set_oldest_first(pane.view, not pane.oldest_first))
        if oldest_first is None:
            return
        await pane.set_order(oldest_first)
        self.notify(f"{view_label(pane.view)}: {'oldest' if oldest_first else 'newest'} first", timeout=1.5,
                    markup=False)

    async def action_saved_view(self, key: str) -> None:
        views = {view.key: view for view in await self.shift.saved_views()}
        if key not in views:
            self.notify(f"No view saved on {key}: search (/), then * saves the search as a view.",
                        severity="warning")
            return
        await self.action_view(views[key].view)

    @work(group="dialog")
    async def action_save_view(self) -> None:
        bar = self.search_bar
        if bar.searching and bar.value.strip():
            await self._save(bar.value.strip())
        elif self.pane.view.startswith(SAVED_PREFIX):
            await self._remove(self.pane.view.removeprefix(SAVED_PREFIX))
        else:
            self.notify("Search first (/), then * saves the search as a view on 7-9.", severity="warning")

    async def _save(self, query: str) -> None:
        from tui.screens.dialogs import AskText, Confirm

        name = await self.app.push_screen_wait(AskText(f"Save the search {query!r} as a view called",
                                                       placeholder="a short name, e.g. Refunds FR"))
        if not name or not name.strip():
            return
        try:
            saved = await self._act(self.shift.save_view(name, query), errors=(ViewExists,))
        except ViewExists as exc:
            if not await self.app.push_screen_wait(Confirm(f"{exc}. Replace its search with {query!r}?")):
                return
            saved = await self._act(self.shift.save_view(name, query, replace=True))
        if saved is not None:
            self.notify(f"Saved as view {saved.key}: {saved.name} (for the whole desk)", markup=False)
            self.status.recount()

    async def _remove(self, name: str) -> None:
        from tui.screens.dialogs import Confirm

        if not await self.app.push_screen_wait(Confirm(f"Remove the saved view {name!r} for the whole desk?")):
            return
        if await self._act(self.shift.remove_view(name)) is not None:
            self.notify(f"Removed the view {name}", markup=False)
            self.status.recount()
            await self.action_view("open")
