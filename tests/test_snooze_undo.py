"""z is undoable like the other single keys: snoozing many mentions is one undo entry (store.snooze_undo)."""

from __future__ import annotations

from datetime import timedelta

from store.ingest import save_batch
from store.snooze_undo import snooze_undoably, unsnooze_undoably
from store.undo import entries, undo_last

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


def snoozes(store) -> dict[int, str]:
    return dict(store.conn.execute("SELECT mention_id, until FROM snoozes"))


def test_a_bulk_snooze_is_one_undo_entry_and_undo_wakes_them(store, make_mention, clock):
    ids = save_batch(store, "demo", [make_mention() for _ in range(3)], None)
    changes = snooze_undoably(store, ids, clock() + timedelta(hours=1), "ana")
    assert len(changes) == 3 and [e.label for e in entries(store, "ana")] == ["Snoozed on 3 mentions"]
    assert undo_last(store, "ana").count == 3
    assert snoozes(store) == {}


def test_undoing_a_wake_puts_the_wake_time_back_unless_someone_changed_it(store, make_mention, clock):
    ids = save_batch(store, "demo", [make_mention() for _ in range(2)], None)
    snooze_undoably(store, ids, clock() + timedelta(hours=1), "ana")
    before = snoozes(store)
    unsnooze_undoably(store, ids, "ana")
    snooze_undoably(store, [ids[1]], clock() + timedelta(hours=3), "bo")  # bo snoozed one again
    undone = undo_last(store, "ana")
    assert undone.message == "Undone on 1 of 2: bo changed 1 since, left as they are."
    assert snoozes(store)[ids[0]] == before[ids[0]]
