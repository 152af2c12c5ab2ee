"""`mentiondesk demo-shift`: a new user's demo desk gets a past shift, so reports and the handover have
first responses, hand-offs and waiting mentions to show."""

from __future__ import annotations

from datetime import timedelta

from store.db import iso, open_store
from store.handover_extras import waiting_for_reply
from store.reports import build_report
from store.sla import SlaPolicy
from tests.support import cli_in_process
from tests.tui_support import seed

POLICY = SlaPolicy.from_table({"care": 3600, "marketing": 4 * 3600, "default": 8 * 3600}, ["care", "marketing"])


def test_a_demo_shift_fills_reports_and_the_handover(monkeypatch, capsys, tmp_path):
    path = str(tmp_path / "demo.db")
    code, _, err = cli_in_process(monkeypatch, capsys, tmp_path, "--db", path, "demo-shift", "--hours", "4")
    assert code == 0 and "demo shift of 4 h: 240 mentions" in err
    store = open_store(path)
    try:
        report = build_report(store, iso(store.clock() - timedelta(hours=5)), policy=POLICY)
        assert report.total == 240
        assert {t.key for t in report.first_response["operator"]} == {"ana", "bo"}
        assert report.handoff.both + report.handoff.moved > 0
        waiting = waiting_for_reply(store, POLICY)
        created = [w.created_at for w in waiting.oldest]
        assert waiting.total > 0 and created == sorted(created)  # oldest first
        assert waiting.late > 0  # the shift left some past their target
    finally:
        store.close()
    code, _, err = cli_in_process(monkeypatch, capsys, tmp_path, "--db", path, "demo-shift")
    assert code == 2 and err.strip().endswith("this desk has had its demo shift already")


def test_a_real_desk_is_refused(monkeypatch, capsys, tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path, 3, hostile=False)
    store = open_store(path)
    store.conn.execute("UPDATE mentions SET network = 'mastodon' WHERE id = 1")
    store.close()
    code, _, err = cli_in_process(monkeypatch, capsys, tmp_path, "--db", path, "demo-shift")
    assert code == 2 and "holds real mentions" in err
