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
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from adapters import registry
from adapters.base import CleanError
from adapters.budget import RATE_EXAMPLE, parse_rate
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

    def check_secrets(self) -> None:
        """Read every secret the account names now, so a missing one is one line before anything runs."""
        self.secret()
        for name in _SECRET_OPTIONS:
            self.option_secret(name)

    def check_builds(self) -> None:
        """Build the adapter once, unconnected: whatever its constructor refuses becomes one ConfigError line."""
        try:
            registry.build(self, session=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{self.label}: {exc}") from None

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
    lease_ttl: float | None = None
    #: seconds a queued reply can be recalled (`u`) before the sender may take it; 0: off
    reply_recall: float | None = None
    lang: str | None = None
    keymap: dict[str, str] = field(default_factory=dict)
    db: str | None = None
    operator: str | None = None
    rules: str | None = None  # the triage rules file (relative: beside the config file)
    languages: tuple[str, ...] | None = None  # the desk's languages, for detection (ISO 639-1)
    reply_keywords: tuple[str, ...] = ()  # words that always mean a mention needs a reply
    theme: str | None = None  # a Textual theme's name (the console checks it against its themes)
    #: first-response targets in seconds: "default", a tag ("care", "marketing") or a network name
    sla: dict[str, float] = field(default_factory=dict)
    #: [flood] approve_over: a group answer to more people than this needs a second operator's approval
    approve_over: int | None = None
    web_users: str | None = None  # `mentiondesk web`'s password file (relative: beside the config file)


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


# What a config file may say, and what each network's account may say (anything else is a typo).
TOP_KEYS = ("db", "operator", "demo", "demo_rate", "lease_ttl", "reply_deadline", "reply_recall", "lang", "keymap",
            "accounts", "sla", "rules", "languages", "reply_keywords", "theme", "flood",
            "web_users")
_ACCOUNT_KEYS = ("network", "handle", "server", "secret_env", "secret_file", "lang")
_SECRET_OPTIONS = registry.WEBHOOK_SECRETS
_WEBHOOK_SECONDS = registry.WEBHOOK_SECONDS


def network_options(network: str) -> tuple[str, ...]:
    """The keys an account of `network` may have beyond the common ones (the registry says)."""
    return registry.NETWORKS[network].options


def shown(value: object) -> str:
    """A config value as the file wrote it, short and on one line, for a message naming it."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    elif isinstance(value, dict):
        text = "a table"
    elif isinstance(value, list):
        text = "a list"
    else:
        text = str(value)
    return clean_line(text if len(text) <= 60 else text[:57] + "...", 80)


def bad_value(where: str, key: str, value: object, allowed: str) -> ConfigError:
    """The one line for a value that is not allowed: where, which key, the value, what would do."""
    return ConfigError(f"{where}: {key} must be {allowed} (got {shown(value)})")


def unknown_keys(where: str, table: dict[str, Any], allowed: tuple[str, ...], what: str = "key") -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown {what} {shown(key)} (allowed: {', '.join(allowed)})")


def _number(where: str, key: str, value: object, *, low: float = 0, high: float = float("inf"),
            whole: bool = False, allowed: str = "a positive number of seconds") -> float:
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low < value < high:
        raise bad_value(where, key, value, allowed)
    return value


def load_config(path: Path | str) -> Config:
    """Parse and check the config file; a missing file is an empty config."""
    file = Path(path).expanduser()
    if not file.exists():
        return Config([], path=str(file))
    import tomllib  # here: a console without a config file (and its start) need not load it

    from adapters.bluesky.records import LANG_TAG

    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    unknown_keys(str(file), data, TOP_KEYS)
    desk_lang = data.get("lang")
    if desk_lang is not None and not (isinstance(desk_lang, str) and LANG_TAG.fullmatch(desk_lang)):
        raise bad_value(str(file), "lang", desk_lang, 'a language tag such as "en" or "pt-BR"')
    entries = data.get("accounts", [])
    if not isinstance(entries, list):
        raise bad_value(str(file), "accounts", entries, "a list of [[accounts]] tables")
    accounts = [_account(entry, index, file, desk_lang) for index, entry in enumerate(entries, start=1)]
    demo = data.get("demo")
    if demo is not None and not isinstance(demo, bool):
        raise bad_value(str(file), "demo", demo, "true or false")
    rate = data.get("demo_rate")
    if rate is not None:
        _number(str(file), "demo_rate", rate, high=120_000.0001,
                allowed="a number of mentions per minute, above 0 and at most 120000")
    ttl = data.get("lease_ttl")
    if ttl is not None:
        _number(str(file), "lease_ttl", ttl, high=86_400, allowed="a number of seconds above 0 and below 86400")
    deadline = data.get("reply_deadline")
    if deadline is not None:
        if (seconds := parse_duration(deadline)) is None:
            raise bad_value(str(file), "reply_deadline", deadline, 'a duration such as "24h", "90m" or seconds')
        deadline = seconds
    recall = data.get("reply_recall")
    if recall is not None:
        _number(str(file), "reply_recall", recall, low=-0.0001, high=60.0001,
                allowed="a number of seconds from 0 (off) to 60")
    texts = {}
    for key in ("db", "operator", "rules", "theme", "web_users"):
        value = data.get(key)
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise bad_value(str(file), key, value, "a non-empty string")
        texts[key] = value
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict):
        raise bad_value(str(file), "keymap", keymap, "a [keymap] table of action = \"keys\"")
    for action, keys in keymap.items():
        if not isinstance(keys, str):
            raise bad_value(f"{file}: [keymap]", action, keys, 'a string of keys such as "ctrl+r" or "r,f5"')
    lists = {key: _string_list(str(file), key, data[key]) for key in ("languages", "reply_keywords") if key in data}
    for code in lists.get("languages", ()):
        if not _ISO_639_1.fullmatch(code):
            raise bad_value(str(file), "languages", code, 'a list of two-letter language codes such as ["en", "fr"]')
    return Config(accounts, demo, float(rate) if rate is not None else None, str(file), deadline,
                  approve_over=_approve_over(data.get("flood", {}), file),
                  lease_ttl=float(ttl) if ttl is not None else None, lang=desk_lang, keymap=dict(keymap),
                  db=texts["db"], operator=texts["operator"], rules=texts["rules"], languages=lists.get("languages"),
                  reply_keywords=lists.get("reply_keywords", ()), sla=_sla_table(data.get("sla", {}), file),
                  reply_recall=float(recall) if recall is not None else None, theme=texts["theme"],
                  web_users=texts["web_users"])


_ISO_639_1 = re.compile(r"[a-z]{2}")


def _approve_over(table: object, file: Path) -> int | None:
    """`[flood] approve_over`: a whole number of people, 0 (every group answer is approved) or more."""
    if not isinstance(table, dict):
        raise bad_value(str(file), "flood", table, "a [flood] table")
    value = table.get("approve_over")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
        raise bad_value(f"{file}: [flood]", "approve_over", value, "a whole number of people from 0 to 1000000")
    return value


def _string_list(where: str, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) and item.strip() for item in value):
        raise bad_value(where, key, value, "a non-empty list of strings")
    return tuple(clean_line(item.strip(), 200) for item in value)


SLA_TAGS = ("care", "marketing")


def _sla_table(table: object, file: Path) -> dict[str, float]:
    """[sla] first-response targets: `default`, a tag or a network, each a duration."""
    if not isinstance(table, dict):
        raise bad_value(str(file), "sla", table, 'an [sla] table such as care = "1h"')
    unknown_keys(f"{file}: [sla]", table, ("default", *SLA_TAGS, *NETWORKS))
    targets = {}
    for key, value in table.items():
        if (seconds := parse_duration(value)) is None:
            raise bad_value(f"{file}: [sla]", key, value, 'a duration such as "1h", "90m", "2d" or seconds')
        targets[key] = seconds
    return targets


def _account(entry: object, index: int, file: Path, desk_lang: str | None) -> Account:
    if not isinstance(entry, dict):
        raise ConfigError(f"{file}: accounts entry {index} is not a table")
    # A config file may come from someone else: its values end up in labels, messages and the top bar.
    entry = {key: clean_line(value, 2000) if isinstance(value, str) else value for key, value in entry.items()}
    network = entry.get("network", "")
    if not isinstance(network, str) or network.lower() not in NETWORKS:
        raise bad_value(f"{file}: accounts entry {index}", "network", network, f"one of {', '.join(NETWORKS)}")
    network = network.lower()
    handle = entry.get("handle", "")
    if not isinstance(handle, str) or not handle.strip():
        raise bad_value(f"{file}: accounts entry {index} ({network})", "handle", handle, "a non-empty string")
    handle = handle.strip()
    where = f"{file}: {network}:{handle}"
    unknown_keys(where, entry, (*_ACCOUNT_KEYS, *network_options(network)))
    for key in ("server", "secret_env", "secret_file", "host",
                *(f"{name}_{how}" for name in _SECRET_OPTIONS for how in ("env", "file"))):
        if key in entry and not isinstance(entry[key], str):
            raise bad_value(where, key, entry[key], "a string")
    server = entry.get("server", "").strip()
    if registry.NETWORKS[network].needs_server and (problem := _server_problem(server, network)):
        raise bad_value(where, "server", server, problem)
    if "streaming" in entry and not isinstance(entry["streaming"], bool):
        raise bad_value(where, "streaming", entry["streaming"], "true or false")
    if "poll_interval" in entry:
        _number(where, "poll_interval", entry["poll_interval"], high=86_400,
                allowed="a positive number of seconds below 86400")
    if network == "webhook":
        _check_webhook(entry, where)
    options = {k: v for k, v in entry.items() if k not in ("network", "handle", "server", "secret_env", "secret_file")}
    _check_reply_options(options, where, desk_lang)
    return Account(network, handle, server, entry.get("secret_env", ""), entry.get("secret_file", ""), options)


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


def _server_problem(server: str, network: str) -> str | None:
    """What the server address must be, if it is not; the adapters refuse the same (with a traceback)."""
    try:
        parts = urlsplit(server)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "an http(s) URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "an http(s) URL with a host"
    if network == "mastodon" and parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return "an https URL (the access token never goes over plain http, except to this machine)"
    return None


def _check_webhook(entry: dict[str, Any], where: str) -> None:
    """URLs without credentials in them, and positive listener limits, or one line why not."""
    from adapters.webhook.bridge import url_problem

    for name in ("outbound_url", "lookup_url"):
        if name in entry and (problem := url_problem(entry[name], name)):
            raise ConfigError(f"{where}: {problem} (got {shown(entry[name])})"
                              if "credentials" not in problem else f"{where}: {problem}")
    if "outbound_url" in entry and not ({"outbound_secret_env", "outbound_secret_file"} & entry.keys()):
        raise ConfigError(f"{where}: outbound_url needs outbound_secret_env or outbound_secret_file "
                          "(the key that signs every reply)")
    if "lookup_url" in entry and "outbound_url" not in entry:
        raise ConfigError(f"{where}: lookup_url needs an outbound_url (it looks up what was posted there)")
    for name in _WEBHOOK_SECONDS:
        if name in entry:
            _number(where, name, entry[name], high=86_400)
    for name, high in (("max_connections", 86_400), ("max_body", 2**31), ("port", 65_536)):
        if name in entry:
            _number(where, name, entry[name], low=-1 if name == "port" else 0, high=high, whole=True,
                    allowed=f"a whole number from {0 if name == 'port' else 1} to {high - 1}")


def _check_reply_options(options: dict[str, Any], where: str, desk_lang: str | None) -> None:
    """`lang` (the desk's default applies) and `backfill`, checked here so a typo is one line, not a crash."""
    from adapters.bluesky.notifications import MAX_BACKFILL
    from adapters.bluesky.records import LANG_TAG

    if "lang" not in options and desk_lang is not None:
        options["lang"] = desk_lang
    lang = options.get("lang")
    if lang is not None and not (isinstance(lang, str) and LANG_TAG.fullmatch(lang)):
        raise bad_value(where, "lang", lang, 'a language tag such as "en" or "pt-BR"')
    if "rate" in options and parse_rate(options["rate"]) is None:
        raise bad_value(where, "rate", options["rate"], RATE_EXAMPLE)
    backfill = options.get("backfill")
    if backfill is not None and (type(backfill) is not int or not 0 <= backfill <= MAX_BACKFILL):
        raise bad_value(where, "backfill", backfill, f"a whole number from 0 to {MAX_BACKFILL:,}")
