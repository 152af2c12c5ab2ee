"""ConsoleApp: wiring only — store workers, ingest, sender, screens, keys."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import WorkerCancelled, WorkerFailed

from adapters.base import Adapter, TextRule
from adapters.rules import rule_for, rule_for_mention
from adapters.runtime.leader import Leadership, holder_name
from store.db import utc_now
from store.operators import check_operator
from store.worker import StoreWorker
from tui.dbtrouble import DATABASE_ERRORS
from tui.screens.help import HelpScreen
from tui.screens.main import VIEW_KEYS, MainScreen
from tui.terminal import HUNG_UP, TerminalWatch
from store.inbox import VIEWS
from tui.render import guard_terminal_output


# The screen's actions by name, for the command palette: (title, help, action).
PALETTE = [
    ("Toggle care tag", "Tag or untag the selected mention as care (c)", "tag('care')"),
    ("Toggle marketing tag", "Tag or untag the selected mention as marketing (m)", "tag('marketing')"),
    ("Mark done / reopen", "Close or reopen the selected mention (e)", "done"),
    ("Reply", "Open the reply composer (r)", "reply"),
    ("Search", "Fuzzy search the whole history (/)", "search"),
    ("Retry failed reply", "Send the latest failed reply again (R)", "retry"),
    ("Edit failed reply", "Edit the latest failed reply and send it again (E)", "edit_failed"),
    ("Internal note", "Add a note for the team, never sent (n)", "note"),
    ("Assign", "Assign the selected mention to an operator (a)", "assign"),
    ("Shift handover", "What the next shift needs to know; leave a note (H)", "handover"),
]


class ConsoleApp(App):
    TITLE = "mentiondesk"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", id="help"),
    ]

    def __init__(self, db_path: str, *, operator: str, adapters: Iterable[Adapter] = (),
                 clock: Callable[[], datetime] = utc_now, poll_interval: float = 0.3,
                 sender_poll: float = 1.0, leader_ttl: float | None = None,
                 adapter_factory: Callable[[Callable[[], object]], list[Adapter]] | None = None,
                 watch_terminal: bool = False, reply_deadline: float | None = None) -> None:
        guard_terminal_output()  # before any widget renders a string
        super().__init__()
        self._reply_deadline = reply_deadline
        self.db_path = db_path
        self.operator = check_operator(operator)  # shown in every other console: same rule as the CLI
        self.adapters = list(adapters)
        self.clock = clock
        self.poll_interval = poll_interval
        self._sender_poll = sender_poll
        self.store = StoreWorker(db_path, clock=clock, name="ui-store")
        self.searcher = StoreWorker(db_path, clock=clock, name="search")
        self._ingest_store: StoreWorker | None = None
        self.leadership: Leadership | None = None
        self._leader_worker = None
        self._leader_ttl = leader_ttl
        self._adapter_factory = adapter_factory
        self._session = None  # an aiohttp.ClientSession, made only if a network adapter needs one
        self._watch_terminal = watch_terminal

    def get_default_screen(self) -> Screen:
        return MainScreen()

    async def on_mount(self) -> None:
        if self._watch_terminal:
            watch = TerminalWatch(self._terminal_lost)
            watch.install(asyncio.get_running_loop())
            self.set_interval(0.5, watch.check)
        if self._adapter_factory is not None:
            # aiohttp sessions belong to the running loop: build network adapters here.
            self.adapters += self._adapter_factory(self._http_session)
        if self.adapters:
            # Every console contends for the ingest lease; only the holder runs
            # the adapters and the sender, so two consoles never double-ingest.
            self._ingest_store = StoreWorker(self.db_path, clock=self.clock, name="ingest")
            options = {"ttl": self._leader_ttl} if self._leader_ttl else {}
            if self._reply_deadline:
                options["reply_deadline"] = self._reply_deadline
            self.leadership = Leadership(self._ingest_store, self.adapters, holder=holder_name(self.operator),
                                         sender_poll=self._sender_poll, **options)
            self._leader_worker = self.run_worker(self.leadership.run(), group="leadership", exit_on_error=False)

    async def on_unmount(self) -> None:
        if self.leadership:
            # Hand the lease on cleanly; other workers (a detail load, a dialog) are just cancelled.
            self.leadership.stop()
            try:
                await self._leader_worker.wait()
            except (WorkerCancelled, WorkerFailed):
                pass  # shutdown cancelled it first: the lease lapses within its ttl
        if self._session is not None:
            await self._session.close()
        for worker in (self.store, self.searcher, self._ingest_store):
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
        super()._handle_exception(error)

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

    def rule_for(self, network: str, store=None, mention_id: int | None = None) -> TextRule:
        """With `store` (on the store thread) and `mention_id`: the server's stored rule for that
        mention's account, which also counts the @author the adapter adds."""
        live = {adapter.network: adapter.text_rule for adapter in self.adapters}
        if store is not None and mention_id is not None:
            stored = rule_for_mention(store, mention_id, live)
            if stored is not None:
                return stored
        return rule_for(network, live)

    def wake_sender(self) -> None:
        if self.leadership:
            self.leadership.wake_sender()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, MainScreen):
            return
        run = screen.run_action
        for title, help_text, action in PALETTE:
            yield SystemCommand(title, help_text, lambda action=action: self.call_later(run, action))
        for key, name in VIEW_KEYS.items():
            yield SystemCommand(f"View: {VIEWS[name].label}", f"Show the {name} quick view ({key})",
                                lambda name=name: self.call_later(run, f"view('{name}')"))
        yield SystemCommand("Keys", "Show every key (?)", self.action_help)
