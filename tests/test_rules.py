"""Triage rules: the file (every problem with its line), matching like search, actions logged under the rule."""

from __future__ import annotations

import json
import os

import pytest

from store.ingest import save_batch
from store.rules_dryrun import dry_run
from store.rules_file import parse_rules
from store.signals import Signals
from store.triage import SOURCE, Triage
from tests.conftest import new_mention

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

FIVE_RULES = """\
time_zone = "UTC"

[[rules]]
name = "refunds to care"
when.words = ["refund", "broken"]
tag = "care"
priority = "high"

[[rules]]
name = "giveaways to marketing"
when.words = ["giveaway", "concours"]
tag = "marketing"
done = true
stop = true

[[rules]]
name = "french to zoe"
when.lang = "fr"
assign = "zoe"

[[rules]]
name = "angry and waiting"
when.sentiment = "negative"
when.needs_reply = true
priority = "urgent"
suggest = "apology"

[[rules]]
name = "night shift note"
when.hours = "22:00-07:00"
when.regex = "order\\\\s*#?\\\\d+"
note = "order number given at night: check the carrier first"
"""


def book_of(text: str):
    book = parse_rules(text, "rules.toml")
    assert book.problems == (), book.problems
    return book


def write_rules(tmp_path, text: str):
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return path


def events(store, mention_id):
    return [(op, action, json.loads(detail)) for op, action, detail in store.conn.execute(
        "SELECT operator, action, detail FROM events WHERE mention_id = ? ORDER BY id", (mention_id,))]


def ingest(store, triage, *texts, signals=None, **fields):
    mentions = [new_mention(text=text, **fields) for text in texts]
    return save_batch(store, "demo", mentions, None, signals=signals, triage=triage.apply)


def test_five_rules_parse_with_their_lines():
    book = book_of(FIVE_RULES)
    assert [rule.name for rule in book.rules] == ["refunds to care", "giveaways to marketing", "french to zoe",
                                                  "angry and waiting", "night shift note"]
    assert [rule.line for rule in book.rules] == [3, 9, 16, 21, 28]


def test_every_problem_is_one_line_with_its_line_number():
    text = """\
[[rules]]
name = "a"
when.words = ["refund"]
tag = "urgent"

[[rules]]
name = "b"
when.regex = "(unclosed"
when.sentiment = "grumpy"
priority = "asap"

[[rules]]
name = "a"
when.colour = "red"
tag = "care"

[[rules]]
when.words = ["x"]
tag = "care"
"""
    book = parse_rules(text, "rules.toml")
    problems = book.problems
    rendered = [problem.render("rules.toml") for problem in problems]
    assert [p.line for p in problems] == [4, 8, 9, 10, 14, 13, 17], rendered
    assert "tag must be care or marketing" in rendered[0]
    assert "does not compile" in rendered[1]
    assert "unknown condition 'colour'" in rendered[4]
    assert "a second rule named 'a'" in rendered[5]
    assert "needs a name" in rendered[6]
    assert book.rules == ()  # a rule with a problem is never half-applied


def test_broken_toml_names_its_line():
    problems = parse_rules('[[rules]]\nname = "a"\nwhen.words = ["x"\n', "r.toml").problems
    assert len(problems) == 1 and problems[0].line >= 3 and "not valid TOML" in problems[0].message


def test_rules_act_at_ingest_logged_under_the_rule(store, tmp_path):
    triage = Triage(write_rules(tmp_path, FIVE_RULES))
    [mention_id] = ingest(store, triage, "my blender is brokn, I want a refnud")  # typos, as search allows
    assert store.conn.execute("SELECT tag, operator FROM tags WHERE mention_id = ?", (mention_id,)).fetchall() == [
        ("care", "rule:refunds to care")]
    assert [(op, action) for op, action, _ in events(store, mention_id)] == [
        ("rule:refunds to care", "tag.add"), ("rule:refunds to care", "priority.set")]
    status = store.conn.execute("SELECT state, detail FROM source_status WHERE source = ?", (SOURCE,)).fetchone()
    assert status == ("active", "5 rules from rules.toml")


def test_stop_ends_the_run_and_done_closes(store, tmp_path):
    triage = Triage(write_rules(tmp_path, FIVE_RULES))
    [mention_id] = ingest(store, triage, "Je participe au concours !",
                          signals=[Signals("fr", 1, False)])
    assert store.conn.execute("SELECT status FROM mentions WHERE id = ?", (mention_id,)).fetchone() == ("done",)
    assert not store.conn.execute("SELECT 1 FROM assignments WHERE mention_id = ?", (mention_id,)).fetchone()


def test_signals_are_stored_and_rules_test_them(store, tmp_path):
    triage = Triage(write_rules(tmp_path, FIVE_RULES))
    ids = ingest(store, triage, "ma commande n'est jamais arrivée", "ok merci",
                 signals=[Signals("fr", -1, True), Signals("fr", 1, False)])
    assert store.conn.execute("SELECT sig_lang, sentiment, needs_reply, priority, suggested_reply FROM mentions "
                              "ORDER BY id").fetchall() == [("fr", -1, 1, "urgent", "apology"),
                                                             ("fr", 1, 0, None, None)]
    assert [row[0] for row in store.conn.execute("SELECT mention_id FROM assignments ORDER BY 1")] == ids


def test_time_of_day_and_regex(store, tmp_path, clock):
    triage = Triage(write_rules(tmp_path, FIVE_RULES))
    [day] = ingest(store, triage, "order #1234 missing")
    clock.moment = clock.moment.replace(hour=23)
    [night] = ingest(store, triage, "order #1234 missing")
    notes = store.conn.execute("SELECT mention_id, operator FROM notes").fetchall()
    assert notes == [(night, "rule:night shift note")] and day != night


def test_author_network_and_phrase_conditions(store, tmp_path):
    text = """\
[[rules]]
name = "vip"
when.author = "@mara_k"
when.network = "demo"
when.phrases = ["never arrived"]
tag = "care"
"""
    triage = Triage(write_rules(tmp_path, text))
    hit = ingest(store, triage, "the parcel nevr arived at all", author_handle="@Mara_K")
    miss = ingest(store, triage, "arrived, never mind", author_handle="@mara_k")
    other = ingest(store, triage, "the parcel never arrived", author_handle="@ben")
    tagged = {row[0] for row in store.conn.execute("SELECT mention_id FROM tags")}
    assert tagged == set(hit) and not tagged & set(miss + other)


def test_an_edited_file_is_picked_up_and_a_broken_edit_keeps_the_last_good_rules(store, tmp_path):
    path = write_rules(tmp_path, FIVE_RULES)
    triage = Triage(path)
    ingest(store, triage, "refund please")
    path.write_text(FIVE_RULES.replace('when.words = ["refund", "broken"]', 'when.words = ["invoice"]'))
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock
    [invoice] = ingest(store, triage, "where is my invoice")
    [refund] = ingest(store, triage, "refund please")
    tagged = {row[0] for row in store.conn.execute("SELECT mention_id FROM tags WHERE tag = 'care'")}
    assert invoice in tagged and refund not in tagged
    path.write_text("[[rules]]\nname = 'x'\n")
    os.utime(path, ns=(2, 2))
    [again] = ingest(store, triage, "invoice again")
    assert store.conn.execute("SELECT 1 FROM tags WHERE mention_id = ?", (again,)).fetchone()
    state, detail = store.conn.execute("SELECT state, detail FROM source_status WHERE source = 'rules'").fetchone()
    assert state == "file has problems" and "rules.toml:1" in detail and "last good rules kept" in detail


def test_a_rule_that_raises_is_disabled_with_one_status_line_and_ingest_goes_on(store, tmp_path, monkeypatch):
    triage = Triage(write_rules(tmp_path, FIVE_RULES))
    import store.triage as triage_module

    real = triage_module.apply_rule

    def explode(store_, rule, mention_id):
        if rule.name == "refunds to care":
            raise RuntimeError("boom")
        return real(store_, rule, mention_id)

    monkeypatch.setattr(triage_module, "apply_rule", explode)
    first, second = ingest(store, triage, "refund and giveaway", "broken again")
    assert triage.disabled.keys() == {"refunds to care"}
    # The later rules still ran; the mentions are in; nothing of the failed rule was written.
    assert store.conn.execute("SELECT count(*) FROM mentions").fetchone() == (2,)
    assert store.conn.execute("SELECT tag FROM tags WHERE mention_id = ?", (first,)).fetchall() == [("marketing",)]
    state, detail = store.conn.execute("SELECT state, detail FROM source_status WHERE source = 'rules'").fetchone()
    assert state == "rule disabled" and "'refunds to care' raised RuntimeError: boom" in detail
    assert "\n" not in detail


def test_dry_run_counts_matches_changes_never_and_overlaps(store, tmp_path):
    for text in ("refund now", "broken refund", "giveaway entry", "hello"):
        save_batch(store, "demo", [new_mention(text=text)], None)
    store.conn.execute("INSERT INTO tags (mention_id, tag, operator, at) VALUES (1, 'care', 'ana', 'x')")
    book = book_of(FIVE_RULES.replace('when.words = ["giveaway", "concours"]',
                                      'when.words = ["giveaway", "refund"]'))
    before = store.conn.execute("SELECT count(*) FROM events").fetchone()
    report = dry_run(store, book, "2000-01-01T00:00:00Z")
    assert report.scanned == 4
    refunds, giveaways = report.rules[0], report.rules[1]
    assert (refunds.matched, refunds.changed) == (2, 2)  # #1 is tagged already but has no priority yet
    assert refunds.changes["tag care"] == 1
    assert giveaways.matched == 3 and [e[0] for e in giveaways.examples] == [1, 2, 3]
    assert {r.name for r in report.never_fired} == {"french to zoe", "angry and waiting", "night shift note"}
    assert report.overlaps == [("refunds to care", "giveaways to marketing", 2)]
    assert store.conn.execute("SELECT count(*) FROM events").fetchone() == before  # nothing written
    only = dry_run(store, book, "2000-01-01T00:00:00Z", only="giveaways to marketing")
    assert [r.name for r in only.rules] == ["giveaways to marketing"]


@pytest.mark.parametrize("name", ["", "x" * 80, "bad\x1bname"])
def test_rule_names_must_be_plain_operator_names(name):
    problems = parse_rules(f'[[rules]]\nname = "{name.encode("unicode_escape").decode()}"\n'
                           'when.words = ["x"]\ntag = "care"\n').problems
    assert problems and problems[0].line == 2


def test_dry_run_does_not_count_a_note_the_rule_already_left(store, tmp_path, clock):
    clock.moment = clock.moment.replace(hour=23)
    triage = Triage(write_rules(tmp_path, FIVE_RULES))
    ingest(store, triage, "order #12345 missing")
    night = next(r for r in dry_run(store, triage.book, "2000-01-01T00:00:00Z").rules if r.name == "night shift note")
    assert (night.matched, night.changed) == (1, 0)
