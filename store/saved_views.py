"""Saved views: a search the desk keeps under a name, on one of the keys 7, 8 and 9.

Shared by every operator (the night shift sees the day shift's views). A
saved view lists the mentions its search finds (at most SAVED_VIEW_LIMIT,
the best matches), newest first or, per operator, oldest first.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from store.db import Store
from store.errors import ActionError
from store.events import log_event
from store.query import parse_query
from store.sanitize import clean_line

SAVED_KEYS = ("7", "8", "9")
SAVED_PREFIX = "saved:"  # a saved view's id among the views: "saved:Refunds FR"
SAVED_VIEW_LIMIT = 5000
MAX_NAME = 24


class SavedViewError(ActionError):
    """A view that cannot be saved or removed, in one line."""


class ViewExists(SavedViewError):
    """A view of that name is saved already (replace=True replaces its search, on the same key)."""


@dataclass(frozen=True, slots=True)
class SavedView:
    key: str
    name: str
    query: str
    operator: str
    created_at: str

    @property
    def view(self) -> str:
        return SAVED_PREFIX + self.name


def saved_views(store: Store) -> list[SavedView]:
    """Every saved view, in key order."""
    return [SavedView(*row) for row in store.conn.execute(
        "SELECT key, name, query, operator, created_at FROM saved_views ORDER BY key")]


def saved_view(store: Store, name_or_key: str) -> SavedView | None:
    row = store.conn.execute(
        """SELECT key, name, query, operator, created_at FROM saved_views WHERE name = ? OR key = ?
           ORDER BY name = ? DESC LIMIT 1""",  # a view called "8" wins over the view on key 8
        (name_or_key, name_or_key, name_or_key)).fetchone()
    return SavedView(*row) if row else None


def save_view(store: Store, name: str, query: str, operator: str, *, key: str | None = None,
              replace: bool = False) -> SavedView:
    """Save `query` as view `name` on `key` (default: the first free of 7-9)."""
    name, query = clean_line(name, 200), clean_line(query, 1000)
    if not name:
        raise SavedViewError("a saved view needs a name")
    if len(name) > MAX_NAME:
        raise SavedViewError(f"view name {name[:40]!r} is too long: at most {MAX_NAME} characters "
                             "(it sits on the view bar)")
    if parse_query(query).is_empty:
        raise SavedViewError("a saved view needs a search: words and/or filters such as tag:care status:open")
    if key is not None and key not in SAVED_KEYS:
        raise SavedViewError(f"key {key[:10]!r}: saved views sit on keys {', '.join(SAVED_KEYS)}")
    with store.write() as conn:
        existing = saved_view(store, name)
        if existing is not None and existing.name.casefold() == name.casefold():
            if not replace:
                raise ViewExists(f"a view called {existing.name!r} is saved already (key {existing.key})")
            if key is None or key == existing.key:
                conn.execute("UPDATE saved_views SET query = ?, operator = ?, created_at = ? WHERE name = ?",
                             (query, operator, store.now(), existing.name))
                log_event(store, operator, "view.save", None, name=name, query=query, key=existing.key)
                return SavedView(existing.key, existing.name, query, operator, store.now())
            conn.execute("DELETE FROM saved_views WHERE name = ?", (existing.name,))
        taken = {view.key: view.name for view in saved_views(store)}
        if key is None:
            free = [candidate for candidate in SAVED_KEYS if candidate not in taken]
            if not free:
                raise SavedViewError("keys 7, 8 and 9 all hold a saved view ("
                                     + ", ".join(taken.values()) + "); remove one first")
            key = free[0]
        elif key in taken:
            raise SavedViewError(f"key {key} holds the view {taken[key]!r}; remove it first")
        conn.execute("INSERT INTO saved_views (name, key, query, operator, created_at) VALUES (?, ?, ?, ?, ?)",
                     (name, key, query, operator, store.now()))
        log_event(store, operator, "view.save", None, name=name, query=query, key=key)
    return SavedView(key, name, query, operator, store.now())


def remove_view(store: Store, name_or_key: str, operator: str) -> SavedView:
    """Remove the view called `name_or_key` (or on that key); SavedViewError if there is none."""
    with store.write() as conn:
        found = saved_view(store, clean_line(name_or_key, 200))
        if found is None:
            raise SavedViewError(f"no saved view called {name_or_key[:40]!r}")
        conn.execute("DELETE FROM saved_views WHERE name = ?", (found.name,))
        log_event(store, operator, "view.remove", None, name=found.name, key=found.key)
    return found


def saved_view_ids(store: Store, name: str, *, oldest_first: bool = False) -> array:
    """The ids view `name` lists, newest (or oldest) first; empty when no such view is saved (any more)."""
    from store.search import search  # the search vocabulary loads with the first saved view listed

    found = saved_view(store, name)
    if found is None:
        return array("q")
    ids = sorted((hit.mention_id for hit in search(store, found.query, limit=SAVED_VIEW_LIMIT)),
                 reverse=not oldest_first)
    return array("q", ids)
