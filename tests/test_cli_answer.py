"""`answer`, `answers`, `approve` from the command line: the console's store code, one-line refusals."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from store.db import open_store
from store.ingest import insert_mentions
from tests.conftest import new_mention
from tests.test_group_answers import make_group
from tui import cli

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


@pytest.fixture
def desk(tmp_path, desk_db, monkeypatch) -> tuple[Path | str, int, list[int]]:
    """A desk with a group of 25 people asking the same thing, and one saved reply."""
    for name in [name for name in os.environ if name.startswith("MENTIONDESK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = desk_db
    store = open_store(path)
    try:
        ids = insert_mentions(store, [new_mention(author_handle=f"@fan{n}", author_name=f"Fan {n}",
                                                  text=f"show cancelled? {n}") for n in range(25)])
        group = make_group(store, ids)
        from store.saved_replies import add_reply
        add_reply(store, "Show moved", "Hi {author}, the show moves to Sunday.", "ana")
    finally:
        store.close()
    return path, group, ids


def md(path: Path | str, capsys, *args: str, operator: str = "ana") -> tuple[int, str, str]:
    code = cli.main([*args, "--db", str(path), "--operator", operator])
    out, err = capsys.readouterr()
    return code, out, err


def rows(path: Path | str, sql: str, *params) -> list[tuple]:
    store = open_store(path)
    try:
        return store.conn.execute(sql, params).fetchall()
    finally:
        store.close()


def test_dry_run_and_preview_queue_nothing_and_say_who_is_skipped(desk, capsys):
    path, group, ids = desk
    cli.main(["reply", str(ids[0]), "answered by hand", "--db", str(path), "--operator", "bo"])
    capsys.readouterr()
    code, out, err = md(path, capsys, "answer", "--group", str(group), "--reply", "Show moved", "--preview", "2",
                        "--dry-run")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:2] == [f"→ @fan1 (#{ids[1]}): Hi Fan 1, the show moves to Sunday.",
                         f"→ @fan2 (#{ids[2]}): Hi Fan 2, the show moves to Sunday."]
    assert lines[2] == "24 of 25 members get it; skipped: 1 already answered (by anyone) (dry run: nothing queued)"
    assert lines[3] == f"  skip #{ids[0]}: already answered (by anyone)"
    assert rows(path, "SELECT count(*) FROM group_answers") == [(0,)]


def test_a_big_answer_waits_for_a_second_operator_then_goes_out(desk, capsys):
    path, group, ids = desk
    code, out, _ = md(path, capsys, "answer", "--group", str(group), "--text", "Hi {author}, sorry! {operator}")
    assert code == 0
    assert out.strip() == (f"answer 1 to group {group} waits for another operator's approval (25 people, over "
                           "approve_over = 20): mentiondesk approve 1")
    code, _, err = md(path, capsys, "approve", "1")
    assert code == 2 and err.strip() == "mentiondesk: you drafted answer 1: another operator must approve it"
    assert rows(path, "SELECT count(*) FROM replies") == [(0,)]
    code, out, _ = md(path, capsys, "approve", "1", operator="bo")
    assert code == 0 and out.strip() == "answer 1 approved and queued: 25 of 25 members get it"
    assert rows(path, "SELECT count(*), min(text) FROM replies WHERE answer_id = 1") == [(25, "Hi Fan 0, sorry! ana")]
    code, out, _ = md(path, capsys, "answers", "--json")
    listed = json.loads(out)
    assert [(a["answer"]["drafted_by"], a["answer"]["approved_by"], a["queued"], a["phase"]) for a in listed] == \
        [("ana", "bo", 25, "queued")]
    code, out, _ = md(path, capsys, "answer", "pause", "1")
    assert (code, out.strip()) == (0, "answer 1 paused")
    code, out, _ = md(path, capsys, "answers")
    assert out.startswith(f"answer 1 (group {group}) paused: 25 queued, 0 sending, 0 sent, 0 failed, 0 skipped")
    assert "(drafted by ana, approved by bo)" in out
    code, out, _ = md(path, capsys, "answer", "cancel", "1")
    assert (code, out.strip()) == (0, "answer 1 cancelled; 25 queued replies taken back unsent")
    assert rows(path, "SELECT count(*) FROM replies") == [(0,)]


def test_a_small_answer_to_marked_ids_is_queued_at_once(desk, capsys):
    path, _group, ids = desk
    code, out, _ = md(path, capsys, "answer", str(ids[0]), str(ids[1]), "--text", "Thanks {handle}")
    assert (code, out.strip()) == (0, "answer 1 to 2 marked mentions queued: 2 of 2 members get it")
    assert rows(path, "SELECT text FROM replies ORDER BY mention_id") == [("Thanks @fan0",), ("Thanks @fan1",)]


def test_a_text_too_long_for_the_network_once_filled_in_is_skipped(desk, capsys):
    path, group, _ids = desk
    long = "Hi {author}, " + "the show moves to Sunday. " * 20  # about 530 characters: over demo's 500
    code, out, err = md(path, capsys, "answer", "--group", str(group), "--text", long, "--dry-run")
    assert code == 0 and "0 of 25 members get it; skipped: 25 too long for the network once filled in" in out
    code, _, err = md(path, capsys, "answer", "--group", str(group), "--text", long)
    assert code == 2 and err == "mentiondesk: nobody to answer: 25 too long for the network once filled in\n"


@pytest.mark.parametrize(("args", "message"), [
    (("answer", "--text", "hi"), "answer needs --group ID or mention IDS (see mentiondesk answer --help)"),
    (("answer", "1", "--group", "1", "--text", "hi"), "answer --group ID or mention IDS, not both"),
    (("answer", "1", "2"), "answer needs --reply NAME or --text TEXT (one of the two)"),
    (("answer", "x1", "--text", "hi"), "'x1' is not a mention id (answer IDS..., or answer pause|resume|cancel ID)"),
    (("answer", "--group", "77", "--text", "hi"), "no group with id 77"),
    (("answer", "1", "--reply", "Nope"), "no saved reply named 'Nope'"),
    (("answer", "1", "--text", "Hi {autor}"), "unknown variable {autor} in the answer; variables are {author} "
     "{handle} {operator} {network} {account} {url} {lang} {id}"),
    (("answer", "pause", "9"), "no answer with id 9"),
    (("answer", "resume"), "answer resume needs one answer id"),
    (("approve", "4"), "no answer with id 4"),
])
def test_bad_input_is_one_line(desk, capsys, args, message):
    path, _group, _ids = desk
    code, out, err = md(path, capsys, *args)
    assert code == 2 and out == "" and err == f"mentiondesk: {message}\n"
