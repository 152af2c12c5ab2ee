"""One structured log line per state change: `event=... key=value ...` for journald and grep.

Values with spaces or quotes are quoted; every value passes the store's
credential redaction, since error texts quote URLs and headers whole.
"""

from __future__ import annotations

import logging

from store.redact import redact_error


def _value(value: object) -> str:
    text = redact_error(str(value)) or ""
    text = text.replace("\n", " ").replace("\r", " ")
    if text == "" or any(c in text for c in ' "=\\'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def logline(event: str, **fields: object) -> str:
    parts = [f"event={event}"]
    parts += [f"{key}={_value(value)}" for key, value in fields.items() if value is not None]
    return " ".join(parts)


def log_state(logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: object) -> None:
    logger.log(level, "%s", logline(event, **fields))
