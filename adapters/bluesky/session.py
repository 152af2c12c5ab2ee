"""XRPC calls to one PDS under an app-password session.

createSession once, then refreshSession; the access token's `exp` is read
so it is renewed before it lapses, and an ExpiredToken/401 answer renews
and retries once. Error messages are redacted of the password and tokens
here, so nothing above this module can leak them into statuses or logs.

The session (refresh token, DID, PDS endpoint; never the password) is kept
in the account's values, so a restart refreshes it instead of calling
createSession, which bsky.social allows 30 times in 5 minutes: a process
restarted in a loop would lock itself out. Every rotation of the refresh
token is written back; a stored token the server refuses is dropped and a
new session created.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict

from adapters.bluesky.facets import is_handle
from adapters.bluesky.records import DID
from adapters.bluesky.xrpc_errors import Unreachable, XrpcError
from adapters.http import USER_AGENT, AuthError, read_capped, redact
from adapters.runtime.account_values import AccountValues, MemoryValues

log = logging.getLogger(__name__)

MAX_BODY = 8 * 1024 * 1024


# --- the session ----------------------------------------------------------------

@dataclass
class Session:
    did: str
    handle: str
    access: str = field(repr=False)
    refresh: str = field(repr=False)
    expires: datetime | None
    status: str | None = None
    pds: str | None = None  # the account's PDS (from the DID document), when the server named one


SESSION_KEY = "session"


def _pds_endpoint(did_doc: object) -> str | None:
    """The #atproto_pds service endpoint of a DID document, if it is an http(s) URL."""
    services = did_doc.get("service") if isinstance(did_doc, dict) else None
    for service in services if isinstance(services, list) else []:
        if not isinstance(service, dict):
            continue
        if str(service.get("id", "")).endswith("#atproto_pds") and service.get("type") == "AtprotoPersonalDataServer":
            endpoint = service.get("serviceEndpoint")
            if isinstance(endpoint, str) and urlsplit(endpoint).scheme in ("https", "http") \
                    and urlsplit(endpoint).hostname and len(endpoint) <= 500:
                return endpoint.rstrip("/")
    return None


def _jwt_expiry(token: str) -> datetime | None:
    """`exp` of a JWT, read without verifying (only to renew in time)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and not isinstance(exp, bool):
            return datetime.fromtimestamp(exp, UTC)
    except (IndexError, ValueError, AttributeError, binascii.Error, OverflowError, OSError):
        pass
    return None


class XrpcClient:
    """One account's XRPC exchanges with its PDS; `session` is None until signed in."""

    #: seconds one HTTP exchange may take
    request_timeout = 30.0
    #: renew the access token this long before its `exp`
    refresh_margin = timedelta(seconds=60)

    def __init__(self, *, account: str, pds: str, password: str, http: aiohttp.ClientSession,
                 clock: Callable[[], datetime], values: AccountValues | None = None):
        self.identifier = account.strip().lstrip("@")
        self.base = pds.strip().rstrip("/")
        self.host = urlsplit(self.base).hostname or self.base
        self._password = password
        self._http = http
        self._clock = clock
        self.values: AccountValues = values or MemoryValues()
        self.session: Session | None = None
        self._auth_lock = asyncio.Lock()
        # Recent tokens (older ones are dead), redacted from every message.
        self._tokens: dict[str, None] = {}

    def forget(self) -> None:
        """Drop the tokens held in memory; the stored session stays for the next start."""
        self.session = None

    def _remember(self, *tokens: str) -> None:
        for token in tokens:
            self._tokens[token] = None
        while len(self._tokens) > 16:
            del self._tokens[next(iter(self._tokens))]

    def redact(self, text: str) -> str:
        return redact(text, self._password, *self._tokens)

    def service(self) -> str:
        """Where data calls go: the account's own PDS when the session named one, else the configured server.

        An http endpoint is only followed from an http server (a local test
        network); an https server is never left for a plain-text one.
        """
        pds = self.session.pds if self.session is not None else None
        if pds and (pds.startswith("https://") or self.base.startswith("http://")):
            return pds
        return self.base

    # -- one exchange --------------------------------------------------------------

    async def request(self, method: str, nsid: str, *, params: list[tuple[str, str]] | None = None,
                      body: dict | None = None, token: str | None = None, base: str | None = None,
                      seen: CIMultiDict | None = None) -> dict:
        """One exchange; `seen`, when given, receives the answer's headers (its rate-limit budget)."""
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        try:
            async with self._http.request(method, f"{base or self.base}/xrpc/{nsid}", params=params, json=body,
                                          headers=headers, timeout=timeout, allow_redirects=False) as response:
                status, answer_headers = response.status, CIMultiDict(response.headers)
                if seen is not None:
                    seen.update(answer_headers)
                data = await read_capped(response.content, MAX_BODY, response.content_length)
        except TimeoutError:
            raise Unreachable(f"{self.host} did not answer within {self.request_timeout:g}s",
                              maybe_sent=True) from None
        except aiohttp.ClientConnectorError as exc:
            reason = getattr(exc.os_error, "strerror", None) or type(exc.os_error).__name__
            raise Unreachable(f"cannot connect to {self.host} ({reason})", maybe_sent=False) from None
        except aiohttp.ClientError as exc:
            raise Unreachable(f"connection to {self.host} failed ({type(exc).__name__})",
                              maybe_sent=True) from None
        if data is None:
            raise XrpcError(200, None, f"{nsid} over {MAX_BODY} bytes", xrpc=False)
        log.debug("%s %s -> %s", method, nsid, status)
        return self._decode(status, answer_headers, data)

    def _decode(self, status: int, headers: CIMultiDict, data: bytes) -> dict:
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        if 300 <= status < 400:
            where = self.redact(headers.get("Location", "?"))
            raise XrpcError(status, None, f"HTTP {status} redirect to {where}", headers, xrpc=False)
        if 200 <= status < 300:
            if parsed is None and not data:
                return {}
            if not isinstance(parsed, dict):
                kind = headers.get("Content-Type", "no content type").split(";")[0]
                raise XrpcError(status, None, f"HTTP {status} {kind}, not JSON", headers, xrpc=False)
            return parsed
        error = parsed.get("error") if isinstance(parsed, dict) else None
        message = parsed.get("message") if isinstance(parsed, dict) else None
        if not isinstance(error, str):
            kind = headers.get("Content-Type", "no content type").split(";")[0]
            raise XrpcError(status, None, f"HTTP {status} {kind} without an XRPC error", headers, xrpc=False)
        text = message if isinstance(message, str) else ""
        raise XrpcError(status, error[:100], self.redact(" ".join(text.split())[:300]), headers)

    # -- signing in ----------------------------------------------------------------

    def _session_from(self, body: dict) -> Session:
        access, refresh, did = body.get("accessJwt"), body.get("refreshJwt"), body.get("did")
        if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh
                and isinstance(did, str) and DID.fullmatch(did)):
            raise XrpcError(200, None, "a session without accessJwt, refreshJwt or did", xrpc=False)
        handle = body.get("handle")
        status = body.get("status") if isinstance(body.get("status"), str) else None
        if body.get("active") is False and status is None:
            status = "inactive"
        self._remember(access, refresh)
        return Session(did, handle if isinstance(handle, str) and is_handle(handle) else self.identifier,
                       access, refresh, _jwt_expiry(access), status, _pds_endpoint(body.get("didDoc")))

    # -- the stored session ------------------------------------------------------------

    async def _keep(self, session: Session) -> None:
        """Store the session so the next start refreshes it; a store problem only costs that."""
        value = json.dumps({"v": 1, "identifier": self.identifier, "server": self.base, "did": session.did,
                            "handle": session.handle, "refresh": session.refresh, "pds": session.pds})
        try:
            await self.values.put(SESSION_KEY, value)
        except Exception as exc:  # the database is busy or gone: the session still works in memory
            log.warning("could not keep the Bluesky session of @%s: %s", self.identifier, type(exc).__name__)

    async def _drop_kept(self) -> None:
        try:
            await self.values.delete(SESSION_KEY)
        except Exception as exc:
            log.warning("could not drop the Bluesky session of @%s: %s", self.identifier, type(exc).__name__)

    async def _kept_refresh(self) -> str | None:
        """The stored refresh token, if one was stored for this account on this server."""
        try:
            text = await self.values.get(SESSION_KEY)
        except Exception as exc:
            log.warning("could not read the Bluesky session of @%s: %s", self.identifier, type(exc).__name__)
            return None
        try:
            kept = json.loads(text) if text else None
        except ValueError:
            return None
        if not (isinstance(kept, dict) and kept.get("v") == 1 and kept.get("identifier") == self.identifier
                and kept.get("server") == self.base and isinstance(kept.get("refresh"), str) and kept["refresh"]):
            return None  # none, or another account/server's: the config changed
        self._remember(kept["refresh"])
        return kept["refresh"]

    async def _start(self) -> Session:
        """Resume the stored session (refreshSession), else create one (createSession)."""
        refresh = await self._kept_refresh()
        if refresh is not None:
            try:
                session = self._session_from(await self.request(
                    "POST", "com.atproto.server.refreshSession", token=refresh))
            except XrpcError as exc:
                if not (exc.xrpc and exc.status in (400, 401)):
                    raise  # the server is in trouble, not the token: keep it for the next try
                log.info("stored Bluesky session of @%s refused (%s); signing in", self.identifier, exc.error)
                await self._drop_kept()
            else:
                await self._keep(session)
                return session
        session = await self._login()
        await self._keep(session)
        return session

    async def _login(self) -> Session:
        try:
            body = await self.request("POST", "com.atproto.server.createSession",
                                      body={"identifier": self.identifier, "password": self._password})
        except XrpcError as exc:
            if exc.xrpc and exc.status in (400, 401, 403):
                raise await self._credentials_error(exc) from None
            raise
        return self._session_from(body)

    async def _credentials_error(self, exc: XrpcError) -> AuthError:
        who = f"@{self.identifier}"
        if exc.error == "AccountTakedown":
            message = f"account {who} has been taken down by its PDS"
        elif exc.error == "AuthFactorTokenRequired":
            message = (f"{who} has email sign-in codes on: this is the main password; "
                       "create an app password (Settings > App passwords) and use that")
        elif exc.status == 401:
            exists = await self._handle_exists()
            if exists is False:
                message = f"account {who} not found: the handle does not resolve"
            elif exists:
                message = f"wrong app password for {who} (or the account is not hosted on {self.host})"
            else:
                message = f"wrong handle or app password for {who}"
        else:
            message = f"{self.host} refused to sign in {who}: {exc}"
        return AuthError(self.redact(message))

    async def _handle_exists(self) -> bool | None:
        if not is_handle(self.identifier):
            return None
        try:
            return await self.resolve_handle(self.identifier) is not None
        except (XrpcError, Unreachable):
            return None

    async def signed_in(self) -> Session:
        session = self.session
        if session is None:
            async with self._auth_lock:
                if self.session is None:
                    self.session = await self._start()
            return self.session
        if session.expires is not None and session.expires - self.refresh_margin <= self._clock():
            await self._renew(session.access)
        assert self.session is not None
        return self.session

    async def _renew(self, stale_access: str) -> None:
        """Refresh the session (falling back to a new one) unless someone already did."""
        async with self._auth_lock:
            current = self.session
            if current is not None and current.access != stale_access:
                return
            if current is not None:
                try:
                    body = await self.request("POST", "com.atproto.server.refreshSession", token=current.refresh)
                    self.session = self._session_from(body)
                    await self._keep(self.session)
                    return
                except XrpcError as exc:
                    if not (exc.xrpc and exc.status in (400, 401)):
                        raise
            self.session = None
            self.session = await self._login()
            await self._keep(self.session)

    async def session_refusal(self) -> XrpcError | None:
        """Ask getSession whether the PDS still knows our session: its refusal, else None.

        getSession takes no input, so a 4xx here is about the session or the
        account (the reference PDS says 400 "Could not find user info" once
        it has lost the account). An expired access token is only renewed.
        """
        session = self.session
        if session is None:
            return None  # not signed in: the next call signs in anyway
        try:
            await self.request("GET", "com.atproto.server.getSession", token=session.access, base=self.service())
        except XrpcError as exc:
            if exc.xrpc and exc.error == "ExpiredToken":
                await self._renew(session.access)
                return None
            if exc.xrpc and exc.status in (400, 401, 403):
                return exc
            raise
        return None

    async def sign_in_again(self) -> None:
        """Drop the session (in memory and stored) and create a new one."""
        async with self._auth_lock:
            self.session = None
            await self._drop_kept()
            self.session = await self._login()
            await self._keep(self.session)

    async def authed(self, method: str, nsid: str, **kwargs: Any) -> dict:
        session = await self.signed_in()
        try:
            return await self.request(method, nsid, token=session.access, base=self.service(), **kwargs)
        except XrpcError as exc:
            if not exc.auth_expired:
                raise
        await self._renew(session.access)
        assert self.session is not None
        try:
            return await self.request(method, nsid, token=self.session.access, base=self.service(), **kwargs)
        except XrpcError as exc:
            if exc.auth_expired:
                raise AuthError(
                    self.redact(f"{self.host} rejected a fresh session for @{self.identifier}: {exc}")) from exc
            raise

    # -- identity ------------------------------------------------------------------

    async def resolve_handle(self, handle: str) -> str | None:
        """The handle's DID, None when the PDS says it does not resolve; network trouble raises."""
        try:
            body = await self.request("GET", "com.atproto.identity.resolveHandle", params=[("handle", handle)])
        except XrpcError as exc:
            if exc.status in (400, 404) and exc.xrpc:
                return None
            raise
        did = body.get("did")
        return did if isinstance(did, str) and DID.fullmatch(did) else None
