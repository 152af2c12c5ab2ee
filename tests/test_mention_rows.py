"""Many mentions in one statement: new ids in order, None for what was already stored, never outside a write."""

from __future__ import annotations

import pytest

from store.ingest import insert_mentions, insert_rows
from store.mention_rows import insert_mention_rows

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


def test_a_batch_with_duplicates_gets_ids_only_for_its_new_mentions(store, make_mention):
    [first] = insert_mentions(store, [make_mention(remote_id="a", text="alpha")])
    batch = [make_mention(remote_id=remote, text=f"text {remote}") for remote in ("b", "a", "c", "b", "d")]
    ids = insert_rows(store, [(mention, "open", None) for mention in batch])
    assert ids[1] is None and ids[3] is None
    new = [mention_id for mention_id in ids if mention_id is not None]
    assert len(new) == 3 and first < new[0] < new[1] < new[2]
    stored = dict(store.conn.execute("SELECT id, remote_id FROM mentions"))
    assert [stored[mention_id] for mention_id in new] == ["b", "c", "d"]
    assert store.conn.execute("SELECT text FROM mentions WHERE remote_id = 'a'").fetchone() == ("alpha",)
    # A batch that is all new again continues after the ids a duplicate left unused.
    [later] = insert_mentions(store, [make_mention(remote_id="e")])
    assert later > new[-1]


def test_mentions_a_cleaning_empties_are_none_in_place(store, make_mention):
    ids = insert_rows(store, [(make_mention(remote_id="x1"), "open", None),
                              (make_mention(remote_id="\u202e\x1b[0m"), "open", None),
                              (make_mention(remote_id="x2"), "done", None)])
    assert ids[1] is None and None not in (ids[0], ids[2])
    assert store.conn.execute("SELECT remote_id, status FROM mentions ORDER BY id").fetchall() == [
        ("x1", "open"), ("x2", "done")]


def test_rows_are_only_inserted_inside_a_write(store):
    with pytest.raises(RuntimeError):
        insert_mention_rows(store, [("demo", "r", 1, 1, "t", None, None, "2025", "2025", None, None, "open", 0,
                                     "{}", None)])


def test_a_created_at_that_is_not_a_time_is_stored_and_a_zoneless_one_is_utc(store, make_mention):
    """created_at comes from outside: on PostgreSQL a cast of "2025" to a time failed the whole batch."""
    from store.actions import set_tag
    from store.priority import sync_policy
    from store.sla import SlaPolicy

    sync_policy(store, SlaPolicy.from_table({"default": 3600}, ["care"]))
    ids = insert_mentions(store, [make_mention(remote_id="odd", created_at="2025"),
                                  make_mention(remote_id="junk", created_at="not a time \u00e9"),
                                  make_mention(remote_id="z", created_at="2025-03-14T09:00:00Z"),
                                  make_mention(remote_id="plain", created_at="2025-03-14 09:00:00")])
    assert None not in ids
    set_tag(store, ids[1], "care", True, "ana")  # the Priority view's trigger reads created_at again
    keys = dict(store.conn.execute("SELECT remote_id, due_key >> 37 FROM mentions"))
    assert keys["z"] == keys["plain"] == (1741942800 + 3600) // 60  # a time without a zone is UTC
