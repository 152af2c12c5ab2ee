"""Triage beside ingest: a batch commits first, its signals and rules follow; a leader's leftovers are triaged
by the next one, exactly once."""

from __future__ import annotations

import asyncio

from adapters.demo.adapter import DemoAdapter
from adapters.runtime.runner import IngestRunner
from store.db import open_store
from store.ingest import save_untriaged
from store.signals import SignalModel
from store.triage import Triage
from store.triage_queue import queued, triage_batch
from store.worker import StoreWorker
from tests.conftest import new_mention
from tests.support import until

RULE = """\
[[rules]]
name = "complaints to care"
when.words = ["refund"]
tag = "care"
"""


def test_a_committed_batch_waits_in_the_queue_until_its_triage_and_is_triaged_once(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(RULE)
    store = open_store(tmp_path / "desk.db")
    triage = Triage(rules, None)
    ids = save_untriaged(store, "demo", [new_mention(text="where is my refund"), new_mention(text="love it")], "c1")
    assert queued(store) == 2  # committed, cursor saved, not triaged yet
    assert store.conn.execute("SELECT cursor FROM cursors WHERE source = 'demo'").fetchone()[0] == "c1"
    assert store.conn.execute("SELECT count(*) FROM tags").fetchone()[0] == 0
    new = [i for i in ids if i is not None]
    assert triage_batch(store, new, None, triage.apply) == new
    assert triage_batch(store, new, None, triage.apply) == []  # a second pass finds nothing queued
    assert queued(store) == 0
    assert store.conn.execute("SELECT mention_id, operator FROM tags").fetchall() == [
        (new[0], "rule:complaints to care")]
    store.close()


async def test_the_next_leader_triages_what_a_dead_one_committed_untriaged(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(RULE)
    db = tmp_path / "desk.db"
    store = open_store(db)
    # The dead leader's last batch: committed and acknowledged, its triage never ran.
    [left] = save_untriaged(store, "demo", [new_mention(text="still no refund, two weeks now")], None)
    store.close()
    worker = StoreWorker(str(db))
    runner = IngestRunner(worker, [DemoAdapter(rate_per_minute=60, seed=3, burst_every=None)],
                          triage=Triage(rules, SignalModel(("en", "fr"))))
    runner.start()
    try:
        def triaged(store):
            return store.conn.execute("SELECT count(*) FROM triage_pending WHERE mention_id = ?",
                                      (left,)).fetchone()[0] == 0
        await until(lambda: asyncio.ensure_future(worker.run(triaged)), 30, "the leftover triaged")
    finally:
        await runner.stop()
    store = open_store(db)
    try:
        assert store.conn.execute("SELECT sig_lang, sentiment, needs_reply FROM mentions WHERE id = ?",
                                  (left,)).fetchone() == ("en", -1, 1)
        assert store.conn.execute("SELECT count(*) FROM tags WHERE mention_id = ? AND operator = ?",
                                  (left, "rule:complaints to care")).fetchone()[0] == 1
        assert queued(store) == 0  # every mention the new leader ingested was triaged too before it stopped
    finally:
        store.close()
        worker.close()
