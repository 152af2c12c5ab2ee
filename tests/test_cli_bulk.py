"""`tag`, `done`, `assign` on several ids or a search query (with --dry-run), and `undo`, from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from store.db import open_store
from tests.tui_support import seed
from tui import cli

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


@pytest.fixture
def desk(tmp_path, desk_db, monkeypatch) -> Path | str:
    for name in [name for name in os.environ if name.startswith("MENTIONDESK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = desk_db
    seed(str(path), 30, hostile=False)  # every 6th text (3, 9, 15, 21, 27) asks about the giveaway
    return path


def md(desk: Path | str, capsys, *args: str, operator: str = "ana") -> tuple[int, list[str], list[str]]:
    code = cli.main([*args, "--db", str(desk), "--operator", operator])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def rows(desk: Path | str, sql: str, *params) -> list[tuple]:
    store = open_store(desk)
    try:
        return store.conn.execute(sql, params).fetchall()
    finally:
        store.close()


def done_ids(desk: Path | str) -> list[int]:
    return [row[0] for row in rows(desk, "SELECT id FROM mentions WHERE status = 'done' ORDER BY id")]


GIVEAWAY = [3, 9, 15, 21, 27]


def test_several_ids_are_one_action_and_one_undo(desk, capsys):
    code, out, _ = md(desk, capsys, "tag", "1", "2", "3", "marketing")
    assert code == 0 and out == ["Tagged marketing on 3 mentions; mentiondesk undo takes it back"]
    assert rows(desk, "SELECT mention_id FROM tags WHERE tag = 'marketing' ORDER BY 1") == [(1,), (2,), (3,)]
    assert md(desk, capsys, "tag", "2", "3", "4", "marketing")[1] == [
        "Tagged marketing on 3 mentions (2 already were); mentiondesk undo takes it back"]
    code, out, _ = md(desk, capsys, "undo")
    assert code == 0 and out == ["Undone: Tagged marketing on 3 mentions."]
    assert rows(desk, "SELECT mention_id FROM tags WHERE tag = 'marketing' ORDER BY 1") == [(1,), (2,), (3,)]


def test_a_query_with_dry_run_counts_lists_a_few_and_changes_nothing(desk, capsys):
    md(desk, capsys, "tag", *map(str, GIVEAWAY), "1", "marketing")
    md(desk, capsys, "done", "27")
    query = "tag:marketing status:open giveaway"
    code, out, _ = md(desk, capsys, "done", "--query", query, "--dry-run")
    assert code == 0
    assert out[0] == "would be marked done: 4 mentions (dry run, nothing changed)"
    assert [line.split()[0] for line in out[1:]] == ["#21", "#15", "#9", "#3"]
    assert "giveaway" in out[1]
    assert done_ids(desk) == [27]

    code, out, _ = md(desk, capsys, "done", "--query", query)
    assert code == 0 and out == ["Marked done on 4 mentions; mentiondesk undo takes it back"]
    assert done_ids(desk) == GIVEAWAY
    events = rows(desk, "SELECT action, count(*) FROM events WHERE action = 'status.done' GROUP BY action")
    assert events == [("status.done", 5)]
    md(desk, capsys, "undo")
    assert done_ids(desk) == [27]


def test_a_dry_run_lists_at_most_five_and_counts_the_rest(desk, capsys):
    code, out, _ = md(desk, capsys, "assign", "bo", "--query", "status:open", "--dry-run")
    assert out[0] == "would be assigned to bo: 30 mentions (dry run, nothing changed)"
    assert len(out) == 7 and out[-1] == "  … and 25 more"
    assert rows(desk, "SELECT count(*) FROM assignments") == [(0,)]


def test_a_query_that_finds_nothing_changes_nothing(desk, capsys):
    assert md(desk, capsys, "done", "--query", "tag:care")[:2] == (0, ["no mention matches; nothing changed"])


def test_an_unknown_id_among_several_refuses_them_all(desk, capsys):
    code, out, err = md(desk, capsys, "done", "1", "2", "999")
    assert code == 2 and out == [] and err == ["mentiondesk: no mention with id 999; nothing changed"]
    assert done_ids(desk) == []


def test_an_assignment_to_an_unknown_name_is_refused_for_all(desk, capsys):
    code, _, err = md(desk, capsys, "assign", "1", "2", "bobb")
    assert code == 2 and "nobody called 'bobb'" in err[0] and "--new-operator" in err[0]
    assert md(desk, capsys, "assign", "1", "2", "bobb", "--new-operator")[1] == [
        "Assigned to bobb on 2 mentions; mentiondesk undo takes it back"]


def test_undo_is_per_operator_and_says_when_there_is_nothing(desk, capsys):
    md(desk, capsys, "done", "5", operator="bo")
    code, _, err = md(desk, capsys, "undo")
    assert code == 1 and err == ["mentiondesk: Nothing to undo."]
    assert md(desk, capsys, "undo", "--list", operator="bo")[1][0].endswith("Marked done on #5")
    assert md(desk, capsys, "undo", operator="bo")[1] == ["Undone: Marked done on #5."]


def test_undo_recalls_a_reply_queued_from_the_command_line_within_reply_recall(desk, capsys, monkeypatch):
    monkeypatch.setenv("MENTIONDESK_REPLY_RECALL", "60")  # a minute: this test's two commands never take that long
    code, out, _ = md(desk, capsys, "reply", "7", "Sorry,", "wrong", "thread")
    assert code == 0 and "`mentiondesk undo` recalls it for 60 s" in out[0]
    code, out, _ = md(desk, capsys, "undo")
    assert code == 0 and out == ["Reply to #7 recalled before it was sent.", "its text: Sorry, wrong thread"]
    assert rows(desk, "SELECT count(*) FROM replies") == [(0,)]


@pytest.mark.parametrize("args", [["done"], ["done", "1", "--query", "x"], ["tag", "care"],
                                  ["assign", "bo"], ["tag", "1", "vip"]])
def test_choosing_no_mentions_or_both_ways_is_a_usage_mistake_in_one_line(tmp_path, args):
    result = subprocess.run([sys.executable, "-m", "tui", "--db", str(tmp_path / "d.db"), *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("mentiondesk") and "--help" in line
