"""Marked rows: a set of mention ids, kept apart from how the inbox loads its rows.

The screen owns one; the inbox only reads it to draw a mark and count it.
Marks follow the mention, not the position: new arrivals, reloads and
windowed loading leave them alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence


def ids_between(ids: Sequence[int], first: int, last: int) -> Sequence[int]:
    """The listed ids from one mention to another, both included (empty if either is not listed)."""
    try:
        start, end = sorted((ids.index(first), ids.index(last)))
    except ValueError:
        return ()
    return ids[start:end + 1]


class Selection:
    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.anchor: int | None = None  # the last row marked: where `V` extends from

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, mention_id: object) -> bool:
        return mention_id in self.ids

    def toggle(self, mention_id: int) -> bool:
        """Mark or unmark one row; returns whether it is marked now."""
        self.anchor = mention_id
        if mention_id in self.ids:
            self.ids.discard(mention_id)
            return False
        self.ids.add(mention_id)
        return True

    def extend(self, ids: Iterable[int], to: int) -> int:
        """Mark every id of a range (the anchor's row to the cursor's); returns how many were added."""
        before = len(self.ids)
        self.ids.update(ids)
        self.anchor = to
        return len(self.ids) - before

    def clear(self) -> bool:
        had = bool(self.ids)
        self.ids.clear()
        self.anchor = None
        return had

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids)

    def ordered(self) -> list[int]:
        """The marked ids, newest first (ids grow with arrival)."""
        return sorted(self.ids, reverse=True)
