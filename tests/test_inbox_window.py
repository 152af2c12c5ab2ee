"""Pilot tests: the inbox loads a window of ids, and behaves as if it held them all."""

from __future__ import annotations

import random

import pytest

from store import actions, desk
from store.db import open_store
from store.inbox_window import PAGE
from store.ingest import save_batch
from tests.test_multiprocess import within
from tests.test_view_counts import brute, mixed_writes
from tests.tui_support import console_ready, frozen_clock, mention, screen_text
from tui.app import ConsoleApp

SIZE = PAGE * 2 + 150  # more than two pages: the list never holds them all at first


@pytest.fixture
def db_path(tmp_path) -> str:
    path = str(tmp_path / "desk.db")
    store = open_store(path, clock=frozen_clock)
    save_batch(store, "demo:@brightloop", [mention(i) for i in range(1, SIZE + 1)], None)
    desk.register_operator(store, "bob")
    store.close()
    return path


def view_ids(path: str, view: str = "open", operator: str = "alice") -> list[int]:
    from store.inbox import VIEWS

    store = open_store(path)
    try:
        spec = VIEWS[view]
        return [row[0] for row in store.conn.execute(
            f"SELECT {spec.id_column} {spec.source} ORDER BY {spec.id_column} DESC", {"operator": operator})]
    finally:
        store.close()


def number(mention_id: int, path: str) -> str:
    """The "(n)" the seeded text of a mention ends with, as the screen shows it."""
    store = open_store(path)
    try:
        text = store.conn.execute("SELECT text FROM mentions WHERE id = ?", (mention_id,)).fetchone()[0]
    finally:
        store.close()
    return text[text.rindex("("):]


def make_app(db_path: str) -> ConsoleApp:
    return ConsoleApp(db_path, operator="alice", clock=frozen_clock, poll_interval=0.1)


async def selected_is(pilot, screen, expected: int, what: str) -> None:
    await within(pilot, lambda: screen.inbox.selected_id == expected
                 and screen.inbox.row(expected) is not None, 10, what)


@pytest.mark.parametrize("oldest_first", [False, True])
async def test_keys_cross_the_edges_of_the_loaded_window(db_path, oldest_first):
    everything = view_ids(db_path)
    if oldest_first:  # `O`, remembered: the same window, read from the other end
        from store.preferences import set_oldest_first

        store = open_store(db_path)
        set_oldest_first(store, "alice", "open", True)
        store.close()
        everything.reverse()
    async with make_app(db_path).run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        inbox = screen.inbox
        assert len(inbox.ids) == SIZE and not inbox.ids.complete  # the length, not every id
        assert inbox.ids.end - inbox.ids.start <= PAGE
        while inbox.cursor < PAGE + 20:  # page down past the first window
            await pilot.press("pagedown")
            await selected_is(pilot, screen, everything[inbox.cursor], f"row {inbox.cursor}")
        for _ in range(3):
            await pilot.press("j")
            await selected_is(pilot, screen, everything[inbox.cursor], f"row {inbox.cursor}")
        assert number(inbox.selected_id, db_path) in screen_text(pilot.app)
        await pilot.press("G")
        await selected_is(pilot, screen, everything[-1], "the bottom mention")
        assert everything[-1] in inbox.visible_ids(margin=0)  # scrolled to it (its text may be cut short)
        # and shown whole: the selection announced once its id arrived, not left at "Nothing selected"
        await within(pilot, lambda: screen.mention.shows(everything[-1]), 10, "the bottom mention's detail")
        await pilot.press("k", "pageup")
        await selected_is(pilot, screen, everything[inbox.cursor], "a page up from the bottom")
        assert inbox.cursor < SIZE - 2
        await pilot.press("g")
        await selected_is(pilot, screen, everything[0], "the top mention")
        assert inbox.scroll_offset.y == 0


async def test_new_mentions_never_move_the_selection_deep_in_the_list(db_path):
    async with make_app(db_path).run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        inbox = screen.inbox
        while inbox.cursor < PAGE + 60:
            await pilot.press("pagedown")
        await within(pilot, lambda: inbox.selected_id is not None, 10, "the selection")
        chosen, place = inbox.selected_id, inbox.cursor
        on_screen = inbox.cursor * 2 - inbox.scroll_offset.y
        writer = open_store(db_path)
        try:
            save_batch(writer, "demo:@brightloop", [mention(SIZE + i) for i in range(1, 4)], None)
        finally:
            writer.close()
        await within(pilot, lambda: len(inbox.ids) == SIZE + 3, 10, "three arrivals")
        assert (inbox.selected_id, inbox.cursor) == (chosen, place + 3)
        assert inbox.cursor * 2 - inbox.scroll_offset.y == on_screen  # the row did not move on screen
        await within(pilot, lambda: "↑ 3 new" in screen_text(pilot.app), 10, "the new count in the title")
        # Another console closes the selected mention: the list reloads around it, the next one takes its place.
        following = view_ids(db_path)[inbox.cursor + 1]
        writer = open_store(db_path)
        try:
            actions.toggle_done(writer, chosen, "bob")
        finally:
            writer.close()
        await selected_is(pilot, screen, following, "the next mention in the closed one's place")
        assert len(inbox.ids) == SIZE + 2
        await pilot.press("g")
        await selected_is(pilot, screen, view_ids(db_path)[0], "the newest arrival")
        assert "new" not in screen.query_one("#inbox-title").render().plain


async def test_view_switches_and_counts_match_a_brute_force_count(db_path):
    store = open_store(db_path)
    other = open_store(db_path)
    try:
        rng = random.Random(5)
        for writer in (store, other, store):  # two connections, mixed writes
            mixed_writes(writer, rng, 150, rng.choice(("alice", "bob")))
        actions.toggle_tag(other, view_ids(db_path)[0], "care", "bob")
        truth = brute(store, "alice")
    finally:
        store.close()
        other.close()
    async with make_app(db_path).run_test(size=(120, 30)) as pilot:
        screen = await console_ready(pilot)
        await within(pilot, lambda: screen.status.counts == truth, 10, "counts equal to a brute-force count")
        for key, view in (("2", "care"), ("4", "untriaged"), ("5", "done"), ("6", "mine"), ("1", "open")):
            expected = view_ids(db_path, view)
            await pilot.press(key)
            await within(pilot, lambda view=view: screen.view == view, 10, f"the {view} view")
            assert len(screen.inbox.ids) == truth[view] == len(expected)
            if expected:
                await selected_is(pilot, screen, expected[0], f"the top of {view}")
                await pilot.press("G")
                await selected_is(pilot, screen, expected[-1], f"the bottom of {view}")


async def test_an_empty_search_lists_the_view_a_window_at_a_time(db_path):
    everything = view_ids(db_path)
    async with make_app(db_path).run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        await pilot.press("/")
        await within(pilot, lambda: screen.searching and len(screen.inbox.ids) == SIZE
                     and not screen.inbox.ids.complete, 10, "the whole view, windowed, under an empty search")
        screen.inbox.focus()
        await pilot.press("G")
        await selected_is(pilot, screen, everything[-1], "the oldest mention under an empty search")


def test_slices_count_positions_from_the_lists_own_top_while_arrivals_wait(db_path):
    """Mentions stored after the list was read are not in it yet: a jump must not shift by them."""
    from store.inbox_window import view_page, view_slice

    listed = view_ids(db_path)
    store = open_store(db_path)
    try:
        page = view_page(store, "open")
        assert (page.total, list(page.ids), page.newest) == (SIZE, listed[:PAGE], listed[0])
        save_batch(store, "demo:@brightloop", [mention(SIZE + i) for i in range(1, 6)], None)
        for start in (PAGE + 10, 10, SIZE - 30):
            got = view_slice(store, "open", start=start, limit=20, total=SIZE, newest=page.newest)
            assert (got.start, list(got.ids)) == (start, listed[start:start + 20]), start
        got = view_slice(store, "open", start=PAGE, limit=20, total=SIZE, below=listed[PAGE - 1])
        assert (got.start, list(got.ids)) == (PAGE, listed[PAGE:PAGE + 20])
        got = view_slice(store, "open", start=2, limit=8, total=SIZE, above=listed[10], newest=page.newest)
        assert (got.start, list(got.ids)) == (2, listed[2:10])
    finally:
        store.close()


def test_oldest_first_slices_are_the_same_positions_read_from_the_other_end(db_path):
    """Oldest first is a direction of the windowed paging: pages, keyset reads and jumps (from
    either end) give the reversed list's positions, and arrivals not listed yet never count."""
    from store.inbox_window import view_page, view_slice

    listed = view_ids(db_path)[::-1]
    store = open_store(db_path)
    try:
        page = view_page(store, "open", oldest_first=True)
        assert (page.total, list(page.ids), page.newest) == (SIZE, listed[:PAGE], listed[-1])
        save_batch(store, "demo:@brightloop", [mention(SIZE + i) for i in range(1, 6)], None)
        for start in (PAGE + 10, 10, SIZE - 30, SIZE - 20):
            got = view_slice(store, "open", start=start, limit=20, total=SIZE, newest=page.newest, oldest_first=True)
            assert (got.start, list(got.ids)) == (start, listed[start:start + 20]), start
        got = view_slice(store, "open", start=SIZE - 10, limit=20, total=SIZE, below=listed[SIZE - 11],
                         newest=page.newest, oldest_first=True)
        assert (got.start, list(got.ids)) == (SIZE - 10, listed[SIZE - 10:])  # not the arrivals
        got = view_slice(store, "open", start=2, limit=8, total=SIZE, above=listed[10], newest=page.newest,
                         oldest_first=True)
        assert (got.start, list(got.ids)) == (2, listed[2:10])
        around = view_page(store, "open", around=listed[300], oldest_first=True)
        assert around.anchor == 300 and list(around.ids) == listed[around.start:around.start + len(around.ids)]
        assert around.newest == SIZE + 5  # the view's newest, arrivals included: the list's bottom end
    finally:
        store.close()
