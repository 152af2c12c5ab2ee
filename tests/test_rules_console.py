"""In the console: a rule tags an arriving mention (badges on its row), and a rule that raises is one line on
the top bar while ingest goes on."""

from __future__ import annotations

from adapters.base import Batch
from store.signals import SignalModel
from store.triage import Triage
from tests.tui_support import ScriptedAdapter, console_ready, mention, screen_text, seed, wait_until
from tui.app import ConsoleApp
from tui.widgets.status_bar import StatusBar

RULES = """\
[[rules]]
name = "refunds"
when.words = ["refund"]
tag = "care"
priority = "urgent"

[[rules]]
name = "fragile"
when.words = ["giveaway"]
tag = "marketing"
"""


async def test_arriving_mentions_are_triaged_live_and_a_failing_rule_is_one_status_line(tmp_path, monkeypatch):
    import store.triage as triage_module

    real = triage_module.apply_rule

    def apply(store, rule, mention_id):
        if rule.name == "fragile":
            raise ValueError("broken on purpose")
        return real(store, rule, mention_id)

    monkeypatch.setattr(triage_module, "apply_rule", apply)
    db = str(tmp_path / "desk.db")
    seed(db, 5, hostile=False)
    (tmp_path / "rules.toml").write_text(RULES)
    adapter = ScriptedAdapter()
    triage = Triage(tmp_path / "rules.toml", SignalModel(("en", "fr")))  # the helper process, as in a console
    app = ConsoleApp(db, operator="alice", adapters=[adapter], poll_interval=0.05, triage=triage)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        await wait_until(pilot, lambda: app.leadership is not None and app.leadership.is_leader)
        await adapter.queue.put(Batch([mention(50, text="Where is my refund? Ordered weeks ago"),
                                       mention(51, text="is the giveaway still on?")], "51"))
        await wait_until(pilot, lambda: len(screen.inbox.ids) == 7, rounds=2000)
        bar = screen.query_one(StatusBar)

        bar.recount()
        await wait_until(pilot, lambda: any(s.source == "rules" for s in bar._statuses), rounds=2000)
        await pilot.pause()
        text = screen_text(app)
        assert "CARE!!EN−?@user1" in text  # the refund row: the rule's tag and priority, then its signals
        assert "EN?@user2" in text  # a question about the giveaway: no rule applied (it failed), needs a reply
        assert text.count("● rules rule disabled") == 1
    assert triage.disabled.keys() == {"fragile"}
    assert triage.in_process  # the helper started under Textual's captured stderr (it used to fall back)


async def test_a_priority_set_elsewhere_redraws_the_row_with_its_badge(tmp_path):
    """The badges are drawn by the inbox's RowPainter, whose line cache is keyed on the row: a priority set by
    another process (`mentiondesk priority`) must show on the row already drawn, not its cached old line."""
    from store.db import open_store
    from store.rules_apply import set_priority

    db = str(tmp_path / "desk.db")
    seed(db, 5, hostile=False)
    app = ConsoleApp(db, operator="alice", poll_interval=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        await wait_until(pilot, lambda: len(screen.inbox.ids) == 5)
        target = screen.inbox.ids.get(2)  # not the selected row: the detail pane shows the selected one's badges

        def meta_line() -> str:
            return "".join(segment.text for segment in screen.inbox.render_line(2 * 2))  # two lines a row

        await wait_until(pilot, lambda: "@user" in meta_line())
        assert "!!" not in meta_line()
        other = open_store(db)
        try:
            assert set_priority(other, target, "urgent", "bob")
        finally:
            other.close()
        await wait_until(pilot, lambda: meta_line().lstrip(" ○●").startswith("!!"), rounds=2000)
        assert "!!" in screen_text(app)
