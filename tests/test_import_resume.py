"""An interrupted import keeps and indexes what it committed, and running it again finishes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from store.db import StoreError, open_store
from store.importing import import_lines
from store.search import search
from store.transfer import iter_export
from tests.procs import clean_env, wait_for


def line(n: int, text: str | None = None, **fields: object) -> str:
    return json.dumps({"network": "demo", "remote_id": f"r{n}", "author_handle": f"@author{n % 3}",
                       "text": text or f"parcel number{n} arrived", "created_at": "2025-03-14T09:00:00.000Z",
                       "tags": ["care"] if n % 2 else [], **fields})


def found(store, word: str) -> list[str]:
    ids = [hit.mention_id for hit in search(store, word, limit=100)]
    remote = dict(store.conn.execute("SELECT id, remote_id FROM mentions"))
    return [remote[mention_id] for mention_id in ids]


def pending(store) -> int:
    return store.conn.execute("SELECT count(*) FROM search_pending").fetchone()[0]


def test_an_interrupted_import_keeps_its_committed_rows_searchable_and_a_rerun_finishes_it(tmp_path, clock):
    lines = [line(n) for n in range(10)]

    def dies_after_seven() -> Iterator[str]:
        yield from lines[:7]
        raise KeyboardInterrupt

    store = open_store(tmp_path / "desk.db", clock=clock)
    with pytest.raises(KeyboardInterrupt):
        import_lines(store, dies_after_seven(), "importer", batch=2, commit_rows=3)
    # Written four rows at a time (3 asked, whole chunks of 2): lines 1-4 are in, 5-7 were never committed.
    assert [record.remote_id for record in iter_export(store)] == ["r0", "r1", "r2", "r3"]
    assert found(store, "number3") == ["r3"] and pending(store) == 0
    report = import_lines(store, lines, "importer", batch=2, commit_rows=3)
    assert (report.imported, report.duplicates, report.errors) == (6, 4, [])
    records = list(iter_export(store))
    assert [record.remote_id for record in records] == [f"r{n}" for n in range(10)]
    assert [record.tags for record in records] == [["care"] if n % 2 else [] for n in range(10)]
    assert all(found(store, f"number{n}") == [f"r{n}"] for n in range(10))
    store.close()


def test_skipped_duplicates_leave_no_document_or_vocabulary_and_the_new_rows_get_theirs(tmp_path, clock):
    store = open_store(tmp_path / "desk.db", clock=clock)
    import_lines(store, [line(1, "first words"), line(3, "third words")], "importer")
    # Duplicates before, between and after new rows, one of them twice in the same chunk.
    again = [line(1, "zanzibarish copy"), line(2, "quokkas two"), line(3, "zanzibarish copy"),
             line(4, "wombats four"), line(2, "zanzibarish copy"), line(1, "zanzibarish copy")]
    report = import_lines(store, again, "importer")
    assert (report.imported, report.duplicates) == (2, 4)
    assert found(store, "zanzibarish") == []
    assert store.conn.execute("SELECT count(*) FROM search_vocab WHERE term = 'zanzibarish'").fetchone()[0] == 0
    assert (found(store, "quokkas"), found(store, "wombats"), found(store, "third")) == (["r2"], ["r4"], ["r3"])
    assert {record.remote_id: record.text for record in iter_export(store)} == {
        "r1": "first words", "r2": "quokkas two", "r3": "third words", "r4": "wombats four"}
    store.close()


def test_a_second_import_with_new_authors_between_known_ones_keeps_authors_straight(tmp_path, clock):
    store = open_store(tmp_path / "desk.db", clock=clock)
    import_lines(store, [line(n) for n in range(4)], "importer", batch=1, commit_rows=1)
    import_lines(store, [line(n, author_handle=f"@new{n}") for n in range(4, 8)], "other", batch=3)
    handles = [record.author_handle for record in iter_export(store)]
    assert handles == ["@author0", "@author1", "@author2", "@author0", "@new4", "@new5", "@new6", "@new7"]
    store.close()


@pytest.mark.serial
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO")
def test_an_import_killed_with_sigkill_resumes_where_it_stopped(tmp_path):
    """A real process: what it committed survives kill -9 and is searchable; the re-run adds the rest once."""
    from store.importing import COMMIT_ROWS

    lines = [line(n) + "\n" for n in range(COMMIT_ROWS + 22_000)]
    fifo, whole = tmp_path / "feed", tmp_path / "all.jsonl"
    whole.write_text("".join(lines), encoding="utf-8")
    os.mkfifo(fifo)
    env, db = clean_env(tmp_path), tmp_path / "desk.db"
    proc = subprocess.Popen([sys.executable, "-m", "tui", "--db", str(db), "import", str(fifo)],
                            stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
    sink = os.open(fifo, os.O_WRONLY)
    try:
        # One commit's worth, and the chunks the parsers hold ahead of the writer (5,000 lines each), then a stall.
        os.write(sink, "".join(lines[:COMMIT_ROWS + 21_000]).encode())

        def committed() -> int:
            try:
                reader = open_store(db, readonly=True)
            except StoreError:  # not created yet
                return 0
            try:
                return reader.conn.execute("SELECT count(*) FROM mentions").fetchone()[0]
            finally:
                reader.close()

        wait_for(committed, timeout=120, what="the first commit of the import")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        os.close(sink)
    store = open_store(db)
    kept = store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0]
    assert COMMIT_ROWS <= kept < len(lines)
    assert found(store, f"number{kept - 1}") == [f"r{kept - 1}"] and pending(store) == 0
    store.close()
    rerun = subprocess.run([sys.executable, "-m", "tui", "--db", str(db), "import", str(whole)],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stderr.splitlines()[-1] == (f"imported {len(lines) - kept}, skipped {kept} duplicate(s), "
                                             "0 bad line(s)")
    store = open_store(db)
    assert store.conn.execute("SELECT count(*), count(DISTINCT remote_id) FROM mentions").fetchone() == (
        len(lines), len(lines))
    assert found(store, f"number{len(lines) - 1}") == [f"r{len(lines) - 1}"]
    store.close()
