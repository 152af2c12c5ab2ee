"""The inbox's ids: the view's length and one loaded slice of it, never the whole backlog.

`IdWindow` is the sequence the inbox list draws from. Positions outside the
loaded slice read as None (`get`); `wanted` says which slice to fetch for the
rows about to be drawn, next to the loaded one (keyset) or at a jump. Search
results and small lists are whole windows (`IdWindow.whole`). Oldest first, the
newest id is the last and arrivals are appended below (`append`).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

from store.inbox_window import PAGE, IdPage

CAP = 20 * PAGE  # ids kept loaded: a slice this long is trimmed at the end away from the new part


@dataclass(frozen=True, slots=True)
class Wanted:
    """A slice to fetch: positions start..start+limit; `below`/`above` as in store.inbox_window.view_slice."""

    start: int
    limit: int
    below: int | None = None
    above: int | None = None


class IdWindow(Sequence[int]):
    def __init__(self, total: int, start: int = 0, ids: Iterable[int] = (), *, anchor: int | None = None,
                 newer: int | None = None, newest: int | None = None, oldest_first: bool = False) -> None:
        self.total = total
        self.oldest_first = oldest_first
        self.start = start
        self.loaded = array("q", ids)
        self.anchor = anchor  # where the mention a page was centred on sits (or would sit)
        self.newer = newer  # ids newer than the list's previous newest, if counted
        self.total = max(total, self.end)
        # The newest id (position 0's, or the last's oldest first), loaded or not: arrivals are newer.
        self.newest = newest if newest is not None else self.get(self.total - 1 if oldest_first else 0)

    @classmethod
    def whole(cls, ids: Iterable[int], *, oldest_first: bool = False) -> IdWindow:
        loaded = array("q", ids)
        return cls(len(loaded), 0, loaded, oldest_first=oldest_first)

    @classmethod
    def from_page(cls, page: IdPage, *, oldest_first: bool = False) -> IdWindow:
        window = cls(page.total, page.start, page.ids, anchor=page.anchor, newer=page.newer, newest=page.newest,
                     oldest_first=oldest_first)
        if len(page.ids) < PAGE and page.start == 0 and page.anchor is None:
            window.total = len(page.ids)  # the whole view: a short first page is its length
        return window

    @property
    def end(self) -> int:
        return self.start + len(self.loaded)

    @property
    def complete(self) -> bool:
        return self.start == 0 and self.end >= self.total

    def get(self, position: int) -> int | None:
        if self.start <= position < self.end:
            return self.loaded[position - self.start]
        return None

    def __len__(self) -> int:
        return self.total

    @overload
    def __getitem__(self, position: int) -> int: ...
    @overload
    def __getitem__(self, position: slice) -> list[int]: ...
    def __getitem__(self, position: int | slice) -> int | list[int]:
        """Loaded ids only: an unloaded position raises IndexError (draw with `get`)."""
        if isinstance(position, slice):
            return [i for p in range(*position.indices(self.total)) if (i := self.get(p)) is not None]
        if position < 0:
            position += self.total
        found = self.get(position)
        if found is None:
            raise IndexError(position)
        return found

    def __iter__(self) -> Iterator[int]:
        return iter(self.loaded)

    def __contains__(self, mention_id: object) -> bool:
        return mention_id in self.loaded

    def position(self, mention_id: int) -> int | None:
        try:
            return self.start + self.loaded.index(mention_id)
        except ValueError:
            return None

    def count_newer(self, before: int, newest: int) -> int:
        """How many of the first `before` positions hold ids newer than `newest`."""
        if self.oldest_first:
            return 0  # arrivals are listed below
        if self.newer is not None:
            return min(before, self.newer)
        return sum(1 for p in range(before) if (i := self.get(p)) is not None and i > newest)

    def wanted(self, low: int, high: int, page: int = PAGE) -> Wanted | None:
        """The slice to fetch so positions low..high are loaded, or None if they are."""
        low, high = max(0, low), min(self.total, high)
        if low >= high or (self.start <= low and high <= self.end):
            return None
        # Next to the loaded slice, read on from it (keyset); a range reaching far past it is a jump,
        # read where it ends: a keyset read would fetch every id in between.
        if self.loaded and self.start <= low <= self.end and high - self.end <= CAP:  # scrolling down past it
            return Wanted(self.end, max(page, high - self.end), below=self.loaded[-1])
        if self.loaded and self.start <= high <= self.end and self.start - low <= CAP:  # scrolling up past it
            first = max(0, min(low, self.start - page))
            return Wanted(first, self.start - first, above=self.loaded[0])
        first = max(0, min(low - page // 4, self.total - page))
        return Wanted(first, page)

    def put(self, start: int, ids: Sequence[int]) -> None:
        """A fetched slice: joined to the loaded one when they touch, else replacing it."""
        fetched = array("q", ids)
        if not fetched:
            if start <= self.end and start >= self.start:
                self.total = self.end  # nothing older: the view ended early (defensive)
            return
        if start == self.end:
            self.loaded.extend(fetched)
            if len(self.loaded) > CAP:
                cut = len(self.loaded) - CAP
                del self.loaded[:cut]
                self.start += cut
        elif start + len(fetched) == self.start:
            self.loaded = fetched + self.loaded
            self.start = start
            del self.loaded[CAP:]
        else:
            self.start, self.loaded = start, fetched
        self.total = max(self.total, self.end)

    def prepend(self, new_ids: Sequence[int]) -> None:
        """Arrivals, newest first, above everything."""
        self.total += len(new_ids)
        if new_ids:
            self.newest = new_ids[0]
        if self.start == 0:
            self.loaded = array("q", new_ids) + self.loaded
            del self.loaded[CAP:]
        else:
            self.start += len(new_ids)

    def append(self, new_ids: Sequence[int]) -> None:
        """Arrivals, oldest first, below everything (an oldest-first list)."""
        if not new_ids:
            return
        loaded_to_end = self.end == self.total
        self.total += len(new_ids)
        self.newest = new_ids[-1]
        if loaded_to_end:
            self.loaded.extend(array("q", new_ids))
            if len(self.loaded) > CAP:
                cut = len(self.loaded) - CAP
                del self.loaded[:cut]
                self.start += cut
