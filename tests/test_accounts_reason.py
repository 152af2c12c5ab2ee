"""`mentiondesk accounts` shows each account's last state with its reason (issue 9)."""

from __future__ import annotations

from store.db import open_store
from store.source_status import set_source_status
from tests.procs import run_cli


def test_accounts_shows_the_state_with_its_reason_and_no_credentials(tmp_path):
    db = tmp_path / "desk.db"
    config = tmp_path / "config.toml"
    config.write_text("""
[[accounts]]
network = "mastodon"
server = "https://social.example"
handle = "@brand@social.example"
secret_env = "TEST_TOKEN"
""")
    store = open_store(db)
    set_source_status(store, "mastodon:@brand@social.example", "reconnecting",
                      "next try in 8s: https://social.example/api?access_token=s3cr3tvalue refused \x1b[31m")
    store.close()
    result = run_cli(tmp_path, db, "accounts", "--config", str(config))
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert "last state: reconnecting: next try in 8s: https://social.example/api?access_token=*** refused" in line
    assert "s3cr3tvalue" not in line and "\x1b" not in line
