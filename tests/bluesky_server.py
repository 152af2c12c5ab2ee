"""A small fake PDS speaking the real XRPC wire format, for adapter tests.

It is deliberately strict where a real PDS is (lexicon-shaped inputs,
limits, errors with `{"error", "message"}` bodies, 400 ExpiredToken for
an expired access token, a generic 500 when createRecord hits a taken
record key, keyset cursors for listNotifications) and lets tests inject
faults per method: an error answer, a dropped connection (before or after
the work is done), or an answer held until the test releases it.

It also plays the AppView the PDS proxies to, for what a sender checks
before replying: getPostThread and getPosts with the brand as viewer
(threadgates as `viewer.replyDisabled`, blocks as `blockedPost`, deleted
posts as 400 NotFound), and an account the PDS has lost (the reference
PDS: 400 "Could not find user info" on getSession/refreshSession, 500 on
everything else).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import regex
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import MultiDict

POST = "app.bsky.feed.post"
TID = re.compile(r"[234567a-j][234567abcdefghijklmnopqrstuvwxyz]{12}")
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
AT_URI = re.compile(r"at://[^/\s]+/[a-z][a-zA-Z0-9.-]+/[A-Za-z0-9._:~-]+")
DID = re.compile(r"did:[a-z]+:[A-Za-z0-9._:%-]+")
_B32 = "234567abcdefghijklmnopqrstuvwxyz"


def iso_ms(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tid_for(moment: datetime, clock_id: int = 0) -> str:
    value = ((int(moment.timestamp() * 1_000_000) & ((1 << 53) - 1)) << 10) | (clock_id & 1023)
    return "".join(_B32[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def fake_cid(data: Any) -> str:
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).digest()
    return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]


def make_jwt(sub: str, exp: datetime, scope: str) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return ".".join([part({"typ": "at+jwt", "alg": "ES256K"}),
                     part({"scope": scope, "sub": sub, "iat": int(exp.timestamp()) - 7200,
                           "exp": int(exp.timestamp()), "jti": secrets.token_hex(8)}),
                     secrets.token_urlsafe(32)])


# --- faults -------------------------------------------------------------------------

@dataclass
class Fail:
    """Answer with this status instead of doing the work."""

    status: int
    error: str | None = "InternalServerError"
    message: str = "Internal Server Error"
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a non-XRPC body (e.g. an HTML error page)
    content_type: str = "application/json"


@dataclass
class Drop:
    """Close the connection without an answer; `after_work`: do the work first (a crash-like loss)."""

    after_work: bool = False


@dataclass
class Hold:
    """Wait for `release` before answering; `entered`/`finished` mark the request's arrival and its work done."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class XrpcFail(Exception):
    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


@dataclass
class Logged:
    method: str
    nsid: str
    headers: dict[str, str]
    query: MultiDict
    body: Any
    at: datetime | None = None  # the server's clock when it arrived


@dataclass
class Account:
    did: str
    handle: str
    password: str
    display_name: str = ""


@dataclass
class StoredNotification:
    sort_at: datetime
    cid: str
    payload: Any


# --- lexicon checks (what a strict PDS rejects) ---------------------------------------------

def _strong_ref_problem(ref: Any, name: str) -> str | None:
    if not isinstance(ref, dict) or set(ref) - {"uri", "cid", "$type"}:
        return f"{name} must be a strongRef object"
    if not isinstance(ref.get("uri"), str) or not AT_URI.fullmatch(ref["uri"]):
        return f"{name}.uri must be an at-uri"
    if not isinstance(ref.get("cid"), str) or not ref["cid"]:
        return f"{name}.cid must be a cid"
    return None


def post_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return "Record must be an object"
    if record.get("$type") != POST:
        return "Record/$type must be app.bsky.feed.post"
    extra = set(record) - {"$type", "text", "createdAt", "facets", "reply", "embed", "langs", "labels", "tags"}
    if extra:
        return f"Record has unknown fields {sorted(extra)}"
    text = record.get("text")
    if not isinstance(text, str):
        return "Record/text must be a string"
    if len(text.encode("utf-8")) > 3000 or len(regex.findall(r"\X", text)) > 300:
        return "Record/text must not be longer than 300 graphemes"
    if not isinstance(record.get("createdAt"), str) or not DATETIME.fullmatch(record["createdAt"]):
        return "Record/createdAt must be a valid datetime"
    if "reply" in record:
        reply = record["reply"]
        if not isinstance(reply, dict) or set(reply) - {"root", "parent", "$type"}:
            return "Record/reply must have root and parent"
        for name in ("root", "parent"):
            problem = _strong_ref_problem(reply.get(name), f"Record/reply/{name}")
            if problem:
                return problem
    if "langs" in record:
        langs = record["langs"]
        if not isinstance(langs, list) or len(langs) > 3 or not all(isinstance(x, str) for x in langs):
            return "Record/langs must be up to 3 language tags"
    if "facets" in record:
        size = len(text.encode("utf-8"))
        facets = record["facets"]
        if not isinstance(facets, list):
            return "Record/facets must be an array"
        for i, facet in enumerate(facets):
            where = f"Record/facets/{i}"
            if not isinstance(facet, dict) or set(facet) - {"$type", "index", "features"}:
                return f"{where} must be a facet"
            index = facet.get("index")
            if not isinstance(index, dict) or set(index) != {"byteStart", "byteEnd"}:
                return f"{where}/index must have byteStart and byteEnd"
            start, end = index["byteStart"], index["byteEnd"]
            if type(start) is not int or type(end) is not int or not 0 <= start < end <= size:
                return f"{where}/index out of range"
            features = facet.get("features")
            if not isinstance(features, list) or not features:
                return f"{where}/features must be a non-empty array"
            for feature in features:
                kind = feature.get("$type") if isinstance(feature, dict) else None
                if kind == "app.bsky.richtext.facet#mention":
                    if set(feature) != {"$type", "did"} or not DID.fullmatch(str(feature["did"])):
                        return f"{where} mention must carry a DID"
                elif kind == "app.bsky.richtext.facet#link":
                    if set(feature) != {"$type", "uri"} or not isinstance(feature["uri"], str):
                        return f"{where} link must carry a uri"
                elif kind == "app.bsky.richtext.facet#tag":
                    if not isinstance(feature.get("tag"), str):
                        return f"{where} tag must carry a tag"
                else:
                    return f"{where} has an unknown feature"
    return None


# --- the server -----------------------------------------------------------------------

class FakePds:
    def __init__(self, clock: Callable[[], datetime] | None = None):
        self.clock = clock or (lambda: datetime.now(UTC))
        self.accounts: dict[str, Account] = {}
        self.handles: dict[str, str] = {}
        self.access: dict[str, tuple[str, datetime]] = {}
        self.refresh: dict[str, str] = {}
        self.records: dict[tuple[str, str, str], tuple[str, dict]] = {}
        self.notifications: dict[str, list[StoredNotification]] = defaultdict(list)
        self.requests: list[Logged] = []
        self.faults: dict[str, list[Fail | Drop | Hold]] = defaultdict(list)
        self.honour_reasons = True   # False: an AppView that ignores `reasons`
        self.reject_reasons = False  # True: an older AppView that refuses the parameter
        self.access_ttl = timedelta(hours=2)
        self.html_only = False       # True: not an XRPC server at all
        self.logins = 0
        self.refreshes = 0
        self.did_doc = False         # True: sessions carry a DID document naming this server as the PDS
        self.lost: set[str] = set()  # DIDs whose account this PDS has lost
        # The AppView, as the brand sees it: posts by uri, and who blocks whom.
        self.posts: dict[str, dict] = {}
        self.deleted: set[str] = set()
        self.gated_roots: set[str] = set()   # roots whose threadgate excludes the brand
        self.blocked_by: set[str] = set()    # DIDs that block the brand
        self.blocking: set[str] = set()      # DIDs the brand blocks
        self.not_found_shape = False         # True: a deleted anchor as a notFoundPost, not a 400
        # The PDS's write budget per DID, as xrpc-server states it: `write_points` points per fixed window of
        # `write_window` seconds, 3 a create, in RateLimit-* headers; over it, 429 RateLimitExceeded.
        self.write_points: int | None = None
        self.write_window = 3600
        self._writes: dict[str, tuple[datetime, int]] = {}
        self.refused_writes = 0
        self._server: TestServer | None = None
        self._handlers = {
            "com.atproto.server.createSession": self._create_session,
            "com.atproto.server.refreshSession": self._refresh_session,
            "com.atproto.server.getSession": self._get_session,
            "com.atproto.identity.resolveHandle": self._resolve_handle,
            "app.bsky.notification.listNotifications": self._list_notifications,
            "com.atproto.repo.createRecord": self._create_record,
            "com.atproto.repo.getRecord": self._get_record,
            "app.bsky.feed.getPostThread": self._get_post_thread,
            "app.bsky.feed.getPosts": self._get_posts,
        }

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/xrpc/{nsid}", self._dispatch)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    # -- test setup --------------------------------------------------------------------

    def add_account(self, handle: str, password: str = "", display_name: str = "") -> Account:
        did = "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]
        account = Account(did, handle, password, display_name)
        self.accounts[handle] = account
        self.handles[handle] = did
        return account

    def add_notification(self, to: str, payload: Any, sort_at: datetime, cid: str | None = None) -> None:
        given = payload.get("cid") if isinstance(payload, dict) else None
        stored = cid or (given if isinstance(given, str) else fake_cid([payload, sort_at.isoformat()]))
        self.notifications[self.accounts[to].did].append(StoredNotification(sort_at, stored, payload))

    def post_notification(self, to: str, *, author: str, text: str, at: datetime, reason: str = "mention",
                          reply: dict | None = None, facets: list | None = None, langs: list | None = None,
                          created_at: datetime | None = None, display_name: str = "",
                          clock_id: int = 0, embed: dict | None = None) -> dict:
        """Add a realistic notification of a post by `author`; returns its payload."""
        payload = self.add_post(author, text=text, at=at, reply=reply, facets=facets, langs=langs,
                                created_at=created_at, display_name=display_name, clock_id=clock_id, embed=embed)
        payload = {**payload, "reason": reason, "isRead": False}
        if reason in ("reply", "quote"):
            payload["reasonSubject"] = f"at://{self.accounts[to].did}/{POST}/{tid_for(at - timedelta(days=1))}"
        self.add_notification(to, payload, at)
        return payload

    def add_post(self, author: str, *, text: str, at: datetime, reply: dict | None = None,
                 facets: list | None = None, langs: list | None = None, created_at: datetime | None = None,
                 display_name: str = "", clock_id: int = 0, embed: dict | None = None) -> dict:
        """A post the AppView knows (for threads, quotes); returns it as a notification would carry it."""
        if author not in self.accounts:
            self.add_account(author, secrets.token_hex(8), display_name)
        actor = self.accounts[author]
        uri = f"at://{actor.did}/{POST}/{tid_for(created_at or at, clock_id)}"
        record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": iso_ms(created_at or at)}
        if langs is not None:
            record["langs"] = langs
        if reply is not None:
            record["reply"] = reply
        if facets is not None:
            record["facets"] = facets
        if embed is not None:
            record["embed"] = embed
        payload = {
            "uri": uri,
            "cid": fake_cid([uri, record]),
            "author": {"did": actor.did, "handle": actor.handle, "displayName": display_name or actor.display_name,
                       "avatar": "https://cdn.example/avatar.jpg", "labels": [],
                       "viewer": {"muted": False, "blockedBy": False}, "createdAt": "2023-04-01T00:00:00.000Z"},
            "record": record,
            "indexedAt": iso_ms(at),
            "labels": [],
        }
        self.posts[uri] = payload
        return payload

    def put_record(self, did: str, rkey: str, record: dict) -> str:
        cid = fake_cid(record)
        self.records[(did, POST, rkey)] = (cid, record)
        return cid

    def expire_access_tokens(self) -> None:
        now = self.clock()
        self.access = {token: (did, min(exp, now - timedelta(seconds=1))) for token, (did, exp) in self.access.items()}

    def revoke_refresh_tokens(self) -> None:
        self.refresh.clear()

    def lose_account(self, handle: str, *, recreate: bool = True) -> Account | None:
        """The PDS loses the account (a reset): its tokens still verify but name nobody.

        `recreate`: the operator made the account again (same handle and
        password, a new DID), so a new session works.
        """
        old = self.accounts.pop(handle)
        self.lost.add(old.did)
        self.handles.pop(handle, None)
        if not recreate:
            return None
        account = Account("did:plc:" + hashlib.sha256(f"{handle}#again".encode()).hexdigest()[:24], handle,
                          old.password, old.display_name)
        self.accounts[handle] = account
        self.handles[handle] = account.did
        self.notifications[account.did] = self.notifications[old.did]
        return account

    def calls(self, nsid: str) -> list[Logged]:
        return [logged for logged in self.requests if logged.nsid == nsid]

    # -- dispatch ----------------------------------------------------------------------

    async def _not_found(self, request: web.Request) -> web.Response:
        return web.Response(status=404, text="<html><body>Not Found</body></html>", content_type="text/html")

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        nsid = request.match_info["nsid"]
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.requests.append(Logged(request.method, nsid, dict(request.headers), MultiDict(request.query), body,
                                    self.clock()))
        if self.html_only:
            return await self._not_found(request)
        fault = self.faults[nsid].pop(0) if self.faults.get(nsid) else None
        if isinstance(fault, Hold):
            fault.entered.set()
            await fault.release.wait()
        if isinstance(fault, Fail):
            if fault.raw is not None:
                return web.Response(status=fault.status, body=fault.raw, content_type=fault.content_type,
                                    headers=fault.headers)
            error = {"error": fault.error, "message": fault.message} if fault.error else {}
            return web.json_response(error, status=fault.status, headers=fault.headers)
        if isinstance(fault, Drop) and not fault.after_work:
            _drop(request)
            return web.Response()
        handler = self._handlers.get(nsid)
        if handler is None:
            return web.json_response({"error": "MethodNotImplemented", "message": "Method Not Implemented"},
                                     status=501)
        limits: dict[str, str] = {}
        if nsid == "com.atproto.repo.createRecord" and self.write_points is not None:
            allowed, limits = self._spend_points(request, 3)
            if not allowed:
                return web.json_response({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                                         status=429, headers=limits)
        try:
            answer = web.json_response(await handler(request, body), headers=limits)
        except XrpcFail as fail:
            answer = web.json_response({"error": fail.error, "message": fail.message}, status=fail.status)
        if isinstance(fault, Drop):
            _drop(request)
        if isinstance(fault, Hold):
            fault.finished.set()
        return answer

    def _spend_points(self, request: web.Request, points: int) -> tuple[bool, dict[str, str]]:
        assert self.write_points is not None
        key = request.headers.get("Authorization", "")
        now = self.clock()
        start, spent = self._writes.get(key, (now, 0))
        if now >= start + timedelta(seconds=self.write_window):
            start, spent = now, 0
        allowed = spent + points <= self.write_points
        spent += points if allowed else 0
        self._writes[key] = (start, spent)
        self.refused_writes += not allowed
        reset = start + timedelta(seconds=self.write_window)
        return allowed, {"RateLimit-Limit": str(self.write_points),
                         "RateLimit-Remaining": str(self.write_points - spent),
                         "RateLimit-Reset": str(int(reset.timestamp())),
                         "RateLimit-Policy": f"{self.write_points};w={self.write_window}"}

    def _expect(self, request: web.Request, method: str) -> None:
        if request.method != method:
            raise XrpcFail(400, "InvalidRequest", f"Incorrect HTTP method ({request.method}) expected {method}")

    def _user(self, request: web.Request) -> Account:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise XrpcFail(401, "AuthMissing", "Authentication Required")
        token = header[len("Bearer "):]
        if token in self.refresh:
            raise XrpcFail(400, "InvalidToken", "Invalid token type")
        if token not in self.access:
            raise XrpcFail(401, "InvalidToken", "Token could not be verified")
        did, exp = self.access[token]
        if exp <= self.clock():
            raise XrpcFail(400, "ExpiredToken", "Token has expired")
        if did in self.lost:
            # Data calls for an account the PDS no longer has fail deep inside: a bare 500.
            if request.match_info["nsid"] == "com.atproto.server.getSession":
                raise XrpcFail(400, "InvalidRequest", f"Could not find user info for account: {did}")
            raise XrpcFail(500, "InternalServerError", "Internal Server Error")
        return next(account for account in self.accounts.values() if account.did == did)

    def _new_session(self, account: Account) -> dict:
        now = self.clock()
        access = make_jwt(account.did, now + self.access_ttl, "com.atproto.appPass")
        refresh = make_jwt(account.did, now + timedelta(days=90), "com.atproto.refresh")
        self.access[access] = (account.did, now + self.access_ttl)
        self.refresh[refresh] = account.did
        answer = {"accessJwt": access, "refreshJwt": refresh, "handle": account.handle, "did": account.did,
                  "active": True}
        if self.did_doc:
            answer["didDoc"] = {"id": account.did, "alsoKnownAs": [f"at://{account.handle}"],
                                "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                                             "serviceEndpoint": self.url}]}
        return answer

    # -- methods -----------------------------------------------------------------------

    async def _create_session(self, request: web.Request, body: Any) -> dict:
        self._expect(request, "POST")
        self.logins += 1
        if not isinstance(body, dict) or not isinstance(body.get("identifier"), str) \
                or not isinstance(body.get("password"), str):
            raise XrpcFail(400, "InvalidRequest", "Input must have the property \"identifier\"")
        identifier = body["identifier"].lower()
        account = self.accounts.get(identifier) or next(
            (a for a in self.accounts.values() if a.did == identifier), None)
        if account is None or account.password != body["password"]:
            raise XrpcFail(401, "AuthenticationRequired", "Invalid identifier or password")
        return self._new_session(account)

    async def _refresh_session(self, request: web.Request, body: Any) -> dict:
        self._expect(request, "POST")
        self.refreshes += 1
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer "):] if header.startswith("Bearer ") else ""
        did = self.refresh.pop(token, None)
        if did is None:
            raise XrpcFail(400, "ExpiredToken", "Token has been revoked")
        if did in self.lost:
            raise XrpcFail(400, "InvalidRequest", f"Could not find user info for account: {did}")
        account = next(a for a in self.accounts.values() if a.did == did)
        return self._new_session(account)

    async def _get_session(self, request: web.Request, body: Any) -> dict:
        self._expect(request, "GET")
        account = self._user(request)
        return {"handle": account.handle, "did": account.did, "active": True}

    async def _resolve_handle(self, request: web.Request, body: Any) -> dict:
        self._expect(request, "GET")
        handle = request.query.get("handle", "").lower()
        if handle not in self.handles:
            raise XrpcFail(400, "HandleNotFound", "Unable to resolve handle")
        return {"did": self.handles[handle]}

    async def _list_notifications(self, request: web.Request, body: Any) -> dict:
        self._expect(request, "GET")
        account = self._user(request)
        query = request.query
        unknown = set(query) - {"limit", "cursor", "reasons", "priority", "seenAt"}
        if unknown or (self.reject_reasons and "reasons" in query):
            raise XrpcFail(400, "InvalidRequest", f"Unexpected parameters: {sorted(unknown or {'reasons'})}")
        try:
            limit = int(query.get("limit", "50"))
        except ValueError:
            raise XrpcFail(400, "InvalidRequest", "limit must be an integer") from None
        if not 1 <= limit <= 100:
            raise XrpcFail(400, "InvalidRequest", "limit can not be greater than 100")
        items = sorted(self.notifications[account.did],
                       key=lambda n: (int(n.sort_at.timestamp() * 1000), n.cid), reverse=True)
        reasons = query.getall("reasons", [])
        if reasons and self.honour_reasons:
            items = [n for n in items if not isinstance(n.payload, dict) or n.payload.get("reason") in reasons]
        if "cursor" in query:
            try:
                millis, cid = query["cursor"].split("__")
                key = (int(millis), cid)
            except ValueError:
                raise XrpcFail(400, "InvalidRequest", "Malformed cursor") from None
            items = [n for n in items if (int(n.sort_at.timestamp() * 1000), n.cid) < key]
        page = items[:limit]
        answer: dict[str, Any] = {"notifications": [n.payload for n in page], "priority": False}
        if page:
            answer["cursor"] = f"{int(page[-1].sort_at.timestamp() * 1000)}__{page[-1].cid}"
        return answer

    async def _create_record(self, request: web.Request, body: Any) -> dict:
        self._expect(request, "POST")
        account = self._user(request)
        if not isinstance(body, dict):
            raise XrpcFail(400, "InvalidRequest", "Request body must be JSON")
        extra = set(body) - {"repo", "collection", "rkey", "validate", "record", "swapCommit"}
        if extra:
            raise XrpcFail(400, "InvalidRequest", f"Unexpected input fields {sorted(extra)}")
        if body.get("repo") not in (account.did, account.handle):
            raise XrpcFail(401, "AuthRequiredError", "Invalid repo")
        if body.get("collection") != POST:
            raise XrpcFail(400, "InvalidRequest", "this fake PDS only stores posts")
        rkey = body.get("rkey")
        if not isinstance(rkey, str) or not TID.fullmatch(rkey):
            raise XrpcFail(400, "InvalidRequest", "Invalid TID")
        problem = post_problem(body.get("record"))
        if problem:
            raise XrpcFail(400, "InvalidRequest", f"Invalid app.bsky.feed.post record: {problem}")
        if (account.did, POST, rkey) in self.records:
            # The reference PDS: the MST refuses the key and the error surfaces as a bare 500.
            raise XrpcFail(500, "InternalServerError", "Internal Server Error")
        cid = self.put_record(account.did, rkey, body["record"])
        return {"uri": f"at://{account.did}/{POST}/{rkey}", "cid": cid,
                "commit": {"cid": fake_cid([cid, "commit"]), "rev": tid_for(self.clock())},
                "validationStatus": "valid"}

    async def _get_record(self, request: web.Request, body: Any) -> dict:
        self._expect(request, "GET")
        query = request.query
        repo, collection, rkey = query.get("repo", ""), query.get("collection", ""), query.get("rkey", "")
        did = self.handles.get(repo, repo)
        found = self.records.get((did, collection, rkey))
        uri = f"at://{did}/{collection}/{rkey}"
        if found is None:
            raise XrpcFail(400, "RecordNotFound", f"Could not locate record: {uri}")
        return {"uri": uri, "cid": found[0], "value": found[1]}

    # -- the AppView, seen by the brand ------------------------------------------------------

    def _author_did(self, uri: str) -> str:
        return uri[len("at://"):].split("/")[0]

    def _block_view(self, uri: str) -> dict | None:
        did = self._author_did(uri)
        if did not in self.blocked_by and did not in self.blocking:
            return None
        viewer: dict[str, Any] = {"blockedBy": did in self.blocked_by}
        if did in self.blocking:
            viewer["blocking"] = f"at://did:plc:brand/app.bsky.graph.block/{tid_for(self.clock())}"
        return {"$type": "app.bsky.feed.defs#blockedPost", "uri": uri, "blocked": True,
                "author": {"did": did, "viewer": viewer}}

    def _post_view(self, uri: str) -> dict:
        payload = self.posts[uri]
        record = payload["record"]
        reply = record.get("reply") if isinstance(record.get("reply"), dict) else {}
        root = (reply.get("root") or {}).get("uri", uri)
        return {"uri": uri, "cid": payload["cid"], "author": payload["author"], "record": record,
                "replyCount": 0, "repostCount": 0, "likeCount": 0, "quoteCount": 0,
                "indexedAt": payload["indexedAt"], "labels": [],
                "viewer": {"threadMuted": False, "replyDisabled": root in self.gated_roots,
                           "embeddingDisabled": False}}

    async def _get_post_thread(self, request: web.Request, body: Any) -> dict:
        self._expect(request, "GET")
        self._user(request)
        query = request.query
        uri = query.get("uri", "")
        for name, default in (("depth", 6), ("parentHeight", 80)):
            try:
                value = int(query.get(name, default))
            except ValueError:
                raise XrpcFail(400, "InvalidRequest", f"{name} must be an integer") from None
            if not 0 <= value <= 1000:
                raise XrpcFail(400, "InvalidRequest", f"{name} out of range")
        if uri not in self.posts or uri in self.deleted:
            if self.not_found_shape:
                return {"thread": {"$type": "app.bsky.feed.defs#notFoundPost", "uri": uri, "notFound": True}}
            raise XrpcFail(400, "NotFound", f"Post not found: {uri}")
        blocked = self._block_view(uri)
        if blocked is not None:
            return {"thread": blocked}
        return {"thread": {"$type": "app.bsky.feed.defs#threadViewPost", "post": self._post_view(uri),
                           "replies": []}}

    async def _get_posts(self, request: web.Request, body: Any) -> dict:
        self._expect(request, "GET")
        self._user(request)
        uris = request.query.getall("uris", [])
        if len(uris) > 25:
            raise XrpcFail(400, "InvalidRequest", "uris must not have more than 25 elements")
        return {"posts": [self._post_view(uri) for uri in uris
                          if uri in self.posts and uri not in self.deleted and self._block_view(uri) is None]}


def _drop(request: web.Request) -> None:
    """Cut the connection (a transport already gone needs no cutting)."""
    if request.transport is not None:
        request.transport.close()


def bluesky_desk(pds: FakePds, tmp_path: Path) -> tuple[Account, str, Path]:
    """A brand account with one mention waiting, and a desk configured for it (password in
    TEST_BSKY_PASSWORD): what the real-process crash and fencing tests start `serve` on."""
    brand = pds.add_account("brand.test", "app-pass-1234")
    pds.post_notification("brand.test", author="ana.test", text="my order is late @brand.test",
                          at=datetime.now(UTC))
    config = tmp_path / "config.toml"
    config.write_text(f"""
[[accounts]]
network = "bluesky"
server = "{pds.url}"
handle = "brand.test"
secret_env = "TEST_BSKY_PASSWORD"
poll_interval = 0.2
""")
    return brand, str(tmp_path / "desk.db"), config
