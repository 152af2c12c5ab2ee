"""`mentiondesk rules check` and `rules test` as a new user runs them, in a real process."""

from __future__ import annotations

import json

from store.db import open_store
from store.ingest import save_batch
from tests.conftest import new_mention
from tests.support import assert_one_line_refusal
from tests.test_cli import run
from tests.test_rules import FIVE_RULES

BOTH_BACKENDS = True  # tests/conftest.py: the tests taking `desk_db` also run on PostgreSQL


def desk(tmp_path, db, rules_text: str = FIVE_RULES):
    (tmp_path / "rules.toml").write_text(rules_text)
    (tmp_path / "config.toml").write_text('rules = "rules.toml"\nlanguages = ["en", "fr"]\n')
    store = open_store(db)
    save_batch(store, "demo", [new_mention(text=text) for text in (
        "my refund never came", "the kettle is broken", "Je participe au #concours !", "nice mug",
        "ma commande est en retard, c'est inadmissible, vous pouvez m'aider ?")], None)
    store.close()
    return ("--config", str(tmp_path / "config.toml"))


def test_check_lists_every_problem_with_its_line(tmp_path, desk_db):
    config = desk(tmp_path, desk_db, FIVE_RULES.replace('tag = "care"', 'tag = "billing"').replace(
        'when.lang = "fr"', 'when.lang = "french"'))
    result = run(tmp_path, "rules", "check", *config, db=desk_db)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'rules.toml'}:6: rule 'refunds to care': tag must be care or marketing (or a list of them)",
        f"{tmp_path / 'rules.toml'}:18: rule 'french to zoe': lang 'french' is not a two-letter language code "
        "(en, fr, ...)"]


def test_check_says_a_good_file_is_good(tmp_path, desk_db):
    result = run(tmp_path, "rules", "check", *desk(tmp_path, desk_db))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("rules.toml: 5 rules, no problems")


def test_dry_run_counts_per_rule_writes_nothing_and_names_rules_that_never_fire(tmp_path, desk_db):
    config = desk(tmp_path, desk_db)
    result = run(tmp_path, "rules", "test", "--since", "30d", "--json", *config, db=desk_db)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    counts = {rule["name"]: (rule["matched"], rule["changed"]) for rule in report["rules"]}
    assert report["scanned"] == 5
    assert counts["refunds to care"] == (2, 2)
    assert counts["giveaways to marketing"] == (1, 1)
    assert counts["french to zoe"] == (1, 1)  # the giveaway stopped there; the late order is French
    assert counts["angry and waiting"][0] >= 1  # signals computed on the fly for stored mentions
    assert "night shift note" in report["never_fired"]
    store = open_store(desk_db)
    assert store.conn.execute("SELECT count(*) FROM tags").fetchone() == (0,)
    store.close()
    text = run(tmp_path, "rules", "test", "--rule", "refunds to care", *config, db=desk_db)
    assert text.returncode == 0, text.stderr
    assert "1. refunds to care (line 3): matched 2, would change 2 (tag care 2, priority high 2)" in text.stdout
    assert "#1 @ana: my refund never came" in text.stdout
    everything = run(tmp_path, "rules", "test", *config, db=desk_db)
    assert ("note: angry and waiting (line 21) suggests 'apology': no saved reply of that name yet"
            in everything.stdout), everything.stdout


def test_refusals_are_one_line(tmp_path, desk_db):
    config = desk(tmp_path, desk_db)
    line = assert_one_line_refusal(run(tmp_path, "rules", "test", "--rule", "nope", *config, db=desk_db))
    assert "no rule named 'nope'" in line
    line = assert_one_line_refusal(run(tmp_path, "rules", "test", "--since", "yesterday", *config, db=desk_db))
    assert "--since" in line
    (tmp_path / "empty.toml").write_text("")
    line = assert_one_line_refusal(run(tmp_path, "rules", "check", "--config", str(tmp_path / "empty.toml")))
    assert "no rules file" in line
    (tmp_path / "bad.toml").write_text('languages = ["english"]\n')
    line = assert_one_line_refusal(run(tmp_path, "rules", "check", "--config", str(tmp_path / "bad.toml")))
    assert "languages" in line


def test_the_shipped_example_and_the_readme_example_are_the_same_five_good_rules():
    from pathlib import Path

    from store.rules_file import load_rules, parse_rules

    root = Path(__file__).resolve().parent.parent
    book = load_rules(root / "examples" / "rules.toml")
    assert book.problems == () and len(book.rules) == 5
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = readme.split('```toml\ntime_zone = "Europe/Paris"', 1)[1].split("```", 1)[0]
    readme_book = parse_rules('time_zone = "Europe/Paris"' + block)
    assert readme_book.problems == () and [r.name for r in readme_book.rules] == [r.name for r in book.rules]


def test_the_rules_path_is_beside_the_config_file(tmp_path):
    from tui.settings import build_settings

    (tmp_path / "config.toml").write_text('rules = "desk/rules.toml"\nlanguages = ["fr"]\n'
                                          'reply_keywords = ["remboursement"]\n')
    settings = build_settings({"config": tmp_path / "config.toml"}, environ={})
    assert settings.rules == tmp_path / "desk" / "rules.toml"
    assert settings.languages == ("fr",) and settings.reply_keywords == ("remboursement",)
    assert build_settings({"config": tmp_path / "none.toml"}, environ={}).languages == ("en", "fr")


def test_an_operator_changes_a_rules_priority_back(tmp_path, desk_db):
    from store.rules_apply import set_priority

    desk(tmp_path, desk_db)
    store = open_store(desk_db)
    set_priority(store, 1, "urgent", "rule:refunds to care")
    store.close()
    result = run(tmp_path, "priority", "1", "-", db=desk_db)
    assert result.returncode == 0 and result.stdout.strip() == "#1 priority cleared", result.stderr
    store = open_store(desk_db)
    assert store.conn.execute("SELECT priority FROM mentions WHERE id = 1").fetchone() == (None,)
    assert store.conn.execute("SELECT operator, action, detail FROM events ORDER BY id").fetchall() == [
        ("rule:refunds to care", "priority.set", '{"priority": "urgent"}'),
        ("cli-tester", "priority.set", '{"priority": null}')]
    store.close()
    assert "no mention with id 99" in assert_one_line_refusal(run(tmp_path, "priority", "99", "low", db=desk_db))
