"""`o` opens the mention's link, `y` copies it, `Y` copies its text (a mixin of the split view).

Copies go through the terminal (OSC 52, Textual's `copy_to_clipboard`), which
works over SSH and inside tmux; the browser is started off the event loop.
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from store.inbox import MentionDetail
from store.links import links_of
from tui.browser import open_in_browser, over_ssh
from tui.widgets.inbox import InboxList
from tui.widgets.mention_view import MentionView


class PickLink(ModalScreen[str | None]):
    """One of a mention's links; escape answers None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, links: list[str]) -> None:
        super().__init__()
        self._links = links

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("Open which link?", style="bold"))
            # Text prompts: a link from a post is never markup.
            yield OptionList(*(Option(Text(f"{n}. {url}"), id=str(n)) for n, url in enumerate(self._links, 1)),
                             id="links")
            yield Static(Text("enter opens · 1-9 picks · escape cancels", style="dim"))

    def on_key(self, event) -> None:
        if event.character and event.character.isdigit() and 1 <= int(event.character) <= len(self._links):
            event.stop()
            self.dismiss(self._links[int(event.character) - 1])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._links[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)


class LinkKeys(Screen):
    """The split view's link and copy keys; the screen provides the inbox and the mention view."""

    mention: MentionView

    @property
    def inbox(self) -> InboxList:
        raise NotImplementedError  # the screen's

    def _shown_detail(self) -> MentionDetail | None:
        mention_id = self.inbox.selected_id
        if mention_id is None:
            self.notify("No mention selected.", severity="warning")
            return None
        if not self.mention.shows(mention_id) or self.mention.detail is None:
            self.notify("Still loading that mention.", severity="warning")
            return None
        return self.mention.detail

    def _copy(self, text: str, said: str) -> None:
        self.app.copy_to_clipboard(text)
        self.notify(said, timeout=3, markup=False)

    def _links(self) -> list[str]:
        """The shown mention's links (none: the operator is told why)."""
        if (detail := self._shown_detail()) is None:
            return []
        if not (links := links_of(detail.url, detail.row.text)):
            self.notify("This mention has no web link.", severity="warning")
        return links

    def action_copy_url(self) -> None:
        if links := self._links():
            self._copy(links[0], f"Copied {links[0]}")

    def action_copy_text(self) -> None:
        if (detail := self._shown_detail()) is not None:
            self._copy(detail.row.text, f"Copied the text of #{detail.row.id}")

    @work(group="dialog")
    async def action_open_link(self) -> None:
        if not (links := self._links()):
            return
        url = links[0] if len(links) == 1 else await self.app.push_screen_wait(PickLink(links))
        if url is None:
            return
        if over_ssh():
            self._copy(url, f"Over SSH no browser can open here: copied {url} instead")
        elif await asyncio.to_thread(open_in_browser, url):
            self.notify(f"Opened {url}", timeout=2, markup=False)
        else:
            self._copy(url, f"No graphical browser found: copied {url} instead")
