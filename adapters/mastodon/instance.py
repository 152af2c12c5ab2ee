"""Who we are on the server and what it allows: identity, scopes, limits, streaming address.

Asked once per connection until known (`verify_credentials`, then
`/api/v2/instance` or `/api/v1/instance`); what a server does not say keeps
the defaults and is asked again next time. `InstanceFacts` is a mixin of
`MastodonAdapter`, which sets the attributes declared here.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from yarl import URL

from adapters.mastodon.parse import Identity, acct_of, text_id
from adapters.mastodon.rest import ApiError, RestClient
from adapters.wire import as_dict

DEFAULT_LIMIT = 500
DEFAULT_URL_WEIGHT = 23

VISIBILITY_RANK = {"public": 0, "unlisted": 1, "private": 2, "direct": 3}


class InstanceFacts(RestClient):
    """Identity and the server's limits, learnt from the server."""

    _me: Identity
    _default_visibility: str
    _verified: bool
    _identity_denied: bool
    _instance_loaded: bool
    _max_chars: int
    _url_weight: int
    _counting: str
    _software: str
    _stream_base: URL | None

    async def _verify(self, *, strict: bool = False) -> None:
        if self._verified or self._identity_denied and not strict:
            return
        try:
            data, _ = await self._call("GET", "api/v1/accounts/verify_credentials")
        except ApiError as exc:
            if exc.status == 403 and not strict:
                # Streaming works without our own id (the configured handle stands in); don't ask every poll.
                self._identity_denied = True
                return
            raise
        if not isinstance(data, dict):
            raise ApiError(200, "verify_credentials did not return an account", not_api=True)
        own_id, acct = text_id(data.get("id")), acct_of(data.get("acct"))
        if own_id is None or acct is None:
            raise ApiError(200, "verify_credentials returned an account without id/acct", not_api=True)
        self._me = replace(self._me, own_id=own_id, own_acct=acct.split("@")[0])
        source = data.get("source")
        privacy = source.get("privacy") if isinstance(source, dict) else None
        if privacy in VISIBILITY_RANK:
            self._default_visibility = privacy
        self._verified = True

    async def _probe_notifications(self) -> None:
        await self._call("GET", "api/v1/notifications", params=[("types[]", "mention"), ("limit", "1")])

    async def _check_app_scopes(self) -> None:
        try:
            data, _ = await self._call("GET", "api/v1/apps/verify_credentials")
        except ApiError as exc:
            if exc.status in (401,):
                raise
            return  # older servers: scopes unknown, the first reply will tell
        scopes = data.get("scopes") if isinstance(data, dict) else None
        if isinstance(scopes, list) and scopes and all(isinstance(s, str) for s in scopes):
            if not {"write", "write:statuses"} & set(scopes):
                raise ApiError(403, "the token has no write:statuses scope, so replies would fail")

    async def _load_instance(self) -> None:
        if self._instance_loaded:
            return
        v2: Any = None
        try:
            v2, _ = await self._call("GET", "api/v2/instance")
        except ApiError as exc:
            if exc.status in (401, 429):
                raise
        if isinstance(v2, dict) and v2.get("configuration") is not None:
            config = as_dict(v2.get("configuration"))
            self._apply_limits(as_dict(config.get("statuses")), v2)
            self._set_domain(v2.get("domain"))
            self._stream_base = self._streaming_url(as_dict(config.get("urls")).get("streaming"))
            self._instance_loaded = True
            return
        try:
            v1, _ = await self._call("GET", "api/v1/instance")
        except ApiError as exc:
            if exc.status in (401, 429):
                raise
            return  # defaults for now; asked again on the next connection
        if isinstance(v1, dict):
            self._apply_limits(as_dict(as_dict(v1.get("configuration")).get("statuses")), v1)
            self._set_domain(v1.get("uri"))
            self._stream_base = self._streaming_url(as_dict(v1.get("urls")).get("streaming_api"))
            self._instance_loaded = True

    def _apply_limits(self, statuses: dict[str, Any], top: dict[str, Any]) -> None:
        self._software, self._counting = _software_of(top)
        limit = _positive(statuses.get("max_characters")) or _positive(top.get("max_toot_chars"))
        if limit:
            self._max_chars = limit
        weight = statuses.get("characters_reserved_per_url")
        if isinstance(weight, int) and not isinstance(weight, bool) and 0 <= weight <= 10_000:
            self._url_weight = weight

    def _set_domain(self, value: object) -> None:
        if isinstance(value, str) and value.strip():
            given = value.strip()
            domain = URL(given).host if "://" in given else given.split("/")[0]
            if domain and re.fullmatch(r"[\w.-]+(?::\d{1,5})?", domain):
                self._me = replace(self._me, domain=domain.lower())

    def _streaming_url(self, value: object) -> URL | None:
        if not isinstance(value, str) or not value.strip():
            return None
        try:
            url = URL(value.strip())
        except ValueError:
            return None
        if url.scheme not in ("wss", "https", "ws", "http") or not url.host:
            return None
        if self._base.scheme == "https" and url.scheme in ("ws", "http"):
            return None  # never downgrade the token to plain text
        scheme = "https" if url.scheme in ("wss", "https") else "http"
        return url.with_scheme(scheme).with_path(url.path.rstrip("/")).with_query(None).with_fragment(None)


# How servers other than Mastodon count a status (their validators, read 2026):
# GoToSocial len([]rune(status)), Takahē the text with mentions expanded to
# their full acct, Pleroma/Akkoma String.length (graphemes); none weighs URLs.
_SOFTWARE_COUNTING = (("gotosocial", "codepoints"), ("takahe", "full_mentions"),
                      ("akkoma", "graphemes"), ("pleroma", "graphemes"))


def _software_of(instance: dict[str, Any]) -> tuple[str, str]:
    """(software name, counting rule) from what an instance document says it runs."""
    said = " ".join(v for v in (instance.get("version"), instance.get("source_url")) if isinstance(v, str))
    said = said.lower().replace("ē", "e")
    for name, counting in _SOFTWARE_COUNTING:
        if name in said:
            return name, counting
    return ("mastodon" if said else ""), "mastodon"


def _positive(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 10_000_000:
        return value
    return None
