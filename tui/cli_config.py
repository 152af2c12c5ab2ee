"""`mentiondesk config`: the effective settings, each with where it came from, secrets redacted."""

from __future__ import annotations

from adapters.accounts import Account, ConfigError, shown
from store.redact import redact_error
from tui.settings import Settings

ORDER = ("config", "db", "operator", "demo", "demo_rate", "lease_ttl", "reply_deadline", "reply_recall", "lang",
         "rules", "languages", "reply_keywords", "theme", "web_users")


def _value(value: object) -> str:
    # Secrets never live in settings (only the names of their variables and files), but a URL may carry one.
    return redact_error(shown(str(value) if hasattr(value, "__fspath__") else value)) or ""


def _secret_state(account: Account, key: str) -> str:
    """Whether a secret the account names can be read (never its value)."""
    if not key.endswith(("_env", "_file")):
        return ""
    name = key.rsplit("_", 1)[0]
    try:
        account.secret() if name == "secret" else account.option_secret(name)
    except ConfigError as exc:
        return f"  # not usable: {str(exc).removeprefix(account.label + ': ')}"
    return "  # readable"


def settings_lines(settings: Settings) -> list[str]:
    values = {"config": settings.config_path, "db": settings.db_path, "operator": settings.operator,
              "demo": settings.demo, "demo_rate": settings.demo_rate, "lease_ttl": settings.lease_ttl,
              "reply_deadline": settings.reply_deadline, "reply_recall": settings.reply_recall, "lang": settings.lang,
              "rules": settings.rules, "languages": ", ".join(settings.languages),
              "reply_keywords": ", ".join(settings.reply_keywords) or None, "theme": settings.theme,
              "web_users": settings.web_users_path}
    lines = ["# defaults < config file < environment < command line; each line says which one set it"]
    for name in ORDER:
        value = values[name]
        if value is None:
            text = {"demo": "(on only when no account is configured)",
                    "theme": "(not set: your last choice in the palette, else textual-dark)"}.get(name, "(not set)")
        else:
            text = _value(value)
        lines.append(f"{name} = {text}  # {settings.sources.get(name, 'default')}")
    lines.append(f"[keymap]  # {'file' if settings.keymap else 'default: the built-in keys'}")
    lines += [f"{action} = {_value(keys)}" for action, keys in settings.keymap.items()]
    sla = settings.sla
    lines.append(f"[sla]  # {'file' if sla else 'default: no first-response targets'} (seconds)")
    lines += [f"{key} = {_value(seconds)}" for key, seconds in
              {**sla.by_tag, **sla.by_network, **({"default": sla.default} if sla.default else {})}.items()]
    lines.append("[flood]")
    lines.append(f"approve_over = {settings.approve_over}  # {settings.sources.get('approve_over', 'default')}")
    for account in settings.accounts:
        lines.append("[[accounts]]  # file")
        fields = {"network": account.network, "handle": account.handle, "server": account.server,
                  "secret_env": account.secret_env, "secret_file": account.secret_file, **account.options}
        lines += [f"{key} = {_value(value)}{_secret_state(account, key)}" for key, value in fields.items()
                  if value != ""]
    return lines


def print_settings(settings: Settings) -> int:
    print("\n".join(settings_lines(settings)))
    return 0
