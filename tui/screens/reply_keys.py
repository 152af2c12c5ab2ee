"""Replying from the split view: `r`, ctrl+s, and the failed reply's retry and edit.

The composer runs the flow; the screen picks the mention. A mixin of the split view, so that
main.py only wires it.
"""

from __future__ import annotations

from textual import work
from textual.screen import Screen

from store.inbox import InboxRow, Reply
from tui.widgets.composer import ReplyComposer
from tui.widgets.inbox import InboxList
from tui.widgets.mention_view import MentionView


class ReplyKeys(Screen):
    """The split view's reply keys; the screen provides the list, the mention view and the composer."""

    mention: MentionView
    composer: ReplyComposer

    @property
    def inbox(self) -> InboxList:
        raise NotImplementedError  # the screen's

    def _selected(self) -> int | None:
        raise NotImplementedError

    def _selected_row(self) -> InboxRow | None:
        if (mention_id := self._selected()) is None:
            return None
        if (row := self.inbox.row(mention_id)) is None:
            self.notify("Still loading that mention.", severity="warning")
        return row

    def _latest_failed(self) -> Reply | None:
        if (mention_id := self._selected()) is None:
            return None
        if not self.mention.shows(mention_id):
            self.notify("Still loading that mention.", severity="warning")
            return None
        failed = self.mention.failed_replies(mention_id)
        if not failed:
            self.notify("No failed reply on this mention.", severity="warning")
        return failed[-1] if failed else None

    @work(group="dialog")
    async def action_reply(self) -> None:
        if (row := self._selected_row()) is not None:
            await self.composer.reply_to(row)

    @work(group="dialog")
    async def action_send(self) -> None:
        await self.composer.send()

    @work(group="dialog")
    async def action_retry(self) -> None:
        if (failed := self._latest_failed()) is not None and (mention_id := self.inbox.selected_id) is not None:
            await self.composer.retry(mention_id, failed.id)

    @work(group="dialog")
    async def action_edit_failed(self) -> None:
        if (failed := self._latest_failed()) is not None and (row := self._selected_row()) is not None:
            await self.composer.edit_failed(row, failed)
