"""The split view: inbox on the left, the mention and the composer on the right."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
import sqlite3
from datetime import timedelta
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

from store import actions, desk
from store.db import StoreError, iso
from store.handover import format_report, handover_report
from store.lease import LeaseHolder, current_holder
from store.changes import Marks, marks_now, poll
from store.inbox import VIEWS, latest_id, mention_detail, rows_by_id, view_counts, view_ids, view_ids_after
from tui.dbtrouble import DATABASE_ERRORS, describe
from tui.render import age, clock_time
from tui.screens.dialogs import AskNote, AskText, Confirm, ShowText
from tui.widgets.composer import ReplyComposer
from tui.topbar import compact_count, fit, view_bar

if TYPE_CHECKING:
    from store.ingest import SourceStatus  # imported lazily: see _refresh_topbar
from tui.widgets.inbox import InboxList
from tui.widgets.keybar import KeyBar
from tui.widgets.mention_view import MentionView

FIRST_PAGE = 200
GUARD_ERRORS = (actions.AlreadyAnswered, actions.ClaimedByOther)
VIEW_KEYS = {"1": "open", "2": "care", "3": "marketing", "4": "untriaged", "5": "done", "6": "mine", "0": "all"}


class MainScreen(Screen):
    # Tests of a console that dies shorten these; see store.desk.
    claim_ttl = desk.CLAIM_TTL
    claim_renew = desk.CLAIM_RENEW

    BINDINGS = [
        Binding("c", "tag('care')", "Care", id="tag-care"),
        Binding("m", "tag('marketing')", "Marketing", id="tag-marketing"),
        Binding("e", "done", "Done/reopen", id="done"),
        Binding("r", "reply", "Reply", id="reply"),
        Binding("ctrl+s", "send", "Send", id="send", show=False, priority=True),
        Binding("slash", "search", "Search", id="search"),
        Binding("escape", "back", "Back", id="back", show=False),
        Binding("R", "retry", "Retry failed", id="retry", show=False),
        Binding("E", "edit_failed", "Edit failed reply", id="edit-failed", show=False),
        Binding("n", "note", "Note", id="note", show=False),
        Binding("a", "assign", "Assign", id="assign", show=False),
        Binding("H", "handover", "Handover", id="handover", show=False),
        Binding("tab", "switch_pane", "Switch pane", show=False),
        *[Binding(key, f"view('{name}')", VIEWS[name].label, id=f"view-{name}", show=False)
          for key, name in VIEW_KEYS.items()],
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view = "open"
        self.searching = False
        self.search_text = ""
        self._search_seq = 0
        self._marks = Marks()
        self._polling = False
        self._counts: dict[str, int] = {}
        self._drafts: dict[int, str] = {}
        self._before_search: tuple[str, int | None] | None = None
        # The mention's last reply id when its composer opened: "answered since you opened it".
        self._opened_at: dict[int, int] = {}
        self._counted_at = 0.0
        self._claimed: set[int] = set()  # claims this console holds, released when it quits
        self._session_since = ""
        self._holder: LeaseHolder | None = None
        self._statuses: list[SourceStatus] = []

    def compose(self) -> ComposeResult:
        yield Static(id="banner")
        yield Static(id="topbar")
        yield Static(id="viewbar")
        with Horizontal(id="split"):
            with Vertical(id="left"):
                yield Input(placeholder="search: words (typos ok)  tag:care status:open from:@h net:demo",
                            id="search")
                yield Static(id="inbox-title")
                yield InboxList(clock=self.app.clock, id="inbox")
            with Vertical(id="right"):
                yield MentionView(clock=self.app.clock, id="mention")
                self._composer = ReplyComposer(id="composer")
                yield self._composer
        yield KeyBar()

    @property
    def inbox(self) -> InboxList:
        return self.query_one(InboxList)

    async def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        self.query_one(ReplyComposer).display = False
        self.query_one("#banner", Static).display = False
        self.inbox.focus()
        try:
            # Anchored at start: "since you were last here", not since this session's first action.
            # Read before the first rows are fetched: this console's own actions must not count.
            self._session_since = await self.db(self._handover_since)
            await self.sync(initial=True)
        except DATABASE_ERRORS as exc:
            self.database_trouble(exc)  # the timers below try again
        try:
            await self.db(desk.register_operator, self.app.operator)
        except DATABASE_ERRORS as exc:
            self.database_trouble(exc)  # a read-only desk: browsing goes on
        self.set_interval(self.app.poll_interval, self._tick)
        self.set_interval(2.0, self._refresh_topbar)
        self.set_interval(1.0, self._refresh_ages)
        self.set_interval(self.claim_renew, self._renew_claim)
        self.set_interval(2.0, self._refresh_sending)
        self.run_worker(self._refresh_sending(), group="sending")
        self.run_worker(self._greet(), group="dialog")

    # -- database trouble: a banner, never a traceback ----------------------
    def database_trouble(self, error: BaseException) -> str:
        """Show what failed in the banner; the console keeps browsing (and searching)."""
        line = describe(error, self.app.db_path)
        banner = self.query_one("#banner", Static)
        banner.update(Text(f" ⚠ {line}"))
        banner.display = True
        return line

    def _database_ok(self) -> None:
        """A write went through: whatever the banner said was fixed."""
        banner = self.query_one("#banner", Static)
        if banner.display:
            banner.display = False

    # -- store round trips (always on the store thread) ------------------
    async def db(self, fn, *args, **kwargs):
        return await self.app.store.run(fn, *args, **kwargs)

    async def sync(self, *, initial: bool = False, force: bool = False) -> None:
        """Bring the screen up to date with the database (all consoles' changes)."""
        if initial:
            self._marks = await self.db(marks_now)
            await self.load_view(self.view, keep_selection=False)
            self.run_worker(self._refresh_topbar(), group="topbar")  # counts must not delay the first rows
            return
        changes = await self.db(poll, self._marks, force=force, operator=self.app.operator)
        self._marks = changes.marks
        for assigned in changes.assigned_to_me:
            self.notify(f"{assigned.by} assigned #{assigned.mention_id} to you (6: Mine)", title="Assigned to you",
                        timeout=8, markup=False)
        if changes.assigned_to_me:
            self.run_worker(self._refresh_topbar(), group="topbar")  # the Mine count, now
        if changes.empty:
            return
        if self.searching:
            if changes.new_mentions:
                self._schedule_search(refresh=True)
        elif changes.membership_changed:
            await self.load_view(self.view)
        elif changes.new_mentions:
            top = self.inbox.ids[0] if len(self.inbox.ids) else 0
            self.inbox.prepend(await self.db(view_ids_after, self.view, top, self.app.operator))
        self.inbox.forget(changes.touched)
        if self.inbox.selected_id in changes.touched:
            await self._load_detail(self.inbox.selected_id)
        self._update_title()
        if (changes.new_mentions or changes.membership_changed) and time.monotonic() - self._counted_at > 1.0:
            # The view bar's counts follow the list within a second, not at the next 2 s tick.
            self.run_worker(self._refresh_topbar(), group="topbar", exclusive=True)

    async def _tick(self) -> None:
        if self._polling:
            return
        self._polling = True
        try:
            await self.sync()
        except Exception as exc:  # the file may be gone or unreachable: say so, keep going
            self.database_trouble(exc)
        finally:
            self._polling = False

    def _refresh_ages(self) -> None:
        """Relative times stay true ("16s" does not freeze); each widget redraws only if one changed."""
        self.inbox.refresh_ages()
        self.query_one(MentionView).refresh_ages()

    async def _refresh_topbar(self) -> None:
        from store.ingest import source_statuses

        self._counted_at = time.monotonic()
        try:
            # Counting is the slowest read on a long history: its own connection and thread.
            statuses = await self.app.searcher.run(source_statuses)
            self._counts = await self.app.searcher.run(view_counts, self.app.operator)
            self._holder = await self.app.searcher.run(current_holder)
        except DATABASE_ERRORS as exc:
            self.database_trouble(exc)
            return
        self._statuses = statuses
        self._draw_topbar()
        self._update_title()

    def footer_keys(self) -> list[tuple[str, str]]:
        """Keys the footer shows first, for what the operator is doing now."""
        if self._composer.display:
            return [("^s", "Send"), ("esc", "Close, keep draft")]
        if self.searching:
            return [("esc", "Back")]
        return []

    def on_resize(self) -> None:
        self._draw_topbar()
        self._update_title()

    def _draw_topbar(self) -> None:
        """Brand, operator, who ingests, then each source: whole pieces that fit, most important first."""
        pieces: list = [Text(" mentiondesk ", "bold reverse"), Text(self.app.operator, "bold")]
        leadership = self.app.leadership
        if leadership is not None and leadership.is_leader:
            pieces.append(Text("· ingesting", "green"))
        elif self._holder is not None:
            pieces.append([Text(f"· ingest by {self._holder.holder}", "dim"), Text("· ingest elsewhere", "dim")])
        elif not self.app.adapters:
            pieces.append(Text("· no ingest running", "yellow"))
        now = self.app.clock()
        for status in self._statuses:
            state = status.state
            style = {"connected": "green", "auth failed": "bold red", "stopped": "red",
                     "rate-limited": "yellow", "reconnecting": "yellow"}.get(state, "cyan")
            short = Text(f"● {status.source} {state}", style)
            full = short.copy()
            if status.detail:
                full.append(f" ({status.detail})", "dim")
            if status.last_event_at:
                full.append(f" · last {age(status.last_event_at, now)} ago", "dim")
            pieces.append([full, short] if full.cell_len > short.cell_len else short)
        self.query_one("#topbar", Static).update(fit(pieces, self.size.width))

    def _update_title(self) -> None:
        """The list's own title (left pane) and the view bar (full width, every view and count)."""
        title = Text()
        if self.searching:
            title.append(f" Search · {compact_count(len(self.inbox.ids))} found", "bold")
        else:
            title.append(f" {VIEWS[self.view].label} · {compact_count(len(self.inbox.ids))}", "bold")
        if self.inbox.new_above:
            # Here, not in the view bar: a new-arrivals count never pushes a view off screen.
            title.append(f"  ↑ {compact_count(self.inbox.new_above)} new", "bold yellow")
        self.query_one("#inbox-title", Static).update(title)
        views = [(key, name, VIEWS[name].label) for key, name in VIEW_KEYS.items()]
        counts = {**self._counts}
        if not self.searching:
            counts.setdefault(self.view, len(self.inbox.ids))  # until the first count arrives
        self.query_one("#viewbar", Static).update(
            view_bar(views, counts, None if self.searching else self.view, self.size.width))

    async def load_view(self, view: str, *, keep_selection: bool = True) -> None:
        if not keep_selection:
            # First screenful now, the rest (a second for a million rows) right after.
            first = await self.db(view_ids, view, self.app.operator, FIRST_PAGE)
            self.view = view
            self.inbox.set_ids(first, keep_selection=False)
            self._update_title()
            if len(first) < FIRST_PAGE:
                return
        ids = await self.db(view_ids, view, self.app.operator)
        if self.searching or (not keep_selection and self.view != view):
            return
        self.view = view
        self.inbox.set_ids(ids, keep_selection=True)
        self._update_title()

    # -- messages from the inbox ------------------------------------------
    @on(InboxList.RowsWanted)
    async def fetch_rows(self, message: InboxList.RowsWanted) -> None:
        try:
            rows = await self.db(rows_by_id, message.ids, self.app.operator)
        except DATABASE_ERRORS as exc:
            self.database_trouble(exc)
            self.inbox.forget(set(message.ids))  # asked for again on the next draw
            return
        self.inbox.put_rows(rows, message.epoch)
        self._update_title()

    @on(InboxList.Highlighted)
    def selection_changed(self, message: InboxList.Highlighted) -> None:
        self.run_worker(self._load_detail(message.mention_id), group="detail", exclusive=True)

    async def _load_detail(self, mention_id: int | None) -> None:
        view = self.query_one(MentionView)
        if mention_id is None:
            view.show(None)
            return
        await asyncio.sleep(0)  # let a held key's next move cancel this load first
        try:
            detail = await self.db(mention_detail, mention_id, self.app.operator)
        except DATABASE_ERRORS as exc:
            self.database_trouble(exc)
            return
        if self.inbox.selected_id != mention_id:
            return
        if detail is not None and not detail.row.seen:
            try:
                await self.db(actions.mark_seen, mention_id, self.app.operator)
            except DATABASE_ERRORS as exc:
                self.database_trouble(exc)  # read-only: show it anyway, it stays "new"
            else:
                self.inbox.forget({mention_id})
                detail = replace(detail, row=replace(detail.row, seen=True))  # it is being read now
        if self.inbox.selected_id == mention_id:
            view.show(detail)

    # -- operator actions ----------------------------------------------------
    def _selected(self) -> int | None:
        mention_id = self.inbox.selected_id
        if mention_id is None:
            self.notify("No mention selected.", severity="warning")
        return mention_id

    async def _act(self, fn, *args, errors: tuple = (), **kwargs) -> object:
        """Run an action and sync; worded errors become a notification, except `errors`,
        which the caller answers itself."""
        try:
            result = await self.db(fn, *args, **kwargs)
        except errors:
            raise
        except actions.ActionError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return None
        except DATABASE_ERRORS as exc:
            self.database_trouble(exc)
            self.notify("Not saved: the database refused the write (see the banner).", severity="error",
                        markup=False)
            return None
        self._database_ok()
        await self.sync(force=True)
        return result

    async def action_tag(self, tag: str) -> None:
        if (mention_id := self._selected()) is not None:
            now_on = await self._act(actions.toggle_tag, mention_id, tag, self.app.operator)
            if now_on is not None:
                self.notify(f"{'Tagged' if now_on else 'Untagged'} {tag}", timeout=1.5)

    async def action_done(self) -> None:
        if (mention_id := self._selected()) is not None:
            status = await self._act(actions.toggle_done, mention_id, self.app.operator)
            if status:
                self.notify("Marked done" if status == "done" else "Reopened", timeout=1.5)

    async def action_view(self, view: str) -> None:
        if self.searching:
            self._leave_search(restore=False)
        try:
            await self.load_view(view, keep_selection=False)
        except DATABASE_ERRORS as exc:
            self.database_trouble(exc)

    def action_switch_pane(self) -> None:
        if self.inbox.has_focus:
            self.query_one(MentionView).focus()
        else:
            self.inbox.focus()

    # -- replying ----------------------------------------------------------------
    @work(group="dialog")
    async def action_reply(self) -> None:
        mention_id = self._selected()
        if mention_id is None:
            return
        row = self.inbox.row(mention_id)
        if row is None:
            self.notify("Still loading that mention.", severity="warning")
            return
        if not await self._open_claim(mention_id):
            return
        draft = self._drafts.get(mention_id)
        if draft is None and row.network == "mastodon":
            # Mastodon notifies only @-mentioned accounts, and the mention counts toward the limit.
            draft = f"{row.author_handle} "
        rule = await self.db(lambda store: self.app.rule_for(row.network, store, mention_id))
        self.query_one(ReplyComposer).open(mention_id, row.author_handle, rule, draft or "")

    async def _open_claim(self, mention_id: int) -> bool:
        """Claim the mention for this composer (asking before stepping on another's claim)
        and remember where its replies stood; False if the operator backed off."""
        operator = self.app.operator
        self._claimed.add(mention_id)  # from before the claim is written: quitting mid-way still releases it
        try:
            other = await self.db(desk.claim, mention_id, operator, self.claim_ttl)
            if other is not None:
                question = (f"{other.operator} is replying to this mention (since {self._when(other.at)}). "
                            "Reply anyway?")
                if not await self.app.push_screen_wait(Confirm(question)):
                    self._claimed.discard(mention_id)
                    return False
                await self.db(desk.take_claim, mention_id, operator, self.claim_ttl)
            self._opened_at[mention_id] = await self.db(actions.reply_mark, mention_id)
        except (sqlite3.Error, StoreError, actions.ActionError) as exc:
            self.notify(f"Could not claim the mention: {exc}", severity="error", markup=False)
            return False
        self.inbox.forget({mention_id})
        return True

    async def _renew_claim(self) -> None:
        """The heartbeat: a claim lives while its composer is open, and lapses when the console dies."""
        composer = self.query_one(ReplyComposer)
        if composer.display and composer.mention_id in self._claimed:
            try:
                other = await self.db(desk.claim, composer.mention_id, self.app.operator, self.claim_ttl)
            except (sqlite3.Error, StoreError, actions.ActionError):
                return  # the next renewal or the send will say so
            if other is not None:
                self._claimed.discard(composer.mention_id)
                self.notify(f"{other.operator} took over replying to this mention.", severity="warning",
                            markup=False)

    async def _release_claims(self, mention_ids: set[int], *, sync: bool = True) -> None:
        self._claimed -= mention_ids
        try:
            await self.db(desk.release_claims, sorted(mention_ids), self.app.operator)
            if sync:
                await self.sync(force=True)
        except (sqlite3.Error, StoreError):
            pass  # unreleased claims lapse within their ttl

    async def on_unmount(self) -> None:
        if self._claimed:
            await self._release_claims(set(self._claimed), sync=False)

    async def _refresh_sending(self) -> None:
        """Whether any process holds the leader lease, so queued replies are really going out."""
        try:
            alive = await self.app.searcher.run(current_holder) is not None
        except (sqlite3.Error, StoreError):
            return
        if alive != self.inbox.sender_alive:
            self.inbox.sender_alive = alive
            self.inbox.refresh()

    @work(group="dialog")
    async def action_send(self) -> None:
        composer = self.query_one(ReplyComposer)
        if not composer.display or composer.mention_id is None:
            return
        over = composer.over_limit()
        if over > 0:
            self.notify(f"Reply is {over} over the {composer.rule.limit} limit ({composer.rule.description}); "
                        "nothing sent.", severity="error", markup=False)
            return
        if not composer.text.strip():
            self.notify("The reply is empty; nothing sent.", severity="warning")
            return
        mention_id = composer.mention_id
        text, editing, operator = composer.text, composer.editing_reply, self.app.operator
        if editing is not None:
            def send(store, guard):
                return actions.retry_reply(store, editing, operator, text, guard=guard)
        else:
            def send(store, guard):
                return actions.queue_reply(store, mention_id, text, operator, guard=guard)
        queued = await self._queue_guarded(send, self._opened_at.get(mention_id, 0))
        if queued is None:
            return
        self._drafts.pop(mention_id, None)
        composer.close()
        self.inbox.focus()
        await self._release_claims({mention_id})
        self.app.wake_sender()
        await self._load_detail(mention_id)
        self.notify("Reply queued for sending.", timeout=2)

    async def _queue_guarded(self, send, since_reply: int) -> object:
        """Run `send(guard)` (queue, or resend a failed reply), asking about every reply or claim
        that appeared since `since_reply`; the store re-checks at the moment of queuing."""
        guard = actions.ReplyGuard(since_reply=since_reply)
        while True:
            try:
                return await self._act(send, guard, errors=GUARD_ERRORS)
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

    @work(group="dialog")
    async def action_retry(self) -> None:
        mention_id = self._selected()
        if mention_id is None:
            return
        detail = self.query_one(MentionView).detail
        failed = [r for r in (detail.replies if detail and detail.row.id == mention_id else [])
                  if r.state == "failed"]
        if not failed:
            self.notify("No failed reply on this mention.", severity="warning")
            return
        reply_id, operator = failed[-1].id, self.app.operator
        # Anything answered after the failed attempt makes a resend a second reply: ask first.
        if await self._queue_guarded(
                lambda store, guard: actions.retry_reply(store, reply_id, operator, guard=guard),
                reply_id) is not None:
            self.app.wake_sender()
            await self._load_detail(mention_id)

    @work(group="dialog")
    async def action_edit_failed(self) -> None:
        mention_id = self._selected()
        if mention_id is None:
            return
        detail = self.query_one(MentionView).detail
        failed = [r for r in (detail.replies if detail and detail.row.id == mention_id else []) if r.state == "failed"]
        row = self.inbox.row(mention_id)
        if not failed or row is None:
            self.notify("No failed reply on this mention.", severity="warning")
            return
        # Opening it counts like `r`: replies that exist now (the failed one too) are known.
        if not await self._open_claim(mention_id):
            return
        composer = self.query_one(ReplyComposer)
        rule = await self.db(lambda store: self.app.rule_for(row.network, store, mention_id))
        composer.open(mention_id, row.author_handle, rule, failed[-1].text)
        composer.editing_reply = failed[-1].id

    def action_back(self) -> None:
        composer = self.query_one(ReplyComposer)
        if composer.display and composer.mention_id is not None:
            draft = composer.text
            if draft.strip():
                self._drafts[composer.mention_id] = draft
                self.notify("Draft kept: r reopens it.", timeout=2)
            mention_id = composer.mention_id
            composer.close()
            self.inbox.focus()
            self.run_worker(self._release_claims({mention_id}), group="claims")
        elif self.searching:
            self._leave_search(restore=True)

    # -- search --------------------------------------------------------------------
    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        if not self.searching:
            self._before_search = (self.view, self.inbox.selected_id)
            self.searching = True
            box.display = True
        box.focus()

    def _leave_search(self, *, restore: bool) -> None:
        box = self.query_one("#search", Input)
        box.display = False
        self.searching = False
        self.inbox.focus()
        if restore and self._before_search:
            self.run_worker(self.load_view(self._before_search[0]), group="view", exclusive=True)

    @on(Input.Changed, "#search")
    def search_changed(self, event: Input.Changed) -> None:
        self.search_text = event.value
        self._schedule_search()

    @on(Input.Submitted, "#search")
    def search_submitted(self) -> None:
        self.inbox.focus()

    def _schedule_search(self, *, refresh: bool = False) -> None:
        """Run the query; `refresh` (new mentions arrived) keeps the operator's selection."""
        self._search_seq += 1
        self.run_worker(self._search(self._search_seq, self.search_text, keep_selection=refresh),
                        group="search", exclusive=True)

    async def _search(self, seq: int, text: str, *, keep_selection: bool = False) -> None:
        from store.search import search

        await asyncio.sleep(0.08)  # typing: only the last keystroke's query runs
        try:
            if not text.strip():
                ids = await self.db(view_ids, self.view, self.app.operator)
                spans = {}
            else:
                # Searching as the operator types: the last word may be unfinished.
                hits = await self.app.searcher.run(search, text, limit=200,
                                                   complete_last=not text[-1:].isspace())
                ids = [hit.mention_id for hit in hits]
                spans = {hit.mention_id: hit.spans for hit in hits}
        except (sqlite3.Error, StoreError) as exc:
            self.notify(f"Search failed, database unreachable: {exc}", severity="error", markup=False)
            return
        if seq != self._search_seq or not self.searching:
            return
        self.inbox.set_ids(ids, spans=spans, keep_selection=keep_selection)
        self._update_title()

    # -- the shared desk -------------------------------------------------------------
    @work(group="dialog")
    async def action_note(self) -> None:
        mention_id = self._selected()
        if mention_id is None:
            return
        text = await self.app.push_screen_wait(AskNote(f"Internal note on #{mention_id} (never sent)"))
        if text and text.strip():
            if await self._act(desk.add_note, mention_id, text, self.app.operator) is not None:
                self.notify("Note saved.", timeout=1.5)

    @work(group="dialog")
    async def action_assign(self) -> None:
        mention_id = self._selected()
        if mention_id is None:
            return
        row = self.inbox.row(mention_id)
        current = row.assignee if row and row.assignee else self.app.operator
        name = await self.app.push_screen_wait(
            AskText(f"Assign #{mention_id} to (empty: unassign)", value=current, placeholder="operator"))
        if name is None:
            return
        name = name.strip()
        try:
            changed = await self._act(desk.assign, mention_id, name or None, self.app.operator,
                                      errors=(desk.UnknownOperator,))
        except desk.UnknownOperator:
            question = f"Nobody called {name!r} has used this desk yet (a typo?). Assign to {name!r} anyway?"
            if not await self.app.push_screen_wait(Confirm(question)):
                return
            changed = await self._act(desk.assign, mention_id, name, self.app.operator, allow_new=True)
        if changed:
            self.notify(f"Assigned to {name}" if name else "Unassigned", timeout=1.5, markup=False)

    @work(group="dialog")
    async def action_handover(self) -> None:
        report = await self.db(handover_report, self._session_since)
        answer = await self.app.push_screen_wait(ShowText("Shift handover", format_report(report, self._when)))
        if answer == "note":
            text = await self.app.push_screen_wait(AskNote("Handover note for the next shift"))
            if text and text.strip():
                if await self._act(desk.leave_handover_note, text, self.app.operator) is not None:
                    self.notify("Handover note left.", timeout=2)

    def _when(self, moment: str) -> str:
        return clock_time(moment, self.app.clock())

    def _handover_since(self, store) -> str:
        """Since this operator last acted before this session, else the last 12 hours."""
        last = desk.last_seen_by(store, self.app.operator)
        fallback = iso(store.clock() - timedelta(hours=12))
        return last if last and last > fallback else fallback

    async def _greet(self) -> None:
        """Show the handover notes left since this operator was last here."""
        notes = await self.db(desk.handover_notes_since, self._session_since)
        others = [note for note in notes if note.operator != self.app.operator]
        if others:
            body = "\n\n".join(f"{note.operator} at {self._when(note.at)}:\n{note.text}" for note in others)
            await self.app.push_screen_wait(ShowText("Handover notes for you", body))
