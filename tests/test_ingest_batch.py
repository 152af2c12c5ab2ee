"""An ingest batch's writes: each mention written once, with its signals; its new authors found and made together."""

from __future__ import annotations

from store.ingest import save_batch
from store.schema import DUE_KEY_UPDATE
from store.signals import Signals

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


def test_a_batch_with_signals_writes_each_mention_once_with_its_signals_and_due_key(store, make_mention):
    with store.write():  # a desk's SLA targets: the due key depends on them as well as on the signals
        store.conn.execute("INSERT INTO sla_targets (kind, name, seconds) VALUES ('default', '', 3600)")
    save_batch(store, "demo", [make_mention(author_handle="@known", author_name="Known")], None)
    mentions = [make_mention(author_handle=f"@new{n % 7}" if n % 5 else "@known", author_name=f"Name {n}",
                             text=f"refund {n}") for n in range(20)]
    signals = [Signals(lang="en" if n % 4 else None, sentiment=n % 3 - 1, needs_reply=bool(n % 2)) for n in range(20)]
    sent: list[str] = []
    store.conn.set_trace_callback(sent.append)
    try:
        ids = save_batch(store, "demo", mentions, None, signals=signals)
    finally:
        store.conn.set_trace_callback(None)
    assert not [sql for sql in sent if sql.lstrip().upper().startswith("UPDATE MENTIONS")], \
        "signals are written with the mention, not by an UPDATE of every row after it"
    lookups = [sql for sql in sent if sql.lstrip().upper().startswith("SELECT") and " authors " in sql]
    assert len(lookups) <= 2, "a batch's authors looked up together, not one by one"
    marks = ", ".join("?" for _ in ids)
    rows = store.conn.execute("SELECT id, sig_lang, sentiment, needs_reply, due_key FROM mentions "
                              f"WHERE id IN ({marks}) ORDER BY id", ids).fetchall()
    assert [row[1:4] for row in rows] == [signal.columns() for signal in signals]
    keys = {row[0]: row[4] for row in rows}
    with store.write():
        store.conn.execute(DUE_KEY_UPDATE)  # the key as the triggers compute it from the stored row
    assert dict(store.conn.execute(f"SELECT id, due_key FROM mentions WHERE id IN ({marks})", ids).fetchall()) == keys
    # New authors numbered in the order first met, each with the name it first came with.
    assert store.conn.execute("SELECT handle, display_name FROM authors ORDER BY id").fetchall() == [
        ("@known", "Known"), ("@new1", "Name 1"), ("@new2", "Name 2"), ("@new3", "Name 3"), ("@new4", "Name 4"),
        ("@new6", "Name 6"), ("@new0", "Name 7"), ("@new5", "Name 12")]
    by_author = dict(store.conn.execute(
        "SELECT m.remote_id, a.handle FROM mentions m JOIN authors a ON a.id = m.author_id").fetchall())
    assert [by_author[m.remote_id] for m in mentions] == [m.author_handle for m in mentions]
