"""Rule actions at ingest are written per batch (store.rules_batch): the same rows and events as one by one."""

from __future__ import annotations

from store.db import open_store
from store.signals import Signals
from store.triage import Triage
from tests.test_rules import FIVE_RULES, events, ingest, write_rules

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL


def test_every_action_of_a_batch_is_logged_under_its_rule_in_rule_order(store, tmp_path, clock):
    clock.moment = clock.moment.replace(hour=23)  # the night rule's note too
    triage = Triage(write_rules(tmp_path, FIVE_RULES))
    angry, entry, plain = ingest(store, triage, "order #981 never came, broken box, refund?",
                                 "concours ! giveaway", "bonjour",
                                 signals=[Signals("fr", -1, True), Signals("fr", 1, False), Signals("fr", 0, False)])
    [(note_id, note_operator)] = store.conn.execute("SELECT id, operator FROM notes WHERE mention_id = ?",
                                                    (angry,)).fetchall()
    assert events(store, angry) == [
        ("rule:refunds to care", "tag.add", {"tag": "care"}),
        ("rule:refunds to care", "priority.set", {"priority": "high"}),
        ("rule:french to zoe", "assign", {"to": "zoe", "previous": None}),
        ("rule:angry and waiting", "priority.set", {"priority": "urgent"}),
        ("rule:angry and waiting", "reply.suggest", {"name": "apology"}),
        ("rule:night shift note", "note.add", {"note_id": note_id,
                                              "text": "order number given at night: check the carrier first"}),
    ]
    assert note_operator == "rule:night shift note"
    assert events(store, entry) == [("rule:giveaways to marketing", "tag.add", {"tag": "marketing"}),
                                    ("rule:giveaways to marketing", "status.done", {})]
    assert events(store, plain) == [("rule:french to zoe", "assign", {"to": "zoe", "previous": None})]
    stored = "SELECT id, status, priority, suggested_reply, seen FROM mentions ORDER BY id"
    assert store.conn.execute(stored).fetchall() == [
        (angry, "open", "urgent", "apology", 0), (entry, "done", None, None, 1), (plain, "open", None, None, 0)]
    assert store.conn.execute("SELECT mention_id, tag, operator FROM tags ORDER BY mention_id").fetchall() == [
        (angry, "care", "rule:refunds to care"), (entry, "marketing", "rule:giveaways to marketing")]
    assert store.conn.execute("SELECT mention_id, operator, by FROM assignments ORDER BY 1").fetchall() == [
        (angry, "zoe", "rule:french to zoe"), (plain, "zoe", "rule:french to zoe")]
    assert triage.applied == 9


def test_a_second_batch_starts_from_what_is_stored(store, tmp_path):
    """A mention already tagged by an operator gets no second tag event; the state is read per batch."""
    triage = Triage(write_rules(tmp_path, FIVE_RULES))
    [first] = ingest(store, triage, "refund")
    store.conn.execute("UPDATE mentions SET priority = NULL WHERE id = ?", (first,))
    [second] = ingest(store, triage, "refund again")
    assert [action for _, action, _ in events(store, second)] == ["tag.add", "priority.set"]
    assert [action for _, action, _ in events(store, first)] == ["tag.add", "priority.set"]


def _savepoints(tmp_path, name: str, count: int) -> int:
    store = open_store(tmp_path / f"{name}.db")
    try:
        triage = Triage(write_rules(tmp_path, FIVE_RULES))
        ingest(store, triage, "warm up the rules")
        seen: list[str] = []
        store.conn.set_trace_callback(seen.append)
        ingest(store, triage, *[f"refund number {n}" for n in range(count)])
        store.conn.set_trace_callback(None)
        assert store.conn.execute("SELECT count(*) FROM events WHERE action = 'tag.add'").fetchone() == (count,)
        return sum(statement.startswith("SAVEPOINT") for statement in seen)
    finally:
        store.close()


def test_the_rule_actions_of_a_batch_cost_the_same_few_savepoints_however_many_mentions(tmp_path):
    # One by one, each action (and each of its events) took a savepoint of its own: 2 actions a mention here.
    assert _savepoints(tmp_path, "many", 60) == _savepoints(tmp_path, "one", 1)
