"""The incident banner: every console shows an open surge within a second or two of the leader raising it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from store.incidents import Incident
from tui.dbtrouble import DATABASE_ERRORS
from tui.render import clock_time
from tui.shift import console_of

POLL_SECONDS = 1.0


class IncidentBanner(Static):
    def on_mount(self) -> None:
        self.display = False
        self.shown: list[Incident] = []
        self.set_interval(POLL_SECONDS, self.refresh_incidents)
        self.call_later(self.refresh_incidents)

    async def refresh_incidents(self) -> None:
        shift = console_of(self).shift
        try:
            found = await shift.open_incidents()
        except DATABASE_ERRORS:
            return  # the trouble banner says what is wrong; this one keeps its last word
        if found == self.shown:
            return
        self.shown = found
        if not found:
            self.display = False
            return
        newest = found[0]
        state = "acknowledged" if newest.state == "acknowledged" else "NEW"
        more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        line = Text(f" ⚑ INCIDENT #{newest.id} {state}: ", style="bold")
        line.append(newest.title)  # names a group: text from the network, cleaned, never markup
        line.append(f" · since {clock_time(newest.started_at, shift.clock())} · {newest.mentions} mentions{more}"
                    " · F: incidents & groups")
        self.update(line)
        self.display = True
