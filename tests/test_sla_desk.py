"""The desk has one SLA policy: `sla set` sets it (logged), a config's [sla] only seeds a desk that has none."""

from __future__ import annotations

import json

from store.db import open_store
from store.desk import last_seen_by
from store.inbox_window import view_page
from store.ingest import save_batch
from store.priority import view_list
from store.sla import SlaPolicy
from store.sla_desk import desk_sla, seed_desk_sla, set_desk_sla
from tests.procs import cli_command, run_all
from tests.support import cli_in_process
from tests.tui_support import console_ready, frozen_clock, mention, seed, wait_until
from tui.app import ConsoleApp

BOTH_BACKENDS = True  # tests/conftest.py: every test here also runs on PostgreSQL

TAGS = ("care", "marketing")
POLICY = SlaPolicy.from_table({"care": 3600, "marketing": 4 * 3600, "default": 8 * 3600}, TAGS)
OTHER = SlaPolicy.from_table({"care": 2 * 86400, "default": 600}, TAGS)


def keys(store) -> list[tuple[int, int]]:
    return store.conn.execute("SELECT id, due_key FROM mentions ORDER BY id").fetchall()


def test_a_config_seeds_a_desk_with_none_and_a_different_one_changes_nothing(store):
    save_batch(store, "demo:@brightloop", [mention(i) for i in range(1, 6)], None)
    first = seed_desk_sla(store, POLICY, "ana")
    assert first.desk.policy == POLICY and not first.config_differs and first.notice() == ""
    assert first.desk.set_by == "ana" and first.desk.seeded
    assert last_seen_by(store, "ana") is None  # no action of hers: her handover's "since" is not moved
    before, order = keys(store), list(view_page(store, "priority", "ana").ids)
    second = seed_desk_sla(store, OTHER, "bo")  # another console, another config
    assert second.desk.policy == POLICY and second.desk.set_by == "ana" and second.config_differs
    assert second.notice().count("\n") == 0 and "care 1h, marketing 4h, default 8h" in second.notice()
    assert keys(store) == before and list(view_page(store, "priority", "ana").ids) == order
    assert store.conn.execute("SELECT count(*) FROM events WHERE action = 'sla.set'").fetchone() == (1,)


def test_sla_set_replaces_the_policy_logs_who_and_re_keys(store):
    save_batch(store, "demo:@brightloop", [mention(i) for i in range(1, 6)], None)
    seed_desk_sla(store, POLICY, "ana")
    before = keys(store)
    assert set_desk_sla(store, OTHER, "bo") == 5
    assert keys(store) != before
    desk = desk_sla(store)
    assert desk is not None and desk.policy == OTHER and desk.set_by == "bo" and not desk.seeded
    assert seed_desk_sla(store, POLICY, "ana").desk.policy == OTHER  # ana's console restarting: bo's stands
    [(detail,)] = store.conn.execute("SELECT detail FROM events WHERE action = 'sla.set' AND operator = 'bo'")
    assert json.loads(detail) == {"targets": {"care": 172800, "default": 600}, "seeded": False}


def test_the_cli_sets_and_shows_the_desk_policy_and_refuses_bad_input_in_one_line(monkeypatch, capsys, tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path, 4, hostile=False)
    run = lambda *args: cli_in_process(monkeypatch, capsys, tmp_path, "--db", path, *args)  # noqa: E731
    assert run("sla", "show") == (0, "this desk has no SLA yet: `mentiondesk sla set` sets one (or the first "
                                     "console whose config has an [sla])\n", "")
    for bad, says in ((["care", "banana"], "'banana' is not a duration for care"),
                      (["care"], "give NAME DURATION pairs"), (["lunch", "1h"], "no target called 'lunch'"),
                      (["care", "10s"], "a minute at least")):
        code, out, err = run("sla", "set", *bad)
        assert code == 2 and out == "" and err.count("\n") == 1 and says in err, err
    assert run("sla", "show", "--json")[1] == "null\n"
    code, out, _ = run("sla", "set", "care", "1h", "MARKETING", "4h", "default", "8h", "bluesky", "90m")
    assert code == 0 and out.startswith("the desk's SLA is now bluesky 90m, care 1h, marketing 4h, default 8h")
    assert "4 open mentions re-keyed" in out
    shown = json.loads(run("sla", "show", "--json")[1])
    assert shown["targets"] == {"bluesky": 5400, "care": 3600, "default": 28800, "marketing": 14400}
    assert shown["set_by"] == "alice" and shown["set_at"] and shown["seeded_from_config"] is False
    code, out, _ = run("sla", "show")
    assert code == 0 and out.startswith("bluesky 90m, care 1h, marketing 4h, default 8h; set by alice at ")


def test_a_cli_with_another_config_reads_the_desk_policy_and_says_its_own_differs(monkeypatch, capsys, tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path, 6, hostile=False)
    store = open_store(path)
    seed_desk_sla(store, POLICY, "ana")
    before = keys(store)
    store.close()
    (tmp_path / "none.toml").write_text('[sla]\ncare = "2d"\ndefault = "10m"\n')
    code, out, err = cli_in_process(monkeypatch, capsys, tmp_path, "--db", path, "views", "show", "priority",
                                    "--json")
    assert code == 0 and err.count("\n") == 1 and "your config's [sla] differs" in err
    listed = {entry["id"]: entry["due_in"] for entry in json.loads(out)["mentions"]}
    store = open_store(path)
    by_desk = {e.row.id: e.sla.left for e in view_list(store, "priority", POLICY).rows if e.sla}
    assert listed.keys() == by_desk.keys() and all(abs(listed[i] - by_desk[i]) < 60 for i in listed)  # not 2d/10m
    assert keys(store) == before and desk_sla(store).policy == POLICY
    store.close()


async def test_two_consoles_with_different_configs_keep_the_desks_policy_and_order(tmp_path):
    path = str(tmp_path / "desk.db")
    seed(path, 10, hostile=False)
    first = ConsoleApp(path, operator="ana", clock=frozen_clock, sla=POLICY)
    async with first.run_test(size=(100, 30)) as pilot:
        await console_ready(pilot)
        await wait_until(pilot, lambda: first.shift.sla == POLICY and _desk(path) == POLICY)
    store = open_store(path)
    before = keys(store)
    store.close()
    second = ConsoleApp(path, operator="bo", clock=frozen_clock, sla=OTHER, poll_interval=0.1)
    async with second.run_test(size=(100, 30)) as pilot:
        screen = await console_ready(pilot)
        await wait_until(pilot, lambda: any("your config's [sla] differs" in note.message
                                            for note in second._notifications))
        assert second.shift.sla == POLICY  # its clocks, handover and reports go by the desk's
        await pilot.press("D")
        await wait_until(pilot, lambda: screen.pane.view == "priority" and len(screen.inbox.ids) == 10)
        store = open_store(path)
        assert keys(store) == before
        # `sla set` from elsewhere while it runs: its clocks follow, the order is re-keyed once.
        assert set_desk_sla(store, OTHER, "carla") == 10
        store.close()
        await wait_until(pilot, lambda: second.shift.sla == OTHER)


def _desk(path: str) -> SlaPolicy | None:
    store = open_store(path)
    try:
        found = desk_sla(store)
        return found.policy if found else None
    finally:
        store.close()


def test_two_processes_with_different_configs_starting_at_once_seed_the_desk_once(desk_db, tmp_path):
    store = open_store(desk_db)
    save_batch(store, "demo:@brightloop", [mention(i) for i in range(1, 6)], None)
    store.close()
    commands = []
    for name, table in (("ana", 'care = "1h"\ndefault = "8h"'), ("bo", 'care = "2d"\ndefault = "10m"')):
        config = tmp_path / f"{name}.toml"
        config.write_text(f"[sla]\n{table}\n")
        commands.append(["env", f"MENTIONDESK_CONFIG={config}",
                         *cli_command(desk_db, "views", "show", "priority", "--json", operator=name)])
    results = run_all(commands, tmp_path)
    assert [result.returncode for result in results] == [0, 0], [result.stderr for result in results]
    store = open_store(desk_db)
    try:
        desk = desk_sla(store)
        assert desk is not None and desk.set_by in ("ana", "bo")
        assert store.conn.execute("SELECT count(*) FROM events WHERE action = 'sla.set'").fetchone() == (1,)
        loser = results[1] if desk.set_by == "ana" else results[0]
        winner = results[0] if desk.set_by == "ana" else results[1]
        assert "your config's [sla] differs" in loser.stderr and loser.stderr.count("\n") == 1
        assert winner.stderr == ""
    finally:
        store.close()
