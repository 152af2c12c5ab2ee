"""Ordering and saved views: oldest first per operator and view, searches saved on 7-9 for the desk."""

from __future__ import annotations

import pytest

from store.db import open_store
from store.inbox import VIEWS, view_ids
from store.inbox_window import view_page
from store.ingest import save_batch
from store.preferences import oldest_first_views, set_oldest_first
from store.saved_views import (
    SavedViewError,
    ViewExists,
    remove_view,
    save_view,
    saved_view_ids,
    saved_views,
)
from store.search import search
from tests.support import cli_in_process as cli
from tests.tui_support import console_ready, frozen_clock, mention, screen_text, seed, wait_until
from tui.app import ConsoleApp
from tui.screens.dialogs import AskText, Confirm


@pytest.fixture
def db_path(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path, count=30, hostile=False)
    return path


@pytest.fixture
def store(db_path):
    store = open_store(db_path, clock=frozen_clock)
    yield store
    store.close()


# -- the store -------------------------------------------------------------------
@pytest.mark.parametrize("view", list(VIEWS))
def test_a_page_oldest_first_is_the_reverse(store, view):
    store.conn.execute("INSERT INTO tags VALUES (3, 'care', 'a', 'x'), (9, 'care', 'a', 'x'), "
                       "(4, 'marketing', 'a', 'x')")
    store.conn.execute("INSERT INTO assignments VALUES (5, 'alice', 'bo', 'x'), (2, 'alice', 'bo', 'x')")
    store.conn.execute("UPDATE mentions SET status = 'done' WHERE id IN (1, 7)")
    store.conn.execute("INSERT INTO snoozes VALUES (11, '2030-01-01T00:00:00Z', 'a', 'x'), "
                       "(6, '2030-01-01T00:00:00Z', 'a', 'x')")
    newest = list(view_ids(store, view, "alice"))
    oldest = view_page(store, view, "alice", oldest_first=True)
    assert newest and list(oldest.ids) == sorted(newest) == newest[::-1]
    assert oldest.newest == newest[0]
    assert list(view_page(store, view, "alice", size=2, oldest_first=True).ids) == newest[::-1][:2]


def test_order_is_per_operator_and_per_view(store):
    set_oldest_first(store, "alice", "care", True)
    set_oldest_first(store, "alice", "saved:Refunds", True)
    set_oldest_first(store, "bob", "open", True)
    assert oldest_first_views(store, "alice") == {"care", "saved:Refunds"}
    set_oldest_first(store, "alice", "care", False)
    assert oldest_first_views(store, "alice") == {"saved:Refunds"}
    assert oldest_first_views(store, "bob") == {"open"}
    assert oldest_first_views(store, "carol") == frozenset()


def test_saved_views_take_the_free_keys_and_refuse_a_fourth(store):
    assert save_view(store, "Refunds", "refund", "alice").key == "7"
    assert save_view(store, "Giveaway", "giveaway", "bob").key == "8"
    assert save_view(store, "Care FR", "tag:care remboursement", "alice", key="9").key == "9"
    with pytest.raises(SavedViewError, match="7, 8 and 9 all hold"):
        save_view(store, "Login", "login", "alice")
    with pytest.raises(ViewExists, match="key 7"):
        save_view(store, "refunds", "refund late", "alice")  # names are case-blind
    replaced = save_view(store, "refunds", "refund late", "bob", replace=True)
    assert (replaced.key, replaced.name, replaced.query) == ("7", "Refunds", "refund late")
    assert remove_view(store, "8", "alice").name == "Giveaway"  # by key
    assert save_view(store, "Login", "login", "alice").key == "8"
    assert [(v.key, v.name) for v in saved_views(store)] == [("7", "Refunds"), ("8", "Login"), ("9", "Care FR")]
    actions = [row[0] for row in store.conn.execute("SELECT action FROM events WHERE action LIKE 'view.%'")]
    assert actions == ["view.save"] * 4 + ["view.remove", "view.save"]


@pytest.mark.parametrize(("name", "query", "message"), [
    ("", "refund", "needs a name"), ("\x1b[2J  ", "refund", "needs a name"),
    ("x" * 25, "refund", "too long"), ("Empty", "   ", "needs a search"),
])
def test_bad_saved_views_are_refused_in_one_line(store, name, query, message):
    with pytest.raises(SavedViewError, match=message):
        save_view(store, name, query, "alice")
    assert saved_views(store) == []


def test_a_saved_view_name_is_cleaned(store):
    assert save_view(store, "Ref\x1b]0;pwned\x07unds\u202e", "refund", "alice").name == "Refunds"


def test_saved_view_ids_are_the_search_hits_by_age(store):
    save_view(store, "Refunds", "refund", "alice")
    hits = {hit.mention_id for hit in search(store, "refund", limit=5000)}
    assert hits
    assert list(saved_view_ids(store, "Refunds")) == sorted(hits, reverse=True)
    assert list(saved_view_ids(store, "Refunds", oldest_first=True)) == sorted(hits)
    assert list(saved_view_ids(store, "Gone")) == []


def test_a_missing_saved_view_cannot_be_removed(store):
    with pytest.raises(SavedViewError, match="no saved view"):
        remove_view(store, "Nope", "alice")


# -- the keys ------------------------------------------------------------------------
def console(db_path, operator="alice") -> ConsoleApp:
    return ConsoleApp(db_path, operator=operator, clock=frozen_clock, poll_interval=0.05)


def prefs(db_path):
    store = open_store(db_path)
    try:
        # Only the list orders: the console also records its approve_over (store.group_answers).
        return store.conn.execute("SELECT operator, name, value FROM operator_preferences "
                                  "WHERE name != 'approve_over'").fetchall()
    finally:
        store.close()


async def test_O_lists_oldest_first_and_is_remembered_per_operator(db_path):
    async with console(db_path).run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        assert list(screen.inbox.ids) == sorted(screen.inbox.ids, reverse=True)
        await pilot.press("O")
        await wait_until(pilot, lambda: list(screen.inbox.ids) == sorted(screen.inbox.ids)
                         and len(screen.inbox.ids) == 30)
        assert screen.inbox.selected_id == 1  # what waits longest, on top
        await wait_until(pilot, lambda: "Open · 30 · oldest first" in screen_text(pilot.app))
        await pilot.press("2")  # another view keeps its own order
        await wait_until(pilot, lambda: screen.pane.view == "care")
        assert not screen.pane.oldest_first
    assert prefs(db_path) == [("alice", "order:open", "oldest")]
    async with console(db_path).run_test(size=(100, 30)) as pilot:  # remembered
        screen = await console_ready(pilot)
        await wait_until(pilot, lambda: len(screen.inbox.ids) == 30)
        assert list(screen.inbox.ids) == sorted(screen.inbox.ids)
        await pilot.press("O")  # and back
        await wait_until(pilot, lambda: list(screen.inbox.ids) == sorted(screen.inbox.ids, reverse=True))
    assert prefs(db_path) == []
    set_store = open_store(db_path)
    set_oldest_first(set_store, "alice", "open", True)
    set_store.close()
    async with console(db_path, operator="bob").run_test(size=(100, 30)) as pilot:  # alice's, not bob's
        screen = await console_ready(pilot)
        await wait_until(pilot, lambda: len(screen.inbox.ids) == 30)
        assert list(screen.inbox.ids) == sorted(screen.inbox.ids, reverse=True)


async def test_oldest_first_arrivals_go_below_and_nothing_moves(db_path):
    set_store = open_store(db_path, clock=frozen_clock)
    set_oldest_first(set_store, "alice", "open", True)
    async with console(db_path).run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        await wait_until(pilot, lambda: len(screen.inbox.ids) == 30)
        await pilot.press("j", "j")
        selected, offset = screen.inbox.selected_id, screen.inbox.scroll_offset.y
        save_batch(set_store, "demo:@brightloop", [mention(31), mention(32)], "32")
        await wait_until(pilot, lambda: len(screen.inbox.ids) == 32)
        assert list(screen.inbox.ids[-2:]) == [31, 32]
        assert (screen.inbox.selected_id, screen.inbox.scroll_offset.y) == (selected, offset)
        assert screen.inbox.new_above == 0
    set_store.close()


async def test_star_saves_the_search_as_a_view_on_7_for_the_desk(db_path):
    async with console(db_path).run_test(size=(160, 30)) as pilot:  # the view bar's full labels
        screen = await console_ready(pilot)
        await pilot.press("7")  # nothing saved yet: the view stays
        assert screen.pane.view == "open"
        await pilot.press("asterisk")  # nothing searched yet: a hint, no dialog
        assert not isinstance(pilot.app.screen, AskText)
        await pilot.press("slash", *"refund", "enter")
        await wait_until(pilot, lambda: screen.inbox.focus and len(screen.inbox.ids) > 0)
        await pilot.press("asterisk")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, AskText))
        await pilot.press(*"Refunds", "enter")
        await wait_until(pilot, lambda: [v.name for v in screen.status.saved] == ["Refunds"])
        await pilot.press("escape", "1", "7")
        await wait_until(pilot, lambda: screen.pane.view == "saved:Refunds")
        store = open_store(db_path)
        expected = sorted((hit.mention_id for hit in search(store, "refund", limit=5000)), reverse=True)
        assert [(v.key, v.name, v.query, v.operator) for v in saved_views(store)] == [
            ("7", "Refunds", "refund", "alice")]
        store.close()
        await wait_until(pilot, lambda: list(screen.inbox.ids) == expected)
        await wait_until(pilot, lambda: f"7 Refunds {len(expected)}" in screen_text(pilot.app))
        await pilot.press("O")  # a saved view has its own order too
        await wait_until(pilot, lambda: list(screen.inbox.ids) == expected[::-1])
        await pilot.press("asterisk")  # on a saved view: remove it (asks first)
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, Confirm))
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.pane.view == "open" and screen.status.saved == [])
    store = open_store(db_path)
    assert saved_views(store) == []
    store.close()


async def test_a_view_another_operator_saved_opens_on_its_key(db_path):
    async with console(db_path).run_test(size=(160, 30)) as pilot:  # the view bar's full labels
        screen = await console_ready(pilot)
        other = open_store(db_path)
        save_view(other, "Giveaway", "giveaway", "bob", key="8")
        other.close()
        await pilot.press("8")
        await wait_until(pilot, lambda: screen.pane.view == "saved:Giveaway" and len(screen.inbox.ids) == 5)
        await screen.status.refresh_counts()
        await wait_until(pilot, lambda: "8 Giveaway 5" in screen_text(pilot.app))


# -- the command line ---------------------------------------------------------------
def test_cli_views_add_list_order_rm(db_path, tmp_path, monkeypatch, capsys):
    def run(*args):
        return cli(monkeypatch, capsys, tmp_path, "views", *args, "--db", db_path)

    assert run("add", "Giveaway", "giveaway", "status:open") == (0, "view 7: Giveaway = giveaway status:open\n", "")
    assert run("add", "Login", "login", "--key", "9")[:2] == (0, "view 9: Login = login\n")
    code, out, err = run("add", "login", "app")
    assert (code, out) == (2, "") and err == "mentiondesk: a view called 'Login' is saved already (key 9)\n"
    assert run("order", "Login", "oldest") == (0, "Login: oldest first (for alice)\n", "")
    assert run("order", "care", "oldest")[0] == 0
    code, out, err = run("order", "Nope", "oldest")
    assert code == 2 and err.startswith("mentiondesk: no view called 'Nope'")
    code, out, _ = run("list")
    assert out.splitlines() == [
        "7  Giveaway  giveaway status:open  (5 now, newest first; saved by alice)",
        "9  Login  login  (5 now, oldest first; saved by alice)",
        "   care  (oldest first)",
    ]
    assert run("rm", "Giveaway") == (0, "removed view 7: Giveaway\n", "")
    code, _, err = run("rm", "Giveaway")
    assert code == 2 and err == "mentiondesk: no saved view called 'Giveaway'\n"
