"""The inbox: a virtual list that draws only the visible rows.

It holds the view's length and a loaded slice of its ids (an IdWindow: a
page around what is on screen, never the whole backlog) and a bounded cache
of rows; ids and rows missing for the rows on screen are fetched from the
store by the pane (off the event loop) and drawn as a placeholder until then.
Never a widget per mention.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from store.inbox import InboxRow
from tui.actions import bindings
from tui.render import age
from tui.widgets.id_window import IdWindow, Wanted
from tui.widgets.inbox_lines import RowCache, RowPainter

ROW_HEIGHT = 2
ID_MARGIN = 50  # rows beyond the screen whose ids are fetched ahead of j/k and pgdn


class InboxList(ScrollView, can_focus=True):
    """Mentions newest first; selection follows the mention, not the position."""

    BINDINGS = bindings("inbox")
    COMPONENT_CLASSES = {
        "inbox--cursor", "inbox--meta", "inbox--new", "inbox--done", "inbox--replied",
        "inbox--failed", "inbox--placeholder", "inbox--marked",
    }

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    @dataclass
    class Highlighted(Message):
        """The selected mention changed (None: the list is empty, or its id is being fetched)."""

        mention_id: int | None

    @dataclass
    class RowsWanted(Message):
        """Rows for these ids are needed to draw the visible window."""

        ids: list[int]
        epoch: int

    @dataclass
    class IdsWanted(Message):
        """The ids of these positions are needed to draw the list (see IdWindow.wanted)."""

        wanted: Wanted
        generation: int

    def __init__(self, *, clock, id: str | None = None) -> None:
        super().__init__(id=id)
        self._ids = IdWindow(0)
        # Positions move when the list is replaced or grows at the top: older fetches are dropped.
        self._generation = 0
        self._ids_wanted: Wanted | None = None
        self._announced: int | None = None
        self._rows = RowCache()
        self._spans: dict[int, list[tuple[int, int]]] = {}
        self._clock = clock
        self.new_above = 0
        self._ages: tuple[str, ...] = ()
        self.empty_message = "Nothing here."
        # Draws the rows; the pane sets its `sender_alive` (the lease) and `sla` (the shift's targets).
        self.painter = RowPainter(self, clock)

    # -- data in -------------------------------------------------------
    @property
    def ids(self) -> IdWindow:
        return self._ids

    @property
    def epoch(self) -> int:
        """Rows read now are at least this fresh (see put_rows)."""
        return self._rows.epoch

    @property
    def newest_id(self) -> int | None:
        """The list's first id, loaded or not (arrivals are what is newer)."""
        return self._ids.newest

    @property
    def selected_id(self) -> int | None:
        """None also while the selected position's id is being fetched."""
        return self._ids.get(self.cursor)

    def set_ids(self, ids: Sequence[int] | IdWindow, *, spans: dict[int, list[tuple[int, int]]] | None = None,
                keep_selection: bool = True) -> None:
        """Replace the list (a new view, a reload or search results)."""
        previous = self.selected_id if keep_selection else None
        old_cursor = self.cursor
        # Where the selected row sits on screen, so a reload (arrivals, others' work) keeps it there.
        old_row_top = old_cursor * ROW_HEIGHT - self.scroll_offset.y
        old_newest = self._ids.newest
        new_above = self.new_above
        ids = ids if isinstance(ids, IdWindow) else IdWindow.whole(ids)
        self._ids = ids
        self._generation += 1
        self._ids_wanted = None
        self._spans = spans or {}
        self.new_above = 0
        index = ids.position(previous) if previous is not None else None
        if index is None and keep_selection and ids.anchor is not None:
            index = min(ids.anchor, max(0, len(ids) - 1))  # where it was: the next one takes its place
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
                self.new_above = new_above + ids.count_newer(index, old_newest)
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
        self._ids.prepend(new_ids)
        self._generation += 1
        self._ids_wanted = None
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
        """Live arrivals, oldest first, below the current rows (an oldest-first list); nothing visible moves."""
        if not new_ids:
            return
        if not len(self._ids):
            self.set_ids(IdWindow.whole(new_ids, oldest_first=True), keep_selection=False)
            return
        self._ids.append(new_ids)
        self._generation += 1  # a jump counted from the bottom would land elsewhere now
        self._ids_wanted = None
        self.virtual_size = Size(self._view_width, len(self._ids) * ROW_HEIGHT)
        self.refresh()
        self._request_visible()

    def put_ids(self, start: int, ids: Sequence[int], generation: int) -> None:
        """Fetched ids for positions from `start` (dropped if the list changed meanwhile)."""
        if generation != self._generation:
            return
        self._ids_wanted = None
        self._ids.put(start, ids)
        self.virtual_size = Size(self._view_width, len(self._ids) * ROW_HEIGHT)
        if self.selected_id != self._announced:
            self._announce()
        self.refresh()
        self._request_visible()

    def _announce(self) -> None:
        self._announced = self.selected_id
        # Sent by the list even when put_ids runs inside the pane's handler: a message whose sender
        # is the pane stops bubbling there, and the screen would never load the mention.
        self.post_message(self.Highlighted(self._announced).set_sender(self))

    def put_rows(self, rows: dict[int, InboxRow], epoch: int) -> None:
        self._rows.put(rows, epoch)
        self.refresh()

    def forget(self, ids: set[int] | frozenset[int]) -> None:
        """Rows changed elsewhere: drop them so they are fetched again."""
        self._rows.forget(ids)
        self._request_visible()
        self.refresh()

    def visible_ids(self, margin: int = 10) -> list[int]:
        first = self.scroll_offset.y // ROW_HEIGHT
        count = self._view_height // ROW_HEIGHT + 1
        start = max(0, first - margin)
        end = min(len(self._ids), first + count + margin)
        return [i for p in range(start, end) if (i := self._ids.get(p)) is not None]

    def _request_visible(self) -> None:
        first = self.scroll_offset.y // ROW_HEIGHT
        rows = self._view_height // ROW_HEIGHT
        if not first <= self.cursor <= first + rows:
            # A jump (G, g, a click far away) before the scroll has followed: the rows around the cursor
            # are the ones about to show, not everything from the old scroll position to the new cursor.
            first = max(0, self.cursor - rows)
        wanted = self._ids.wanted(min(first, self.cursor) - ID_MARGIN,
                                  max(first + rows, self.cursor) + 1 + ID_MARGIN)
        if wanted is not None and wanted != self._ids_wanted:
            self._ids_wanted = wanted
            self.post_message(self.IdsWanted(wanted, self._generation))
        if missing := self._rows.claim_missing(self.visible_ids()):
            self.post_message(self.RowsWanted(missing, self._rows.epoch))

    def refresh_ages(self) -> None:
        """Called every second: redraw only when an age on a visible row changed."""
        now = self._clock()
        ages = tuple(age(row.created_at, now) + self.painter.sla_label(row, now)
                     for i in self.visible_ids(margin=0) if (row := self._rows.get(i)) is not None)
        if ages != self._ages:
            self._ages = ages
            self.refresh()

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
        self._announce()
        self._request_visible()  # a jump (G, a click) may land outside the loaded ids

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
        mention_id = self._ids.get(index)
        row = self._rows.get(mention_id) if mention_id is not None else None
        if row is None:
            text = Text("  …" if part == 0 else "", style=self.get_component_rich_style("inbox--placeholder"))
            return self.painter.strip(text, width, self._line_style(base, index))
        spans = self._spans.get(row.id) if part else None
        return self.painter.line(row, part, width, self._line_style(base, index), spans)

    @property
    def marked(self) -> Collection[int]:
        """The screen's marks (tui.selection), drawn as ◆."""
        return self.painter.marked

    @marked.setter
    def marked(self, ids: Collection[int]) -> None:
        self.painter.marked = ids
        self.refresh()

    def _line_style(self, base: Style, index: int) -> Style:
        return base + self.get_component_rich_style("inbox--cursor") if index == self.cursor else base
