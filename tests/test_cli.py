"""The `mentiondesk` command run as a real process: import, search, export, and refusals."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from store.db import open_store
from store.ingest import save_batch
from store.records import NewMention
from store.transfer import EXPORT_FIELDS
from tests.support import assert_one_line_refusal, foreign_sqlite, header_then_garbage, newer_schema, random_bytes

BOTH_BACKENDS = True  # tests/conftest.py: the tests taking `desk_db` also run on PostgreSQL

OPERATOR = "cli-tester"


def run(tmp_path, *args: str, db=None, **extra_env: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MENTIONDESK_")}
    env.update(MENTIONDESK_OPERATOR=OPERATOR, PYTHONIOENCODING="utf-8", PYTHONUTF8="1",
               XDG_DATA_HOME=str(tmp_path / "xdg-data"), XDG_CONFIG_HOME=str(tmp_path / "xdg-config"), **extra_env)
    command = [sys.executable, "-m", "tui", *args, "--db", str(db if db is not None else tmp_path / "desk.db")]
    return subprocess.run(command, capture_output=True, text=True, encoding="utf-8", env=env, cwd=tmp_path,
                          timeout=60)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record(remote_id: str, text: str, **extra) -> dict:
    return {"network": "demo", "remote_id": remote_id, "author_handle": "@ana", "author_name": "Ana",
            "text": text, "created_at": "2025-03-14T09:00:00.000Z", **extra}


RECORDS = [
    record("m1", "Where is my refund? Ordered three weeks ago", tags=["care"]),
    record("m2", "Loving the new spring collection 🌸", tags=["marketing"], status="done"),
    record("m3", "Élodie says the café delivery was late", replies=[
        {"text": "Sorry Élodie, checking now", "state": "sent", "operator": "carla",
         "created_at": "2025-03-14T10:00:00.000Z", "sent_at": "2025-03-14T10:00:01.000Z", "remote_id": "r9"}]),
]


def write_records(path, records=RECORDS):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def desk(tmp_path, desk_db):
    """An imported desk (SQLite file or PostgreSQL URL) and the import's own run."""
    result = run(tmp_path, "import", str(write_records(tmp_path / "in.jsonl")), db=desk_db)
    assert result.returncode == 0, result.stderr
    return desk_db, result


@pytest.fixture
def export_file(tmp_path):
    return write_records(tmp_path / "in.jsonl")


def test_import_reports_and_records_the_operator(desk):
    db, imported = desk
    assert imported.stderr.splitlines() == ["imported 3, skipped 0 duplicate(s), 0 bad line(s)"]
    store = open_store(db, readonly=True)
    try:
        assert store.conn.execute("SELECT count(*) FROM mentions").fetchone() == (3,)
        assert {row[0] for row in store.conn.execute("SELECT operator FROM tags")} == {OPERATOR}
        assert store.conn.execute("SELECT operator, action FROM events").fetchall() == [(OPERATOR, "import.batch")]
    finally:
        store.close()


def test_importing_again_skips_duplicates(tmp_path, desk, export_file):
    again = run(tmp_path, "import", str(export_file), db=desk[0])
    assert again.returncode == 0
    assert again.stderr.splitlines() == ["imported 0, skipped 3 duplicate(s), 0 bad line(s)"]


def test_export_jsonl_gives_back_what_was_imported(tmp_path, desk):
    result = run(tmp_path, "export", "--format", "jsonl", db=desk[0])
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    exported = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["remote_id"], r["text"], r["tags"], r["status"]) for r in exported] == [
        (r["remote_id"], r["text"], r.get("tags", []), r.get("status", "open")) for r in RECORDS]
    assert exported[2]["replies"][0]["text"] == "Sorry Élodie, checking now"
    assert exported[2]["replies"][0]["state"] == "sent"


def test_export_csv(tmp_path, desk):
    result = run(tmp_path, "export", "--format", "csv", db=desk[0])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == ",".join(EXPORT_FIELDS)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(row["remote_id"], row["tags"], row["status"]) for row in rows] == [
        ("m1", "care", "open"), ("m2", "marketing", "done"), ("m3", "", "open")]
    assert json.loads(rows[2]["replies"])[0]["remote_id"] == "r9"


def test_export_to_a_file(tmp_path, desk):
    target = tmp_path / "out.jsonl"
    result = run(tmp_path, "export", "-o", str(target), db=desk[0])
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr.strip() == f"exported 3 mention(s) to {target}"
    assert len(target.read_text(encoding="utf-8").splitlines()) == 3


def test_export_to_an_unwritable_file_is_one_line(tmp_path, desk):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    line = assert_one_line_refusal(run(tmp_path, "export", "-o", str(blocker / "out.jsonl"), db=desk[0]))
    assert "cannot write" in line


def test_import_of_a_missing_file_is_one_line(tmp_path, desk_db):
    line = assert_one_line_refusal(run(tmp_path, "import", str(tmp_path / "nope.jsonl"), db=desk_db))
    assert "cannot read" in line


def test_import_with_bad_lines_exits_1_and_imports_the_rest(tmp_path, desk_db):
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([
        json.dumps(record("ok-1", "first good one")),
        "this is not json",
        json.dumps({"network": "demo", "text": "no id"}),
        json.dumps(record("bad-tag", "tagged wrong", tags=["vip"])),
        json.dumps(record("ok-2", "second good one")),
    ]) + "\n", encoding="utf-8")
    result = run(tmp_path, "import", str(path), db=desk_db)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert [line.split(": skipped: ")[0] for line in lines[:-1]] == [f"{path}:2", f"{path}:3", f"{path}:4"]
    assert all(": skipped: " in line for line in lines[:-1])
    assert lines[-1] == "imported 2, skipped 0 duplicate(s), 3 bad line(s)"
    exported = run(tmp_path, "export", db=desk_db)
    assert [json.loads(line)["remote_id"] for line in exported.stdout.splitlines()] == ["ok-1", "ok-2"]


def test_hostile_text_comes_back_inert(tmp_path, desk_db):
    path = tmp_path / "hostile.jsonl"
    hostile = record("h1", "hi\x1b]0;pwned\x07 \x1b[2J\x1b[31mthere\x9b1m \u202eevil\u2066 nul\x00!",
                     author_handle="@\x1b[5mmal\u202elory", author_name="Mal\x9dx\x9clory",
                     replies=[{"text": "ok\x1b[0m", "state": "sent"}])
    path.write_text(json.dumps(hostile) + "\n", encoding="utf-8")
    assert run(tmp_path, "import", str(path), db=desk_db).returncode == 0
    outputs = {fmt: run(tmp_path, "export", "--format", fmt, db=desk_db).stdout for fmt in ("jsonl", "csv")}
    for fmt, out in outputs.items():
        for bad in ("\x1b", "\x9b", "\x9d", "\x07", "\x00", "\u202e", "\u2066"):
            assert bad not in out, (fmt, bad)
        # JSON escapes would smuggle them back as text the next reader decodes.
        assert "\\u001b" not in out and "\\u202e" not in out.lower()
    [exported] = [json.loads(line) for line in outputs["jsonl"].splitlines()]
    assert exported["text"] == "hi there evil nul!"
    assert exported["author_handle"] == "@mallory"
    assert exported["author_name"] == "Mallory"
    assert exported["replies"][0]["text"] == "ok"


# --- search ------------------------------------------------------------------------------------


@pytest.fixture
def searchable(desk):
    pytest.importorskip("store.search")
    return desk[0]


def test_search_finds_by_words_with_a_typo(tmp_path, searchable):
    result = run(tmp_path, "search", "refnd", db=searchable)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert "Where is my refund?" in lines[0]
    assert "care" in lines[0]


def test_search_json(tmp_path, searchable):
    result = run(tmp_path, "search", "--json", "cafe", "delivery", db=searchable)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert [hit["text"] for hit in hits] == ["Élodie says the café delivery was late"]
    assert hits[0]["state"] == "replied"
    assert hits[0]["author_handle"] == "@ana"


def test_search_with_no_match_exits_1(tmp_path, searchable):
    result = run(tmp_path, "search", "zzzqqq", db=searchable)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == "no matches"


# --- refusals ----------------------------------------------------------------------------------

# SQLite-only (sqlite_only): these are about the desk's file itself (foreign, corrupt or damaged
# bytes, permissions, paths, a directory); a PostgreSQL desk has no file (test_pg_backend covers
# its refusals: a newer schema, foreign tables, a password in the URL).


# Every command opens the store the same way; export covers each kind of file, and import is
# checked on one kind so that a write command opening the file differently would show.
@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "make_file, command, wording",
    [
        (random_bytes, ["export"], "not a mentiondesk database"),
        (header_then_garbage, ["export"], "corrupt"),
        (foreign_sqlite, ["export"], "not a mentiondesk one"),
        (newer_schema, ["export"], "upgrade mentiondesk"),
        (newer_schema, ["import", "in.jsonl"], "upgrade mentiondesk"),
    ],
    ids=["random-bytes", "header-then-garbage", "foreign-sqlite", "newer-schema", "newer-schema-import"],
)
def test_a_file_that_is_not_ours_is_refused_in_one_line_and_left_alone(tmp_path, export_file, make_file,
                                                                         command, wording):
    path = tmp_path / "theirs.db"
    make_file(path)
    before = digest(path)
    line = assert_one_line_refusal(run(tmp_path, *command, db=path))
    assert str(path) in line and wording in line
    assert digest(path) == before
    if make_file is not newer_schema:  # WAL-mode files: see test_store_db's xfail on sidecar files
        assert sorted(os.listdir(tmp_path)) == ["in.jsonl", "theirs.db"]


def damaged(path):
    """A real mentiondesk file whose data pages (not the schema page) were overwritten."""
    store = open_store(path)
    save_batch(store, "demo", [NewMention(network="demo", account="@b", remote_id=str(n), author_handle="@a",
                                          text="lorem ipsum dolor " * 20, created_at="2025")
                               for n in range(300)], None)
    store.close()
    data = bytearray(path.read_bytes())
    page = 4096
    pages = len(data) // page
    for number in range(pages - 20, pages):
        data[number * page:number * page + 200] = random.Random(number).randbytes(200)
    path.write_bytes(bytes(data))


@pytest.mark.sqlite_only
def test_a_damaged_file_is_one_line_not_a_traceback(tmp_path):
    path = tmp_path / "damaged.db"
    damaged(path)
    before = digest(path)
    assert "malformed" in assert_one_line_refusal(run(tmp_path, "export", db=path))
    assert digest(path) == before


@pytest.mark.sqlite_only
def test_an_unwritable_directory_is_one_line():
    """As root (CI), who writes anywhere, the command runs as an unprivileged user (tests/procs.py)."""
    from tests.procs import NOBODY, permission_runner

    runner = permission_runner()
    assert runner is not None, "no interpreter an unprivileged user can run"
    base = Path(tempfile.mkdtemp(prefix="mentiondesk-locked-"))
    try:
        base.chmod(0o755)
        folder, home = base / "locked", base / "home"
        folder.mkdir()
        home.mkdir()
        if runner.user is not None:
            os.chown(folder, NOBODY, NOBODY)
            os.chown(home, NOBODY, NOBODY)
        folder.chmod(0o500)
        result = runner.run(["-m", "tui", "export", "--db", str(folder / "desk.db")], home)
        assert "permission denied" in assert_one_line_refusal(result)
        assert os.listdir(folder) == []
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.sqlite_only
def test_a_path_below_a_file_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep")
    assert_one_line_refusal(run(tmp_path, "export", db=blocker / "desk.db"))
    assert blocker.read_text() == "keep"


@pytest.mark.sqlite_only
def test_a_directory_as_the_database_is_one_line(tmp_path):
    folder = tmp_path / "folder.db"
    folder.mkdir()
    assert "directory" in assert_one_line_refusal(run(tmp_path, "export", db=folder))
    assert os.listdir(folder) == []


def test_a_lone_surrogate_escape_in_an_import_is_not_a_traceback(tmp_path, desk_db):
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps(record("ok", "fine")) + "\n"
                    + '{"network": "demo", "remote_id": "odd", "author_handle": "@a", "text": "x\\ud800y", '
                      '"created_at": "2025"}\n', encoding="utf-8")
    result = run(tmp_path, "import", str(path), db=desk_db)
    assert result.returncode == 0
    assert result.stderr.splitlines() == ["imported 2, skipped 0 duplicate(s), 0 bad line(s)"]


@pytest.mark.parametrize("args", [["tag", "abc", "care"], ["frob"], ["--demo-rate", "x"], ["done"]])
def test_usage_mistakes_get_one_line(tmp_path, args):
    result = subprocess.run([sys.executable, "-m", "tui", "--db", str(tmp_path / "d.db"), *args],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mentiondesk") and "--help" in lines[0]


def test_reindex_finishes_an_interrupted_import_and_rebuilds(tmp_path, desk_db):
    from store.search_index import deferred_indexing

    db = desk_db
    store = open_store(db)
    try:
        with pytest.raises(KeyboardInterrupt), deferred_indexing(store, helper=False):
            save_batch(store, "demo:@b", [NewMention(network="demo", account="@b", remote_id="r1",
                                                     author_handle="@ana", text="where is my refund",
                                                     created_at="2026-01-01T00:00:00Z")], "1")
            raise KeyboardInterrupt  # the import dies before its index is written
    finally:
        store.close()

    def search() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tui", "--db", str(db), "search", "refnud"],
                              capture_output=True, text=True)

    assert search().returncode == 1  # stored, not yet found
    done = subprocess.run([sys.executable, "-m", "tui", "--db", str(db), "reindex"], capture_output=True, text=True)
    assert done.returncode == 0 and "indexed 1 pending" in done.stderr
    assert "where is my refund" in search().stdout
    full = subprocess.run([sys.executable, "-m", "tui", "--db", str(db), "reindex", "--full"],
                          capture_output=True, text=True)
    assert full.returncode == 0 and "rebuilt: 1" in full.stderr
    assert "where is my refund" in search().stdout


def test_handover_json_keeps_its_shape(tmp_path, desk_db, make_mention):
    """The typed report serializes to exactly the JSON `handover --json` has always printed."""
    from store import desk
    from store.actions import queue_reply, set_tag, toggle_done
    db = desk_db
    store = open_store(db)
    try:
        first, second, third = save_batch(store, "demo", [
            make_mention(remote_id="h1", network="demo", created_at="2025-03-14T09:00:00.000Z"),
            make_mention(remote_id="h2", network="demo", created_at="2025-03-14T08:00:00.000Z"),
            make_mention(remote_id="h3", network="mastodon", created_at="2025-03-14T07:00:00.000Z")], None)
        set_tag(store, first, "care", True, "ana")
        set_tag(store, first, "marketing", True, "ana")
        set_tag(store, second, "care", True, "ana")
        toggle_done(store, third, "bob")
        desk.assign(store, second, "bob", "ana", allow_new=True)
        desk.add_note(store, first, "called  them\nback", "ana")
        desk.leave_handover_note(store, "watch the refunds", "bob")
        queue_reply(store, first, "thanks", "ana")
        reply = queue_reply(store, second, "sorry", "bob")
        store.conn.execute("UPDATE replies SET state = 'failed', error = 'HTTP 500', uncertain = 1 WHERE id = ?",
                           (reply.id,))
        times = dict(store.conn.execute("SELECT text, at FROM notes UNION ALL SELECT text, at FROM handover_notes"))
    finally:
        store.close()
    result = run(tmp_path, "handover", "--json", "--since", "2000-01-01T00:00:00Z", db=db)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report.pop("generated_at") > "2025"
    # Fields added for the lead (issue 14) come after the ones scripts already read.
    added = {key: report.pop(key) for key in ("for_operator", "waiting", "assigned_to_you", "first_response",
                                              "spikes", "drafts", "incidents", "incident_stats")}
    assert added["waiting"]["total"] == 1 and added["waiting"]["oldest"][0]["id"] == second
    assert added["waiting"]["oldest"][0]["assigned_to"] == "bob"
    assert added["first_response"]["count"] == 0 and added["spikes"] == []
    assert added["drafts"] == [] and added["incidents"] == [] and added["incident_stats"] == []
    assert report == {
        "since": "2000-01-01T00:00:00.000Z",
        "arrived": {"total": 3, "by_network": {"demo": 2, "mastodon": 1}},
        "open": {"total": 2, "by_tag": {"care": 1, "marketing": 0, "both": 1, "untriaged": 0},
                 "by_age": {"under 1h": 0, "1-4h": 0, "4-24h": 0, "over 24h": 2},
                 "oldest": {"id": second, "created_at": "2025-03-14T08:00:00.000Z"}},
        "replied": {"ana": {"pending": 1}, "bob": {"failed": 1}},
        "done": {"bob": 1},
        "assigned": {"bob": [second]},
        "notes": [{"mention_id": first, "operator": "ana", "at": times["called  them\nback"],
                   "text": "called  them\nback"}],
        "failed_replies": [{"reply_id": reply.id, "mention_id": second, "operator": "bob", "error": "HTTP 500",
                            "may_have_posted": True}],
        "handover_notes": [{"operator": "bob", "at": times["watch the refunds"], "text": "watch the refunds"}],
    }
    assert list(report) == ["since", "arrived", "open", "replied", "done", "assigned", "notes", "failed_replies",
                            "handover_notes"]


def test_handover_text_reads_in_the_operators_time_zone(tmp_path, desk_db, make_mention):
    """People read local minutes (TZ honoured); only --json keeps the stored UTC times."""
    store = open_store(desk_db)
    try:
        save_batch(store, "demo", [make_mention(remote_id="h1", network="demo",
                                                created_at="2025-03-14T09:00:00.000Z")], None)
    finally:
        store.close()
    # JST-9 is a POSIX rule (UTC+9): it needs no zoneinfo files on the machine.
    result = run(tmp_path, "handover", "--since", "2025-03-14T08:30:00Z", TZ="JST-9", db=desk_db)
    assert result.returncode == 0, result.stderr
    assert "Handover since 2025-03-14 17:30 (at " in result.stdout
    assert "oldest open: #1 from 2025-03-14 18:00" in result.stdout
    assert ".000Z" not in result.stdout
