"""The store speaks in types: results are dataclasses, never tuples or loose dicts."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import types
import typing
from collections.abc import Iterable, Iterator

import store
from store.actions import queue_reply, retry_reply
from store.changes import Changes, marks_now, poll
from store.events import EventMark, events_since
from store.ingest import save_batch
from store.lease import LeaseHolder, acquire, current_holder
from store.outbox import ReplyRequest, ReplyRequests, claim_due, mark_failed, reply_requests_since
from store.source_status import SourceStatus, set_source_status, source_statuses

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

# Helpers only the store itself calls, whose loose shape is the point.
INTERNAL = {
    "store.account_settings.get_setting": "any JSON value, read by get_text_limits",
    "store.pg_open.connect_options": "libpq keyword parameters, spread into psycopg's connect",
    "store.import_rows.parse_chunk": "plain tuples through a pipe: pickling dataclasses costs many times more",
    "store.redact.redact_detail": "an event's free-form JSON detail",
    "store.search_terms.term_spans": "tokenizer offsets, read by store.search",
    "store.transfer.defuse_cell": "one CSV cell of any type",
}
SCALARS = (int, float, str, bool, bytes, type(None))


def loose(annotation: object) -> str | None:
    """Why a return annotation is not typed enough, or None."""
    origin = typing.get_origin(annotation)
    if annotation is typing.Any:
        return "Any"
    if annotation in (tuple, dict, list):
        return f"a bare {annotation.__name__}"
    if origin is tuple:
        return "a tuple"
    if origin is dict:
        _, value = typing.get_args(annotation)
        return None if value in SCALARS or dataclasses.is_dataclass(value) else f"a dict of {value}"
    if origin in (list, set, frozenset, Iterator, Iterable, typing.Union, types.UnionType):
        return next((why for arg in typing.get_args(annotation) if (why := loose(arg))), None)
    return None


def public_functions():
    for module_info in pkgutil.iter_modules(store.__path__):
        module = importlib.import_module(f"store.{module_info.name}")
        for name, function in vars(module).items():
            if not name.startswith("_") and inspect.isfunction(function) and function.__module__ == module.__name__:
                yield f"{module.__name__}.{name}", function


def test_no_store_function_returns_a_tuple_or_an_untyped_dict():
    found = dict(public_functions())
    assert "store.handover.handover_report" in found and "store.import_rows.parse_record" in found
    problems = []
    for name, function in found.items():
        hints = typing.get_type_hints(function)
        if "return" not in hints:
            problems.append(f"{name}: no return annotation")
        elif (why := loose(hints["return"])) and name not in INTERNAL:
            problems.append(f"{name} returns {why}")
    assert problems == []
    assert set(INTERNAL) <= set(found), "an exemption names a function that is gone"


def test_the_lease_holder_is_typed(store):
    assert current_holder(store) is None
    acquire(store, "console-1", 30)
    assert current_holder(store) == LeaseHolder("console-1", current_holder(store).expires_at)
    assert current_holder(store).expires_at > store.now()


def test_source_statuses_are_typed(store):
    set_source_status(store, "demo:@brand", "live", "connected", last_event_at="2025-03-14T09:00:00.000Z")
    assert source_statuses(store) == [
        SourceStatus("demo:@brand", "live", "connected", store.now(), "2025-03-14T09:00:00.000Z")]


def test_reply_requests_and_events_are_typed(store, make_mention):
    [mention_id] = save_batch(store, "demo", [make_mention()], None)
    start = reply_requests_since(store, None)
    assert start == ReplyRequests(start.newest_event, [])
    reply = queue_reply(store, mention_id, "hello", "ana")
    mark_failed(store, claim_due(store)[0], "no")
    retry_reply(store, reply.id, "bo")
    found = reply_requests_since(store, start.newest_event)
    assert found.requests == [ReplyRequest(reply.id, "reply.queue", "ana"), ReplyRequest(reply.id, "reply.retry", "bo")]
    assert reply_requests_since(store, found.newest_event).requests == []
    events = events_since(store, start.newest_event)
    assert [(e.action, e.mention_id) for e in events] == [
        ("reply.queue", mention_id), ("reply.failed", mention_id), ("reply.retry", mention_id)]
    assert all(isinstance(e, EventMark) for e in events) and events[-1].id == found.newest_event


def test_a_poll_carries_the_marks_for_the_next_one(store, make_mention):
    marks = marks_now(store)
    save_batch(store, "demo", [make_mention()], None)
    changes = poll(store, marks, force=True)
    assert isinstance(changes, Changes) and changes.new_mentions == 1
    assert changes.marks == marks_now(store)
    assert poll(store, changes.marks, force=True) == Changes(changes.marks)
