"""The operator's shift: everything a screen asks of the desk, typed, bound once.

A `Shift` knows who is at the keys, what time it is, which store threads to use
and whether this console leads ingest; screens call its async methods and never
pass the operator or pick a store thread themselves. Reads that may be slow
(search, counts, the lease) go to the search thread so they never queue behind
an action.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from adapters.base import Adapter, TextRule
from adapters.rules import rule_for, rule_for_mention
from store import actions, bulk, desk, drafts, preferences, snooze_undo
from store import saved_replies as replies_store
from store import snooze as snoozing
from store.changes import Changes, Marks, marks_now, poll
from store.db import Store, iso
from store.inbox import (
    InboxRow,
    MentionDetail,
    mention_detail,
    rows_by_id,
    view_counts,
    view_ids_after,
    view_ids_between,
)
from store.inbox_window import IdPage, view_page, view_slice
from store.incidents import Incident, list_incidents
from store.incidents import rename as rename_incident
from store.incidents import set_state as set_incident_state
from store.lease import LeaseHolder, current_holder
from store.saved_views import SAVED_PREFIX, SavedView, remove_view, save_view, saved_view_ids, saved_views
from store.sla import SlaPolicy
from store.sla_desk import SET_ACTION as SLA_SET
from store.sla_desk import Seeded, stored_policy
from store.undo import Undone, undo_last
from store.worker import StoreWorker

if TYPE_CHECKING:
    from array import array

    from textual.dom import DOMNode

    from adapters.runtime.leader import Leadership
    from store.groups import GroupSummary
    from store.handover import HandoverReport
    from store.pg_listen import ChangeFeed
    from store.reports import Report
    from store.search import Hit
    from store.source_status import SourceStatus
    from tui.app import ConsoleApp
    from tui.widgets.id_window import Wanted


class Shift:
    def __init__(self, *, operator: str, clock: Callable[[], datetime], db_path: str, store: StoreWorker,
                 searcher: StoreWorker, adapters: list[Adapter], sla: SlaPolicy | None = None,
                 reply_recall: float = 0.0) -> None:
        self.operator = operator
        self.config_sla = sla or SlaPolicy()  # this console's [sla]: seeds a desk that has no policy yet
        self.sla = self.config_sla  # the desk's one policy once read (sync_sla): clocks, handover, reports
        self.reply_recall = reply_recall  # seconds a queued reply can be recalled with `u`
        self.clock = clock
        self.db_path = db_path
        self.store = store  # actions and the change feed
        self.searcher = searcher  # slow reads: search, counts, the lease
        self._adapters = adapters  # the app's list: network adapters join it once the loop runs
        self.leadership: Leadership | None = None  # set by the app when it contends for ingest
        # Whether the desk is known unchanged since a time.monotonic() moment: on PostgreSQL the main
        # screen's pushed feed knows (tui/refresher.py), and widgets polling the desk skip a read.
        self.unchanged_since: Callable[[float], bool] = lambda _moment: False

    # -- who ingests ---------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        return self.leadership is not None and self.leadership.is_leader

    @property
    def has_adapters(self) -> bool:
        return bool(self._adapters)

    def wake_sender(self) -> None:
        if self.leadership is not None:
            self.leadership.wake_sender()

    async def ingest_holder(self) -> LeaseHolder | None:
        return await self.searcher.run(current_holder)

    async def source_statuses(self) -> list[SourceStatus]:
        from store.source_status import source_statuses

        return await self.searcher.run(source_statuses)

    # -- the inbox ------------------------------------------------------------------
    async def marks(self) -> Marks:
        return await self.store.run(marks_now)

    async def changes(self, marks: Marks, *, force: bool = False) -> Changes:
        """What changed since `marks`; snoozes that are due wake first (any console may wake them)."""
        operator, wake = self.operator, self.store.read_only_reason is None

        def wake_and_poll(store: Store) -> tuple[Changes, SlaPolicy | None]:
            woke = bool(wake and snoozing.wake_due(store))
            # This connection's own commit does not move data_version: look anyway when it woke some.
            changes = poll(store, marks, force=force or woke, operator=operator)
            return changes, stored_policy(store) if SLA_SET in changes.actions else None

        changes, policy = await self.store.run(wake_and_poll)
        if policy:  # someone ran `mentiondesk sla set`: this console's clocks follow at once
            self.sla = policy
        return changes

    def change_feed(self) -> ChangeFeed | None:
        """The desk's commits as they happen (PostgreSQL's LISTEN), or None: on SQLite the console polls."""
        from store.pg_open import is_url

        if not is_url(self.db_path):
            return None
        from store.pg_listen import ChangeFeed

        return ChangeFeed(self.db_path)

    async def view_page(self, view: str, *, around: int | None = None, newer_than: int | None = None,
                        oldest_first: bool = False) -> IdPage:
        return await self.store.run(view_page, view, self.operator, around=around, newer_than=newer_than,
                                    oldest_first=oldest_first)

    async def view_slice(self, view: str, wanted: Wanted, total: int, newest: int | None, *,
                         oldest_first: bool = False) -> IdPage:
        return await self.store.run(view_slice, view, self.operator, start=wanted.start, limit=wanted.limit,
                                    total=total, below=wanted.below, above=wanted.above, newest=newest,
                                    oldest_first=oldest_first)

    async def saved_view_ids(self, view: str, *, oldest_first: bool = False) -> array:
        """A saved view's ids, whole (its search: on the search thread)."""
        return await self.searcher.run(saved_view_ids, view.removeprefix(SAVED_PREFIX), oldest_first=oldest_first)

    async def view_ids_after(self, view: str, after_id: int) -> list[int]:
        """Ids in the view newer than `after_id`, newest first."""
        if view.startswith(SAVED_PREFIX):
            return [mention_id for mention_id in await self.saved_view_ids(view) if mention_id > after_id]
        return await self.store.run(view_ids_after, view, after_id, self.operator)

    async def view_ids_between(self, view: str, first: int, last: int) -> list[int]:
        """Ids in the view from `first` to `last`, both included, loaded in the list or not."""
        if view.startswith(SAVED_PREFIX):
            low, high = sorted((first, last))
            return [mention_id for mention_id in await self.saved_view_ids(view) if low <= mention_id <= high]
        return await self.store.run(view_ids_between, view, first, last, self.operator)

    async def view_counts(self) -> dict[str, int]:
        return await self.searcher.run(view_counts, self.operator)

    async def rows(self, ids: list[int]) -> dict[int, InboxRow]:
        return await self.store.run(rows_by_id, ids, self.operator)

    async def detail(self, mention_id: int) -> MentionDetail | None:
        return await self.store.run(mention_detail, mention_id, self.operator)

    async def mark_seen(self, mention_id: int) -> bool:
        return await self.store.run(actions.mark_seen, mention_id, self.operator)

    async def search(self, text: str, *, limit: int = 200, complete_last: bool = False) -> list[Hit]:
        from store.search import search

        return await self.searcher.run(search, text, limit=limit, complete_last=complete_last)

    # -- saved views and the operator's order of each view ------------------------------------
    async def saved_views(self) -> list[SavedView]:
        return await self.searcher.run(saved_views)

    async def saved_view_counts(self, views: list[SavedView]) -> dict[str, int]:
        """Each saved view's count (a search each: on the search thread, so actions never wait)."""
        def count(store: Store) -> dict[str, int]:
            return {view.view: len(saved_view_ids(store, view.name)) for view in views}

        return await self.searcher.run(count)

    async def save_view(self, name: str, query: str, *, replace: bool = False) -> SavedView:
        return await self.store.run(save_view, name, query, self.operator, replace=replace)

    async def remove_view(self, name: str) -> SavedView:
        return await self.store.run(remove_view, name, self.operator)

    async def preference(self, name: str) -> str | None:
        return await self.store.run(preferences.preference, self.operator, name)

    async def set_preference(self, name: str, value: str | None) -> None:
        await self.store.run(preferences.set_preference, self.operator, name, value)

    async def oldest_first_views(self) -> frozenset[str]:
        return await self.store.run(preferences.oldest_first_views, self.operator)

    async def set_oldest_first(self, view: str, oldest_first: bool) -> bool:
        await self.store.run(preferences.set_oldest_first, self.operator, view, oldest_first)
        return oldest_first

    # -- triage -----------------------------------------------------------------------
    async def change(self, field: str, mention_ids: list[int], value: object = bulk.TOGGLE) -> bulk.Outcome:
        """Tag, done (a store.fields field) on one or many mentions: one transaction, one undo entry."""
        return await self.store.run(bulk.change, self.operator, field, mention_ids, value)

    async def undo(self) -> Undone:
        """Put back this operator's last action (from any of their consoles or the CLI)."""
        return await self.store.run(undo_last, self.operator)

    # -- replying ----------------------------------------------------------------------
    async def claim(self, mention_id: int, ttl: timedelta, *, take: bool = False) -> desk.Claim | None:
        """Claim (or renew) for replying; another operator's live claim is returned, not taken,
        unless `take` (the operator confirmed)."""
        if take:
            await self.store.run(desk.take_claim, mention_id, self.operator, ttl)
            return None
        return await self.store.run(desk.claim, mention_id, self.operator, ttl)

    async def release_claims(self, mention_ids: set[int]) -> int:
        return await self.store.run(desk.release_claims, sorted(mention_ids), self.operator)

    async def reply_mark(self, mention_id: int) -> int:
        return await self.store.run(actions.reply_mark, mention_id)

    async def text_rule(self, network: str, mention_id: int) -> TextRule:
        """The server's stored rule for the mention's account (it also counts the @author the
        adapter adds), else the live adapter's, else the network's default."""
        live = {adapter.network: adapter.text_rule for adapter in self._adapters}

        def lookup(store: Store) -> TextRule:
            stored = rule_for_mention(store, mention_id, live)
            return stored if stored is not None else rule_for(network, live)

        return await self.store.run(lookup)

    async def queue_reply(self, mention_id: int, text: str, guard: actions.ReplyGuard) -> actions.QueuedReply:
        return await self.store.run(actions.queue_reply, mention_id, text, self.operator, guard=guard,
                                    recall=self.reply_recall)

    async def retry_reply(self, reply_id: int, guard: actions.ReplyGuard, text: str | None = None) -> int:
        return await self.store.run(actions.retry_reply, reply_id, self.operator, text, guard=guard)

    # -- the daily kit: drafts, saved replies, snooze -----------------------------------------
    async def load_draft(self, mention_id: int) -> str | None:
        return await self.store.run(drafts.load_draft, mention_id, self.operator)

    async def save_draft(self, mention_id: int, text: str) -> bool:
        return await self.store.run(drafts.save_draft, mention_id, self.operator, text)

    async def saved_replies(self) -> list[replies_store.SavedReply]:
        return await self.store.run(replies_store.list_replies)

    async def mention_values(self, mention_id: int) -> dict[str, str | None]:
        """What a saved reply's variables become for this mention."""
        found = await self.store.run(replies_store.mention_values, mention_id, self.operator)
        return found.mapping()

    async def save_reply(self, old_name: str | None, fields: dict) -> replies_store.SavedReply:
        """Add (no `old_name`) or edit a saved reply from the console's form."""
        if old_name is None:
            return await self.store.run(replies_store.add_reply, fields["name"], fields["body"], self.operator,
                                        lang=fields["lang"], tags=fields["tags"])
        return await self.store.run(replies_store.edit_reply, old_name, self.operator, new_name=fields["name"],
                                    body=fields["body"], lang=fields["lang"], tags=fields["tags"])

    async def remove_reply(self, name: str) -> None:
        await self.store.run(replies_store.remove_reply, name, self.operator)

    async def snooze(self, mention_ids: list[int], until: datetime) -> list[snoozing.SnoozeChange]:
        return await self.store.run(snooze_undo.snooze_undoably, mention_ids, until, self.operator)

    async def unsnooze(self, mention_ids: list[int]) -> list[snoozing.SnoozeChange]:
        return await self.store.run(snooze_undo.unsnooze_undoably, mention_ids, self.operator)

    # -- the shared desk -------------------------------------------------------------------
    async def register(self) -> None:
        await self.store.run(desk.register_operator, self.operator)

    async def add_note(self, mention_id: int, text: str) -> int:
        return await self.store.run(desk.add_note, mention_id, text, self.operator)

    async def assign(self, mention_ids: list[int], assignee: str | None, *, allow_new: bool = False) -> bulk.Outcome:
        return await self.store.run(bulk.assign, self.operator, mention_ids, assignee, allow_new=allow_new)

    async def handover_since(self) -> str:
        """Since this operator last acted before this session, else the last 12 hours."""
        operator = self.operator

        def since(store: Store) -> str:
            last = desk.last_seen_by(store, operator)
            fallback = iso(store.clock() - timedelta(hours=12))
            return last if last and last > fallback else fallback

        return await self.store.run(since)

    async def sync_sla(self, approve_over: int | None = None) -> Seeded:
        """Read the desk's SLA policy (seeding it from this console's [sla] if it has none) and go by it
        (and record its operator's bar for group answers, store.group_answers.desk_approve_over)."""
        from store.group_answers import record_approve_over
        from store.sla_desk import read_desk_sla  # off the start path, like reports

        # Its own connection: seeding re-keys the open mentions (6 s for 700k), and the console's store
        # thread must serve the first page meanwhile.
        worker = StoreWorker(self.db_path, clock=self.clock, name="sla")
        try:
            if approve_over is not None:
                await worker.run(record_approve_over, self.operator, approve_over)
            seeded = await worker.run(read_desk_sla, self.config_sla, self.operator)
            self.sla = seeded.desk.policy
            return seeded
        finally:
            await asyncio.to_thread(worker.close)

    async def handover_report(self, since: str) -> HandoverReport:
        from store.handover import handover_report  # here: reports load when first asked for, not at start

        def report(store: Store) -> HandoverReport:
            return handover_report(store, since, self.operator, stored_policy(store) or self.sla)
        return await self.searcher.run(report)

    # -- flood mode: incidents and groups --------------------------------------------
    async def open_incidents(self) -> list[Incident]:
        return await self.searcher.run(list_incidents, include_closed=False, limit=10)

    async def groups(self) -> list[GroupSummary]:
        from store.groups import list_groups  # here: flood mode's modules load when first used, not at start

        return await self.searcher.run(list_groups)

    async def incident_state(self, incident_id: int, state: str) -> bool:
        return await self.store.run(set_incident_state, incident_id, state, self.operator)

    async def rename_incident(self, incident_id: int, title: str) -> None:
        await self.store.run(rename_incident, incident_id, title, self.operator)

    async def split_from_group(self, mention_id: int) -> int:
        from store.groups import split_member

        return await self.store.run(split_member, mention_id, self.operator)

    async def move_to_group(self, mention_id: int, group_id: int) -> None:
        from store.groups import move_member

        await self.store.run(move_member, mention_id, group_id, self.operator)

    async def merge_groups(self, source: int, target: int) -> int:
        from store.groups import merge_groups

        return await self.store.run(merge_groups, source, target, self.operator)

    async def report(self, since: str, by: str) -> Report:
        from store.reports import build_report

        return await self.searcher.run(lambda store: build_report(store, since, by=by,
                                                                  policy=stored_policy(store) or self.sla))

    async def handover_notes(self, since: str) -> list[desk.HandoverNote]:
        """Notes others left since `since`, oldest first."""
        notes = await self.store.run(desk.handover_notes_since, since)
        return [note for note in notes if note.operator != self.operator]

    async def leave_handover_note(self, text: str) -> int:
        return await self.store.run(desk.leave_handover_note, text, self.operator)


def console_of(node: DOMNode) -> ConsoleApp:
    """The console `node` is in: the typed way for screens and widgets to reach the app."""
    from tui.app import ConsoleApp  # at call time: the app module imports the screens

    app = node.app
    if not isinstance(app, ConsoleApp):
        raise TypeError(f"{node!r} is not in a ConsoleApp")
    return app
