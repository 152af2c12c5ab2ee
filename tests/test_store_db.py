"""Opening the database safely, its pragmas and migrations, and ingest of adapter batches."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import threading

import pytest

from store import ingest
from store.db import BUSY_TIMEOUT_MS, StoreError, open_store
from store.ingest import load_cursor, save_batch
from store.schema import SCHEMA_VERSION
from store.worker import StoreWorker
from tests.support import foreign_sqlite, header_then_garbage, newer_schema, random_bytes


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sidecars(path) -> list[str]:
    return [suffix for suffix in ("-wal", "-shm", "-journal") if os.path.exists(f"{path}{suffix}")]


def pragma(store, name: str):
    return store.conn.execute(f"PRAGMA {name}").fetchone()[0]


def count(store, table: str) -> int:
    return store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# --- opening -----------------------------------------------------------------------------------


def test_new_database_has_wal_foreign_keys_busy_timeout_and_current_schema(tmp_path):
    db_path = tmp_path / "sub" / "new.db"
    store = open_store(db_path)  # the folder is created too
    try:
        assert db_path.exists()
        assert pragma(store, "journal_mode") == "wal"
        assert pragma(store, "foreign_keys") == 1
        assert pragma(store, "busy_timeout") == BUSY_TIMEOUT_MS
        assert pragma(store, "user_version") == SCHEMA_VERSION
        tables = {row[0] for row in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"accounts", "authors", "mentions", "tags", "replies", "events", "cursors",
                "source_status"} <= tables
    finally:
        store.close()


def test_the_shared_store_fixture_is_a_current_database(store):
    assert pragma(store, "journal_mode") == "wal"
    assert pragma(store, "foreign_keys") == 1
    assert pragma(store, "user_version") == SCHEMA_VERSION


def test_foreign_keys_are_enforced(store):
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("INSERT INTO tags (mention_id, tag, operator, at) VALUES (4242, 'care', 'x', 'now')")


def test_reopening_is_idempotent_and_keeps_data(db_path, clock, make_mention):
    first = open_store(db_path, clock=clock)
    save_batch(first, "demo", [make_mention(remote_id="keep-me")], "c1")
    schema_before = first.conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    first.close()
    for _ in range(2):
        again = open_store(db_path, clock=clock)
        try:
            assert pragma(again, "user_version") == SCHEMA_VERSION
            assert again.conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() \
                == schema_before
            assert again.conn.execute("SELECT remote_id FROM mentions").fetchall() == [("keep-me",)]
            assert load_cursor(again, "demo") == "c1"
        finally:
            again.close()


def test_an_empty_file_is_a_new_database(tmp_path, clock):
    path = tmp_path / "empty.db"
    path.touch()
    opened = open_store(path, clock=clock)
    try:
        assert pragma(opened, "user_version") == SCHEMA_VERSION
    finally:
        opened.close()










def foreign_sqlite_in_wal_mode(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.commit()
    conn.close()


# The newer-schema file is in WAL mode (mentiondesk wrote it); its sidecar files are checked
# by the xfail test below, so here only its bytes are.
@pytest.mark.parametrize(
    "make_file, wording, wal",
    [
        (random_bytes, "not a mentiondesk database", False),
        (header_then_garbage, "corrupt", False),
        (foreign_sqlite, "not a mentiondesk one", False),
        (newer_schema, "newer mentiondesk", True),
    ],
    ids=["random-bytes", "header-then-garbage", "foreign-sqlite", "newer-schema"],
)
def test_files_that_are_not_ours_are_refused_untouched(tmp_path, make_file, wording, wal):
    path = tmp_path / "theirs.db"
    make_file(path)
    assert not sidecars(path)
    before = digest(path)
    with pytest.raises(StoreError) as caught:
        open_store(path)
    message = str(caught.value)
    assert wording in message
    assert "\n" not in message and message.strip() == message
    assert digest(path) == before
    if not wal:
        assert os.listdir(tmp_path) == ["theirs.db"]


@pytest.mark.parametrize("make_file", [newer_schema, foreign_sqlite_in_wal_mode], ids=["newer", "foreign-wal"])
def test_refusing_a_wal_mode_file_leaves_no_sidecar_files(tmp_path, make_file):
    path = tmp_path / "theirs.db"
    make_file(path)
    assert not sidecars(path)
    with pytest.raises(StoreError):
        open_store(path)
    assert not sidecars(path)


def test_newer_schema_is_refused_even_read_only(tmp_path):
    path = tmp_path / "newer.db"
    newer_schema(path)
    with pytest.raises(StoreError, match="upgrade mentiondesk"):
        open_store(path, readonly=True)


def test_unwritable_directory_is_a_store_error(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running with privileges that ignore directory permissions")
        with pytest.raises(StoreError, match="permission denied"):
            open_store(folder / "desk.db")
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o700)


def test_a_path_below_a_file_is_a_store_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create directory") as caught:
        open_store(blocker / "desk.db")
    assert "\n" not in str(caught.value)
    assert blocker.read_text() == "x"


def test_a_directory_as_database_path_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="is a directory"):
        open_store(tmp_path)


def test_readonly_open_of_a_missing_file_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="no database"):
        open_store(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()


def test_readonly_store_cannot_write(store, db_path, make_mention):
    save_batch(store, "demo", [make_mention()], None)
    reader = open_store(db_path, readonly=True)
    try:
        assert count(reader, "mentions") == 1
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.conn.execute("DELETE FROM cursors")
    finally:
        reader.close()


def test_the_event_log_rejects_update_and_delete(store):
    store.conn.execute("INSERT INTO events (at, operator, action) VALUES ('t', 'ana', 'tag.add')")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.conn.execute("UPDATE events SET operator = 'mallory'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.conn.execute("DELETE FROM events")
    assert store.conn.execute("SELECT operator, action FROM events").fetchall() == [("ana", "tag.add")]


def test_a_failed_write_rolls_back(store):
    with pytest.raises(RuntimeError):
        with store.write() as conn:
            conn.execute("INSERT INTO cursors (source, cursor, updated_at) VALUES ('s', 'c', 't')")
            raise RuntimeError("boom")
    assert count(store, "cursors") == 0
    assert not store.conn.in_transaction


def cursor_sources(store) -> list[str]:
    return [row[0] for row in store.conn.execute("SELECT source FROM cursors ORDER BY source")]


def add_cursor(conn, source: str) -> None:
    conn.execute("INSERT INTO cursors (source, cursor, updated_at) VALUES (?, 'c', 't')", (source,))


def test_a_nested_write_commits_with_the_outer_one(store, db_path):
    other = open_store(db_path)
    try:
        with store.write() as conn:
            add_cursor(conn, "outer")
            with store.write() as inner:
                add_cursor(inner, "inner")
            assert store.conn.in_transaction  # the inner block did not commit
            assert cursor_sources(other) == []
        assert cursor_sources(other) == ["inner", "outer"]
    finally:
        other.close()
    assert not store.conn.in_transaction


def test_a_failed_nested_write_undoes_only_itself(store):
    with store.write() as conn:
        add_cursor(conn, "kept")
        with pytest.raises(RuntimeError):
            with store.write() as inner:
                add_cursor(inner, "undone")
                with store.write() as innermost:
                    add_cursor(innermost, "undone too")
                raise RuntimeError("boom")
        with store.write() as again:
            add_cursor(again, "after")
    assert cursor_sources(store) == ["after", "kept"]
    assert not store.conn.in_transaction


def test_a_failure_under_a_nested_write_rolls_back_everything(store):
    with pytest.raises(RuntimeError):
        with store.write() as conn:
            add_cursor(conn, "outer")
            with store.write() as inner:
                add_cursor(inner, "inner")
                raise RuntimeError("boom")
    assert cursor_sources(store) == []
    assert not store.conn.in_transaction


def test_now_comes_from_the_injected_clock(store, clock):
    assert store.now() == "2025-03-14T09:26:53.000Z"
    clock.advance(seconds=1.5)
    assert store.now() == "2025-03-14T09:26:54.500Z"


# --- ingest ------------------------------------------------------------------------------------


def test_save_batch_is_idempotent_per_network_and_remote_id(store, make_mention):
    batch = [make_mention(remote_id="a"), make_mention(remote_id="b")]
    first = save_batch(store, "demo", batch, None)
    assert len(first) == 2
    assert save_batch(store, "demo", batch, None) == []
    again_plus_one = save_batch(store, "demo", [make_mention(remote_id="a"), make_mention(remote_id="c")], None)
    assert len(again_plus_one) == 1
    # The same remote id on another network is another mention.
    assert len(save_batch(store, "mastodon", [make_mention(network="mastodon", remote_id="a")], None)) == 1
    assert count(store, "mentions") == 4


def test_a_repeated_remote_id_inside_one_batch_is_stored_once(store, make_mention):
    new = save_batch(store, "demo", [make_mention(remote_id="x", text="first"),
                                     make_mention(remote_id="x", text="second")], None)
    assert len(new) == 1
    assert store.conn.execute("SELECT text FROM mentions").fetchall() == [("first",)]


def test_cursor_is_stored_with_the_batch(store, make_mention):
    assert load_cursor(store, "demo") is None
    save_batch(store, "demo", [make_mention()], "cursor-1")
    assert load_cursor(store, "demo") == "cursor-1"
    save_batch(store, "demo", [], None)  # None keeps the stored cursor
    assert load_cursor(store, "demo") == "cursor-1"
    save_batch(store, "demo", [], "cursor-2")
    assert load_cursor(store, "demo") == "cursor-2"
    assert load_cursor(store, "other") is None


def test_cursor_and_mentions_commit_together_or_not_at_all(store, make_mention, monkeypatch):
    save_batch(store, "demo", [make_mention(remote_id="before")], "cursor-1")

    def index_fails(*_args, **_kwargs):
        raise sqlite3.OperationalError("disk full")

    monkeypatch.setattr(ingest, "index_mentions", index_fails)
    with pytest.raises(sqlite3.OperationalError):
        save_batch(store, "demo", [make_mention(remote_id="lost")], "cursor-2")
    assert load_cursor(store, "demo") == "cursor-1"
    assert store.conn.execute("SELECT remote_id FROM mentions").fetchall() == [("before",)]


def test_authors_and_accounts_are_reused(store, make_mention):
    save_batch(store, "demo", [make_mention(author_handle="@ana"), make_mention(author_handle="@ana"),
                               make_mention(author_handle="@bo")], None)
    save_batch(store, "demo", [make_mention(author_handle="@ana")], None)
    save_batch(store, "mastodon", [make_mention(network="mastodon", author_handle="@ana")], None)
    assert store.conn.execute("SELECT network, handle FROM authors ORDER BY id").fetchall() == [
        ("demo", "@ana"), ("demo", "@bo"), ("mastodon", "@ana")]
    assert store.conn.execute("SELECT network, handle FROM accounts ORDER BY id").fetchall() == [
        ("demo", "@brand"), ("mastodon", "@brand")]
    per_author = store.conn.execute(
        "SELECT a.handle, count(*) FROM mentions m JOIN authors a ON a.id = m.author_id "
        "WHERE m.network = 'demo' GROUP BY a.handle ORDER BY a.handle").fetchall()
    assert per_author == [("@ana", 3), ("@bo", 1)]


HOSTILE = (
    "\x1b[31mred\x1b[0m "              # CSI colours
    "\x1b]0;pwned title\x07"           # OSC window title
    "\x9b2Jcleared "                   # 8-bit CSI
    "\x85next\x9dosc\x9c "             # C1: NEL, 8-bit OSC ... ST
    "\u202eevil\u202c "                # bidi override
    "\u2066iso\u2069 "                 # bidi isolate
    "nul\x00byte"
)


def test_hostile_text_is_made_inert_on_insert(store, make_mention):
    save_batch(store, "demo", [make_mention(text=HOSTILE, author_handle="@\x1b[2Jmal\u202elory",
                                            author_name="Mal\x07\x1b]2;x\x07lory")], None)
    text, handle, name = store.conn.execute(
        "SELECT m.text, a.handle, a.display_name FROM mentions m JOIN authors a ON a.id = m.author_id").fetchone()
    assert text == "red cleared next evil iso nulbyte"
    assert handle == "@mallory"
    assert name == "Mallory"


def test_ordinary_text_survives_insert(store, make_mention):
    ordinary = "Merci beaucoup ! Élodie a reçu sa commande à Noël 🎉👍🏽\n\tdeuxième ligne — «ça marche»"
    save_batch(store, "demo", [make_mention(text=ordinary, author_name="Chloé Lefèvre 🌻")], None)
    text, name = store.conn.execute(
        "SELECT m.text, a.display_name FROM mentions m JOIN authors a ON a.id = m.author_id").fetchone()
    assert text == ordinary
    assert name == "Chloé Lefèvre 🌻"


def test_reply_ref_and_raw_are_stored_as_json(store, make_mention):
    save_batch(store, "demo", [make_mention(reply_ref={"uri": "at://x", "cid": "bafy"}, raw={"n": 1})], None)
    assert store.conn.execute("SELECT reply_ref, raw FROM mentions").fetchone() == (
        '{"uri": "at://x", "cid": "bafy"}', '{"n": 1}')


def test_a_lone_surrogate_does_not_lose_the_batch(store, make_mention):
    # JSON "\ud800" escapes decode to lone surrogates, which SQLite cannot encode.
    new = save_batch(store, "demo", [
        make_mention(remote_id="ok"),
        make_mention(remote_id="odd", text="a\ud800b", author_handle="@z", author_name="\udc80Z",
                     raw={"text": "a\ud800b"}, reply_ref={"id": "\ud800"}),
    ], "cursor-1")
    assert len(new) == 2
    assert load_cursor(store, "demo") == "cursor-1"
    assert store.conn.execute(
        "SELECT m.text, a.display_name FROM mentions m JOIN authors a ON a.id = m.author_id WHERE remote_id = 'odd'"
    ).fetchone() == ("ab", "Z")


# --- worker ------------------------------------------------------------------------------------


async def test_store_worker_runs_calls_on_one_thread_off_the_event_loop(db_path, clock, make_mention):
    worker = StoreWorker(str(db_path), clock=clock)
    loop_thread = threading.get_ident()
    try:
        seen = await asyncio.gather(*(worker.run(lambda s: (threading.get_ident(), id(s))) for _ in range(5)))
        assert len(set(seen)) == 1
        assert seen[0][0] != loop_thread
        new = await worker.run(save_batch, "demo", [make_mention()], "c")
        assert len(new) == 1
        assert await worker.run(load_cursor, "demo") == "c"
    finally:
        worker.close()
