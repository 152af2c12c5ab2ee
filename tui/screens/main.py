"""The split view: inbox on the left, the mention and the composer on the right."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from store.changes import Backlog, Marks
from store.db import StoreError
from tui import startup
from tui.actions import bindings
from tui.attempt import attempt
from tui.dbtrouble import DATABASE_ERRORS, describe
from tui.messages import DatabaseOk, DatabaseTrouble
from tui.refresher import Refresher
from tui.screens.desk_dialogs import DeskDialogs
from tui.screens.kit_dialogs import KitDialogs
from tui.screens.link_keys import LinkKeys
from tui.screens.reply_keys import ReplyKeys
from tui.screens.triage import Triage, TriageKeys
from tui.screens.view_keys import ViewKeys
from tui.shift import Shift, console_of
from tui.widgets.composer import ReplyComposer
from tui.widgets.inbox import InboxList
from tui.widgets.inbox_pane import InboxPane
from tui.widgets.incident_banner import IncidentBanner
from tui.widgets.keybar import KeyBar
from tui.widgets.mention_view import MentionView
from tui.widgets.search_bar import SearchBar
from tui.widgets.status_bar import StatusBar, TroubleBanner

T = TypeVar("T")


class MainScreen(TriageKeys, LinkKeys, ViewKeys, ReplyKeys):
    """c, m, e, space, V and u: TriageKeys (tui.screens.triage); o y Y: LinkKeys; O * 7-9: ViewKeys;
    r, ctrl+s and the failed reply's keys: ReplyKeys."""

    BINDINGS = bindings("main")
    banner: TroubleBanner
    status: StatusBar
    pane: InboxPane
    mention: MentionView
    composer: ReplyComposer

    def __init__(self) -> None:
        super().__init__()
        self._marks = Marks()
        self._backlog = Backlog()  # during a storm, arrivals are shown once a second
        self._refresher: Refresher | None = None  # set on mount: it needs the console's desk
        self._session_since = ""
        self._desk = DeskDialogs(self, self._act)
        self._triage = Triage(self, self._act)
        self._kit = KitDialogs(self, self._act)

    def compose(self) -> ComposeResult:
        self.banner = TroubleBanner(id="banner")
        self.status = StatusBar(id="status")
        self.pane = InboxPane(id="left")
        self.mention = MentionView(clock=self.shift.clock, id="mention")
        self.composer = ReplyComposer(id="composer")
        yield self.banner
        yield IncidentBanner(id="incident-banner")
        yield self.status
        with Horizontal(id="split"):
            yield self.pane
            with Vertical(id="right"):
                yield self.mention
                yield self.composer
        yield KeyBar()

    @property
    def shift(self) -> Shift:
        return console_of(self).shift

    @property
    def view(self) -> str:
        """The view listed (the one searched from, while searching)."""
        return self.pane.view

    @property
    def search_bar(self) -> SearchBar:
        return self.pane.search_bar

    @property
    def searching(self) -> bool:
        return self.search_bar.searching

    @property
    def inbox(self) -> InboxList:
        return self.pane.inbox

    async def on_mount(self) -> None:
        self.inbox.focus()
        self.inbox.marked = self._triage.selection
        try:
            # Anchored at start: "since you were last here", not since this session's first action.
            # Read before the first rows are fetched: this console's own actions must not count.
            self._session_since = await self.shift.handover_since()
            await self.sync(initial=True)
            if self.shift.store.read_only_reason:
                self.database_trouble(StoreError(self.shift.store.read_only_reason))
        except DATABASE_ERRORS as exc:
            self.database_trouble(exc)  # the timers below try again
        # The first rows paint now: joining the desk (a write, which may wait for another console's) follows.
        self.call_after_refresh(startup.first_paint_done)
        self.call_after_refresh(lambda: self.run_worker(self._join_desk(), group="join"))

    async def _join_desk(self) -> None:
        try:
            await self.shift.register()
        except DATABASE_ERRORS as exc:
            self.database_trouble(exc)  # a read-only desk: browsing goes on
        self._refresher = Refresher(lambda pushed: self.sync(pushed=pushed), self.database_trouble, self._backlog,
                                    self.shift.change_feed(), quiet_poll=console_of(self).quiet_poll)
        self.shift.unchanged_since = self._refresher.unchanged_since  # the bars stop re-reading an idle desk
        self.set_interval(console_of(self).poll_interval, self._refresher.tick)
        self.run_worker(self._refresher.follow(), group="change-feed", exit_on_error=False)
        self.run_worker(self._desk.greet(self._session_since), group="dialog")

    # -- database trouble: a banner, never a traceback ----------------------
    def database_trouble(self, error: BaseException) -> str:
        """Show what failed in the banner (on a read-only desk: which file, and the fix); browsing goes on."""
        return self.banner.show(self.shift.store.read_only_reason or describe(error, self.shift.db_path))

    @on(DatabaseTrouble)
    def _trouble_reported(self, message: DatabaseTrouble) -> None:
        self.database_trouble(message.error)

    @on(DatabaseOk)
    def _database_ok(self) -> None:
        if not self.shift.store.read_only_reason:  # a read working says nothing about writing
            self.banner.clear()

    async def sync(self, *, initial: bool = False, force: bool = False, pushed: bool = False) -> None:
        """Bring the screen up to date with the database (all consoles' changes; `pushed`: the desk said
        something changed, so look without asking data_version first)."""
        if initial:
            self._marks = await self.shift.marks()
            await self.pane.load_view(self.view, keep_selection=False)
            self.status.recount()  # counts must not delay the first rows
            return
        self._marks = (polled := await self.shift.changes(self._marks, force=force or pushed)).marks
        if (changes := self._backlog.offer(polled, force=force)) is None:
            return  # shown with the next ones (a storm): nothing is lost
        for assigned in changes.assigned_to_me:
            self.notify(f"{assigned.by} assigned #{assigned.mention_id} to you (6: Mine)", title="Assigned to you",
                        timeout=8, markup=False)
        if changes.assigned_to_me:
            self.status.recount()  # the Mine count, now
        if changes.empty:
            return
        if self.searching:
            if changes.new_mentions:
                self.search_bar.rerun()
        elif changes.membership_changed:
            await self.pane.load_view(self.view)
        elif changes.new_mentions:
            await self.pane.add_arrivals()
        self.inbox.forget(changes.touched)
        if self.inbox.selected_id in changes.touched:
            await self._load_detail(self.inbox.selected_id)
        self._update_title()
        if (changes.new_mentions or changes.membership_changed) and self.status.count_due():
            self.status.recount()  # the view bar's counts follow the list, not the next 2 s tick

    async def on_unmount(self) -> None:
        if self._refresher is not None:
            await self._refresher.close()  # its session closed now, not left to the loop's end

    def footer_keys(self) -> list[tuple[str, str]]:
        """Keys the footer shows first, for what the operator is doing now."""
        if self.composer.display:
            keys = console_of(self).keys_shown
            return [("^s", "Send"), ("esc", "Close, keep draft"), (keys("insert-saved-reply")[0], "Saved reply"),
                    (keys("external-editor")[0], "Editor")]
        if self._triage.selection:
            return [("esc", "Clear marks")]
        return [("esc", "Back")] if self.searching else []

    def on_resize(self) -> None:
        self._update_title()

    @on(InboxPane.Listed)
    def _update_title(self) -> None:
        """The list's own title (left pane) and the view bar (full width, every view and count)."""
        self.pane.update_title()
        self.status.show_view(None if self.searching else self.view, len(self.inbox.ids))

    @on(InboxList.Highlighted)
    def selection_changed(self, message: InboxList.Highlighted) -> None:
        # The moved selection is painted first, then the mention (a layout of the right pane).
        self.call_after_refresh(self._detail_worker, message.mention_id)

    @work(group="detail", exclusive=True)
    async def _detail_worker(self, mention_id: int | None) -> None:
        # @work builds the coroutine inside the worker: one cancelled before it starts leaves nothing unawaited.
        await self._load_detail(mention_id)

    async def _load_detail(self, mention_id: int | None) -> None:
        await self.mention.load(mention_id, lambda: self.inbox.selected_id)

    @on(MentionView.Read)
    @on(ReplyComposer.Claimed)
    def _row_changed(self, message: MentionView.Read | ReplyComposer.Claimed) -> None:
        self.inbox.forget({message.mention_id})

    # -- operator actions: through the shift, then sync ---------------------------------------
    def _selected(self) -> int | None:
        mention_id = self.inbox.selected_id
        if mention_id is None:
            self.notify("No mention selected.", severity="warning")
        return mention_id

    async def _act(self, call: Awaitable[T], errors: tuple[type[Exception], ...] = ()) -> T | None:
        """Await a shift call, then sync; see tui.attempt for what the operator is told."""
        result = await attempt(self, call, errors)
        if result is not None:
            await self.sync(force=True)
        return result

    async def action_view(self, view: str) -> None:
        self._triage.clear()  # marks stay with the list they were made in: never act on rows out of sight
        if self.searching:
            self.search_bar.leave(restore=False)
        try:
            await self.pane.load_view(view, keep_selection=False)
        except DATABASE_ERRORS as exc:
            self.database_trouble(exc)

    def action_switch_pane(self) -> None:
        (self.mention if self.inbox.has_focus else self.inbox).focus()

    def action_back(self) -> None:
        if not self.composer.put_aside() and not self._triage.clear() and self.searching:
            self.search_bar.leave(restore=True)

    @on(ReplyComposer.Released)
    async def _released(self) -> None:
        try:
            await self.sync(force=True)
        except DATABASE_ERRORS:
            pass  # the next tick shows it

    @on(ReplyComposer.Closed)
    def _composer_closed(self) -> None:
        self.inbox.focus()

    @on(ReplyComposer.Queued)
    async def _queued(self, message: ReplyComposer.Queued) -> None:
        await self._released()
        await self._load_detail(message.mention_id)

    def action_search(self) -> None:
        self.search_bar.start(self.view)

    # -- the shared desk: dialogs, saved through _act -------------------------------------
    @work(group="dialog")
    async def action_note(self) -> None:
        if (mention_id := self._selected()) is not None:
            await self._desk.note(mention_id)

    @work(group="dialog")
    async def action_assign(self) -> None:
        if (ids := self._triage.targets()) is not None:
            if (outcome := await self._desk.assign(ids, self.inbox.row(ids[0]))) is not None:
                self._triage.done(outcome)

    @work(group="dialog")
    async def action_handover(self) -> None:
        await self._desk.handover(self._session_since)

    @work(group="dialog")
    async def action_snooze(self) -> None:
        if (ids := self._triage.targets()) is not None:  # every marked row, else the selected one
            await self._kit.snooze(ids, self.inbox.row(ids[0]))
            self._triage.clear()  # snoozed rows leave the view

    def action_saved_replies(self) -> None:
        self._kit.saved_replies()
