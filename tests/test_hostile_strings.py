"""Strings from outside are cleaned where they enter: store writes, adapter errors, config, operator names.

And every line the command line prints passes one terminal-safe filter, so
even rows an older version stored raw print inert.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys

import pytest

from adapters.accounts import ConfigError, load_config
from adapters.base import ReplyError
from adapters.bluesky.xrpc_errors import Unreachable, XrpcError
from adapters.http import AuthError
from store import actions, desk
from store.actions import ActionError
from store.handover import handover_report
from store.ingest import save_batch
from store.operators import MAX_LENGTH, OperatorNameError, check_operator
from store.outbox import claim_due, mark_failed, schedule_retry
from store.source_status import set_source_status, source_statuses
from tests.bluesky_server import Fail, FakePds
from tests.test_cli import run

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

TITLE = "\x1b]0;PWNED-TITLE\x07"
CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLnNofHNo\x07"
CLEAR = "\x1b[2J"
EVE = f"eve{CLIPBOARD}"
# Anything a terminal acts on, and the invisible characters that spoof names.
UNSAFE = ("\x1b", "\x07", "\x9b", "\x9d", "\u202e", "\u200b", "\u2060", "PWNED", "Y3VybC")


def assert_clean(text: str) -> None:
    for bad in UNSAFE:
        assert bad not in text, (bad, text)


@pytest.fixture
def mention_id(store, make_mention) -> int:
    return save_batch(store, "demo:@brand", [make_mention()], None)[0]


# --- store writes ---------------------------------------------------------------

def test_notes_handover_notes_and_replies_are_stored_clean(store, mention_id):
    desk.add_note(store, mention_id, f"call back{TITLE} ma\u200bra{CLEAR}", "ana")
    desk.leave_handover_note(store, f"queue{CLIPBOARD} is long\u2060", "ana")
    queued = actions.queue_reply(store, mention_id, f"Sorry{TITLE}, on it\u202e{CLEAR}", "ana")
    rows = store.conn.execute("SELECT text FROM notes UNION ALL SELECT text FROM handover_notes "
                              "UNION ALL SELECT text FROM replies").fetchall()
    assert [row[0] for row in rows] == ["call back mara", "queue is long", "Sorry, on it"]
    # What the sender takes out of the outbox is clean too.
    assert [reply.text for reply in claim_due(store)] == ["Sorry, on it"]
    store.conn.execute("UPDATE replies SET state = 'failed' WHERE id = ?", (queued.id,))
    actions.retry_reply(store, queued.id, "ana", new_text=f"Edited{CLEAR}{TITLE} text")
    assert store.conn.execute("SELECT text FROM replies").fetchone()[0] == "Edited text"


def test_a_reply_of_escape_codes_only_is_refused_as_empty(store, mention_id):
    with pytest.raises(ActionError, match="empty"):
        actions.queue_reply(store, mention_id, f"{TITLE}{CLEAR}\u200b", "ana")


def test_a_reply_queued_raw_by_an_older_version_is_sent_clean(store, mention_id):
    store.conn.execute("INSERT INTO replies (mention_id, text, operator, created_at, idem_key) "
                       "VALUES (?, ?, 'ana', '2025-01-01', 'k1')", (mention_id, f"hi{TITLE} there"))
    assert [reply.text for reply in claim_due(store)] == ["hi there"]


def test_account_states_and_reply_errors_are_stored_clean(store, mention_id, clock):
    set_source_status(store, "bluesky:brand", f"auth failed{CLEAR}", f"PDS said: {TITLE}{CLIPBOARD}nope\n")
    status = source_statuses(store)[0]
    assert (status.state, status.detail) == ("auth failed", "PDS said: nope")
    actions.queue_reply(store, mention_id, "hello", "ana")
    reply = claim_due(store)[0]
    schedule_retry(store, reply, 5, f"try later{TITLE}", uncertain=False)
    assert store.conn.execute("SELECT error FROM replies").fetchone()[0] == "try later"
    clock.advance(seconds=5)
    reply = claim_due(store)[0]  # a result is recorded only for the claim being sent
    mark_failed(store, reply, f"server: {CLIPBOARD}rejected\u202e")
    assert store.conn.execute("SELECT error FROM replies").fetchone()[0] == "server: rejected"


def test_a_handover_report_of_raw_legacy_rows_is_clean(store, mention_id):
    at = "2025-03-14T09:00:00.000Z"
    store.conn.execute("INSERT INTO notes (mention_id, operator, at, text) VALUES (?, ?, ?, ?)",
                       (mention_id, EVE, at, f"n{TITLE}"))
    store.conn.execute("INSERT INTO handover_notes (operator, at, text) VALUES (?, ?, ?)", (EVE, at, f"h{CLEAR}"))
    store.conn.execute("INSERT INTO replies (mention_id, text, operator, created_at, state, idem_key, error) "
                       "VALUES (?, 'r', ?, ?, 'failed', 'k', ?)", (mention_id, EVE, at, f"e{TITLE}"))
    store.conn.execute("INSERT INTO assignments (mention_id, operator, by, at) VALUES (?, ?, ?, ?)",
                       (mention_id, EVE, EVE, at))
    report = handover_report(store, "2025-01-01T00:00:00.000Z")
    assert_clean(repr(report))
    assert report.assigned == {"eve": [mention_id]} and report.replied == {"eve": {"failed": 1}}
    assert desk.handover_notes_since(store, "2025-01-01") == [desk.HandoverNote("eve", at, "h")]


# --- operator names ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["ana", "Zoë", "さくら", "mara_k", "Anna Lee", "o'neil-2", "x" * MAX_LENGTH,
                                  "Ana 🌸"])
def test_usable_operator_names(name):
    assert check_operator(name) == name


@pytest.mark.parametrize("name, reason", [
    (EVE, "control or escape character (U+001B)"),
    ("eve\u202e", "invisible or formatting character (U+202E)"),
    ("ma\u200bra", "U+200B"), ("mara\u2060", "U+2060"), ("\u200d", "U+200D"),
    ("eve\tbob", "U+0009"), ("eve\u00a0bob", "U+00A0"),
    (" eve", "starts or ends with a space"), ("eve ", "starts or ends with a space"),
    ("x" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH}"), ("", "empty"), ("a  b", "several spaces"),
    ("e" + "\u0301" * 10, "combining marks"),
])
def test_unusable_operator_names_are_refused_in_one_safe_line(name, reason):
    with pytest.raises(OperatorNameError) as caught:
        check_operator(name)
    message = str(caught.value)
    assert reason in message and "\n" not in message
    assert_clean(message)


def test_the_store_refuses_writes_by_an_unusable_operator(store, mention_id):
    with pytest.raises(ActionError):
        actions.set_tag(store, mention_id, "care", True, EVE)
    with pytest.raises(ActionError):
        desk.add_note(store, mention_id, "hello", "ma\u200bra")
    with pytest.raises(ActionError):
        desk.assign(store, mention_id, EVE, "ana")
    counts = store.conn.execute("SELECT (SELECT count(*) FROM tags), (SELECT count(*) FROM notes), "
                                "(SELECT count(*) FROM assignments), (SELECT count(*) FROM events)").fetchone()
    assert counts == (0, 0, 0, 0)


# --- adapter errors and config ----------------------------------------------------------------

def test_adapter_errors_clean_what_servers_say():
    error = XrpcError(401, f"AuthRequired{TITLE}", f"bad{CLIPBOARD} password\u202e")
    assert str(error) == "AuthRequired: bad password"
    assert (error.error, error.message) == ("AuthRequired", "bad password")
    for made in (AuthError(f"refused: {TITLE}x"), ReplyError(f"HTTP 400: {CLEAR}y"),
                 Unreachable(f"cannot connect ({CLIPBOARD})", maybe_sent=False)):
        assert_clean(str(made))


def test_config_values_and_file_names_are_cleaned(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[[accounts]]\nnetwork = "webhook"\nhandle = "bridge\\u001b]0;PWNED\\u0007"\n'
                      'secret_env = "HOOK\\u202eSECRET"\n', encoding="utf-8")
    account = load_config(config).accounts[0]
    assert (account.handle, account.secret_env) == ("bridge", "HOOKSECRET")
    hostile = tmp_path / f"c{TITLE}.toml"
    hostile.write_text("[[accounts]]\nnetwork = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(hostile)
    assert_clean(str(caught.value))


# --- the command line ----------------------------------------------------------------

def test_a_hostile_operator_option_or_variable_is_refused_in_one_line(tmp_path):
    run(tmp_path, "handover", "--leave", "first")  # a desk to compare against
    before = (tmp_path / "desk.db").read_bytes()
    for args, env in (((f"--operator={EVE}",), None), ((), EVE)):
        result = run_with_operator(tmp_path, env, "handover", "--leave", "hello", *args)
        assert result.returncode == 2
        assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
        assert "operator name refused" in result.stderr and "U+001B" in result.stderr
        assert_clean(result.stderr)
    assert (tmp_path / "desk.db").read_bytes() == before


def run_with_operator(tmp_path, operator, *args):
    """`run`, with MENTIONDESK_OPERATOR set to `operator` when given."""
    if operator is None:
        return run(tmp_path, *args)
    env = {key: value for key, value in os.environ.items() if not key.startswith("MENTIONDESK_")}
    env.update(MENTIONDESK_OPERATOR=operator, PYTHONUTF8="1", XDG_DATA_HOME=str(tmp_path / "xdg"))
    return subprocess.run([sys.executable, "-m", "tui", *args, "--db", str(tmp_path / "desk.db")],
                          capture_output=True, text=True, encoding="utf-8", env=env, cwd=tmp_path, timeout=60)


def plant_legacy_rows(db) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO handover_notes (operator, at, text) VALUES (?, '2999-01-01', ?)",
                     (EVE, f"watch{TITLE} the queue{CLEAR}"))
        conn.execute("INSERT INTO source_status (source, state, detail, updated_at) VALUES (?, ?, ?, ?)",
                     ("webhook:bridge", f"auth failed{TITLE}", "x", f"2025{CLIPBOARD}"))
        conn.execute("UPDATE mentions SET text = ?", (f"refund{TITLE} please{CLIPBOARD}",))
    conn.close()


def test_cli_output_of_raw_legacy_rows_is_inert(tmp_path):
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"network": "demo", "remote_id": "m1", "author_handle": "@a", "text": "refund", '
                     '"created_at": "2025-03-14T09:00:00.000Z"}\n', encoding="utf-8")
    assert run(tmp_path, "import", str(jsonl)).returncode == 0
    plant_legacy_rows(tmp_path / "desk.db")
    config = tmp_path / "config.toml"
    config.write_text('[[accounts]]\nnetwork = "webhook"\nhandle = "bridge"\nsecret_env = "X"\n', encoding="utf-8")
    for args in (("handover", "--since", "2000-01-01"), ("handover", "--json", "--since", "2000-01-01"),
                 ("search", "refund"), ("accounts", "--config", str(config))):
        result = run(tmp_path, *args)
        assert result.returncode == 0, result.stderr
        assert_clean(result.stdout + result.stderr)
        assert "eve" in result.stdout or "refund" in result.stdout or "auth failed" in result.stdout


def test_error_lines_naming_hostile_files_are_inert(tmp_path):
    result = run(tmp_path, "import", str(tmp_path / f"missing{TITLE}{CLIPBOARD}.jsonl"))
    assert result.returncode != 0 and result.stderr.count("\n") == 1
    assert_clean(result.stderr)


async def test_accounts_check_prints_a_hostile_server_error_inert(tmp_path):
    pds = FakePds()
    url = await pds.start()
    try:
        pds.add_account("brand.bsky.social", "right-password")
        pds.faults["com.atproto.server.createSession"].append(
            Fail(400, f"InvalidRequest{TITLE}", f"Invalid identifier or password{CLIPBOARD}{CLEAR}"))
        secret = tmp_path / "bsky.password"
        secret.write_text("wrong-password", encoding="utf-8")
        secret.chmod(0o600)
        config = tmp_path / "config.toml"
        config.write_text(f'[[accounts]]\nnetwork = "bluesky"\nserver = "{url}"\nhandle = "brand.bsky.social"\n'
                          f'secret_file = "{secret}"\n', encoding="utf-8")
        env = {key: value for key, value in os.environ.items() if not key.startswith("MENTIONDESK_")}
        env.update(MENTIONDESK_OPERATOR="ana", PYTHONUTF8="1", XDG_DATA_HOME=str(tmp_path / "xdg"))
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tui", "accounts", "check", "--config", str(config),
            "--db", str(tmp_path / "desk.db"), env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await pds.close()
    text = out.decode() + err.decode()
    assert process.returncode == 1
    assert "bluesky:brand.bsky.social: FAILED" in text and "Invalid identifier or password" in text
    assert_clean(text)
