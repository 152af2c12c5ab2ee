"""The incident banner: every console shows an open surge within a second or two of the leader raising it,
and the group answer in flight: one waiting for this operator's approval first, else one being sent."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from store.group_answers import Progress, answers_in_flight
from store.incidents import Incident
from tui.dbtrouble import DATABASE_ERRORS
from tui.render import clock_time
from tui.shift import console_of

POLL_SECONDS = 1.0


class IncidentBanner(Static):
    def on_mount(self) -> None:
        self.display = False
        self.shown: tuple[list[Incident], Text | None, int] = ([], None, 0)
        self._read_at = float("-inf")  # time.monotonic() of the last read
        self.set_interval(POLL_SECONDS, self.refresh_incidents)
        self.call_later(self.refresh_incidents)

    async def refresh_incidents(self) -> None:
        shift = console_of(self).shift
        if shift.unchanged_since(self._read_at):
            return  # nothing committed since (PostgreSQL's pushed feed): the same incidents and answers
        self._read_at = time.monotonic()
        try:
            found = await shift.open_incidents()
            answers = await shift.searcher.run(answers_in_flight)
        except DATABASE_ERRORS:
            return  # the trouble banner says what is wrong; this one keeps its last word
        mine = [p for p in answers if p.answer.state == "awaiting_approval" and p.answer.drafted_by != shift.operator]
        running = [p for p in answers if p.answer.state != "awaiting_approval"]
        chosen = (mine or running)[:1]
        answer = answer_line(chosen[0], shift.operator) if chosen else None
        width = self.size.width
        if (found, answer, width) == self.shown:
            return
        self.shown = (found, answer, width)
        if not found and answer is None:
            self.display = False
            return
        line = Text()
        if found:
            newest = found[0]
            state = "acknowledged" if newest.state == "acknowledged" else "NEW"
            more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
            line.append(f" ⚑ INCIDENT #{newest.id} {state}: ", style="bold")
            line.append(newest.title)  # names a group: text from the network, cleaned, never markup
            line.append(f" · since {clock_time(newest.started_at, shift.clock())} · {newest.mentions} mentions{more}"
                        " · F: incidents & groups")
        if answer is not None:
            if found and width:
                # Room for the answer and its keys: the incident keeps one line (its title cut short).
                line.truncate(width, overflow="ellipsis")
            line.append("\n" if found else "")
            line.append_text(answer)
        self.update(line)
        self.display = True


def answer_line(progress: Progress, operator: str) -> Text:
    """One answer in flight, with the keys that act on it."""
    answer = progress.answer
    if answer.state == "awaiting_approval":
        keys = " · ctrl+o approves" if answer.drafted_by != operator else ""
        return Text(f" ✉ ANSWER #{answer.id} by {answer.drafted_by} to {answer.what} ({answer.planned} "
                    f"people) waits for a second operator{keys}", style="bold")
    keys = "P resumes" if answer.state == "paused" else "P pauses"
    return Text(f" ✉ {progress.line()} · {keys} · C cancels")
