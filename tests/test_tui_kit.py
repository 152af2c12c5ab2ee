"""Pilot tests of the daily kit's keys: z (snooze) and Z (snoozed view), T (saved replies),
ctrl+t (insert a saved reply), ctrl+g ($EDITOR), and drafts kept in the database."""

from __future__ import annotations

import os
import textwrap
from datetime import timedelta

import pytest
from textual.widgets import Static

from store import saved_replies
from store.db import open_store
from store.inbox import rows_by_id
from store.ingest import save_batch
from tests.tui_support import FROZEN, console_ready, frozen_clock, mention, screen_text, seed, wait_until
from tui.app import ConsoleApp
from tui.screens.main import MainScreen
from tui.widgets.composer import ReplyComposer
from tui.widgets.mention_view import MentionView


@pytest.fixture
def db_path(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path, 12, hostile=False)
    return path


def query(db_path, sql, *params):
    store = open_store(db_path, clock=frozen_clock)
    try:
        return store.conn.execute(sql, params).fetchall()
    finally:
        store.close()


def dialog(app) -> str:
    return type(app.screen).__name__


async def press_z(pilot) -> None:
    await pilot.press("z")
    await wait_until(pilot, lambda: dialog(pilot.app) == "SnoozeDialog")


async def open_composer(pilot, screen) -> ReplyComposer:
    await pilot.press("r")
    composer = screen.query_one(ReplyComposer)
    await wait_until(pilot, lambda: composer.is_open)
    return composer


# -- snooze -----------------------------------------------------------------------------------------

async def test_z_snoozes_z_lists_and_it_comes_back_as_new_on_a_frozen_clock(db_path):
    now = [FROZEN]
    app = ConsoleApp(db_path, operator="alice", clock=lambda: now[0], poll_interval=0.05)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await console_ready(pilot)
        target = screen.inbox.selected_id
        await pilot.pause()
        await press_z(pilot)
        assert "Tomorrow 9:00" in screen_text(app) and "Next Monday 9:00" in screen_text(app)
        await pilot.press("1")  # 1 hour
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and target not in screen.inbox.ids)
        assert query(db_path, "SELECT mention_id, until, operator FROM snoozes") == [
            (target, "2026-11-26T13:00:00.000Z", "alice")]
        assert "Snoozed until 13:00" in screen_text(app)
        await pilot.press("Z")
        await wait_until(pilot, lambda: list(screen.inbox.ids) == [target]
                         and screen.inbox.row(target) is not None)
        assert "wakes 13:00" in screen_text(app)
        now[0] = FROZEN + timedelta(minutes=59)
        await pilot.pause(0.2)
        assert list(screen.inbox.ids) == [target]
        now[0] = FROZEN + timedelta(hours=1)
        await wait_until(pilot, lambda: len(screen.inbox.ids) == 0)
        await pilot.press("1")
        await wait_until(pilot, lambda: target in screen.inbox.ids and screen.inbox.row(target) is not None)
        row = screen.inbox.row(target)
        assert row is not None and row.snoozed_until is None
    store = open_store(db_path, clock=frozen_clock)
    try:
        assert rows_by_id(store, [target], "bob")[target].state == "new"  # new again, to everyone
    finally:
        store.close()
    assert query(db_path, "SELECT action, operator FROM events WHERE mention_id = ? AND action LIKE '%snooze%' "
                 "ORDER BY id", target) == [("snooze", "alice"), ("snooze.wake", "snooze")]


async def test_the_author_writing_again_in_the_thread_wakes_it_at_once(db_path):
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock, poll_interval=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        target = screen.inbox.selected_id
        await press_z(pilot)
        await pilot.press("4")  # next Monday
        await wait_until(pilot, lambda: target not in screen.inbox.ids)
        remote, handle = query(db_path, "SELECT m.remote_id, a.handle FROM mentions m JOIN authors a "
                                        "ON a.id = m.author_id WHERE m.id = ?", target)[0]
        # The ingest leader (another process, as far as this console knows) stores her answer.
        store = open_store(db_path, clock=frozen_clock)
        try:
            save_batch(store, "demo:@brightloop", [mention(500, handle=handle, parent_remote_id=remote,
                                                           root_remote_id=remote)], None)
        finally:
            store.close()
        await wait_until(pilot, lambda: target in screen.inbox.ids)
    assert query(db_path, "SELECT count(*) FROM snoozes") == [(0,)]


async def test_a_typed_time_and_a_bad_one_and_waking_by_hand(db_path):
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock, poll_interval=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        target = screen.inbox.selected_id
        await press_z(pilot)
        await pilot.press("tab", *"someday", "enter")
        await wait_until(pilot, lambda: "cannot read 'someday' as a time" in screen_text(app))
        assert dialog(app) == "SnoozeDialog" and query(db_path, "SELECT count(*) FROM snoozes") == [(0,)]
        await pilot.press(*["backspace"] * 7, *"fri 14:00", "enter")  # FROZEN is a Thursday
        await wait_until(pilot, lambda: query(db_path, "SELECT until FROM snoozes") == [("2026-11-27T14:00:00.000Z",)])
        await pilot.press("Z")
        await wait_until(pilot, lambda: list(screen.inbox.ids) == [target])
        await wait_until(pilot, lambda: screen.query_one(MentionView).shows(target))
        assert "snoozed until Fri 14:00" in screen_text(app) and "wakes Fri 14:00" in screen_text(app)
        await press_z(pilot)
        assert "Wake now" in screen_text(app)
        await pilot.press("w")
        await wait_until(pilot, lambda: len(screen.inbox.ids) == 0)
    assert query(db_path, "SELECT action FROM events WHERE action LIKE '%snooze%' ORDER BY id") == [
        ("snooze",), ("unsnooze",)]


# -- drafts -----------------------------------------------------------------------------------------

async def test_a_draft_is_saved_as_typed_restored_after_a_restart_and_shown_to_a_colleague(db_path):
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        target = screen.inbox.selected_id
        composer = await open_composer(pilot, screen)
        await pilot.press(*"We are on it")
        await wait_until(pilot, lambda: query(db_path, "SELECT mention_id, operator, text FROM drafts")
                         == [(target, "alice", "We are on it")])
    # A new console (the first one is gone) reopens it; a colleague sees the draft on the row and the mention.
    bob = ConsoleApp(db_path, operator="bob", clock=frozen_clock)
    async with bob.run_test(size=(110, 30)) as pilot:
        screen = await console_ready(pilot)
        await wait_until(pilot, lambda: screen.query_one(MentionView).shows(target)
                         and screen.inbox.row(target) is not None)
        assert screen.inbox.selected_id == target
        assert "✐draft" in screen_text(bob) and "✐ draft by alice" in screen_text(bob)
    again = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with again.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        composer = await open_composer(pilot, screen)
        assert composer.text == "We are on it"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not composer.display)
    assert query(db_path, "SELECT count(*) FROM drafts") == [(0,)]
    assert query(db_path, "SELECT text FROM replies") == [("We are on it",)]


async def test_a_reply_sent_before_the_draft_was_saved_leaves_no_draft_behind(db_path):
    """Seen over PostgreSQL in the two-user trial: typed and sent within the draft's debounce, the
    draft's save reached the store after the queueing (which removes it), and stayed as a stale draft."""
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        composer = await open_composer(pilot, screen)
        await pilot.press(*"Refund on its way", "ctrl+s")
        await wait_until(pilot, lambda: not composer.display)
        await wait_until(pilot, lambda: query(db_path, "SELECT count(*) FROM replies") == [(1,)])
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert query(db_path, "SELECT count(*) FROM drafts") == [(0,)]
        assert "✐" not in screen_text(app)  # no draft mark on the row or the mention
    assert query(db_path, "SELECT count(*) FROM drafts") == [(0,)]
    # Saved, then removed by the queueing, in that order.
    assert query(db_path, "SELECT action FROM events WHERE action IN ('draft.save', 'reply.queue') ORDER BY id") \
        == [("draft.save",), ("reply.queue",)]


async def test_clearing_the_text_removes_the_draft(db_path):
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        await open_composer(pilot, screen)
        await pilot.press(*"oops")
        await wait_until(pilot, lambda: query(db_path, "SELECT count(*) FROM drafts") == [(1,)])
        await pilot.press(*["backspace"] * 4, "escape")
        await wait_until(pilot, lambda: query(db_path, "SELECT count(*) FROM drafts") == [(0,)])
    assert query(db_path, "SELECT action FROM events WHERE action LIKE 'draft.%' ORDER BY id") == [
        ("draft.save",), ("draft.clear",)]


# -- $EDITOR ------------------------------------------------------------------------------------------

def fake_editor(tmp_path, body: str, status: int = 0) -> str:
    """A script standing in for vim: records the file's mode and what it was given, writes `body`."""
    script = tmp_path / "fake-editor"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        stat -c %a "$1" > {tmp_path}/mode
        cat "$1" > {tmp_path}/given
        printf '%s\\n' {body!r} > "$1"
        exit {status}
        """))
    script.chmod(0o755)
    return str(script)


async def test_ctrl_g_edits_the_draft_in_the_editor_and_comes_back_with_the_counter(db_path, tmp_path,
                                                                                     monkeypatch):
    monkeypatch.setenv("VISUAL", fake_editor(tmp_path, "Written in vim, with care"))
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        target = screen.inbox.selected_id
        composer = await open_composer(pilot, screen)
        await pilot.press(*"first words", "ctrl+g")
        await wait_until(pilot, lambda: composer.text == "Written in vim, with care")
        assert (tmp_path / "given").read_text() == "first words"
        assert (tmp_path / "mode").read_text().strip() == "600"
        assert "25/500" in screen_text(app)
        await wait_until(pilot, lambda: query(db_path, "SELECT text FROM drafts WHERE mention_id = ?", target)
                         == [("Written in vim, with care",)])
    assert not list(tmp_path.glob("mentiondesk-draft-*"))


async def test_an_editor_that_exits_non_zero_keeps_the_old_draft(db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("VISUAL", fake_editor(tmp_path, "never mind", status=1))
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await console_ready(pilot)
        composer = await open_composer(pilot, screen)
        await pilot.press(*"keep me", "ctrl+g")
        await wait_until(pilot, lambda: any("the draft is unchanged" in note.message
                                            for note in app._notifications))
        assert composer.text == "keep me"


# -- saved replies ----------------------------------------------------------------------------------

def add_replies(db_path):
    store = open_store(db_path, clock=frozen_clock)
    try:
        saved_replies.add_reply(store, "Refund delay — FR", "Bonjour {author}, c'est {operator}. ({lang})", "ana",
                                lang="fr", tags=["care"])
        saved_replies.add_reply(store, "Giveaway rules", "Hi {handle}, the rules: {url}", "ana", tags=["marketing"])
    finally:
        store.close()


async def test_ctrl_t_inserts_a_saved_reply_by_a_typod_name_and_refuses_to_send_an_unfilled_variable(db_path):
    add_replies(db_path)
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await console_ready(pilot)
        target = screen.inbox.selected_id
        author = query(db_path, "SELECT a.display_name FROM mentions m JOIN authors a ON a.id = m.author_id "
                                "WHERE m.id = ?", target)[0][0]
        composer = await open_composer(pilot, screen)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: dialog(app) == "ReplyPicker")
        await pilot.press(*"refnd")
        await wait_until(pilot, lambda: "fill in before sending: {lang}" in screen_text(app))
        await pilot.press("enter")
        expected = f"Bonjour {author}, c'est alice. ({{lang}})"
        await wait_until(pilot, lambda: composer.text == expected)
        assert "fill in: {lang}" in str(screen.query_one("#composer-counter", Static).content)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: any("Fill in {lang} before sending" in note.message
                                            for note in app._notifications))
        assert composer.display and query(db_path, "SELECT count(*) FROM replies") == [(0,)]
        await pilot.press(*["backspace"] * 7, *"fr)")  # still editable: the operator fills it in
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not composer.display)
    assert query(db_path, "SELECT text FROM replies") == [(f"Bonjour {author}, c'est alice. (fr)",)]


async def test_t_lists_adds_edits_and_deletes_saved_replies(db_path):
    add_replies(db_path)
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await console_ready(pilot)
        await pilot.press("T")
        await wait_until(pilot, lambda: dialog(app) == "SavedRepliesScreen" and "Giveaway rules" in screen_text(app))
        await pilot.press("a")
        await wait_until(pilot, lambda: dialog(app) == "ReplyForm")
        await pilot.press(*"Thanks", "tab", *"en", "tab", *"care", "tab", *"Thanks {author}!", "ctrl+s")
        await wait_until(pilot, lambda: dialog(app) == "SavedRepliesScreen" and "Thanks" in screen_text(app))
        assert query(db_path, "SELECT name, lang, tags, body, updated_by FROM saved_replies WHERE name = 'Thanks'") \
            == [("Thanks", "en", "care", "Thanks {author}!", "alice")]
        # A bad body is refused in one line and the form comes back with what was typed.
        await pilot.press("a")
        await wait_until(pilot, lambda: dialog(app) == "ReplyForm")
        await pilot.press(*"Typo", "tab", "tab", "tab", *"Hi {autor}", "ctrl+s")
        await wait_until(pilot, lambda: dialog(app) == "ReplyForm" and "Hi {autor}" in screen_text(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: dialog(app) == "SavedRepliesScreen")
        await pilot.press("home")  # Giveaway rules
        await pilot.press("e")
        await wait_until(pilot, lambda: dialog(app) == "ReplyForm")
        await pilot.press("end", *" (2026)", "ctrl+s")
        await wait_until(pilot, lambda: query(db_path, "SELECT count(*) FROM saved_replies WHERE name = ?",
                                              "Giveaway rules (2026)") == [(1,)])
        await pilot.press("home", "d")
        await wait_until(pilot, lambda: dialog(app) == "Confirm")
        await pilot.press("y")
        await wait_until(pilot, lambda: query(db_path, "SELECT name FROM saved_replies ORDER BY name") == [
            ("Refund delay — FR",), ("Thanks",)])
    assert [row[0] for row in query(db_path, "SELECT action FROM events WHERE action LIKE 'saved_reply.%' "
                                             "ORDER BY id")][2:] == ["saved_reply.add", "saved_reply.edit",
                                                                     "saved_reply.remove"]


def test_the_editor_gets_a_private_file_that_is_gone_afterwards(tmp_path):
    from tui.editor import run_editor

    record = tmp_path / "seen"
    # The "editor" records the file's mode and name, and changes nothing.
    env = {"VISUAL": f"sh -c 'stat -c %a \"$0\" > {record}; echo \"$0\" >> {record}'"}
    assert run_editor("x", env) == "x"
    mode, path = record.read_text().split()
    assert mode == "600" and not os.path.exists(path)


def test_an_editor_that_cannot_start_is_one_line():
    from tui.editor import EditorError, run_editor

    with pytest.raises(EditorError, match="cannot run the editor '/nonexistent/vim'"):
        run_editor("x", {"VISUAL": "/nonexistent/vim"})


async def test_the_picker_puts_the_reply_in_the_mentions_language_first(db_path):
    store = open_store(db_path, clock=frozen_clock)
    try:
        save_batch(store, "demo:@brightloop", [mention(200, text="Où est mon remboursement ?", lang="fr")], None)
        saved_replies.add_reply(store, "Refund delay — EN", "Hi {author}, your refund is on its way.", "ana",
                                lang="en")
        saved_replies.add_reply(store, "Refund delay — FR", "Bonjour {author}, le remboursement arrive.", "ana",
                                lang="fr")
    finally:
        store.close()
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        assert screen.inbox.row(screen.inbox.selected_id).text.startswith("Où est")
        composer = await open_composer(pilot, screen)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: dialog(app) == "ReplyPicker")
        await pilot.press(*"refnd", "enter")
        await wait_until(pilot, lambda: composer.text.startswith("Bonjour User"))
        assert composer.text.endswith("le remboursement arrive.")
