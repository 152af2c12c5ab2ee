"""Accounts from the TOML config, their secrets, and the adapters built from them.

    [[accounts]]
    network = "mastodon"                      # mastodon | bluesky | webhook
    server = "https://mastodon.example"       # Mastodon instance / Bluesky PDS
    handle = "@brand@mastodon.example"
    secret_env = "MENTIONDESK_MASTODON_TOKEN" # or: secret_file = "~/.config/mentiondesk/mastodon.token"

A secret file must not be readable by group or others (mode 0600): a
readable token is refused with a message saying how to fix it. Secrets
never appear in messages, logs or exports.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.base import Adapter, CleanError
from adapters.bluesky_notifications import DEFAULT_BACKFILL, MAX_BACKFILL
from adapters.bluesky_records import LANG_TAG
from store.sanitize import clean_line

NETWORKS = ("mastodon", "bluesky", "webhook")


class ConfigError(CleanError):
    """A config problem, worded for the operator (one line, cleaned: it quotes values and file names)."""


@dataclass(frozen=True)
class Account:
    network: str
    handle: str
    server: str = ""
    secret_env: str = ""
    secret_file: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.network}:{self.handle}"

    def secret(self) -> str:
        return _read_secret(self.secret_env, self.secret_file, self.label, "secret")

    def option_secret(self, name: str) -> str | None:
        env, path = self.options.get(f"{name}_env", ""), self.options.get(f"{name}_file", "")
        if not env and not path:
            return None
        return _read_secret(env, path, self.label, name)


@dataclass(frozen=True)
class Config:
    accounts: list[Account]
    demo: bool | None = None  # None: on when no account is configured
    demo_rate: float | None = None
    path: str = ""


def _read_secret(env: str, path: str, label: str, what: str) -> str:
    if env:
        value = os.environ.get(env, "")
        if not value.strip():
            raise ConfigError(f"{label}: environment variable {env} (the {what}) is not set")
        return value.strip()
    if path:
        file = Path(path).expanduser()
        try:
            info = file.stat()
        except FileNotFoundError:
            raise ConfigError(f"{label}: {what} file {file} does not exist") from None
        except OSError as exc:
            raise ConfigError(f"{label}: cannot read {what} file {file}: {exc.strerror}") from None
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"{label}: {what} file {file} is readable by others (mode {stat.S_IMODE(info.st_mode):04o}); "
                f"run: chmod 600 {file}"
            )
        try:
            value = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{label}: cannot read {what} file {file}: {exc.strerror}") from None
        if not value:
            raise ConfigError(f"{label}: {what} file {file} is empty")
        return value
    raise ConfigError(f"{label}: no {what}: set secret_env or secret_file")


def load_config(path: Path | str) -> Config:
    """Parse the config file; a missing file is an empty config."""
    file = Path(path).expanduser()
    if not file.exists():
        return Config([], path=str(file))
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}") from None
    desk_lang = data.get("lang")
    if desk_lang is not None and not (isinstance(desk_lang, str) and LANG_TAG.fullmatch(desk_lang)):
        raise ConfigError(f"{file}: lang must be a language tag such as \"en\" or \"pt-BR\"")
    accounts = []
    for index, entry in enumerate(data.get("accounts", []), start=1):
        if not isinstance(entry, dict):
            raise ConfigError(f"{file}: accounts entry {index} is not a table")
        # A config file may come from someone else: its values end up in labels, messages and the top bar.
        entry = {key: clean_line(value, 2000) if isinstance(value, str) else value for key, value in entry.items()}
        network = str(entry.get("network", "")).lower()
        if network not in NETWORKS:
            raise ConfigError(f"{file}: accounts entry {index}: network must be one of {', '.join(NETWORKS)}")
        handle = str(entry.get("handle", "")).strip()
        if not handle:
            raise ConfigError(f"{file}: accounts entry {index} ({network}) has no handle")
        server = str(entry.get("server", "")).strip()
        if network in ("mastodon", "bluesky") and not server.startswith(("https://", "http://")):
            raise ConfigError(f"{file}: {network}:{handle}: server must be an http(s) URL")
        if network == "webhook":
            _check_webhook(entry, f"{file}: webhook:{handle}")
        known = {"network", "handle", "server", "secret_env", "secret_file"}
        options = {k: v for k, v in entry.items() if k not in known}
        _check_reply_options(options, f"{file}: {network}:{handle}", desk_lang)
        accounts.append(Account(network, handle, server, str(entry.get("secret_env", "")),
                                str(entry.get("secret_file", "")), options))
    demo = data.get("demo")
    if demo is not None and not isinstance(demo, bool):
        raise ConfigError(f"{file}: demo must be true or false")
    rate = data.get("demo_rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 60_000):
        raise ConfigError(f"{file}: demo_rate must be a number of mentions per minute, above 0 and at most 60000")
    return Config(accounts, demo, float(rate) if rate is not None else None, str(file))


def _check_webhook(entry: dict[str, Any], where: str) -> None:
    """URLs without credentials in them, and positive listener limits, or one line why not."""
    from adapters.webhook_bridge import url_problem

    for name in ("outbound_url", "lookup_url"):
        if name in entry and (problem := url_problem(entry[name], name)):
            raise ConfigError(f"{where}: {problem}")
    for name in (*_WEBHOOK_SECONDS, "max_connections"):
        value = entry.get(name, 1)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 86_400:
            unit = "" if name == "max_connections" else " of seconds"
            raise ConfigError(f"{where}: {name} must be a positive number{unit}")


def _check_reply_options(options: dict[str, Any], where: str, desk_lang: str | None) -> None:
    """`lang` (the desk's default applies) and `backfill`, checked here so a typo is one line, not a crash."""
    if "lang" not in options and desk_lang is not None:
        options["lang"] = desk_lang
    lang = options.get("lang")
    if lang is not None and not (isinstance(lang, str) and LANG_TAG.fullmatch(lang)):
        raise ConfigError(f"{where}: lang must be a language tag such as \"en\" or \"pt-BR\"")
    backfill = options.get("backfill")
    if backfill is not None and (type(backfill) is not int or not 0 <= backfill <= MAX_BACKFILL):
        raise ConfigError(f"{where}: backfill must be a whole number from 0 to {MAX_BACKFILL:,}")


def build_adapter(account: Account, session) -> Adapter:
    """The adapter for one account (session: an aiohttp.ClientSession); reads its secret now."""
    options = account.options
    if account.network == "mastodon":
        from adapters.mastodon import MastodonAdapter

        return MastodonAdapter(account=account.handle, server=account.server, token=account.secret(),
                               session=session, streaming=bool(options.get("streaming", True)),
                               poll_interval=float(options.get("poll_interval", 15.0)))
    if account.network == "bluesky":
        from adapters.bluesky import BlueskyAdapter

        return BlueskyAdapter(account=account.handle, pds=account.server, password=account.secret(),
                              session=session, poll_interval=float(options.get("poll_interval", 15.0)),
                              backfill=options.get("backfill", DEFAULT_BACKFILL), lang=options.get("lang"))
    from adapters.webhook import WebhookAdapter

    return WebhookAdapter(account=account.handle, secret=account.secret(),
                          host=str(options.get("host", "127.0.0.1")), port=int(options.get("port", 8787)),
                          verify_token=account.option_secret("verify_token"),
                          meta_secret=account.option_secret("meta_secret"),
                          max_body=int(options.get("max_body", 1_048_576)),
                          outbound_url=options.get("outbound_url"), lookup_url=options.get("lookup_url"),
                          outbound_secret=account.option_secret("outbound_secret"), session=session,
                          **{name: float(options[name]) for name in _WEBHOOK_SECONDS if name in options},
                          max_connections=int(options.get("max_connections", 256)))


# Listener limits a webhook account may tune (seconds); see docs/webhooks.md.
_WEBHOOK_SECONDS = ("commit_timeout", "header_timeout", "body_timeout", "retry_after")
