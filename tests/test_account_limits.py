"""Per-account limits in the database: stored once, read by every console and the CLI."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapters.rules import rule_for_mention
from store.account_settings import TextLimits, get_setting, get_text_limits, save_text_limits, set_setting
from store.db import open_store
from store.ingest import save_batch
from tests.tui_support import frozen_clock, mention, wait_until
from tui.app import ConsoleApp
from tui.screens.main import MainScreen
from tui.widgets.composer import ReplyComposer

ACCOUNT = "@brand@gts.example"
AUTHOR = "@alice@remote.example "  # what the console puts in front of a Mastodon reply


def test_settings_are_per_account_and_replaced(store):
    set_setting(store, "bluesky", "brand.bsky.social", "session", {"refresh": "r1"})
    set_setting(store, "bluesky", "brand.bsky.social", "session", {"refresh": "r2"})
    set_setting(store, "bluesky", "other.bsky.social", "session", {"refresh": "x"})
    assert get_setting(store, "bluesky", "brand.bsky.social", "session") == {"refresh": "r2"}
    assert get_setting(store, "bluesky", "nobody", "session") is None
    limits = TextLimits(5000, "codepoints", 23, "gts.example", "gotosocial")
    save_text_limits(store, "mastodon", ACCOUNT, limits)
    assert get_text_limits(store, "mastodon", ACCOUNT) == limits
    assert store.conn.execute("SELECT count(*) FROM account_state").fetchone() == (3,)


@pytest.mark.parametrize("junk", ['{"limit": 0}', '{"limit": 500, "counting": "words"}', "not json", "[1]"])
def test_a_damaged_stored_limit_is_ignored_not_trusted(store, junk):
    save_text_limits(store, "mastodon", ACCOUNT, TextLimits(500))
    store.conn.execute("UPDATE account_state SET value = ?", (junk,))
    assert get_text_limits(store, "mastodon", ACCOUNT) is None


def mastodon_mention():
    return replace(mention(1, handle="@alice@remote.example"), network="mastodon", account=ACCOUNT,
                   reply_ref={"status_id": "9", "acct": "alice@remote.example", "visibility": "public"})


def seed_mastodon(path: str, limits: TextLimits | None) -> int:
    store = open_store(path, clock=frozen_clock)
    try:
        [mention_id] = save_batch(store, f"mastodon:{ACCOUNT}", [mastodon_mention()], None)
        if limits is not None:
            save_text_limits(store, "mastodon", ACCOUNT, limits)
        return mention_id
    finally:
        store.close()


def test_a_reply_is_counted_with_the_author_mention_the_adapter_adds(store):
    [mention_id] = save_batch(store, "m", [mastodon_mention()], None)
    save_text_limits(store, "mastodon", ACCOUNT, TextLimits(500, "full_mentions", 23, "takahe.example"))
    rule = rule_for_mention(store, mention_id)
    assert rule.count("hi") == len("@alice@remote.example hi")
    assert rule.count("@alice@remote.example hi") == len("@alice@remote.example hi")  # not added twice
    assert rule.count("@dave hi") == len("@alice@remote.example @dave@takahe.example hi")
    assert rule_for_mention(store, 999) is None


@pytest.mark.parametrize(("limits", "length", "queued"), [
    (TextLimits(5000, "codepoints", 23, "gts.example", "gotosocial"), 600, True),  # the default 500 refused it
    (TextLimits(500, "full_mentions", 23, "takahe.example", "takahe"), 480, False),  # 22 + 480 > 500
    (None, 480, True),  # never learnt: Mastodon's defaults, the mention counted as @alice
])
async def test_a_console_that_runs_no_adapter_counts_by_the_stored_limit(tmp_path, limits, length, queued):
    db_path = str(tmp_path / "desk.db")
    seed_mastodon(db_path, limits)
    app = ConsoleApp(db_path, operator="carla", clock=frozen_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.inbox.ids
                         and app.screen.inbox.row(app.screen.inbox.ids[0]) is not None)
        await pilot.press("r")
        composer = app.screen.query_one(ReplyComposer)
        await wait_until(pilot, lambda: composer.display)
        assert composer.text == AUTHOR
        composer.query_one("TextArea").load_text(AUTHOR + "x" * length)
        await pilot.press("ctrl+s")
        if queued:
            await wait_until(pilot, lambda: not composer.display)
        else:
            await pilot.pause()
            assert composer.display  # refused, text kept
    store = open_store(db_path)
    try:
        count = store.conn.execute("SELECT count(*) FROM replies").fetchone()[0]
    finally:
        store.close()
    assert count == (1 if queued else 0)
