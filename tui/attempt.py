"""Run one shift call on behalf of a widget: worded refusals become a toast, database errors the banner."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from textual.widget import Widget

from store.actions import ActionError
from tui.dbtrouble import DATABASE_ERRORS
from tui.messages import DatabaseOk, DatabaseTrouble

T = TypeVar("T")


async def attempt(node: Widget, call: Awaitable[T], errors: tuple[type[Exception], ...] = ()) -> T | None:
    """The call's result, or None once the operator was told why not; `errors` are the caller's to answer."""
    try:
        result = await call
    except errors:
        raise
    except ActionError as exc:
        node.notify(str(exc), severity="error", markup=False)
        return None
    except DATABASE_ERRORS as exc:
        node.post_message(DatabaseTrouble(exc))
        node.notify("Not saved: the database refused the write (see the banner).", severity="error",
                    markup=False)
        return None
    node.post_message(DatabaseOk())
    return result
