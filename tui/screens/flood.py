"""Flood mode's screen: the open incidents and the near-duplicate groups; enter opens a group in the split view."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from store.actions import ActionError
from store.group_answers import answers_in_flight
from store.groups import GroupSummary
from store.incidents import Incident
from tui.actions import app_bindings
from tui.dbtrouble import DATABASE_ERRORS
from tui.render import clock_time
from tui.screens.dialogs import AskText
from tui.shift import console_of
from tui.widgets.incident_banner import answer_line

ANSWERS_POLL_S = 1.0


def _one_line(text: Text, width: int) -> Text:
    text.truncate(max(10, width), overflow="ellipsis")
    return text


class FloodScreen(ModalScreen[int | None]):
    """Dismisses with a group id to open (its members in the split view), or None."""

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("a", "incident('acknowledged')", "Acknowledge"),
        Binding("x", "incident('closed')", "Close incident"),
        Binding("t", "rename", "Rename"),
        Binding("M", "merge", "Merge group"),
        Binding("tab", "app.focus_next", "Switch list", show=False),
        *app_bindings("group-answer", "answer-pause", "answer-cancel", "answer-approve"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._incidents: list[Incident] = []
        self._groups: list[GroupSummary] = []
        self._answer_lines: list[tuple[int, Text]] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="flood"):
            yield Static(Text("Incidents", style="bold"))
            yield OptionList(id="flood-incidents")
            yield Static(Text("Groups (same complaint, other words) — enter opens one", style="bold"))
            yield OptionList(id="flood-groups")
            yield Static(Text("Group answers", style="bold"))
            yield OptionList(id="flood-answers")
            yield Static(Text("enter: open group · A: answer group · a: acknowledge · x: close incident · t: rename · "
                              "M: merge group · P: pause/resume answer · C: cancel · ctrl+o: approve · tab: switch · "
                              "esc", style="dim"))

    def on_mount(self) -> None:
        self.load()
        self.set_interval(ANSWERS_POLL_S, self.load_answers)

    async def load_answers(self) -> None:
        """The answers in flight and their progress, kept current while the screen is open."""
        try:
            found = await console_of(self).shift.searcher.run(answers_in_flight)
        except DATABASE_ERRORS:
            return
        lines = [(progress.answer.id, answer_line(progress, console_of(self).shift.operator)) for progress in found]
        if lines == self._answer_lines:
            return
        self._answer_lines = lines
        options = self.query_one("#flood-answers", OptionList)
        keep = options.highlighted
        options.clear_options()
        for answer_id, line in lines:
            options.add_option(Option(_one_line(line, options.size.width - 4), id=f"a{answer_id}"))
        if not lines:
            options.add_option(Option(Text("none in flight: A answers the highlighted group", style="dim"),
                                      disabled=True))
        elif keep is not None:
            options.highlighted = min(keep, len(lines) - 1)

    def highlighted_group(self) -> int | None:
        return self._current("#flood-groups")

    def highlighted_answer(self) -> int | None:
        """The answer under the cursor, when the answers list has the focus."""
        if self.focused is not self.query_one("#flood-answers"):
            return None
        return self._current("#flood-answers")

    @work(exclusive=True, group="flood")
    async def load(self) -> None:
        shift = console_of(self).shift
        self._incidents = await shift.open_incidents()
        self._groups = await shift.groups()
        incidents = self.query_one("#flood-incidents", OptionList)
        incidents.clear_options()
        for item in self._incidents:
            line = Text(f"#{item.id} {item.state:<12} since {clock_time(item.started_at, shift.clock())} "
                        f"{item.mentions:>5} mentions  ")
            line.append(item.title)
            incidents.add_option(Option(_one_line(line, incidents.size.width - 4), id=f"i{item.id}"))
        if not self._incidents:
            incidents.add_option(Option(Text("no open incident", style="dim"), disabled=True))
        groups = self.query_one("#flood-groups", OptionList)
        groups.clear_options()
        for group in self._groups:
            line = Text(f"{group.size:>5} · {group.waiting:>4} waiting · {group.authors:>4} people · ")
            line.append(group.label)
            groups.add_option(Option(_one_line(line, groups.size.width - 4), id=f"g{group.id}"))
        if not self._groups:
            groups.add_option(Option(Text("no groups yet: the ingest leader groups mentions as they arrive",
                                          style="dim"), disabled=True))
        for options in (incidents, groups):
            if options.option_count:
                options.highlighted = 0
        (groups if self._groups else incidents).focus()
        self._answer_lines = None
        await self.load_answers()

    def _current(self, list_id: str) -> int | None:
        options = self.query_one(list_id, OptionList)
        if options.highlighted is None:
            return None
        option_id = options.get_option_at_index(options.highlighted).id
        return int(option_id[1:]) if option_id else None

    def _focused_kind(self) -> str:
        return "incident" if self.focused is self.query_one("#flood-incidents") else "group"

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "flood-groups" and event.option.id:
            self.dismiss(int(event.option.id[1:]))

    @work(group="flood-act")
    async def action_incident(self, state: str) -> None:
        incident = self._current("#flood-incidents") or (self._incidents[0].id if self._incidents else None)
        if incident is None:
            self.notify("No open incident.", timeout=2)
            return
        await console_of(self).shift.incident_state(incident, state)
        self.notify(f"Incident #{incident} {state}.", timeout=2)
        self.load()

    @work(group="flood-act")
    async def action_rename(self) -> None:
        shift = console_of(self).shift
        kind = self._focused_kind()
        current = self._current("#flood-incidents" if kind == "incident" else "#flood-groups")
        if current is None:
            return
        title = await self.app.push_screen_wait(AskText(f"New name for {kind} {current}", placeholder="name"))
        if not title or not title.strip():
            return
        try:
            if kind == "incident":
                await shift.rename_incident(current, title)
            else:
                from store.groups import rename_group
                await shift.store.run(rename_group, current, title, shift.operator)
        except ActionError as exc:
            self.notify(str(exc), severity="error", markup=False)
        self.load()

    @work(group="flood-act")
    async def action_merge(self) -> None:
        source = self._current("#flood-groups")
        if source is None:
            return
        answer = await self.app.push_screen_wait(AskText(f"Merge group {source} into group (id)",
                                                         placeholder="group id"))
        if not answer or not answer.strip().isdigit():
            return
        try:
            moved = await console_of(self).shift.merge_groups(source, int(answer))
        except ActionError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.notify(f"Group {source} merged into {answer.strip()} ({moved} mentions).", timeout=3, markup=False)
        self.load()

    def action_close(self) -> None:
        self.dismiss(None)
