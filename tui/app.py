"""ConsoleApp: wiring only — store workers, ingest, sender, screens, keys."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.worker import Worker, WorkerCancelled, WorkerFailed, active_worker

from adapters.base import Adapter
from store.actions import ActionError
from store.db import utc_now
from store.group_answers import APPROVE_OVER
from store.operators import check_operator
from store.sla import SlaPolicy
from store.worker import StoreWorker
from tui import answer_keys
from tui.actions import ACTIONS, bindings, resolve_keymap
from tui.dbtrouble import DATABASE_ERRORS
from tui.refresher import QUIET_POLL
from tui.render import guard_terminal_output
from tui.screens.main import MainScreen
from tui.shift import Shift
from tui.terminal import HUNG_UP, TerminalWatch
from tui.themes import ThemeMemory

if TYPE_CHECKING:
    from adapters.runtime.leader import Leadership
    from store.triage import Triage

# Ingest's threads run Python too (parsing, sanitizing, tokenizing 2,000 mentions a second);
# a key waiting for the GIL behind them waits up to one switch interval per hop (5 ms by default).
GIL_SWITCH_S = 0.001
# The screen's and search's connections read; only ingest's inserts need the big cache (store.db).
# Each cache fills as a storm grows the file: 8 + 8 + 16 MB is the console's ceiling for them.
READER_CACHE_KIB = 8 * 1024


class ConsoleApp(App):
    TITLE = "mentiondesk"
    CSS_PATH = "app.tcss"
    BINDINGS = bindings("app")

    def __init__(self, db_path: str, *, operator: str, adapters: Iterable[Adapter] = (),
                 clock: Callable[[], datetime] = utc_now, poll_interval: float = 0.3, quiet_poll: float = QUIET_POLL,
                 sender_poll: float = 1.0, leader_ttl: float | None = None,
                 adapter_factory: Callable[[Callable[[], object]], list[Adapter]] | None = None,
                 watch_terminal: bool = False, reply_deadline: float | None = None,
                 keymap: Mapping[str, str] | None = None, sla: SlaPolicy | None = None,
                 reply_recall: float = 0.0, triage: Triage | Callable[[], Triage] | None = None,
                 theme: str | None = None, approve_over: int = APPROVE_OVER) -> None:
        guard_terminal_output()  # before any widget renders a string
        # Checked before anything starts: a bad keymap is one line (KeymapError), not a console.
        keys = resolve_keymap(keymap)
        super().__init__()
        self.keys = keys  # action id → its keys, for help and the palette
        if theme is not None:
            self.theme = theme  # before the first paint; the operator's remembered choice may follow
        self._themes = ThemeMemory(self, theme)
        if keymap:
            self.set_keymap({action_id: self.keys[action_id] for action_id in keymap})
        self._reply_deadline = reply_deadline
        self.db_path = db_path
        self.operator = check_operator(operator)  # shown in every other console: same rule as the CLI
        self.adapters = list(adapters)
        self.clock = clock
        self.poll_interval = poll_interval
        self.quiet_poll = quiet_poll  # the poll's pace while PostgreSQL pushes the desk's changes
        self._sender_poll = sender_poll
        self._ingest_store: StoreWorker | None = None
        self.shift = Shift(operator=self.operator, clock=clock, db_path=db_path,
                           store=StoreWorker(db_path, clock=clock, name="ui-store", read_only_fallback=True,
                                             cache_kib=READER_CACHE_KIB),
                           searcher=StoreWorker(db_path, clock=clock, name="search", read_only_fallback=True,
                                                cache_kib=READER_CACHE_KIB), adapters=self.adapters,
                           sla=sla or SlaPolicy(), reply_recall=reply_recall)
        self.leadership: Leadership | None = None
        self._leader_worker: Worker[None] | None = None
        self._leader_ttl = leader_ttl
        self._adapter_factory = adapter_factory
        self._session = None  # an aiohttp.ClientSession, made only if a network adapter needs one
        self._watch_terminal = watch_terminal
        # Signals and rules at ingest, while this console leads; a function builds them only then
        # (the rules' modules are not on the start path of a console that does not lead).
        self._triage = triage
        self.approve_over = approve_over  # group answers to more people need a second operator

    def get_default_screen(self) -> Screen:
        return MainScreen()

    async def on_mount(self) -> None:
        sys.setswitchinterval(GIL_SWITCH_S)
        self.run_worker(self._themes.start(), group="theme")
        self.run_worker(self._sync_sla(), group="sla", exit_on_error=False)
        if self._watch_terminal:
            watch = TerminalWatch(self._terminal_lost)
            watch.install(asyncio.get_running_loop())
            self.set_interval(0.5, watch.check)
        if self._adapter_factory is not None:
            # aiohttp sessions belong to the running loop: build network adapters here.
            self.adapters.extend(self._adapter_factory(self._http_session))  # the shift's list too
        if self.adapters:
            # Every console contends for the ingest lease; only the holder runs
            # the adapters and the sender, so two consoles never double-ingest.
            # Only a console with networks leads: the runtime (adapters, sender, flood watch) loads here.
            from adapters.runtime.leader import LEASE_TTL, REPLY_DEADLINE, Leadership, holder_name

            self._ingest_store = StoreWorker(self.db_path, clock=self.clock, name="ingest")
            if callable(self._triage):
                self._triage = self._triage()
            self.leadership = Leadership(self._ingest_store, self.adapters, holder=holder_name(self.operator),
                                         sender_poll=self._sender_poll, ttl=self._leader_ttl or LEASE_TTL,
                                         reply_deadline=self._reply_deadline or REPLY_DEADLINE,
                                         runner_options={"triage": self._triage} if self._triage else None)
            self.shift.leadership = self.leadership
            self._leader_worker = self.run_worker(self.leadership.run(), group="leadership", exit_on_error=False)

    async def _sync_sla(self) -> None:
        try:
            seeded = await self.shift.sync_sla(self.approve_over)  # the bar counts desk-wide (desk_approve_over)
        except DATABASE_ERRORS:
            return  # a read-only desk keeps the order its last writer set
        if notice := seeded.notice():  # the desk's policy stands: this config does not re-key it
            self.notify(notice, title="SLA", severity="warning", timeout=10, markup=False)

    async def on_unmount(self) -> None:
        if self.leadership and self._leader_worker:
            # Hand the lease on cleanly; other workers (a detail load, a dialog) are just cancelled.
            self.leadership.stop()
            try:
                await self._leader_worker.wait()
            except (WorkerCancelled, WorkerFailed):
                pass  # shutdown cancelled it first: the lease lapses within its ttl
        if self._session is not None:
            await self._session.close()
        for worker in (self.shift.store, self.shift.searcher, self._ingest_store):
            if worker is not None:
                worker.close()

    def _handle_exception(self, error: Exception) -> None:
        # Textual's hook for an unhandled error ends the app with a traceback. A database error
        # in a worker (a dialog's read, a claim) must not: the banner says it, the console goes on.
        cause = error.error if isinstance(error, WorkerFailed) else None
        main = self.screen_stack[0] if self.screen_stack else None
        if isinstance(cause, DATABASE_ERRORS) and isinstance(main, MainScreen):
            main.database_trouble(cause)
            return
        if isinstance(cause, NoMatches) and self._removing(active_worker.get(None)):
            return  # a worker finishing as its widget goes (a dialog closing, the console quitting)
        super()._handle_exception(error)

    def _removing(self, worker: Worker | None) -> bool:
        """Whether the console or the worker's widget is being taken down.

        Textual removes a widget's children before it cancels the widget's workers: a read that
        returns in between finds nothing to draw on. That is the end of the work, not a crash.
        """
        if not self._running:
            return True
        node = worker.node if worker is not None else None
        return node is not None and node is not self and (
            node._pruning or node._closing or node._closed or not node.is_attached)

    def _terminal_lost(self, reason: str) -> None:
        # Nobody is looking any more: leave now, through on_unmount (lease and claims released).
        self.exit(return_code=HUNG_UP)

    def _http_session(self):
        """The shared HTTP session, created on first use: aiohttp costs ~0.4 s to import,
        which a console on the demo stream alone should not pay at start."""
        if self._session is None:
            import aiohttp

            from adapters.http import USER_AGENT

            self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        return self._session

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen  # the table of keys is built when first asked for

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_flood(self) -> None:
        from tui.screens.flood import FloodScreen

        if not isinstance(self.screen, FloodScreen):
            self.push_screen(FloodScreen(), self._open_group)

    def action_demo_flood(self) -> None:
        """Start the demo's flood now, if this console runs the demo stream (it leads ingest)."""
        from adapters.demo.adapter import DemoAdapter

        demos = [a for a in self.adapters if isinstance(a, DemoAdapter)]
        if not demos or not self.shift.is_leader:
            self.notify("Only the console running the demo stream (the ingest leader) can start its flood; "
                        "or start one with: mentiondesk --demo-flood", severity="warning", timeout=6, markup=False)
            return
        demos[0].start_flood(demos[0].next_seq + 3)
        self.notify("Demo flood started: a cancelled festival day. Watch the incident banner, then F.", timeout=5)

    def _open_group(self, group_id: int | None) -> None:
        """A group chosen on the flood screen: its members in the split view, as a search."""
        from tui.screens.main import MainScreen

        if group_id is not None and isinstance(self.screen, MainScreen):
            bar = self.screen.search_bar
            bar.start(self.screen.view)
            bar.value = f"group:{group_id} "

    def _selected_mention(self) -> int | None:
        from tui.screens.main import MainScreen

        return self.screen.inbox.selected_id if isinstance(self.screen, MainScreen) else None

    @work(group="dialog")
    async def action_group_split(self) -> None:
        if (mention_id := self._selected_mention()) is None:
            return
        try:
            group_id = await self.shift.split_from_group(mention_id)
        except ActionError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        self.notify(f"#{mention_id} is now group {group_id}; mentions like it will join it.", timeout=3)

    @work(group="dialog")
    async def action_group_move(self) -> None:
        from tui.screens.dialogs import AskText

        if (mention_id := self._selected_mention()) is None:
            return
        answer = await self.push_screen_wait(AskText(f"Move #{mention_id} to group (id)", placeholder="group id"))
        if not answer or not answer.strip().isdigit():
            return
        try:
            await self.shift.move_to_group(mention_id, int(answer))
        except ActionError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        self.notify(f"#{mention_id} moved to group {answer.strip()}; mentions like it will follow.", timeout=3,
                    markup=False)

    @work(group="dialog")
    async def action_group_answer(self) -> None:
        await answer_keys.answer(self, self.approve_over)

    @work(group="dialog")
    async def action_answer_pause(self) -> None:
        await answer_keys.pause_or_resume(self)

    @work(group="dialog")
    async def action_answer_cancel(self) -> None:
        await answer_keys.cancel(self)

    @work(group="dialog")
    async def action_answer_approve(self) -> None:
        await answer_keys.approve(self)

    def action_reports(self) -> None:
        from tui.screens.reports import ReportsScreen  # plotext loads on first use, not at start

        if not isinstance(self.screen, ReportsScreen):
            self.push_screen(ReportsScreen())

    def keys_shown(self, action_id: str) -> list[str]:
        """An action's keys as the footer writes them (`^s`, `/`), after the keymap."""
        return [self.get_key_display(Binding(key, "")) for key in self.keys[action_id].split(",")]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, MainScreen):
            return
        for action in ACTIONS:
            if action.palette is None:
                continue
            keys = ", ".join(self.keys_shown(action.id))
            help_text = f"{action.description[:1].upper()}{action.description[1:]} ({keys})"
            target = {"app": self, "composer": screen.composer}.get(action.scope, screen)
            yield SystemCommand(action.palette, help_text,
                                lambda a=action.action, t=target: self.call_later(t.run_action, a))
