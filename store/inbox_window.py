"""A view's ids a page at a time: the inbox never loads the whole backlog.

A view lists ids newest first, or oldest first (`oldest_first`: the operator's
order for the view, tui.screens.view_keys); position 0 is the top either way.
`view_page` gives its length (from the counted views, store.view_counts) and
one page of ids, at the top or around a mention, read in one snapshot so
positions and length agree; `view_slice` gives more ids next to a loaded page
(keyset: as cheap at 700k open as at 70) or at a position (a jump: `G`, the
scrollbar), counted from the nearer end.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from store.db import Store
from store.inbox import VIEWS, InboxRow, View, rows_by_id
from store.view_counts import view_counts

PAGE = 400
ROWS = 60  # rows read with a page: a tall screen's worth around the anchor, drawn in one paint


@dataclass(frozen=True, slots=True)
class IdPage:
    total: int  # mentions in the view
    start: int  # the position of ids[0] in the view (0: the top)
    ids: array  # in the list's order (newest first, or oldest first)
    # Where `around` sits (or would sit, if it left the view), and how many ids are newer than `newer_than`.
    anchor: int | None = None
    newer: int | None = None
    newest: int | None = None  # the view's newest id (position 0, or the last when oldest first), loaded or not
    rows: dict[int, InboxRow] = field(default_factory=dict)  # the first screenful's rows


@dataclass(frozen=True, slots=True)
class _Order:
    """The list's direction: which SQL order reads down the list, which comparison means "listed before"."""

    oldest_first: bool

    @property
    def down(self) -> str:
        return "ASC" if self.oldest_first else "DESC"

    @property
    def up(self) -> str:
        return "DESC" if self.oldest_first else "ASC"

    @property
    def before(self) -> str:  # ids listed before a given id
        return "<" if self.oldest_first else ">"

    @property
    def after(self) -> str:
        return ">" if self.oldest_first else "<"


@contextmanager
def _snapshot(store: Store) -> Iterator[None]:
    """One read transaction, so a count and the ids beside it see the same commits."""
    if store.conn.in_transaction:
        yield
        return
    store.conn.execute("BEGIN")
    try:
        yield
    finally:
        store.conn.execute("COMMIT")


def _at(spec: View, comparison: str, name: str) -> str:
    """` AND` the list position of a mention compared with that of the id in `:name` (by id, or by the key)."""
    if spec.order_key is None:
        return f" AND {spec.id_column} {comparison} :{name}"
    key = spec.order_key.rsplit(".", 1)[-1]
    return f" AND {spec.order_key} {comparison} (SELECT {key} FROM mentions WHERE id = :{name})"


def _ids(store: Store, view: str, operator: str, condition: str, order: str, limit: int, offset: int = 0,
         *, reverse: bool = False, by_id: bool = False, **params: int | None) -> array:
    spec = VIEWS[view]
    column = spec.id_column
    sort = column if by_id or spec.order_key is None else spec.order_key
    sql = (f"SELECT {column} {spec.source}{condition.format(id=column)} "
           f"ORDER BY {sort} {order} LIMIT {int(limit)} OFFSET {int(offset)}")
    ids = array("q", (row[0] for row in store.conn.execute(sql, {"operator": operator, **params})))
    if reverse:  # read upwards from an id: put back in the list's order
        ids.reverse()
    return ids


def _count(store: Store, view: str, operator: str, condition: str, than: int) -> int:
    sql = f"SELECT count(*) {VIEWS[view].source}{condition}"
    return store.conn.execute(sql, {"operator": operator, "than": than}).fetchone()[0]


def _order(view: str, oldest_first: bool) -> _Order:
    # A view with its own order (Priority) lists it one way: most urgent on top.
    return _Order(True if VIEWS[view].order_key else oldest_first)


def view_page(store: Store, view: str, operator: str = "", *, around: int | None = None,
              newer_than: int | None = None, size: int = PAGE, oldest_first: bool = False) -> IdPage:
    """The view's length and a page of its ids (the top, or centred on `around`), with the rows
    of the screenful where the list will show it."""
    page = _page(store, view, operator, around, newer_than, size, _order(view, oldest_first))
    middle = (page.anchor or 0) - page.start
    shown = list(page.ids[max(0, middle - ROWS // 2):max(0, middle - ROWS // 2) + ROWS])
    return replace(page, rows=rows_by_id(store, shown, operator))


def _page(store: Store, view: str, operator: str, around: int | None, newer_than: int | None,
          size: int, order: _Order) -> IdPage:
    with _snapshot(store):
        total = view_counts(store, operator)[view]
        spec = VIEWS[view]
        newer = (_count(store, view, operator, f" AND {spec.id_column} > :than", newer_than)
                 if newer_than is not None else None)
        top = _ids(store, view, operator, "", "DESC", 1, by_id=True)
        newest = top[0] if top else None
        if around is None:
            return IdPage(total, 0, _ids(store, view, operator, "", order.down, size), newer=newer, newest=newest)
        above = _ids(store, view, operator, _at(spec, order.before, "around"), order.up, size // 2,
                     reverse=True, around=around)
        below = _ids(store, view, operator, _at(spec, order.after + "=", "around"), order.down,
                     size - len(above), around=around)
        anchor = _count(store, view, operator, _at(spec, order.before, "than"), around)
        return IdPage(total, anchor - len(above), above + below, anchor, newer, newest)


def view_slice(store: Store, view: str, operator: str = "", *, start: int, limit: int, total: int,
               below: int | None = None, above: int | None = None, newest: int | None = None,
               oldest_first: bool = False) -> IdPage:
    """Ids at positions start..start+limit (the page's `start`: where the first one sits).

    `below`: the id just before `start` is loaded (the ids listed after it follow);
    `above`: the id just after the range is (the ids listed before it precede). Else a jump.
    `newest`: the list's newest id; later arrivals are not in it yet, so positions count without them.
    """
    order, spec = _order(view, oldest_first), VIEWS[view]
    cap = "" if newest is None else " AND {id} <= :newest"
    with _snapshot(store):
        if below is not None:
            ids = _ids(store, view, operator, _at(spec, order.after, "below") + cap, order.down, limit,
                       below=below, newest=newest)
            return IdPage(total, start, ids)
        if above is not None:
            ids = _ids(store, view, operator, _at(spec, order.before, "above") + cap, order.up, limit,
                       reverse=True, above=above, newest=newest)
            return IdPage(total, start + limit - len(ids), ids)
        if start <= total // 2:
            return IdPage(total, start, _ids(store, view, operator, cap, order.down, limit, start, newest=newest))
        # Nearer the bottom: skip from there (`G` reads one page, not the whole view).
        skip = max(0, total - start - limit)
        ids = _ids(store, view, operator, cap, order.up, min(limit, total - start), skip, reverse=True,
                   newest=newest)
        return IdPage(total, total - skip - len(ids), ids)
