"""One settings object: layered defaults < file < environment < command line, and one line for every bad value."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from adapters import registry
from adapters.accounts import TOP_KEYS, ConfigError, load_config
from tests.procs import clean_env
from tests.support import assert_one_line_refusal
from tui import cli
from tui.settings import DEFAULT_LEASE_TTL, DEFAULT_REPLY_DEADLINE, build_settings, key_is_valid

MASTODON = '[[accounts]]\nnetwork = "mastodon"\nserver = "https://m.example"\nhandle = "@brand@m.example"\n' \
           'secret_env = "R10_TOKEN"\n'


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    for name in [name for name in __import__("os").environ if name.startswith("MENTIONDESK_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("R10_TOKEN", "token-value-never-shown")
    return tmp_path


def run(home: Path, config: str, *args: str, capsys) -> tuple[int, list[str], str]:
    path = home / "config.toml"
    path.write_text(config, encoding="utf-8")
    code = cli.main([*args, "--config", str(path), "--db", str(home / "desk.db"), "--operator", "tester"])
    out, err = capsys.readouterr()
    return code, err.splitlines(), out


# Each kind of bad setting: (config file, command, words the one line must hold: key, value, what is allowed).
BAD = {
    "wrong type of an account option": (MASTODON + 'poll_interval = "often"\n', "serve",
                                         ["poll_interval", '"often"', "positive number of seconds"]),
    "wrong type at the top": ('demo = "yes"\n', "export", ["demo", '"yes"', "true or false"]),
    "wrong type of a lease": ('lease_ttl = "long"\n', "serve", ["lease_ttl", '"long"', "number of seconds"]),
    "port out of range": ('[[accounts]]\nnetwork = "webhook"\nhandle = "b"\nsecret_env = "R10_TOKEN"\n'
                          'port = 70000\n', "serve", ["port", "70000", "whole number from 0 to 65535"]),
    "unknown key at the top": ('demo_rte = 5\n', "serve", ["unknown key", '"demo_rte"', "demo_rate"]),
    "unknown key in an account": (MASTODON + 'pol_interval = 5\n', "accounts",
                                  ["unknown key", '"pol_interval"', "poll_interval"]),
    "option of another network": (MASTODON + 'backfill = 5\n', "accounts", ['"backfill"', "streaming"]),
    "a rate that is not one": ('[[accounts]]\nnetwork = "webhook"\nhandle = "b"\nsecret_env = "R10_TOKEN"\n'
                               'rate = "30 per minute"\n', "serve", ["rate", '"30 per minute"', '"30/min"']),
    "missing secret": (MASTODON.replace("R10_TOKEN", "R10_UNSET"), "serve",
                       ["R10_UNSET", "is not set"]),
    "missing option secret": ('[[accounts]]\nnetwork = "webhook"\nhandle = "b"\nsecret_env = "R10_TOKEN"\n'
                              'outbound_url = "https://bridge.example/r"\noutbound_secret_env = "R10_UNSET"\n', "serve",
                              ["R10_UNSET", "outbound_secret", "is not set"]),
    "bridge URL without its signing key": ('[[accounts]]\nnetwork = "webhook"\nhandle = "b"\nsecret_env = "R10_TOKEN"\n'
                                           'outbound_url = "https://bridge.example/r"\n', "serve",
                                           ["outbound_url needs outbound_secret_env"]),
    "token over plain http": (MASTODON.replace("https://m.example", "http://m.example"), "serve",
                              ["server", '"http://m.example"', "an https URL"]),
    "bad server URL": (MASTODON.replace("https://m.example", "m.example"), "serve",
                       ["server", '"m.example"', "http(s) URL"]),
    "bad bridge URL": ('[[accounts]]\nnetwork = "webhook"\nhandle = "b"\nsecret_env = "R10_TOKEN"\n'
                       'outbound_url = "ftp://bridge.example"\n', "serve",
                       ["outbound_url", '"ftp://bridge.example"', "http(s) URL"]),
    "bad key syntax": ('[keymap]\nreply = "ctrl+"\n', "serve", ["[keymap]", "reply", '"ctrl+"', "keys such as"]),
    "unknown modifier": ('[keymap]\nreply = "control+r"\n', "export", ["reply", '"control+r"', "keys such as"]),
    "one key for two actions": ('[keymap]\nreply = "r,f5"\nnote = "f5"\n', "serve",
                                ["note", '"f5"', "already bound to reply"]),
    "keys not a string": ('[keymap]\nreply = 5\n', "serve", ["reply", "5", "a string of keys"]),
    "bad network": ('[[accounts]]\nnetwork = "myspace"\nhandle = "b"\n', "serve",
                    ["network", '"myspace"', "mastodon, bluesky, webhook"]),
    "bad duration": ('reply_deadline = "soon"\n', "serve", ["reply_deadline", '"soon"', '"24h"']),
    "recall window too long": ('reply_recall = 600\n', "serve", ["reply_recall", "600", "from 0 (off) to 60"]),
    "not TOML": ('demo = \n', "serve", ["not valid TOML"]),
    "bad operator in the file": ('operator = " "\n', "serve", ["operator", '" "', "non-empty"]),
    "unknown theme": ('theme = "nrod"\n', "serve",
                      ["theme", '"nrod"', 'did you mean "nord"?', "textual-light", "ansi-dark"]),
    "theme not a string": ('theme = 3\n', "export", ["theme", "3", "non-empty string"]),
}


@pytest.mark.parametrize("kind", BAD)
def test_every_kind_of_bad_setting_is_one_line_and_a_non_zero_exit(home, capsys, kind):
    config, command, words = BAD[kind]
    code, err, out = run(home, config, command, capsys=capsys)
    assert code == 2 and out == ""
    [line] = err
    assert line.startswith("mentiondesk: ") and len(line) < 400, line
    for word in words:
        assert word in line, (word, line)
    assert not (home / "desk.db").exists(), "refused before anything ran"


@pytest.mark.parametrize("where", ["file", "env", "cli"])
def test_a_bad_operator_name_says_where_it_came_from(home, capsys, monkeypatch, where):
    path = home / "config.toml"
    path.write_text('operator = "bad\\u001b]0;x\\u0007name"\n' if where == "file" else "", encoding="utf-8")
    if where == "env":
        monkeypatch.setenv("MENTIONDESK_OPERATOR", "bad\u202ename")
    args = ["--operator", " padded "] if where == "cli" else []
    assert cli.main(["export", "--config", str(path), "--db", str(home / "d.db"), *args]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert {"file": f"from operator in {path}", "env": "from MENTIONDESK_OPERATOR",
            "cli": "from --operator"}[where] in line, line
    assert "\x1b" not in line and "\u202e" not in line


def test_a_bad_environment_value_names_the_variable(home, capsys, monkeypatch):
    monkeypatch.setenv("MENTIONDESK_LEASE_TTL", "soon")
    code, [line], _ = run(home, "", "serve", capsys=capsys)
    assert code == 2
    assert "MENTIONDESK_LEASE_TTL" in line and '"soon"' in line and "number of seconds" in line


def test_reply_recall_defaults_to_five_seconds_and_zero_turns_it_off(home, monkeypatch):
    assert build_settings({}).reply_recall == 5.0
    (home / "config.toml").write_text("reply_recall = 0\n", encoding="utf-8")
    assert build_settings({"config": home / "config.toml"}).reply_recall == 0.0
    monkeypatch.setenv("MENTIONDESK_REPLY_RECALL", "2.5")
    settings = build_settings({"config": home / "config.toml"})
    assert (settings.reply_recall, settings.sources["reply_recall"]) == (2.5, "env MENTIONDESK_REPLY_RECALL")
    monkeypatch.setenv("MENTIONDESK_REPLY_RECALL", "-1")
    with pytest.raises(ConfigError, match="MENTIONDESK_REPLY_RECALL must be a number of seconds from 0"):
        build_settings({})


def test_the_reported_serve_traceback_is_one_line_in_a_real_process(tmp_path):
    """The issue's case: `poll_interval = "often"` made `serve` print a ValueError traceback."""
    (tmp_path / "config.toml").write_text(MASTODON + 'poll_interval = "often"\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "tui", "serve", "--db", str(tmp_path / "d.db")],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env=clean_env(tmp_path, MENTIONDESK_CONFIG=str(tmp_path / "config.toml"),
                                          MENTIONDESK_OPERATOR="tester", R10_TOKEN="x"))
    line = assert_one_line_refusal(result)
    assert "poll_interval" in line and '"often"' in line


def test_layers_command_line_over_environment_over_file_over_default(home: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    config = home / "config.toml"
    config.write_text(f'db = "{home / "file.db"}"\noperator = "from-file"\nlease_ttl = 12\ndemo_rate = 5\n',
                      encoding="utf-8")
    monkeypatch.setenv("MENTIONDESK_CONFIG", str(config))
    monkeypatch.setenv("MENTIONDESK_OPERATOR", "from-env")
    settings = build_settings({"db": home / "cli.db"})
    assert settings.db_path == home / "cli.db" and settings.sources["db"] == "cli"
    assert settings.operator == "from-env" and settings.sources["operator"] == "env MENTIONDESK_OPERATOR"
    assert settings.lease_ttl == 12 and settings.sources["lease_ttl"] == "file"
    assert settings.demo_rate == 5 and settings.config_path == config
    assert settings.reply_deadline == 24 * 3600 and settings.sources["reply_deadline"] == "default"
    monkeypatch.setenv("MENTIONDESK_LEASE_TTL", "3")
    assert build_settings({}).lease_ttl == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.operator = "someone"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.keymap["quit"] = "x"  # type: ignore[index]


def test_a_relative_db_in_the_file_is_beside_the_file(home, monkeypatch):
    (home / "desk").mkdir()
    (home / "desk" / "config.toml").write_text('db = "shift.db"\n', encoding="utf-8")
    monkeypatch.chdir(home)
    assert build_settings({"config": home / "desk" / "config.toml"}).db_path == home / "desk" / "shift.db"


def test_the_defaults_are_the_runtimes_own():
    from adapters.runtime.leader import LEASE_TTL
    from adapters.runtime.sender import REPLY_DEADLINE

    assert (DEFAULT_LEASE_TTL, DEFAULT_REPLY_DEADLINE) == (LEASE_TTL, REPLY_DEADLINE)


def test_config_prints_each_setting_with_its_source_and_no_secret(home, capsys, monkeypatch):
    monkeypatch.setenv("MENTIONDESK_LEASE_TTL", "9")
    config = MASTODON.replace("https://m.example", "https://brand:hunter2@m.example") + '[keymap]\nquit = "x"\n'
    config = 'reply_deadline = "2h"\ntheme = "nord"\n' + config
    code, err, out = run(home, config, "config", capsys=capsys)
    assert code == 0 and err == []
    lines = out.splitlines()
    assert 'operator = "tester"  # cli' in lines
    assert "lease_ttl = 9.0  # env MENTIONDESK_LEASE_TTL" in lines
    assert "reply_deadline = 7200.0  # file" in lines
    assert "demo_rate = 30.0  # default" in lines
    assert 'theme = "nord"  # file' in lines
    assert 'quit = "x"' in lines and 'secret_env = "R10_TOKEN"  # readable' in lines
    assert "hunter2" not in out and "token-value-never-shown" not in out
    assert 'server = "https://***@m.example"' in lines


def test_lease_ttl_reaches_serve_from_file_and_environment(home, capsys, monkeypatch):
    seen = {}

    def fake_serve(db_path, build, **options):
        seen.update(options)
        return 0

    monkeypatch.setattr("tui.serve.run_serve", fake_serve)
    assert run(home, "lease_ttl = 7\n", "serve", capsys=capsys)[0] == 0
    assert seen["ttl"] == 7
    monkeypatch.setenv("MENTIONDESK_LEASE_TTL", "4.5")
    assert run(home, "", "serve", capsys=capsys)[0] == 0
    assert seen["ttl"] == 4.5
    monkeypatch.delenv("MENTIONDESK_LEASE_TTL")
    assert run(home, "", "serve", capsys=capsys)[0] == 0
    assert seen["ttl"] == DEFAULT_LEASE_TTL and seen["reply_deadline"] == 24 * 3600


@pytest.mark.parametrize("key", ["r", "R", "?", "ctrl+r", "ctrl+shift+a", "f5", "question_mark", "space", "escape",
                                 "alt+enter", "pagedown", "+", "ctrl+plus"])
def test_key_syntax_accepts_what_textual_binds(key):
    assert key_is_valid(key)


@pytest.mark.parametrize("key", ["", " ", "ctrl+", "control+r", "ctrl+ctrl+r", "shift+", "f5x", "nonsense_key_name",
                                 "ctrl+\t"])
def test_key_syntax_refuses_what_textual_cannot_bind(key):
    assert not key_is_valid(key)


# -- whatever the file says: a Config that builds, or one ConfigError line; never another exception ----------

def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # TOML basic strings take JSON's escapes
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(key)} = {toml_value(item)}" for key, item in value.items()) + "}"
    return repr(value) if not isinstance(value, float) or value == value and abs(value) != float("inf") else "nan"


SCALARS = st.one_of(st.booleans(), st.integers(-2, 70_000), st.floats(allow_nan=False, width=32),
                    st.sampled_from(["", " ", "often", "24h", "-5m", "https://m.example", "http://h.example/x",
                                     "ftp://x", "https://u:p@h.example", "https://h.example/?token=1", "en",
                                     "127.0.0.1", "R10_TOKEN", "R10_UNSET", "ctrl+r", "r,f5", "ctrl+"]),
                    st.text(st.characters(exclude_categories=["Cs"]), max_size=8))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=2),
                   st.dictionaries(st.text(st.characters(exclude_categories=["Cs"]), max_size=4), SCALARS, max_size=2))
# Plausible values per key (some still wrong, and wrong together): all-junk accounts would rarely get past
# the first check, and the rules between keys (outbound_url needs its secret) would never be reached.
LIKELY: dict[str, list[Any]]
LIKELY = {"server": ["https://m.example", "http://127.0.0.1:1", "http://h.example", "https://", "m.example"],
          "poll_interval": [1, 15.5, 0.01], "streaming": [True, False], "backfill": [0, 100, 10_000],
          "lang": ["en", "pt-BR"], "host": ["127.0.0.1", "localhost"], "port": [0, 8787, 65_535],
          "max_body": [1, 1_048_576], "max_connections": [1, 256], "outbound_url": ["https://bridge.example/r"],
          "lookup_url": ["http://127.0.0.1:9/lookup"], "secret_file": ["/nonexistent/secret"],
          "rate": ["30/min", "300/3h", "1/s", "fast", "0/min", 30]}
for key in ("commit_timeout", "header_timeout", "body_timeout", "retry_after"):
    LIKELY[key] = [0.5, 20]
for name in ("verify_token", "meta_secret", "outbound_secret"):
    LIKELY[f"{name}_env"], LIKELY[f"{name}_file"] = ["R10_TOKEN", "R10_UNSET"], ["/nonexistent/secret"]


@st.composite
def accounts(draw) -> dict:
    network = draw(st.sampled_from([*registry.configurable(), "myspace"]))
    entry = {"network": network, "handle": draw(st.sampled_from(["b", "", "@b@m.example"])),
             "secret_env": "R10_TOKEN"}
    if network in registry.configurable():
        keys = ["server", "secret_file", "lang", "bogus", *registry.NETWORKS[network].options]
        entry["server"] = "https://m.example"
        for key in draw(st.lists(st.sampled_from(keys), unique=True, max_size=5)):
            entry[key] = draw(st.sampled_from(LIKELY[key]) if key in LIKELY else VALUES)
        if draw(st.booleans()):
            entry[draw(st.sampled_from(keys))] = draw(VALUES)
    return entry


TOP_LIKELY: dict[str, list[Any]]
TOP_LIKELY = {"db": ["desk.db"], "operator": ["ann"], "demo": [True, False], "demo_rate": [1, 30.5, 60_000],
              "lease_ttl": [0.5, 45], "reply_deadline": ["24h", 90, "2d"], "lang": ["en"],
              "reply_recall": [0, 5, 12.5],
              "keymap": [{}, {"quit": "ctrl+q"}, {"reply": "r,f5", "note": "n"}],
              "rules": ["rules.toml", ""], "languages": [["en", "fr"], ["fr"], ["xx"], []],
              "reply_keywords": [["refund"], [], ["remboursement", "chargeback"]],
              "sla": [{}, {"care": "1h"}, {"default": 3600, "mastodon": "30m"}, {"vip": "1h"}, {"care": "soon"}],
              "theme": ["nord", "nrod", ""], "web_users": ["web-users.toml", "/srv/desk/web-users.toml", ""],
              "flood": [{}, {"approve_over": 20}, {"approve_over": 0}, {"approve_over": -1}, {"approve_over": "x"}]}


@st.composite
def documents(draw) -> dict:
    top = {key: draw(st.sampled_from(TOP_LIKELY[key])) for key in draw(st.lists(st.sampled_from(list(TOP_LIKELY)),
                                                                               unique=True, max_size=4))}
    if draw(st.integers(0, 3)) == 0:
        top[draw(st.sampled_from([*TOP_LIKELY, "bogus"]))] = draw(VALUES)
    top["accounts"] = draw(st.lists(accounts(), max_size=2))
    return top


TOP = documents()


def toml_document(top: dict) -> str:
    lines = [f"{json.dumps(key)} = {toml_value(value)}" for key, value in top.items() if key != "accounts"]
    for account in top.get("accounts", []):
        lines += ["[[accounts]]", *(f"{json.dumps(key)} = {toml_value(value)}" for key, value in account.items())]
    return "\n".join(lines) + "\n"


@hyp_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(top=TOP)
def test_any_config_loads_and_builds_or_is_refused_in_one_line(tmp_path, monkeypatch, top):
    # a key added to the config gets fuzzed too
    assert {*TOP_LIKELY, "accounts"} == set(TOP_KEYS)
    assert {key for network in registry.NETWORKS.values() for key in network.options} <= set(LIKELY)
    monkeypatch.setenv("R10_TOKEN", "token")
    path = tmp_path / "config.toml"
    path.write_text(toml_document(top), encoding="utf-8")
    try:
        config = load_config(path)
        for account in config.accounts:
            registry.build(account, session=None)  # what serve and the console do: no ValueError, no TypeError
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).strip(), str(exc)


def test_flood_approve_over_comes_from_the_file_and_a_bad_value_is_one_line(tmp_path):
    path = tmp_path / "config.toml"
    assert build_settings({"config": str(path)}, {}).approve_over == 20
    path.write_text("[flood]\napprove_over = 50\n", encoding="utf-8")
    assert build_settings({"config": str(path)}, {}).approve_over == 50
    path.write_text("[flood]\napprove_over = 'many'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[flood\]: approve_over must be a whole number of people"):
        build_settings({"config": str(path)}, {})
