"""The one interface every network implements.

An adapter turns a network into `store.records.NewMention` batches and
sends replies. It gets everything it needs from its caller (account
settings, an `aiohttp.ClientSession` made inside the running loop, a
status callback) and never reads globals, config files or the database.

Life of a mention: `stream(cursor)` yields `Batch`es; the ingest runner
commits each batch's mentions *and* its cursor in one transaction, so a
crash between batches resumes exactly where the last commit ended, and a
replayed mention is a no-op (unique per network + remote id).

Life of a reply: the store commits it (with an idempotency key) before any
network call; the sender then calls `send_reply`. When a send's outcome is
unknown (timeout, crash between send and commit) the sender first asks
`find_reply` whether the post already exists, and adopts it if so.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

from adapters.budget import Budget, Rate
from store.account_settings import TextLimits
from store.records import NewMention
from store.sanitize import clean_line


@dataclass(frozen=True, slots=True)
class TextRule:
    """A network's length limit and how it counts."""

    limit: int
    counter: Callable[[str], int]
    description: str

    def count(self, text: str) -> int:
        return self.counter(text)

    def remaining(self, text: str) -> int:
        return self.limit - self.counter(text)


@dataclass(frozen=True, slots=True)
class Batch:
    """Mentions to store, and the cursor to store with them.

    `cursor` is where the stream resumes once these are committed; None
    keeps the stored one. `skipped` names items that could not be parsed,
    with the reason (the rest of the batch is kept).
    """

    mentions: list[NewMention]
    cursor: str | None = None
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ReplyRequest:
    """A reply to deliver, as committed in the outbox."""

    reply_id: int
    key: str  # idempotency key / record key chosen and stored before sending
    text: str
    network: str
    mention_remote_id: str
    author_handle: str
    reply_ref: dict[str, Any]
    mention_url: str | None = None


@dataclass(frozen=True, slots=True)
class SentReply:
    remote_id: str
    url: str | None = None


class CleanError(Exception):
    """An error whose message may quote a server, a config file or a file name.

    The message is cleaned once, here, when the error is made: it goes on to
    the console's top bar, `accounts check`, logs and the replies table.
    """

    def __init__(self, message: object = "", *args: object):
        super().__init__(clean_line(message, 500), *args)


class ReplyError(CleanError):
    """A send that did not succeed.

    `permanent` means retrying cannot help (a 4xx such as 404/422): the
    reply is marked failed with this message. Otherwise the sender retries
    with backoff, no sooner than `retry_after` seconds when given.
    `unknown_outcome` means the request may have reached the network.
    `not_sent` means it provably never did (connection refused, DNS
    failure, connect timeout): the sender waits for the network without
    counting the attempt, up to the operator's `reply_deadline`.
    """

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None,
                 unknown_outcome: bool = False, not_sent: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.unknown_outcome = unknown_outcome and not not_sent
        self.not_sent = not_sent


class ManualReply(CleanError):
    """This network has no way to post: the operator replies by hand."""


class ReplyNeedsCheck(ManualReply):
    """An earlier attempt may have posted this reply, but the network cannot say for sure.

    Raised by `find_reply`; the sender holds the reply for the operator
    (state 'manual', with this message) instead of risking a second post.
    """


class SourceState(enum.StrEnum):
    CONNECTING = "connecting"
    CATCHING_UP = "catching up"
    LIVE = "connected"
    RECONNECTING = "reconnecting"
    DEGRADED = "degraded"  # up, but refusing work it cannot complete (e.g. the store is stalled)
    RATE_LIMITED = "rate-limited"
    AUTH_FAILED = "auth failed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """What an adapter tells the operator about its connection.

    `detail` is one human line (e.g. "next try in 8s", "until 12:05:00Z");
    `until` is an ISO time for reconnect/rate-limit states.
    """

    state: SourceState
    detail: str = ""
    until: str | None = None


StatusCallback = Callable[[SourceStatus], None]


class Ingest(enum.StrEnum):
    """How mentions arrive."""

    STREAMING = "streaming"  # a connection the network pushes into
    POLLING = "polling"  # we ask every few seconds
    LISTENING = "listening"  # the network (or a bridge) posts to our own HTTP listener


class LimitFrom(enum.StrEnum):
    """Where a reply's length limit comes from."""

    NETWORK = "network"  # fixed by the network's rules (registry rule)
    SERVER = "server"  # each server announces its own; the leader stores it per account


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a network can do; the desk and the README read it instead of asking by name."""

    ingest: Ingest
    limit_from: LimitFrom
    #: how reply length is counted, in words for the operator
    counting: str
    #: whether `find_reply` can tell that a reply whose send outcome is unknown was posted,
    #: so the sender re-sends safely after a crash; False: sends are idempotent or held for the operator
    finds_replies: bool


class Adapter(abc.ABC):
    """Base class for a network adapter bound to one account."""

    #: network name stored with every mention ("mastodon", "bluesky", "demo", "webhook")
    network: str = ""
    #: the account's configured `rate` (registry.build sets it): a cap, and the pace when the server says none
    send_rate: Rate | None = None
    #: whether the stream may go on while its last batch commits: the runner then fetches the next batch and
    #: computes its signals meanwhile. False: the stream resumes once the batch is in (a webhook answers then).
    overlaps_commit: bool = False
    _budget: Budget | None = None

    def __init__(self, *, account: str, on_status: StatusCallback | None = None):
        self.account = account
        self._on_status = on_status or (lambda status: None)

    @property
    def source(self) -> str:
        """Key for this adapter's cursor and status rows."""
        return f"{self.network}:{self.account}"

    def bind_status(self, callback: StatusCallback) -> None:
        """Where status reports go (the runner binds its store writer)."""
        self._on_status = callback

    def bind_values(self, values: Any) -> None:  # noqa: B027 - optional hook; doing nothing is the right default
        """Where to keep per-account values across restarts (an `adapters.runtime.account_values.AccountValues`).

        The runner binds the database; adapters that keep nothing ignore it.
        """

    def send_rates(self) -> tuple[Rate, ...]:
        """Fixed allowances for replies (the configured rate; a network may add its documented ones)."""
        return (self.send_rate,) if self.send_rate is not None else ()

    def note_budget(self, budget: Budget | None) -> None:
        """What the server said of the posting budget in its answer to a send (the sender takes it)."""
        if budget is not None:
            self._budget = budget

    def take_budget(self) -> Budget | None:
        budget, self._budget = self._budget, None
        return budget

    def report(self, state: SourceState, detail: str = "", until: str | None = None) -> None:
        self._on_status(SourceStatus(state, detail, until))

    @property
    def max_request_time(self) -> float:
        """The longest one network call of `send_reply`/`find_reply` may take (seconds).

        The leader's lease must outlast it: a send starts only while the
        lease has more than this left. 0: the adapter makes no network calls (demo).
        """
        return 0.0

    def limit_request_time(self, seconds: float) -> None:  # noqa: B027 - optional hook; doing nothing is the right default
        """Make every request of this adapter end within `seconds` (scaled-down tests, tight leases)."""

    @property
    @abc.abstractmethod
    def capabilities(self) -> Capabilities:
        """What this network can do (see `Capabilities`)."""

    async def check(self) -> str | None:
        """Verify the account against the network: one line describing it, or raise a CleanError saying why not.

        None: nothing to verify remotely (the configuration was checked when loaded).
        """
        return None

    @property
    @abc.abstractmethod
    def text_rule(self) -> TextRule:
        """The reply length limit and its counting rule."""

    @property
    def text_limits(self) -> TextLimits | None:
        """The limit and counting rule learnt from the server, for processes without an adapter
        (the runner stores it per account); None when fixed or not known yet."""
        return None

    @abc.abstractmethod
    def stream(self, cursor: str | None) -> AsyncGenerator[Batch, None]:
        """New mentions from `cursor` on, forever (until cancelled)."""

    @abc.abstractmethod
    async def send_reply(self, request: ReplyRequest) -> SentReply:
        """Post `request.text` in reply; raise ReplyError or ManualReply."""

    async def find_reply(self, request: ReplyRequest) -> SentReply | None:
        """Look on the network for a reply already posted for `request`.

        Called before re-sending a reply whose earlier attempt has an
        unknown outcome. Returning None means "not found" and the sender
        sends again; adapters that cannot look must make send idempotent.
        """
        return None

    async def reset(self) -> None:
        """Before the runner streams again after a failure: drop what a fresh start must remake.

        By default everything (aclose); an adapter that serves (the webhook
        listener) keeps serving, so its port never refuses a sender meanwhile.
        """
        await self.aclose()

    async def aclose(self) -> None:  # noqa: B027 - optional hook; doing nothing is the right default
        """Release connections."""
