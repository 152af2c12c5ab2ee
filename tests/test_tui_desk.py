"""Pilot tests of the shared desk: a console (alice) and another operator (bob) writing
to the same file through their own connection, as another console would."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from store import actions, desk
from store.db import open_store
from store.outbox import claim_due, mark_failed
from tests.procs import run_cli
from tests.support import assert_one_line_refusal
from tests.tui_support import console_ready, frozen_clock, screen_text, seed, wait_until
from tui.app import ConsoleApp
from tui.screens.main import MainScreen
from tui.widgets.composer import ReplyComposer
from tui.widgets.mention_view import MentionView


@pytest.fixture
def db_path(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path)
    return path


@contextmanager
def other_console(db_path):
    """Another operator's connection, on the console's frozen clock (claims compare times)."""
    store = open_store(db_path, clock=frozen_clock)
    try:
        yield store
    finally:
        store.close()


def query(db_path, sql, *params):
    with other_console(db_path) as store:
        return store.conn.execute(sql, params).fetchall()


ready = console_ready


def dialog(app) -> str:
    return type(app.screen).__name__


# -- 1. claims --------------------------------------------------------------------------------------

async def test_quitting_releases_the_consoles_claims(db_path):
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        target = screen.inbox.selected_id
        await pilot.press("r", *"half a reply")
        await wait_until(pilot, lambda: query(db_path, "SELECT mention_id, operator FROM claims")
                         == [(target, "alice")])
        app.exit()
    assert query(db_path, "SELECT count(*) FROM claims") == [(0,)]
    assert query(db_path, "SELECT action FROM events WHERE action LIKE 'claim%' ORDER BY id") == [
        ("claim",), ("claim.release",)]


async def test_the_open_composer_renews_its_claim(db_path, monkeypatch):
    from datetime import timedelta

    from tests.tui_support import FROZEN

    now = [FROZEN]
    monkeypatch.setattr(ReplyComposer, "claim_renew", 0.05)
    app = ConsoleApp(db_path, operator="alice", clock=lambda: now[0])
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        target = screen.inbox.selected_id
        await pilot.press("r")
        await wait_until(pilot, lambda: query(db_path, "SELECT operator FROM claims") == [("alice",)])
        first = query(db_path, "SELECT expires_at FROM claims")[0][0]
        now[0] = FROZEN + timedelta(seconds=10)
        await wait_until(pilot, lambda: query(db_path, "SELECT expires_at FROM claims")[0][0] > first)
        now[0] = FROZEN + timedelta(seconds=20)  # past the first expiry: alive only by the heartbeat
        with other_console(db_path) as bob:
            bob.clock = lambda: now[0]
            await wait_until(pilot, lambda: desk.active_claim(bob, target) is not None)
        await pilot.press("escape")
        await wait_until(pilot, lambda: query(db_path, "SELECT count(*) FROM claims") == [(0,)])


# -- 2. the double-reply race ----------------------------------------------------------------------------

async def test_the_double_reply_race_asks_again_and_sends_one_reply(db_path):
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(110, 34)) as pilot:
        screen = await ready(pilot)
        target = screen.inbox.selected_id
        composer = screen.query_one(ReplyComposer)
        await pilot.press("r")
        await wait_until(pilot, lambda: composer.display)
        await pilot.press(*"Sorry, DM us")
        with other_console(db_path) as bob:
            assert desk.claim(bob, target, "bob").operator == "alice"
            desk.take_claim(bob, target, "bob")  # bob confirmed "reply anyway"
            bob_opened = actions.reply_mark(bob, target)
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: dialog(app) == "Confirm")
            assert "bob is replying to this mention now" in screen_text(app)
            # While alice reads the question, bob sends.
            actions.queue_reply(bob, target, "Hi from bob", "bob", guard=actions.ReplyGuard(since_reply=bob_opened))
            desk.release_claim(bob, target, "bob")
            await pilot.press("y")
            # Her yes covered bob's claim, not bob's reply: she is asked again, and declines.
            await wait_until(pilot, lambda: dialog(app) == "Confirm" and "answered" in screen_text(app))
            assert "bob answered this mention since you opened it (queued)" in screen_text(app)
            assert "Hi from bob" in screen_text(app)
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert composer.display, "the draft stays open"
        assert query(db_path, "SELECT operator, text FROM replies") == [("bob", "Hi from bob")]
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: dialog(app) == "Confirm")
        await pilot.press("y")  # now she has seen bob's reply: hers goes too
        await wait_until(pilot, lambda: not composer.display)
    assert query(db_path, "SELECT operator FROM replies ORDER BY id") == [("bob",), ("alice",)]


# -- 3. read state ---------------------------------------------------------------------------------

async def test_reading_is_per_operator_and_follows_the_operators_other_console(db_path):
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock, poll_interval=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        ids = list(screen.inbox.ids)
        # One row at a time: a row passed over before its mention has loaded is not read (a fast j j
        # cancels the first load), so pressing both at once would make the count depend on timing.
        for read in (1, 2, 3):  # the first row is read as it opens, then each j reads the next
            if read > 1:
                await pilot.press("j")
            await wait_until(pilot, lambda read=read: query(
                db_path, "SELECT count(*) FROM reads WHERE operator = 'alice'") == [(read,)])
        assert query(db_path, "SELECT count(*) FROM mentions WHERE seen = 1") == [(0,)], "nothing read for bob"
        far = ids[10]
        assert not screen.inbox.row(far).seen
        with other_console(db_path) as second:  # alice's console in another SSH session
            actions.mark_seen(second, far, "alice")
            actions.mark_seen(second, ids[11], "bob")
        await wait_until(pilot, lambda: screen.inbox.row(far) is not None and screen.inbox.row(far).seen)
        assert not screen.inbox.row(ids[11]).seen, "bob reading it is no news to alice"


# -- 4. assignment ---------------------------------------------------------------------------------

async def test_the_assignee_is_told_live_and_mine_counts_it(db_path):
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock, poll_interval=0.05)
    async with app.run_test(size=(120, 34)) as pilot:
        screen = await ready(pilot)
        target = screen.inbox.ids[4]
        await wait_until(pilot, lambda: screen.status.counts.get("mine") == 0)
        with other_console(db_path) as bob:
            desk.assign(bob, target, "alice", "bob")  # alice's console registered her name
        await wait_until(pilot, lambda: any(f"bob assigned #{target} to you" in n.message
                                            for n in app._notifications))
        await wait_until(pilot, lambda: screen.status.counts.get("mine") == 1)


async def test_assigning_to_a_name_nobody_used_asks_first(db_path):
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(110, 30)) as pilot:
        await ready(pilot)
        for answer, expected in (("n", []), ("y", [("opnigth",)])):
            await pilot.press("a")
            await wait_until(pilot, lambda: dialog(app) == "AskText")
            await pilot.press(*["backspace"] * 5, *"opnigth", "enter")
            await wait_until(pilot, lambda: dialog(app) == "Confirm")
            assert "Nobody called 'opnigth' has used this desk yet" in screen_text(app)
            await pilot.press(answer)
            await wait_until(pilot, lambda: isinstance(app.screen, MainScreen))
            await wait_until(pilot, lambda expected=expected:
                             query(db_path, "SELECT operator FROM assignments") == expected)


def test_cli_assign_to_an_unknown_name_needs_new_operator(db_path, tmp_path):
    refused = run_cli(tmp_path, db_path, "assign", "3", "opnigth", operator="bob")
    line = assert_one_line_refusal(refused)
    assert "opnigth" in line and "--new-operator" in line
    assert query(db_path, "SELECT count(*) FROM assignments") == [(0,)]
    done = run_cli(tmp_path, db_path, "assign", "3", "opnigth", "--new-operator", operator="bob")
    assert done.returncode == 0, done.stderr
    again = run_cli(tmp_path, db_path, "assign", "4", "opnigth", operator="bob")
    assert again.returncode == 0, again.stderr
    assert query(db_path, "SELECT mention_id, operator FROM assignments ORDER BY mention_id") == [
        (3, "opnigth"), (4, "opnigth")]


# -- 5. queued vs sent, and E on an imported failed reply ---------------------------------------------

def failed_reply_on_newest(db_path, text: str, operator: str) -> tuple[int, int]:
    """(mention id, reply id) of a reply to the newest mention that the network refused."""
    with other_console(db_path) as store:
        target = store.conn.execute("SELECT max(id) FROM mentions").fetchone()[0]
        actions.queue_reply(store, target, text, operator)
        [reply] = claim_due(store)
        mark_failed(store, reply, "HTTP 500")
    return target, reply.id


async def test_edit_of_an_imported_failed_reply_sends_without_asking_and_shows_queued(db_path, tmp_path):
    with other_console(db_path) as store:  # opday's desk: a reply still in the outbox when exported
        newest = store.conn.execute("SELECT max(id) FROM mentions").fetchone()[0]
        actions.queue_reply(store, newest, "Never sent by opday", "opday")
    exported = run_cli(tmp_path, db_path, "export", "-o", str(tmp_path / "desk.jsonl"))
    assert exported.returncode == 0, exported.stderr
    db_path = str(tmp_path / "new.db")
    # Without signals: their badges would push the row's "queued, nobody sending" past the pane's width.
    imported = run_cli(tmp_path, db_path, "import", "--no-signals", str(tmp_path / "desk.jsonl"))
    assert imported.returncode == 0, imported.stderr
    [(target, state)] = query(db_path, "SELECT mention_id, state FROM replies")
    assert state == "failed"  # an import never posts by itself
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)  # no accounts: nobody sends
    async with app.run_test(size=(120, 34)) as pilot:
        screen = await ready(pilot)
        assert screen.inbox.selected_id == target
        composer = screen.query_one(ReplyComposer)
        await wait_until(pilot, lambda: "reply failed" in screen_text(app))
        await wait_until(pilot, lambda: screen.mention.failed_replies(target))  # the mention view has loaded
        await pilot.press("E")
        await wait_until(pilot, lambda: composer.display and "Never sent by opday" in composer.text)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not composer.display)
        assert dialog(app) == "MainScreen", "nobody answered since alice opened it"
        await wait_until(pilot, lambda: "QUEUED" in screen_text(app))
        assert "REPLIED" not in screen_text(app)
        view = screen.query_one(MentionView)
        shown = [part.plain for part in view._detail_renderable(view.detail).renderables
                 if hasattr(part, "plain")]
        assert "queued — nobody is sending (start a console with accounts or `mentiondesk serve`)" in shown
        await wait_until(pilot, lambda: "queued, nobody sending" in screen_text(app))
    assert query(db_path, "SELECT state, text FROM replies") == [("pending", "Never sent by opday")]


async def test_retry_asks_when_someone_answered_after_the_failed_attempt(db_path):
    target, reply_id = failed_reply_on_newest(db_path, "first try", "alice")
    with other_console(db_path) as store:
        actions.queue_reply(store, target, "bob got there", "bob")
    app = ConsoleApp(db_path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(120, 34)) as pilot:
        screen = await ready(pilot)
        assert screen.inbox.selected_id == target
        await wait_until(pilot, lambda: "bob got there" in screen_text(app))
        await pilot.press("R")
        await wait_until(pilot, lambda: dialog(app) == "Confirm")
        assert "bob answered this mention since you opened it (queued)" in screen_text(app)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert query(db_path, "SELECT state FROM replies WHERE id = ?", reply_id) == [("failed",)]
        await pilot.press("R")
        await wait_until(pilot, lambda: dialog(app) == "Confirm")
        await pilot.press("y")
        await wait_until(pilot, lambda: query(db_path, "SELECT state FROM replies WHERE id = ?", reply_id)
                         == [("pending",)])
