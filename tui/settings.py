"""One frozen settings object, built once: defaults < config file < environment < command line.

Every value records where it came from (`mentiondesk config` prints it);
every bad value is refused in one line naming the key, the value and what
is allowed (SettingsError), before anything runs.
"""

from __future__ import annotations

import difflib
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from adapters.accounts import SLA_TAGS, Account, ConfigError, load_config, shown
from store.group_answers import APPROVE_OVER
from store.operators import OperatorNameError, check_operator
from store.pg_open import is_url
from store.signals import DEFAULT_LANGUAGES, known_language
from store.sla import SlaPolicy
from tui.paths import default_operator, platform_config_path, platform_db_path

DEFAULT_DEMO_RATE = 30.0
# The runtime's own defaults (adapters/leader.py LEASE_TTL says why 45 s; a test keeps them equal),
# written here so that commands that never run an adapter do not import aiohttp.
DEFAULT_LEASE_TTL = 45.0
DEFAULT_REPLY_DEADLINE = 24 * 3600.0
DEFAULT_REPLY_RECALL = 5.0
WEB_USERS = "web-users.toml"

ENV = {"db": "MENTIONDESK_DB", "operator": "MENTIONDESK_OPERATOR", "config": "MENTIONDESK_CONFIG",
       "lease_ttl": "MENTIONDESK_LEASE_TTL", "reply_recall": "MENTIONDESK_REPLY_RECALL"}


class SettingsError(ConfigError):
    """A setting that cannot be used, in one line."""


@dataclass(frozen=True)
class Settings:
    db_path: Path | str  # a file, or a postgresql:// URL (store/pg_open.py)
    operator: str
    config_path: Path
    demo: bool | None  # None: on when no account is configured
    demo_rate: float
    lease_ttl: float
    reply_deadline: float
    lang: str | None
    reply_recall: float  # seconds a queued reply waits and can be recalled; 0: sent at once
    theme: str | None  # a Textual theme; None: the operator's remembered choice, else textual-dark
    keymap: Mapping[str, str]  # action id -> keys ("ctrl+r" or "r,f5"); action ids are checked by the console
    accounts: tuple[Account, ...]
    rules: Path | None = None  # the triage rules file, if any
    languages: tuple[str, ...] = ("en", "fr")  # the desk's languages (detection picks among them)
    reply_keywords: tuple[str, ...] = ()  # words that always mean a mention needs a reply
    sources: Mapping[str, str] = field(default_factory=dict)  # setting -> default | file | env NAME | cli
    sla: SlaPolicy = field(default_factory=SlaPolicy)  # first-response targets ([sla] in the file)
    approve_over: int = APPROVE_OVER  # [flood] approve_over: bigger group answers need a second operator
    web_users: Path | None = None  # `mentiondesk web`: operators' password hashes (None: beside the config file)

    @property
    def web_users_path(self) -> Path:
        return self.web_users or self.config_path.parent / WEB_USERS

    @property
    def db_chosen(self) -> bool:
        """Someone named the database (else the demo stream alone gets its own file)."""
        return self.sources.get("db", "default") != "default"

    @property
    def runs_demo(self) -> bool:
        return self.demo if self.demo is not None else not self.accounts


def _database(value: Any, source: str, config_path: Path) -> Path | str:
    """A PostgreSQL URL as given; a file path expanded, relative to the config file when it names it."""
    if is_url(str(value)):
        return str(value)
    path = Path(value).expanduser()
    if source == "file" and not path.is_absolute():
        return config_path.parent / path  # beside the file that names it, wherever the command runs
    return path


def build_settings(cli: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the parsed command line (only the options given) and the environment."""
    env = os.environ if environ is None else environ
    sources: dict[str, str] = {}

    def pick(name: str, default: Any, file_value: Any = None, *, env_name: str | None = None,
             parse: Callable[[str], Any] = str) -> Any:
        if cli.get(name) is not None:
            sources[name] = "cli"
            return cli[name]
        if env_name and env.get(env_name):
            sources[name] = f"env {env_name}"
            return parse(env[env_name])
        if file_value is not None:
            sources[name] = "file"
            return file_value
        sources[name] = "default"
        return default

    config_path = Path(pick("config", platform_config_path(), env_name=ENV["config"])).expanduser()
    config = load_config(config_path)
    db_path = _database(pick("db", platform_db_path(), config.db, env_name=ENV["db"]), sources["db"], config_path)
    operator = pick("operator", None, config.operator, env_name=ENV["operator"])
    try:
        operator = check_operator(operator if operator is not None else default_operator())
    except OperatorNameError as exc:
        source = {"default": "your login name", "file": f"operator in {config_path}"}.get(
            sources["operator"], sources["operator"].removeprefix("env ").replace("cli", "--operator"))
        raise SettingsError(f"{exc} (from {source}; set it with --operator NAME, MENTIONDESK_OPERATOR or "
                            f"operator in the config file)") from None
    demo = pick("demo", None, config.demo)
    rules = pick("rules", None, config.rules)
    if rules is not None:
        rules = Path(rules).expanduser()
        rules = rules if rules.is_absolute() else config_path.parent / rules  # beside the config file
    web_users = pick("web_users", None, config.web_users)
    if web_users is not None:
        web_users = Path(web_users).expanduser()
        web_users = web_users if web_users.is_absolute() else config_path.parent / web_users
    languages = pick("languages", DEFAULT_LANGUAGES, config.languages)
    if any(not known_language(code) for code in languages):
        raise SettingsError(f"{config_path}: languages: {', '.join(languages)}: "
                            "each must be a two-letter language code lingua knows (en, fr, de, es, ...)")
    return Settings(
        db_path=db_path, operator=operator, config_path=config_path, demo=demo,
        demo_rate=pick("demo_rate", DEFAULT_DEMO_RATE, config.demo_rate),
        lease_ttl=pick("lease_ttl", DEFAULT_LEASE_TTL, config.lease_ttl, env_name=ENV["lease_ttl"],
                       parse=_env_seconds(ENV["lease_ttl"])),
        reply_deadline=pick("reply_deadline", DEFAULT_REPLY_DEADLINE, config.reply_deadline),
        reply_recall=pick("reply_recall", DEFAULT_REPLY_RECALL, config.reply_recall, env_name=ENV["reply_recall"],
                          parse=_recall_seconds),
        lang=pick("lang", None, config.lang),
        theme=check_theme(pick("theme", None, config.theme), f"{config_path}: theme"),
        keymap=MappingProxyType(check_keymap(config.keymap, f"{config_path}: [keymap]")),
        accounts=tuple(config.accounts), rules=rules, languages=tuple(languages), web_users=web_users,
        reply_keywords=pick("reply_keywords", (), config.reply_keywords or None),
        approve_over=pick("approve_over", APPROVE_OVER, config.approve_over),
        sla=SlaPolicy.from_table(config.sla, SLA_TAGS), sources=MappingProxyType(
            sources | {name: "file" if getattr(config, name) else "default" for name in ("keymap", "accounts", "sla")}))


def check_theme(theme: str | None, where: str) -> str | None:
    """A theme the console has (Textual's built-in themes), else one line listing them."""
    if theme is None:
        return None
    from textual.theme import BUILTIN_THEMES  # only when a theme is named: other commands stay light

    if theme not in BUILTIN_THEMES:
        close = difflib.get_close_matches(theme, list(BUILTIN_THEMES), n=2)
        hint = f"did you mean {' or '.join(map(shown, close))}? " if close else ""
        raise SettingsError(f"{where} must be a Textual theme ({hint}e.g. textual-dark, textual-light, nord, "
                            f"ansi-dark: the terminal's own 16 colours; the palette's Theme command lists all "
                            f"{len(BUILTIN_THEMES)}) (got {shown(theme)})")
    return theme


def _env_seconds(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not 0 < value < 86_400:  # nan fails too
            raise SettingsError(f"{name} must be a number of seconds above 0 and below 86400 (got {shown(text)})")
        return value
    return parse


def _recall_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 60:  # nan fails too
        raise SettingsError(f"{ENV['reply_recall']} must be a number of seconds from 0 (off) to 60 "
                            f"(got {shown(text)})")
    return value


_ACTION_ID = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
KEYS_ALLOWED = 'keys such as "r", "ctrl+r", "f5" or "question_mark", several separated by commas'


def check_keymap(keymap: Mapping[str, str], where: str) -> dict[str, str]:
    """The [keymap] table with each action's keys checked for syntax, and no key given to two actions."""
    owners: dict[str, str] = {}
    for action, keys in keymap.items():
        if not _ACTION_ID.fullmatch(action):
            raise SettingsError(f"{where}: {shown(action)} is not an action id (lower-case letters, digits, _)")
        for key in keys.split(","):
            key = key.strip()
            if not key_is_valid(key):
                raise SettingsError(f"{where}: {action} must be {KEYS_ALLOWED} (got {shown(keys)}: "
                                    f"{shown(key)} is not a key)")
            if key in owners and owners[key] != action:
                raise SettingsError(f"{where}: {action} = {shown(keys)}: key {shown(key)} is already bound to "
                                    f"{owners[key]}")
            owners[key] = action
    return dict(keymap)


def key_is_valid(key: str) -> bool:
    """Textual's key syntax: optional distinct modifiers, then one printable character or a key name."""
    *modifiers, base = key.split("+") if len(key) > 1 else [key]
    if len(set(modifiers)) != len(modifiers) or any(m not in _MODIFIERS for m in modifiers):
        return False
    if len(base) == 1:
        return base.isprintable() and not base.isspace()
    return base in _key_names() or _unicode_name(base)


def _key_names() -> frozenset[str]:
    from textual.keys import KEY_ALIASES, KEY_NAME_REPLACEMENTS, Keys

    names = {key.value.split("+")[-1] for key in Keys} | set(KEY_ALIASES) | set(KEY_NAME_REPLACEMENTS.values())
    return frozenset(name for name in names if not name.startswith("<"))


def _unicode_name(name: str) -> bool:
    try:
        unicodedata.lookup(name.upper().replace("_", " "))
    except KeyError:
        return False
    return True
