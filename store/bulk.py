"""One action on one or many mentions: one transaction, one event per mention, one undo entry.

The console's single keys (on the selected row or on every marked row) and
the CLI verbs (several ids or a search query) all come through `change`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from store.db import Store
from store.desk import UnknownOperator, known_operator
from store.errors import ActionError
from store.fields import FIELDS
from store.operators import check_operator
from store.undo import push

TOGGLE: Any = object()  # the field's own toggle: tag all unless all are tagged, done all unless all are done


@dataclass(frozen=True, slots=True)
class Outcome:
    value: Any  # what the mentions were set to
    total: int  # mentions asked for
    changed: int  # mentions whose value changed
    label: str  # "Tagged care on 3 mentions": the toast and the undo entry
    undo_id: int | None  # None: nothing changed, nothing to undo


def _unique(ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(int(mention_id) for mention_id in ids))


def label_for(words: str, ids: list[int]) -> str:
    return f"{words} on #{ids[0]}" if len(ids) == 1 else f"{words} on {len(ids)} mentions"


def change(store: Store, operator: str, field: str, ids: Iterable[int], value: Any = TOGGLE) -> Outcome:
    """Set `field` to `value` (or toggle it) on every mention of `ids`, all or none.

    An unknown id refuses the whole action (ActionError), so a typo in a
    list of ids changes nothing.
    """
    spec = FIELDS[field]
    targets = _unique(ids)
    if not targets:
        raise ActionError("no mentions given")
    with store.write():
        current = spec.read(store, targets)
        missing = [mention_id for mention_id in targets if mention_id not in current]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise ActionError(f"no mention with id {missing[0]}{more}; nothing changed")
        if value is TOGGLE:
            if spec.toggle is None:
                raise ActionError(f"{field} does not toggle")
            value = spec.toggle([current[mention_id] for mention_id in targets])
        changes = [(mention_id, current[mention_id], value) for mention_id in targets
                   if current[mention_id] != value]
        label = label_for(spec.words(value), targets)
        undo_id = None
        if changes:
            spec.write(store, changes, operator, {"bulk": len(targets)} if len(targets) > 1 else {})
            undo_id = push(store, operator, "field", label, {"field": field, "changes": changes})
    return Outcome(value, len(targets), len(changes), label, undo_id)


def assign(store: Store, operator: str, ids: Iterable[int], assignee: str | None, *,
           allow_new: bool = False) -> Outcome:
    """Assign (None or "" unassigns); a name nobody has used raises UnknownOperator unless `allow_new`."""
    name = check_operator(assignee) if assignee else ""
    if name and name != operator and not allow_new and not known_operator(store, name):
        raise UnknownOperator(name)
    return change(store, operator, "assignee", ids, name)


def query_ids(store: Store, query: str) -> list[int]:
    """Every mention a search query finds (the search language, filters and words), newest first.

    A query that finds MAX_LIMIT or more is refused: a bulk action must know all it touches.
    """
    from store.search import MAX_LIMIT, search  # at call time: the console starts without the search engine

    if not query.strip():
        raise ActionError("the query is empty")
    hits = search(store, query, limit=MAX_LIMIT)
    if len(hits) >= MAX_LIMIT:
        raise ActionError(f"the query finds {MAX_LIMIT:,} mentions or more; narrow it (add a filter or a word)")
    return sorted((hit.mention_id for hit in hits), reverse=True)
