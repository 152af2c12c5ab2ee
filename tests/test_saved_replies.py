"""Saved replies: the store's rules, filling, the fuzzy ranking, and the `replies` command's round trip."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import saved_replies as sr
from store.db import open_store
from store.errors import ActionError
from store.ingest import insert_mentions
from tests.conftest import new_mention
from tui.cli import main

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


def test_add_edit_remove_are_logged(store):
    sr.add_reply(store, "Refund delay — FR", "Bonjour {author}", "ana", lang="fr", tags=["care"])
    sr.edit_reply(store, "Refund delay — FR", "bo", new_name="Remboursement", body="Bonjour {handle}")
    reply = sr.get_reply(store, "Remboursement")
    assert (reply.lang, reply.tags, reply.body, reply.updated_by) == ("fr", ("care",), "Bonjour {handle}", "bo")
    sr.remove_reply(store, "Remboursement", "cy")
    assert sr.list_replies(store) == []
    assert store.conn.execute("SELECT operator, action FROM events ORDER BY id").fetchall() == [
        ("ana", "saved_reply.add"), ("bo", "saved_reply.edit"), ("cy", "saved_reply.remove")]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": "", "body": "x"}, "needs a name"),
    ({"name": "a", "body": "  "}, "empty body"),
    ({"name": "a", "body": "Hi {autor}"}, "unknown variable {autor}"),
    ({"name": "a", "body": "x", "lang": "french!"}, "not a language code"),
    ({"name": "a", "body": "x", "tags": ["urgent"]}, "unknown tag 'urgent'"),
    ({"name": "a" * 81, "body": "x"}, "over 80"),
])
def test_bad_saved_replies_are_refused_in_one_line(store, kwargs, message):
    with pytest.raises(ActionError, match=message.replace("{", r"\{").replace("}", r"\}")):
        sr.add_reply(store, operator="ana", **kwargs)
    assert sr.list_replies(store) == []


def test_filling_leaves_what_it_cannot_fill_visible(store):
    mention_id = insert_mentions(store, [new_mention(author_name="", author_handle="@mara", url=None)])[0]
    values = sr.mention_values(store, mention_id, "ana").mapping()
    filled = sr.fill("Hi {author} ({handle}) on {network}, {operator} here. {url}", values)
    assert filled.text == "Hi {author} (@mara) on demo, ana here. {url}"
    assert filled.missing == ("author", "url")
    assert sr.unfilled(filled.text.replace("{author}", "Mara"), filled.missing) == ["url"]


def test_a_body_cannot_reach_into_objects():
    assert sr.fill("{author.__class__} {0}", {"author": "x"}).text == "{author.__class__} {0}"


def _reply(name, lang="", tags=()):
    return sr.SavedReply(0, name, lang, tuple(tags), "b", "ana", "t")


def test_a_typo_finds_it_and_the_mentions_language_comes_first():
    replies = [_reply("Refund delay — EN", "en"), _reply("Refund delay — FR", "fr", ["care"]),
               _reply("Giveaway rules", "en", ["marketing"])]
    assert [r.name for r in sr.rank(replies, "refnd", lang="fr", tags=[])][:2] == [
        "Refund delay — FR", "Refund delay — EN"]
    assert [r.name for r in sr.rank(replies, "refnd", lang="en", tags=[])][0] == "Refund delay — EN"
    # Nothing typed: the ones that fit lead.
    assert sr.rank(replies, "", lang="en", tags=["marketing"])[0].name == "Giveaway rules"
    assert "Giveaway rules" not in [r.name for r in sr.rank(replies, "refnd", lang="fr", tags=[])]


def cli(db, *args, operator="ana"):
    return main([*args, "--db", str(db), "--operator", operator])


@pytest.mark.parametrize("suffix", ["toml", "jsonl"])
def test_export_then_import_is_a_round_trip(tmp_path, capsys, suffix):
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    body = 'Bonjour {author},\n"guillemets" \\ tab\there — {operator} 🎧'
    assert cli(first, "replies", "add", "Refund delay — FR", "--lang", "fr", "--tags", "care", "--body", body) == 0
    assert cli(first, "replies", "add", "Plain", "--body", "Thanks!") == 0
    out = tmp_path / f"replies.{suffix}"
    assert cli(first, "replies", "export", "-o", str(out)) == 0
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert cli(second, "replies", "import", str(out), operator="bo") == 0
    capsys.readouterr()
    cli(first, "replies", "list", "--json")
    original = capsys.readouterr().out
    cli(second, "replies", "list", "--json")
    assert capsys.readouterr().out == original
    assert json.loads(original.splitlines()[1])["body"] == body
    # Importing the same file again changes nothing.
    assert cli(second, "replies", "import", str(out), operator="bo") == 0
    assert "0 added, 0 updated" in capsys.readouterr().out


@pytest.mark.parametrize(("content", "message"), [
    ("[[reply]]\nname = 'x'\n", "entry 2: name and body must be text"),
    ("not toml = = =", "not valid TOML"),
    ("[[reply]]\nname = 'x'\nbody = 'Hi {autor}'\n", "unknown variable"),
    ("[other]\n", "expected [[reply]] tables"),
])
def test_a_bad_import_is_one_line_and_imports_nothing(tmp_path, capsys, content, message):
    path = tmp_path / "bad.toml"
    path.write_text("[[reply]]\nname = 'good'\nbody = 'fine'\n" + content if "entry" in message
                    or "unknown" in message else content)
    assert cli(tmp_path / "d.db", "replies", "import", str(path)) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    cli(tmp_path / "d.db", "replies", "list", "--json")
    assert capsys.readouterr().out == ""


def test_edit_and_rm_of_an_unknown_name_are_one_line(tmp_path, capsys):
    assert cli(tmp_path / "d.db", "replies", "rm", "nope") == 2
    assert cli(tmp_path / "d.db", "replies", "edit", "nope", "--body", "x") == 2
    assert capsys.readouterr().err.count("no saved reply named 'nope'") == 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=1, max_size=30), body=st.text(min_size=1, max_size=200),
       fmt=st.sampled_from(["toml", "jsonl"]))
def test_any_saved_reply_survives_the_round_trip(tmp_path_factory, name, body, fmt):
    folder = tmp_path_factory.mktemp("trip")
    first = open_store(folder / "a.db")
    try:
        try:
            sr.add_reply(first, name, body, "ana", lang="fr", tags=["care"])
        except ActionError:
            return  # refused in one line (empty, an unknown {variable}...): nothing to carry
        before = [r.record() for r in sr.list_replies(first)]
    finally:
        first.close()
    out = folder / f"replies.{fmt}"
    assert cli(folder / "a.db", "replies", "export", "-o", str(out)) == 0
    assert cli(folder / "b.db", "replies", "import", str(out)) == 0
    second = open_store(folder / "b.db")
    try:
        assert [r.record() for r in sr.list_replies(second)] == before
    finally:
        second.close()


@given(st.text(max_size=80))
def test_filling_never_raises_and_names_exactly_what_is_left(body):
    values = {"author": "Mara", "handle": None, "operator": "ana"}
    filled = sr.fill(body, values)
    assert "{author}" not in filled.text and "{operator}" not in filled.text
    assert set(filled.missing) <= set(re.findall(r"\{([A-Za-z_][A-Za-z0-9_]{0,31})\}", body)) - {"author", "operator"}
