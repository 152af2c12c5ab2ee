"""Export and import: round trips, CSV shape, duplicates, bad lines, and replies that must not post."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import replace

import pytest

from store.actions import queue_reply, set_status, set_tag
from store.db import open_store
from store.importing import import_lines
from store.ingest import save_batch
from store.outbox import claim_due, mark_failed, mark_sent
from store.transfer import EXPORT_FIELDS, ExportRecord, count_mentions, iter_export, write_csv, write_jsonl

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


@pytest.fixture
def fresh(tmp_path, clock):
    opened = open_store(tmp_path / "fresh.db", clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def history(store, make_mention, clock) -> list[int]:
    """Mentions exercising every exported field and every reply state that survives an import."""
    t = "2025-03-1{}T08:00:00.000Z"
    ids = save_batch(store, "x", [
        make_mention(network="mastodon", account="@brand@social.example", remote_id="109", author_handle="@ana@m.x",
                     author_name="Ana Lefèvre", text="Ma commande n'est pas arrivée 😞\nAidez-moi",
                     url="https://m.x/@ana/109", lang="fr", created_at=t.format(0)),
        make_mention(network="bluesky", account="brand.bsky.social", remote_id="at://did:plc:bo/post/2",
                     author_handle="bo.bsky.social", author_name="", text="love the new colours",
                     created_at=t.format(1), parent_remote_id="at://did:plc:brand/post/1",
                     root_remote_id="at://did:plc:brand/post/1"),
        make_mention(network="demo", remote_id="plain", text="just a mention", created_at=t.format(2)),
    ], None)
    first, second, _ = ids
    set_tag(store, first, "care", True, "ana")
    set_tag(store, first, "marketing", True, "ana")
    set_status(store, first, "done", "ana")
    queue_reply(store, first, "Désolés ! Nous regardons.", "carla")
    [sending] = claim_due(store)
    clock.advance(seconds=4)
    mark_sent(store, sending, "110", "https://social.example/@brand/110")
    queue_reply(store, first, "Second message", "carla")
    [failing] = claim_due(store)
    mark_failed(store, failing, "HTTP 422: too long")
    set_tag(store, second, "marketing", True, "bo")
    queue_reply(store, second, "Thank you!", "bo", manual=True)
    return ids


def comparable(records: list[ExportRecord]) -> list[ExportRecord]:
    """Export records without the local id (ids belong to one database file) and received_at
    (checked on its own below)."""
    return [replace(record, id=0, received_at="") for record in records]


def export_text(store) -> str:
    out = io.StringIO()
    write_jsonl(iter_export(store), out)
    return out.getvalue()


def test_export_holds_every_field(store, history):
    records = [record.as_json() for record in iter_export(store)]
    assert [sorted(record) for record in records] == [sorted(EXPORT_FIELDS)] * 3
    first = records[0]
    assert first["tags"] == ["care", "marketing"]
    assert first["status"] == "done"
    assert first["received_at"] == "2025-03-14T09:26:53.000Z"
    assert first["replies"] == [
        {"text": "Désolés ! Nous regardons.", "state": "sent", "operator": "carla",
         "created_at": "2025-03-14T09:26:53.000Z", "sent_at": "2025-03-14T09:26:57.000Z", "remote_id": "110",
         "remote_url": "https://social.example/@brand/110", "error": None},
        {"text": "Second message", "state": "failed", "operator": "carla", "created_at": "2025-03-14T09:26:57.000Z",
         "sent_at": None, "remote_id": None, "remote_url": None, "error": "HTTP 422: too long"},
    ]
    assert records[1]["replies"][0]["state"] == "manual"
    assert records[2]["tags"] == [] and records[2]["replies"] == []


@pytest.mark.parametrize("parallel", [False, True], ids=["in-process", "parsed-in-child"])
def test_export_then_import_round_trips(store, history, fresh, parallel):
    text = export_text(store)
    report = import_lines(fresh, text.splitlines(keepends=True), "importer", parallel=parallel)
    assert (report.imported, report.duplicates, report.errors) == (3, 0, [])
    assert comparable(list(iter_export(fresh))) == comparable(list(iter_export(store)))


def test_export_reads_in_chunks(store, make_mention):
    save_batch(store, "demo", [make_mention() for _ in range(7)], None)
    assert [r.remote_id for r in iter_export(store, chunk=3)] == [r.remote_id for r in iter_export(store)]
    assert len(list(iter_export(store, chunk=3))) == count_mentions(store) == 7


def test_received_at_round_trips(store, history, fresh, clock):
    text = export_text(store)
    clock.advance(days=30)
    import_lines(fresh, text.splitlines(), "importer")
    assert [r.received_at for r in iter_export(fresh)] == [r.received_at for r in iter_export(store)]


def test_imported_state_is_attributed_and_logged(store, history, fresh):
    import_lines(fresh, export_text(store).splitlines(), "importer")
    assert {row[0] for row in fresh.conn.execute("SELECT operator FROM tags")} == {"importer"}
    assert fresh.conn.execute("SELECT operator, action FROM events").fetchall() == [("importer", "import.batch")]
    # A mention someone already handled is not "new" on the other desk.
    seen = dict(fresh.conn.execute("SELECT remote_id, seen FROM mentions"))
    assert seen == {"109": 1, "at://did:plc:bo/post/2": 1, "plain": 0}


def test_csv_export_has_the_header_and_flat_tags(store, history):
    out = io.StringIO()
    assert write_csv(iter_export(store), out) == 3
    lines = out.getvalue().splitlines()
    assert lines[0] == ",".join(EXPORT_FIELDS)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [row["tags"] for row in rows] == ["care,marketing", "marketing", ""]
    assert rows[0]["text"] == "Ma commande n'est pas arrivée 😞\nAidez-moi"
    assert [reply["state"] for reply in json.loads(rows[0]["replies"])] == ["sent", "failed"]
    assert json.loads(rows[2]["replies"]) == []
    assert rows[1]["root_remote_id"] == "at://did:plc:brand/post/1"


def test_a_second_import_skips_every_duplicate(store, history, fresh):
    lines = export_text(store).splitlines()
    import_lines(fresh, lines, "importer")
    before = export_text(fresh)
    report = import_lines(fresh, lines, "importer")
    assert (report.imported, report.duplicates, report.errors) == (0, 3, [])
    assert export_text(fresh) == before


def line(**fields) -> str:
    record = {"network": "demo", "remote_id": "r", "author_handle": "@a", "text": "t",
              "created_at": "2025-01-01T00:00:00Z"}
    record.update(fields)
    return json.dumps({key: value for key, value in record.items() if value is not ...})


@pytest.mark.parametrize("parallel", [False, True], ids=["in-process", "parsed-in-child"])
def test_bad_lines_are_reported_by_number_and_the_rest_imports(fresh, parallel):
    lines = [
        line(remote_id="good-1"),                         # 1
        "{not json",                                      # 2
        line(remote_id="no-network", network=...),        # 3
        "",                                               # 4 blank lines are not errors
        line(remote_id="bad-tags", tags=["care", "vip"]), # 5
        line(remote_id=..., url=...),                     # 6
        line(remote_id="good-2", tags=["care"]),          # 7
        "[1, 2]",                                         # 8
        line(remote_id="no-text", text=...),              # 9
        line(remote_id="bad-status", status="closed"),    # 10
        line(remote_id="bad-replies", replies=[{"state": "sent"}]),  # 11
        line(remote_id="no-author", author_handle=...),   # 12
        line(remote_id="dict-text", text={"a": 1}),       # 13
    ]
    report = import_lines(fresh, lines, "importer", batch=2, parallel=parallel)
    assert [error.number for error in report.errors] == [2, 3, 5, 6, 8, 9, 10, 11, 12, 13]
    reasons = {error.number: error.reason for error in report.errors}
    assert reasons[2].startswith("not JSON")
    assert reasons[3] == "missing 'network'"
    assert "tags" in reasons[5]
    assert reasons[6] == "missing 'remote_id'"
    assert reasons[8] == "not a JSON object"
    assert reasons[9] == "missing 'text'"
    assert "status" in reasons[10]
    assert "replies" in reasons[11]
    assert reasons[12] == "missing 'author_handle'"
    assert reasons[13] == "'text' must be text"
    assert report.imported == 2
    assert [r.remote_id for r in iter_export(fresh)] == ["good-1", "good-2"]
    assert [r.tags for r in iter_export(fresh)] == [[], ["care"]]


def test_the_url_stands_in_for_a_missing_remote_id(fresh):
    report = import_lines(fresh, [line(remote_id=..., url="https://x/1")], "importer")
    assert report.imported == 1
    assert [r.remote_id for r in iter_export(fresh)] == ["https://x/1"]


def test_csv_style_tags_and_replies_strings_are_accepted(fresh):
    replies = json.dumps([{"text": "sent one", "state": "sent", "remote_id": "9"}])
    report = import_lines(fresh, [line(tags="marketing,care", replies=replies)], "importer")
    assert report.errors == [] and report.imported == 1
    [record] = iter_export(fresh)
    assert record.tags == ["care", "marketing"]
    assert [(r.text, r.state, r.remote_id) for r in record.replies] == [("sent one", "sent", "9")]


@pytest.mark.parametrize("state", ["pending", "sending", None, "bogus"])
def test_unsent_replies_import_as_failed_and_are_never_sent(fresh, clock, state):
    reply = {"text": "never posted", "operator": "carla"}
    if state is not None:
        reply["state"] = state
    import_lines(fresh, [line(replies=[reply])], "importer")
    assert fresh.conn.execute("SELECT state, error, operator FROM replies").fetchall() == [
        ("failed", "imported unsent: retry to send", "carla")]
    clock.advance(days=1)
    assert claim_due(fresh) == []


def test_pending_replies_of_an_export_do_not_become_sendable(store, fresh, make_mention):
    [mention_id] = save_batch(store, "demo", [make_mention()], None)
    queue_reply(store, mention_id, "queued, not yet sent", "carla")
    import_lines(fresh, export_text(store).splitlines(), "importer")
    assert fresh.conn.execute("SELECT state FROM replies").fetchall() == [("failed",)]
    assert claim_due(fresh) == []


def test_imported_text_is_made_inert(fresh):
    import_lines(fresh, [line(text="hi\x1b]0;pwned\x07 \x1b[31mthere\u202e", author_handle="@\x1b[2Jx",
                              replies=[{"text": "ok\x1b[0m", "state": "sent", "operator": "c\x07arla"}])],
                 "importer")
    [record] = iter_export(fresh)
    assert (record.text, record.author_handle) == ("hi there", "@x")
    assert (record.replies[0].text, record.replies[0].operator) == ("ok", "carla")


def test_an_id_made_only_of_controls_is_a_bad_line(fresh):
    report = import_lines(fresh, [line(remote_id="\u202e\x1b[0m")], "importer")
    assert report.duplicates == 0
    assert [error.number for error in report.errors] == [1]


def test_a_lone_surrogate_line_does_not_abort_the_import(fresh):
    lines = [line(remote_id="ok-1"), '{"network": "demo", "remote_id": "odd", "author_handle": "@a", '
             '"text": "a\\ud800b", "created_at": "2025"}', line(remote_id="ok-2")]
    report = import_lines(fresh, lines, "importer")
    assert (report.imported, report.errors) == (3, [])
    assert [(r.remote_id, r.text) for r in iter_export(fresh)] == [("ok-1", "t"), ("odd", "ab"), ("ok-2", "t")]


def test_the_export_bytes_are_stable(store, history):
    """Scripts parse exports: field order, types and escaping stay exactly as released."""
    jsonl, table = io.StringIO(), io.StringIO()
    write_jsonl(iter_export(store), jsonl)
    write_csv(iter_export(store), table)
    first = jsonl.getvalue().splitlines()[0]
    assert first.startswith('{"id": 1, "network": "mastodon", "remote_id": "109", "account": "@brand@social.example"')
    assert '"replies": [{"text": "Désolés ! Nous regardons.", "state": "sent", "operator": "carla"' in first
    assert hashlib.sha256(jsonl.getvalue().encode()).hexdigest() == JSONL_DIGEST
    assert hashlib.sha256(table.getvalue().encode()).hexdigest() == CSV_DIGEST


JSONL_DIGEST = "f14ac0a76156354a380f174a6467cd348934e4e565adc89844dad05bb2fd8207"
CSV_DIGEST = "9693e3b3046c19743627ce5191df5ea3a81eddddde92de681d784cdb383662e3"
