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

from adapters import registry
from adapters.base import CleanError
from adapters.bluesky.notifications import MAX_BACKFILL
from adapters.bluesky.records import LANG_TAG
from store.sanitize import clean_line

NETWORKS = registry.configurable()


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
    #: seconds a reply may wait for an unreachable network before it fails (None: the default, 24h)
    reply_deadline: float | None = None


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
        if registry.NETWORKS[network].needs_server and not server.startswith(("https://", "http://")):
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
    deadline = data.get("reply_deadline")
    if deadline is not None:
        deadline = parse_duration(deadline)
        if deadline is None:
            raise ConfigError(f"{file}: reply_deadline must be a duration such as \"24h\", \"90m\" or seconds")
    return Config(accounts, demo, float(rate) if rate is not None else None, str(file), deadline)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> float | None:
    """Seconds from 3600, "3600", "90m", "24h" or "2d"; None if it is none of those (or not positive)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().lower()
        unit = _UNITS.get(text[-1])
        try:
            seconds = float(text[:-1]) * unit if unit else float(text)
        except ValueError:
            return None
    else:
        return None
    return seconds if 0 < seconds < float("inf") else None


def _check_webhook(entry: dict[str, Any], where: str) -> None:
    """URLs without credentials in them, and positive listener limits, or one line why not."""
    from adapters.webhook.bridge import url_problem
    from adapters.webhook.guard import LISTENER_SECONDS

    for name in ("outbound_url", "lookup_url"):
        if name in entry and (problem := url_problem(entry[name], name)):
            raise ConfigError(f"{where}: {problem}")
    for name in (*LISTENER_SECONDS, "max_connections"):
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
