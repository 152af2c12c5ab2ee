"""Rules and signals in the real ingest path (IngestRunner), and the property that no rule file that parses
can stop ingest."""

from __future__ import annotations

import asyncio
import shutil

from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from adapters.demo.adapter import DemoAdapter
from adapters.runtime.runner import IngestRunner
from store.db import open_store
from store.ingest import save_batch
from store.rules_file import parse_rules
from store.rules_when import CONDITIONS
from store.signals import SignalModel
from store.triage import Triage
from store.worker import StoreWorker
from tests.conftest import new_mention
from tests.support import until

LIVE_RULES = """\
[[rules]]
name = "every demo mention"
when.network = "demo"
tag = "care"
"""


async def test_the_ingest_leader_computes_signals_and_applies_rules_as_mentions_arrive(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(LIVE_RULES)
    db = tmp_path / "desk.db"
    open_store(db).close()
    worker = StoreWorker(str(db))
    runner = IngestRunner(worker, [DemoAdapter(rate_per_minute=6000, seed=3, burst_every=None)],
                          triage=Triage(path, SignalModel(("en", "fr"))))
    runner.start()
    try:
        def tagged(store):
            return store.conn.execute("SELECT count(*) FROM tags WHERE operator = 'rule:every demo mention'"
                                      ).fetchone()[0]
        await until(lambda: asyncio.ensure_future(worker.run(tagged)), 20, "a rule-tagged mention")
        # The file changes while ingest runs: the next batch follows the new rule, no restart.
        path.write_text(LIVE_RULES.replace('tag = "care"', 'tag = "marketing"').replace("every demo", "all demo"))

        def marketing(store):
            return store.conn.execute("SELECT count(*) FROM tags WHERE operator = 'rule:all demo mention'"
                                      ).fetchone()[0]
        await until(lambda: asyncio.ensure_future(worker.run(marketing)), 20, "the edited rule applied")
    finally:
        await runner.stop()
    store = open_store(db)
    try:
        rows = store.conn.execute("SELECT sig_lang, sentiment, needs_reply FROM mentions").fetchall()
        assert rows and all(lang in ("en", "fr", None) and sentiment in (-1, 0, 1) and needs in (0, 1)
                            for lang, sentiment, needs in rows)
        assert any(lang is not None for lang, _, _ in rows)
    finally:
        store.close()
        worker.close()


_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
_VALUES = {
    "words": st.lists(_TEXT, min_size=1, max_size=3), "phrases": st.lists(_TEXT, min_size=1, max_size=2),
    "regex": st.sampled_from([".", "(a|b)+", "^$", r"\d{2,}", "ord?er", "[é-ü]"]),
    "author": _TEXT, "network": st.sampled_from(["demo", "mastodon", "x"]), "account": _TEXT,
    "lang": st.sampled_from(["en", "fr", "de"]), "sentiment": st.sampled_from(["negative", "neutral", "pos"]),
    "needs_reply": st.booleans(), "hours": st.sampled_from(["00:00-23:59", "22:00-07:00", "09:30-10:00"]),
}
_ACTIONS = st.fixed_dictionaries({}, optional={
    "tag": st.sampled_from(["care", "marketing", ["care", "marketing"]]), "assign": _TEXT,
    "priority": st.sampled_from(["low", "urgent"]), "done": st.booleans(), "note": _TEXT, "suggest": _TEXT,
    "stop": st.booleans()})


def _toml(value) -> str:
    import json
    return json.dumps(value, ensure_ascii=True) if not isinstance(value, bool) else str(value).lower()


@st.composite
def rule_files(draw) -> str:
    lines = []
    for index in range(draw(st.integers(1, 4))):
        lines += ["[[rules]]", f"name = {_toml(draw(_TEXT) or f'r{index}')}"]
        for key in draw(st.lists(st.sampled_from(CONDITIONS), min_size=1, max_size=4, unique=True)):
            lines.append(f"when.{key} = {_toml(draw(_VALUES[key]))}")
        lines += [f"{key} = {_toml(value)}" for key, value in draw(_ACTIONS).items()]
    return "\n".join(lines) + "\n"


@hyp_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=rule_files(), posts=st.lists(_TEXT, min_size=1, max_size=4))
def test_a_rule_file_that_parses_never_stops_ingest(tmp_path_factory, _migrated_template, text, posts):
    book = parse_rules(text)
    problems = book.problems
    folder = tmp_path_factory.mktemp("prop")
    (folder / "rules.toml").write_text(text, encoding="utf-8")
    shutil.copyfile(_migrated_template, folder / "desk.db")
    store = open_store(folder / "desk.db")
    try:
        triage = Triage(folder / "rules.toml")
        mentions = [new_mention(text=post) for post in posts]
        ids = save_batch(store, "demo", mentions, None, triage=triage.apply)
        assert len(ids) == len(posts)  # every mention is in, whatever the rules did
        assert len(triage.book.rules) == (len(book.rules) if not problems else 0)
        assert store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0] == len(posts)
        assert not triage.disabled, triage.disabled  # a rule that parses is one that runs
    finally:
        store.close()


async def test_signals_come_from_a_thread_when_the_helper_process_cannot_run():
    from concurrent.futures import ProcessPoolExecutor

    triage = Triage(None, SignalModel(("en", "fr")))
    broken = ProcessPoolExecutor(1)
    broken.shutdown()
    triage._pool = broken  # submitting to it raises, like a helper that died
    [signal] = await triage.signals([new_mention(text="où est ma commande ?")])
    assert signal.lang == "fr" and signal.needs_reply
    assert triage._pool is None  # the next batch starts a fresh helper
    assert await Triage(None, None).signals([new_mention()]) is None  # signals off
