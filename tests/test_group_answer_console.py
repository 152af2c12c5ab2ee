"""Group answers in the console: A on marked rows or a group, the preview, approval by a second console, P and C."""

from __future__ import annotations

from store.db import open_store
from store.ingest import insert_mentions
from store.records import NewMention
from store.saved_replies import add_reply
from tests.test_flood_console import until
from tests.test_group_answers import make_group
from tests.tui_support import console_ready, frozen_clock, query, screen_text, seed
from tui.app import ConsoleApp
from tui.screens.dialogs import Confirm
from tui.screens.flood import FloodScreen
from tui.screens.group_answer import GroupAnswerDialog
from tui.screens.main import MainScreen

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


def desk_with_group(path: str, people: int = 25) -> tuple[int, list[int]]:
    seed(path, hostile=False)
    store = open_store(path, clock=frozen_clock)
    try:
        ids = insert_mentions(store, [NewMention("demo", "@brightloop", f"fan:{n}", f"@fan{n}", f"show cancelled?? {n}",
                                                 "2026-01-01T10:00:00.000Z", author_name=f"Fan {n}")
                                      for n in range(people)])
        add_reply(store, "Show moved", "Hi {author}, the show moves to Sunday. — {operator}", "alice")
        return make_group(store, ids), ids
    finally:
        store.close()


async def flood_screen_on(pilot, app, waiting: int) -> None:
    """The console ready, then F: the flood screen showing the group with `waiting` members."""
    await console_ready(pilot)
    await pilot.press("F")
    await until(pilot, lambda: isinstance(app.screen, FloodScreen) and f"{waiting} waiting" in screen_text(app))


def notified(app, words: str) -> bool:
    return any(words in str(n.message) for n in app._notifications)


async def test_A_on_marked_rows_previews_each_person_and_ctrl_s_queues_one_reply_each(tmp_path, desk_db):
    path = desk_db
    seed(path, hostile=False)
    app = ConsoleApp(path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(110, 34), notifications=True) as pilot:
        screen = await console_ready(pilot)
        marked = screen.inbox.ids[:3]
        await pilot.press("space", "space", "space", "A")
        await until(pilot, lambda: isinstance(app.screen, GroupAnswerDialog))
        dialog = app.screen
        assert isinstance(dialog, GroupAnswerDialog) and sorted(dialog.target.members) == sorted(marked)
        await pilot.press(*"Hi {author}, thanks!")
        # The preview follows the typing: wait for the plan of the whole text (under load one of
        # "Hi {aut" was on screen with "3 of 3 get it" before the last keys arrived).
        await until(pilot, lambda: dialog.plan is not None and dialog.plan.sends != []
                    and dialog.plan.sends[0].text.endswith(", thanks!") and "3 of 3 get it" in screen_text(app))
        first = dialog.plan.sends[0] if dialog.plan else None
        assert first is not None
        await until(pilot, lambda: f"{first.handle} #{first.mention_id}: Hi User" in screen_text(app))
        await pilot.press("ctrl+l")  # every post: the same here, each of these people posted once
        await until(pilot, lambda: not dialog.one_per_author and "(every post" in screen_text(app))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, MainScreen) and notified(app, "Answer 1 queued"))
    rows = query(path, "SELECT mention_id, text, state FROM replies WHERE answer_id = 1 ORDER BY mention_id")
    assert [r[0] for r in rows] == sorted(marked) and {r[2] for r in rows} == {"pending"}
    assert all(text.startswith("Hi User ") and "{author}" not in text for _, text, _ in rows)
    assert query(path, "SELECT state, drafted_by, one_per_author FROM group_answers") == [("queued", "alice", 0)]


async def test_a_big_group_answer_drafted_in_one_console_is_approved_in_another(tmp_path, desk_db):
    path = desk_db
    group, ids = desk_with_group(path)
    alice = ConsoleApp(path, operator="alice", clock=frozen_clock)
    async with alice.run_test(size=(110, 34), notifications=True) as pilot:
        await flood_screen_on(pilot, alice, 25)
        await pilot.press("A")
        await until(pilot, lambda: isinstance(alice.screen, GroupAnswerDialog))
        await pilot.press("ctrl+t")  # the saved-reply picker, reused
        await until(pilot, lambda: "Insert a saved reply" in screen_text(alice))
        await pilot.press(*"show mvd", "enter")
        dialog = alice.screen
        assert isinstance(dialog, GroupAnswerDialog)
        await until(pilot, lambda: "25 of 25 get it" in screen_text(alice))
        # The counts, the approval hint and the preview are drawn as the plan comes in, not at once.
        await until(pilot, lambda: "over 20 people: ctrl+s asks another operator to approve it" in screen_text(alice))
        await until(pilot, lambda: "Hi Fan 0, the show moves to Sunday. — alice" in screen_text(alice))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: notified(alice, "waits for another operator's approval"))
        await pilot.press("ctrl+o")  # her own answer is not hers to approve
        await until(pilot, lambda: notified(alice, "No group answer waits for your approval."))
    assert query(path, "SELECT state, drafted_by, approved_by FROM group_answers") == \
        [("awaiting_approval", "alice", None)]
    assert query(path, "SELECT count(*) FROM replies") == [(0,)]

    bob = ConsoleApp(path, operator="bob", clock=frozen_clock)
    async with bob.run_test(size=(110, 34), notifications=True) as pilot:
        await console_ready(pilot)
        await until(pilot, lambda: f"ANSWER #1 by alice to group {group} (25 people) waits for a second operator"
                         " · ctrl+o approves" in screen_text(bob))
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(bob.screen, Confirm))
        assert "Approve answer 1 by alice" in screen_text(bob) and "Hi {author}, the show moves" in screen_text(bob)
        await pilot.press("y")
        await until(pilot, lambda: notified(bob, "Answer 1 approved"))
        await until(pilot, lambda: "answer 1 (group" in screen_text(bob) and "25 queued" in screen_text(bob))
        await pilot.press("P")
        await until(pilot, lambda: query(path, "SELECT state FROM group_answers") == [("paused",)])
        await until(pilot, lambda: "paused: 25 queued" in screen_text(bob) and "P resumes" in screen_text(bob))
        await pilot.press("C")
        await until(pilot, lambda: isinstance(bob.screen, Confirm))
        await pilot.press("y")
        await until(pilot, lambda: notified(bob, "Answer 1 cancelled."))
    assert query(path, "SELECT state, drafted_by, approved_by FROM group_answers") == [("cancelled", "alice", "bob")]
    assert query(path, "SELECT count(*) FROM replies") == [(0,)]
    log = query(path, "SELECT operator, action FROM events WHERE action LIKE 'answer.%' ORDER BY id")
    assert log == [("alice", "answer.draft"), ("alice", "answer.ask_approval"), ("bob", "answer.approve"),
                   ("bob", "answer.queue"), ("bob", "answer.pause"), ("bob", "answer.cancel")]


async def test_a_refusal_in_the_dialog_is_one_line_and_keeps_the_text(tmp_path, desk_db):
    path = desk_db
    desk_with_group(path, people=3)
    app = ConsoleApp(path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(110, 34), notifications=True) as pilot:
        await flood_screen_on(pilot, app, 3)
        await pilot.press("A", *"Hi {autor}")
        await until(pilot, lambda: "unknown variable {autor} in the answer" in screen_text(app))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: notified(app, "unknown variable {autor}"))
        assert isinstance(app.screen, GroupAnswerDialog)
        assert app.screen.query_one("#answer-text").text == "Hi {autor}"
    assert query(path, "SELECT count(*) FROM group_answers") == [(0,)]


async def test_an_answer_drafted_here_shows_in_a_console_in_another_process_which_approves_it(tmp_path, desk_db):
    import json
    import subprocess
    import sys

    from tests.procs import clean_env

    path = desk_db
    group, _ids = desk_with_group(path)
    out = tmp_path / "bob.json"
    bob = subprocess.Popen([sys.executable, "-m", "tests.answer_console_proc", path, "bob", str(out)],
                           env=clean_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        alice = ConsoleApp(path, operator="alice", clock=frozen_clock)
        async with alice.run_test(size=(110, 34), notifications=True) as pilot:
            await flood_screen_on(pilot, alice, 25)
            await pilot.press("A", *"Hi {author}, we are on it.")
            await until(pilot, lambda: "25 of 25 get it" in screen_text(alice))
            await pilot.press("ctrl+s")
            await until(pilot, lambda: notified(alice, "waits for another operator's approval"))
            # bob's console, another process, sees it in its banner and approves; this screen follows.
            await until(pilot, lambda: "25 queued" in screen_text(alice) or "25 sent" in screen_text(alice), 60)
        output, _ = bob.communicate(timeout=60)
        assert bob.returncode == 0, output
    finally:
        if bob.poll() is None:
            bob.kill()
    seen = json.loads(out.read_text(encoding="utf-8"))
    assert f"ANSWER #1 by alice to group {group} (25 people) waits for a second operator · ctrl+o approves" \
        in seen["banner"]
    assert "Answer 1 approved: it is being sent." in seen["notified"]
    assert query(path, "SELECT state, drafted_by, approved_by FROM group_answers") == [("queued", "alice", "bob")]
    assert query(path, "SELECT count(*) FROM replies WHERE answer_id = 1") == [(25,)]


async def test_A_with_nothing_marked_answers_the_selected_mentions_group_or_says_how(tmp_path, desk_db):
    path = desk_db
    group, ids = desk_with_group(path, people=4)
    app = ConsoleApp(path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(110, 34), notifications=True) as pilot:
        screen = await console_ready(pilot)
        selected = screen.inbox.selected_id
        assert selected in ids  # the newest rows are the group's
        await pilot.press("A")
        await until(pilot, lambda: isinstance(app.screen, GroupAnswerDialog))
        dialog = app.screen
        assert isinstance(dialog, GroupAnswerDialog) and dialog.target.group_id == group
        assert f"Answer group {group} (the group of #{selected})" in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.press("G")  # the oldest: a seeded mention in no group
        await until(pilot, lambda: screen.inbox.selected_id not in ids)
        await pilot.press("A")
        await until(pilot, lambda: notified(app, "Mark mentions (space, V) or pick a group (F)"))
        assert isinstance(app.screen, MainScreen)
    assert query(path, "SELECT count(*) FROM group_answers") == [(0,)]


async def test_a_hostile_display_name_shows_literally_in_the_preview(tmp_path, desk_db):
    path = desk_db
    seed(path, hostile=False)
    store = open_store(path, clock=frozen_clock)
    try:
        ids = insert_mentions(store, [NewMention("demo", "@brightloop", f"evil:{n}", f"@mallory{n}", "show cancelled??",
                                                 "2026-01-01T10:00:00.000Z", author_name="[@click=app.quit]Q[/] [b]x")
                                      for n in range(2)])
        group = make_group(store, ids)
    finally:
        store.close()
    app = ConsoleApp(path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(110, 34), notifications=True) as pilot:
        await flood_screen_on(pilot, app, 2)
        await pilot.press("A", *"Hi {author}")
        await until(pilot, lambda: "Hi [@click=app.quit]Q[/] [b]x" in screen_text(app))
        await pilot.click("#answer-preview")  # a click on the text runs no action from it
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, GroupAnswerDialog) and app.screen.target.group_id == group


async def test_at_80_columns_the_banner_shows_a_long_incident_and_the_answer_waiting_for_approval(tmp_path, desk_db):
    from store import group_answers as ga
    from store.answer_plan import Target

    path = desk_db
    group, _ids = desk_with_group(path)
    store = open_store(path, clock=frozen_clock)
    try:
        with store.write():
            store.conn.execute(
                """INSERT INTO incidents (title, kind, topic, started_at, detected_at, updated_at, baseline, peak,
                   group_id) VALUES (?, 'topic', ?, ?, ?, ?, 0, 10, ?)""",
                ("Spike: they ran out of water at 2pm. no food trucks either, and the shuttles stopped", str(group),
                 "2026-01-01T10:00:00.000Z", "2026-01-01T10:02:00.000Z", store.now(), group))
        ga.draft_answer(store, Target(group), "Hi {author}, water is on its way. — {operator}", "alice")
    finally:
        store.close()
    bob = ConsoleApp(path, operator="bob", clock=frozen_clock)
    async with bob.run_test(size=(80, 24)) as pilot:
        await console_ready(pilot)
        # The incident keeps one line (cut short) so the answer and its key fit under it.
        await until(pilot, lambda: "INCIDENT #1 NEW: Spike: they ran out of water" in screen_text(bob)
                    and "ctrl+o approves" in screen_text(bob))
