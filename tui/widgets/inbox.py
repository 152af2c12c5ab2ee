"""The inbox: a virtual list that draws only the visible rows.

It holds the view's ids (8 bytes each, so a million fit) and a bounded
cache of rows; rows missing from the cache are fetched from the store by
the screen (off the event loop) and drawn as a placeholder until then.
Never a widget per mention.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from datetime import datetime

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from store.db import iso
from store.inbox import InboxRow
from store.report_buckets import parse_stored
from store.sla import SlaPolicy, sla_state
from tui.actions import bindings
from tui.colours import paint
from tui.render import STATE_GLYPH, TAG_BADGE, age, highlighted, network_short, one_line, wake_time

ROW_HEIGHT = 2
CACHE_ROWS = 2000


class InboxList(ScrollView, can_focus=True):
    """Mentions newest first; selection follows the mention, not the position."""

    BINDINGS = bindings("inbox")
    COMPONENT_CLASSES = {
        "inbox--cursor", "inbox--meta", "inbox--new", "inbox--done", "inbox--replied",
        "inbox--failed", "inbox--placeholder",
    }

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    class Highlighted(Message):
        """The selected mention changed (None: the list is empty)."""

        def __init__(self, mention_id: int | None) -> None:
            super().__init__()
            self.mention_id = mention_id

    class RowsWanted(Message):
        """Rows for these ids are needed to draw the visible window."""

        def __init__(self, ids: list[int], epoch: int) -> None:
            super().__init__()
            self.ids = ids
            self.epoch = epoch

    def __init__(self, *, clock, id: str | None = None) -> None:
        super().__init__(id=id)
        self._ids: Sequence[int] = array("q")
        self._rows: LRUCache[int, InboxRow] = LRUCache(CACHE_ROWS)
        self._wanted: set[int] = set()
        self._spans: dict[int, list[tuple[int, int]]] = {}
        # A fetch that started before a row was forgotten may carry stale data.
        self._epoch = 0
        self._forgotten_at: dict[int, int] = {}
        self._stale: set[int] = set()
        self._clock = clock
        self.new_above = 0
        self._ages: tuple[str, ...] = ()
        self.empty_message = "Nothing here."
        self.sender_alive = True  # set by the screen from the leader lease
        self.sla = SlaPolicy()  # set by the pane from the shift: first-response targets

    # -- data in -------------------------------------------------------
    @property
    def ids(self) -> Sequence[int]:
        return self._ids

    @property
    def selected_id(self) -> int | None:
        if 0 <= self.cursor < len(self._ids):
            return self._ids[self.cursor]
        return None

    def set_ids(self, ids: Sequence[int], *, spans: dict[int, list[tuple[int, int]]] | None = None,
                keep_selection: bool = True) -> None:
        """Replace the list (a new view, a reload or search results)."""
        previous = self.selected_id if keep_selection else None
        old_cursor = self.cursor
        # Where the selected row sits on screen, so a reload (arrivals, others' work) keeps it there.
        old_row_top = old_cursor * ROW_HEIGHT - self.scroll_offset.y
        # Newest first or oldest first, the newest row is at one end.
        old_newest = max(self._ids[0], self._ids[-1]) if len(self._ids) else None
        new_above = self.new_above
        self._ids = ids
        self._spans = spans or {}
        self.new_above = 0
        index = None
        if previous is not None:
            try:
                index = ids.index(previous)
            except ValueError:
                index = None
        if index is None:
            # The selected mention left the view (done, untagged): stay at its place.
            index = min(old_cursor, max(0, len(ids) - 1)) if keep_selection else 0
        self.virtual_size = Size(self._view_width, len(ids) * ROW_HEIGHT)
        self._set_cursor(index, scroll=not keep_selection)
        if not keep_selection:
            self._scroll_rows_to(0)
        else:
            height = self._view_height or ROW_HEIGHT
            row_top = max(0, min(old_row_top, height - ROW_HEIGHT))
            target = max(0, min(index * ROW_HEIGHT - row_top, len(ids) * ROW_HEIGHT - height))
            self._scroll_rows_to(target)
            if target > 0 and old_newest is not None:
                self.new_above = new_above + sum(1 for i in ids[:index] if i > old_newest)
        self.refresh()
        self._request_visible()

    def prepend(self, new_ids: list[int]) -> None:
        """Live arrivals, newest first, above the current rows; nothing visible jumps."""
        if not new_ids:
            return
        count = len(new_ids)
        if not len(self._ids):
            self.set_ids(list(new_ids), keep_selection=False)
            return
        if isinstance(self._ids, array):
            self._ids = array("q", new_ids) + self._ids
        else:
            self._ids = list(new_ids) + list(self._ids)
        at_top = self.scroll_offset.y == 0
        self.virtual_size = Size(self._view_width, len(self._ids) * ROW_HEIGHT)
        self.set_reactive(InboxList.cursor, self.cursor + count)
        visible_rows = max(1, self._view_height // ROW_HEIGHT)
        if at_top and self.cursor < visible_rows:
            self.refresh()
        else:
            self.new_above += count
            self._scroll_rows_to(self.scroll_offset.y + count * ROW_HEIGHT)
            self.refresh()
        self._request_visible()

    def append(self, new_ids: list[int]) -> None:
        """Live arrivals below the current rows (a list oldest first); nothing visible moves."""
        if not new_ids:
            return
        if not len(self._ids):
            self.set_ids(list(new_ids), keep_selection=False)
            return
        self._ids = (self._ids + array("q", new_ids)) if isinstance(self._ids, array) else [*self._ids, *new_ids]
        self.virtual_size = Size(self._view_width, len(self._ids) * ROW_HEIGHT)
        self.refresh()
        self._request_visible()

    def put_rows(self, rows: dict[int, InboxRow], epoch: int) -> None:
        for mention_id, row in rows.items():
            if self._forgotten_at.get(mention_id, -1) > epoch:
                continue
            self._rows.discard(mention_id)  # LRUCache.set keeps an existing key's old value
            self._rows.set(mention_id, row)
            self._wanted.discard(mention_id)
            self._stale.discard(mention_id)
        if len(self._stale) > CACHE_ROWS:
            self._stale.intersection_update(self._rows.keys())  # evicted rows are fetched anew anyway
        self.refresh()

    def forget(self, ids: set[int] | frozenset[int]) -> None:
        """Rows changed elsewhere: drop them so they are fetched again."""
        self._epoch += 1
        for mention_id in ids:
            # Keep drawing the old row until the fresh one arrives.
            if mention_id in self._rows:
                self._stale.add(mention_id)
            self._wanted.discard(mention_id)
            self._forgotten_at[mention_id] = self._epoch
        if len(self._forgotten_at) > 4 * CACHE_ROWS:
            self._forgotten_at.clear()  # only in-flight fetches matter; old marks are moot
        self._request_visible()
        self.refresh()

    def visible_ids(self, margin: int = 10) -> list[int]:
        first = self.scroll_offset.y // ROW_HEIGHT
        count = self._view_height // ROW_HEIGHT + 1
        start = max(0, first - margin)
        end = min(len(self._ids), first + count + margin)
        return [self._ids[i] for i in range(start, end)]

    def _request_visible(self) -> None:
        missing = [i for i in self.visible_ids()
                   if (i not in self._rows or i in self._stale) and i not in self._wanted]
        if missing:
            self._wanted.update(missing)
            self.post_message(self.RowsWanted(missing, self._epoch))

    def refresh_ages(self) -> None:
        """Called every second: redraw only when an age on a visible row changed."""
        now = self._clock()
        ages = tuple(age(row.created_at, now) + self._sla_label(row, now) for i in self.visible_ids(margin=0)
                     if (row := self._rows.get(i)) is not None)
        if ages != self._ages:
            self._ages = ages
            self.refresh()

    def _sla_label(self, row: InboxRow, now: datetime) -> str:
        """`late 2h` for an unanswered open mention past its target; `due 9m` in the last quarter."""
        if not self.sla or row.status != "open" or row.reply_state not in (None, "failed"):
            return ""
        created = parse_stored(row.created_at)
        state = sla_state(self.sla, row.tags, row.network, created, now) if created else None
        if state is None or (not state.late and state.left > state.target / 4):
            return ""
        return state.label()

    def row(self, mention_id: int) -> InboxRow | None:
        return self._rows.get(mention_id)

    @property
    def _view_height(self) -> int:
        """Rows of list on screen: the widget's height less any scrollbar."""
        return self.scrollable_content_region.height

    @property
    def _view_width(self) -> int:
        return self.scrollable_content_region.width

    # -- movement ------------------------------------------------------
    def _set_cursor(self, index: int, *, scroll: bool = True) -> None:
        index = max(0, min(index, len(self._ids) - 1)) if self._ids else 0
        self.cursor = index
        if scroll:
            self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        top = self.cursor * ROW_HEIGHT
        height = self._view_height or ROW_HEIGHT
        if top < self.scroll_offset.y:
            self._scroll_rows_to(top)
        elif top + ROW_HEIGHT > self.scroll_offset.y + height:
            self._scroll_rows_to(top + ROW_HEIGHT - height)

    def _scroll_rows_to(self, y: int) -> None:
        """Scroll now. `scroll_to` does nothing in the frame where the list first outgrows the pane
        (no scrollbar yet), which left the selected row just below the bottom edge."""
        y = max(0, min(y, self.max_scroll_y))
        self.scroll_target_y = y
        self.scroll_y = y

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh()
        self.post_message(self.Highlighted(self.selected_id))

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new == 0:
            self.new_above = 0
        self._request_visible()

    def on_resize(self) -> None:
        self.virtual_size = Size(self._view_width, len(self._ids) * ROW_HEIGHT)
        self._request_visible()

    def action_move(self, delta: int) -> None:
        self._set_cursor(self.cursor + delta)

    def action_first(self) -> None:
        self.new_above = 0
        self._set_cursor(0)
        self._scroll_rows_to(0)

    def action_last(self) -> None:
        self._set_cursor(len(self._ids) - 1)

    def action_page(self, direction: int) -> None:
        self._set_cursor(self.cursor + direction * max(1, self._view_height // ROW_HEIGHT - 1))

    def on_click(self, event) -> None:
        index = (event.y + self.scroll_offset.y) // ROW_HEIGHT
        if 0 <= index < len(self._ids):
            self._set_cursor(index)

    # -- drawing -------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self._view_width
        base = self.rich_style
        line = self.scroll_offset.y + y
        index, part = divmod(line, ROW_HEIGHT)
        if not self._ids:
            if y == 1:
                return Strip([Segment(f" {self.empty_message}".ljust(width)[:width], base)])
            return Strip.blank(width, base)
        if index >= len(self._ids):
            return Strip.blank(width, base)
        mention_id = self._ids[index]
        row = self._rows.get(mention_id)
        style = base
        if index == self.cursor:
            style = base + self.get_component_rich_style("inbox--cursor")
        if row is None:
            text = Text("  …" if part == 0 else "", style=self.get_component_rich_style("inbox--placeholder"))
        elif part == 0:
            text = self._meta_line(row)
        else:
            text = Text("  ") + highlighted(one_line(row.text), self._spans.get(mention_id))
            if row.status == "done":
                text.stylize(self.get_component_rich_style("inbox--done"))
        text.no_wrap = True
        text.overflow = "ellipsis"
        text.truncate(width, overflow="ellipsis", pad=True)
        segments = list(text.render(self.app.console))
        return Strip(segments, width).apply_style(style).crop(0, width)

    def _meta_line(self, row: InboxRow) -> Text:
        state = row.state
        failed = row.reply_state == "failed"
        glyph = "!" if failed else STATE_GLYPH[state]
        style_name = "inbox--failed" if failed else {
            "new": "inbox--new", "done": "inbox--done", "replied": "inbox--replied"}.get(state, "inbox--meta")
        text = Text()
        text.append(f"{glyph} ", self.get_component_rich_style(style_name))
        for tag in ("care", "marketing"):
            if tag in row.tags:
                label, badge = TAG_BADGE[tag]
                text.append(label, paint(badge, self.app))
                text.append(" ")
        meta = self.get_component_rich_style("inbox--meta")
        text.append(row.author_handle, Style(bold=True))
        now = self._clock()
        text.append(f" · {network_short(row.network)} · {age(row.created_at, now)}", meta)
        if sla := self._sla_label(row, now):
            late = sla.startswith("late")
            text.append(f" · {sla}", self.get_component_rich_style("inbox--failed" if late else "inbox--new"))
        if row.claimed_by and row.claim_expires and row.claim_expires > iso(self._clock()):
            text.append(f" ✎{row.claimed_by}", self.get_component_rich_style("inbox--new"))
        if row.assignee:
            text.append(f" →{row.assignee}", meta)
        if row.snoozed_until:
            text.append(f" · wakes {wake_time(row.snoozed_until, self._clock())}", meta)
        if row.has_draft:
            text.append(" ✐draft", meta)
        if failed:
            text.append(" · reply failed", self.get_component_rich_style("inbox--failed"))
        elif state == "queued" and row.reply_state == "waiting" and self.sender_alive:
            text.append(" · waiting for network", self.get_component_rich_style("inbox--failed"))
        elif state == "queued":
            text.append(" · queued" if self.sender_alive else " · queued, nobody sending",
                        self.get_component_rich_style("inbox--new" if self.sender_alive else "inbox--failed"))
        elif state == "new":
            text.append(" · new", self.get_component_rich_style("inbox--new"))
        return text
