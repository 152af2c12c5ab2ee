"""Credentials out of every error string the store keeps.

Errors come from libraries that quote URLs and headers whole: a
malformed `outbound_url` with `user:pass@` or `?token=` would otherwise
end up in replies.error, source_status.detail, the event log and so in
`export`. Everything the store records as an error passes through here.
"""

from __future__ import annotations

import re

MASK = "***"

# scheme://user:pass@host or scheme://token@host  ->  scheme://***@host
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]+@")
# ?token=... &access_token=... password=... secret=... api_key=... (query strings and prose alike)
_PARAM = re.compile(
    r"(?i)\b((?:access_|refresh_|id_|auth_)?token|password|passwd|pwd|secret|client_secret|api_?key|sig|signature)"
    r"(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s&#,;'\")]+)")
# Authorization: Bearer abc / Basic abc, and a bare "Bearer abc"
_AUTH = re.compile(r"(?i)\b(authorization\s*[:=]\s*['\"]?)(?:(bearer|basic|token)\s+)?[^\s'\",;]+")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}")


def redact_error(text: str | None) -> str | None:
    """`text` with credentials in URLs, query parameters and auth headers masked."""
    if not text:
        return text
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    text = _AUTH.sub(lambda m: f"{m.group(1)}{(m.group(2) + ' ') if m.group(2) else ''}{MASK}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


def redact_detail(detail: dict) -> dict:
    """An event's detail with every string value redacted."""
    return {key: redact_error(value) if isinstance(value, str) else value for key, value in detail.items()}
