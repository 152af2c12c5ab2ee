"""The inbox's rows: fetched rows by id (RowCache), and their two lines drawn as Strips (RowPainter).

RowPainter keeps what it drew, so a redraw repaints only what changed.

A view switch, a j/k or a one-second age tick used to rebuild every visible
line from Text; most lines are the same as last time, so each is cached under
everything that shapes it (the row, the line's style, its width, the age and
claim shown, the match spans, whether anyone is sending, the theme and
whether it uses the terminal's own 16 colours: tui.colours paints the badges).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.strip import Strip
from textual.widget import Widget

from store.db import iso
from store.inbox import InboxRow
from store.priority import clock_of
from store.sla import SlaPolicy
from tui.colours import paint
from tui.render import STATE_GLYPH, TAG_BADGE, age, highlighted, network_short, one_line, signal_badges, wake_time

CACHE_LINES = 400
CACHE_ROWS = 2000


class RowCache:
    """Rows by id, and which are on their way; a fetch older than a `forget` may carry stale data."""

    def __init__(self) -> None:
        self._rows: LRUCache[int, InboxRow] = LRUCache(CACHE_ROWS)
        self._wanted: set[int] = set()
        self.epoch = 0
        self._forgotten_at: dict[int, int] = {}
        self._stale: set[int] = set()

    def get(self, mention_id: int) -> InboxRow | None:
        return self._rows.get(mention_id)

    def put(self, rows: dict[int, InboxRow], epoch: int) -> None:
        for mention_id, row in rows.items():
            if self._forgotten_at.get(mention_id, -1) > epoch:
                continue
            self._rows.discard(mention_id)  # LRUCache.set keeps an existing key's old value
            self._rows.set(mention_id, row)
            self._wanted.discard(mention_id)
            self._stale.discard(mention_id)
        if len(self._stale) > CACHE_ROWS:
            self._stale.intersection_update(self._rows.keys())  # evicted rows are fetched anew anyway

    def forget(self, ids: set[int] | frozenset[int]) -> None:
        self.epoch += 1
        for mention_id in ids:
            # Keep drawing the old row until the fresh one arrives.
            if mention_id in self._rows:
                self._stale.add(mention_id)
            self._wanted.discard(mention_id)
            self._forgotten_at[mention_id] = self.epoch
        if len(self._forgotten_at) > 4 * CACHE_ROWS:
            self._forgotten_at.clear()  # only in-flight fetches matter; old marks are moot

    def claim_missing(self, ids: list[int]) -> list[int]:
        """Of these ids, those to fetch (missing or stale, not already asked for), marked as asked for."""
        missing = [i for i in ids if (i not in self._rows or i in self._stale) and i not in self._wanted]
        self._wanted.update(missing)
        return missing


class RowPainter:
    def __init__(self, widget: Widget, clock: Callable[[], datetime]) -> None:
        self._widget = widget
        self._clock = clock
        self._lines: LRUCache[tuple, Strip] = LRUCache(CACHE_LINES)
        self.sender_alive = True  # set by the screen from the leader lease
        # Set by the pane: the shift's SLA policy, read at each paint (the desk's may change: `sla set`).
        self.policy_of: Callable[[], SlaPolicy] = SlaPolicy
        self.every_clock = False  # the Priority view: every row says its time left, not only the last quarter
        self.marked: Collection[int] = frozenset()  # the screen's marks (tui.selection), drawn as ◆

    def _style(self, name: str) -> Style:
        return self._widget.get_component_rich_style(name)

    def line(self, row: InboxRow, part: int, width: int, style: Style,
             spans: list[tuple[int, int]] | None) -> Strip:
        if part == 0:
            now = self._clock()
            claim_live = bool(row.claimed_by and row.claim_expires and row.claim_expires > iso(now))
            key: tuple = (row, part, width, style, age(row.created_at, now), claim_live, self.sender_alive,
                          self.sla_label(row, now), row.id in self.marked)
        else:
            key = (row, part, width, style, tuple(map(tuple, spans or ())))
        app = self._widget.app
        key += (app.theme, app.native_ansi_color)
        strip = self._lines.get(key)
        if strip is None:
            text = self._meta_line(row, key[4], key[5], key[7]) if part == 0 else self._text_line(row, spans)
            strip = self.strip(text, width, style)
            self._lines.set(key, strip)
        return strip

    def strip(self, text: Text, width: int, style: Style) -> Strip:
        text.no_wrap = True
        text.overflow = "ellipsis"
        text.truncate(width, overflow="ellipsis", pad=True)
        segments = list(text.render(self._widget.app.console))
        return Strip(segments, width).apply_style(style).crop(0, width)

    def _text_line(self, row: InboxRow, spans: list[tuple[int, int]] | None) -> Text:
        text = Text("  ") + highlighted(one_line(row.text), spans)
        if row.status == "done":
            text.stylize(self._style("inbox--done"))
        return text

    def sla_label(self, row: InboxRow, now: datetime) -> str:
        """`late 2h` for an unanswered open mention past its target; `due 9m` in the last quarter
        (in the Priority view, always)."""
        policy = self.policy_of()
        if not policy:
            return ""
        state = clock_of(row, policy, now)
        if state is None or (not state.late and state.left > state.target / 4 and not self.every_clock):
            return ""
        return state.label()

    def _meta_line(self, row: InboxRow, shown_age: str, claim_live: bool, sla: str) -> Text:
        state = row.state
        failed = row.reply_state == "failed"
        glyph = "!" if failed else STATE_GLYPH[state]
        style_name = "inbox--failed" if failed else {
            "new": "inbox--new", "done": "inbox--done", "replied": "inbox--replied"}.get(state, "inbox--meta")
        text = Text()
        if row.id in self.marked:
            text.append("◆ ", self._style("inbox--marked"))
        text.append(f"{glyph} ", self._style(style_name))
        for tag in ("care", "marketing"):
            if tag in row.tags:
                label, badge = TAG_BADGE[tag]
                text.append(label, paint(badge, self._widget.app))
                text.append(" ")
        text.append_text(signal_badges(row, lambda name: paint(name, self._widget.app)))
        meta = self._style("inbox--meta")
        text.append(row.author_handle, Style(bold=True))
        text.append(f" · {network_short(row.network)} · {shown_age}", meta)
        if sla:
            text.append(f" · {sla}", self._style("inbox--failed" if sla.startswith("late") else "inbox--new"))
        if claim_live:
            text.append(f" ✎{row.claimed_by}", self._style("inbox--new"))
        if row.assignee:
            text.append(f" →{row.assignee}", meta)
        if row.snoozed_until:
            text.append(f" · wakes {wake_time(row.snoozed_until, self._clock())}", meta)
        if row.has_draft:
            text.append(" ✐draft", meta)
        if failed:
            text.append(" · reply failed", self._style("inbox--failed"))
        elif state == "queued" and row.reply_state == "waiting" and self.sender_alive:
            text.append(" · waiting for network", self._style("inbox--failed"))
        elif state == "queued":
            text.append(" · queued" if self.sender_alive else " · queued, nobody sending",
                        self._style("inbox--new" if self.sender_alive else "inbox--failed"))
        elif state == "new":
            text.append(" · new", self._style("inbox--new"))
        return text
