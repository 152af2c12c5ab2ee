"""A reply waiting for the network, and a failed one that may have posted, say so (issue 9):
in the console's mention view and in the handover report."""

from __future__ import annotations

from store.actions import queue_reply
from store.db import open_store
from store.handover import format_report, handover_report
from store.lease import acquire
from store.outbox import claim_due, mark_failed, wait_for_network
from tests.tui_support import frozen_clock, screen_text, seed, wait_until
from tui.app import ConsoleApp


def outbox_states(path: str) -> int:
    """On the newest mention: a failed reply that may have posted, then one waiting for the network."""
    store = open_store(path, clock=frozen_clock)
    try:
        top = store.conn.execute("SELECT max(id) FROM mentions").fetchone()[0]
        queue_reply(store, top, "Refund issued", "alice")
        [failed] = claim_due(store)
        mark_failed(store, failed, "bridge answered 502", uncertain=True)
        queue_reply(store, top, "Checking with the courier now", "alice")
        [waiting] = claim_due(store)
        wait_for_network(store, waiting, 30, "outbound URL unreachable: connection refused")
        acquire(store, "serve@elsewhere:1", 3600)  # a live sender, as the desk would have
        return top
    finally:
        store.close()


async def test_the_row_and_mention_view_show_waiting_for_network_and_may_have_been_posted(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path)
    outbox_states(path)
    app = ConsoleApp(path, operator="alice", clock=frozen_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "Our replies" in screen_text(app))
        lines = screen_text(app).splitlines()
        assert any("· demo · 1h · waiting for network" in line for line in lines)  # the inbox row
        assert any("waiting for network · alice" in line for line in lines)  # the reply in the mention view
        assert any("failed · may have been posted · alice" in line for line in lines)


def test_the_handover_report_counts_waiting_replies_and_flags_uncertain_failures(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path)
    outbox_states(path)
    store = open_store(path, clock=frozen_clock)
    try:
        text = format_report(handover_report(store, "2000-01-01T00:00:00.000Z"))
    finally:
        store.close()
    assert "waiting for network 1" in text
    assert "bridge answered 502 (may have been posted" in text
