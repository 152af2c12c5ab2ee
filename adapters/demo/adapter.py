"""The built-in demo network: a believable, endless stream of mentions of @brightloop.

Post number `seq` is a pure function of (seed, seq, rate, burst_every): its
timing, author, thread position and words all come from generators seeded
with those, never from what happened earlier in this process. So the same
seed and cursor always give the same stream, and a restart from a stored
cursor continues exactly where the last committed batch ended; threads
point at earlier seqs, which a restart has already stored. That timeline
lives in `timeline` (a base class); this module turns posts into mentions,
paces them, and takes replies.

Time is simulated with the injected `sleep` and `clock`: arrivals are a
Poisson process at `rate_per_minute`, and every `burst_every` seconds a
launch-day incident floods in at `burst_factor` times the rate. Replies
the operator sends land in the thread, and the person answered sometimes
answers back a little later; those answers take the place of a post no
thread depends on (a "leaf"), so seqs stay contiguous and resumable.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import re
import threading
import zlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from adapters.base import (
    Adapter,
    Batch,
    Capabilities,
    Ingest,
    LimitFrom,
    ReplyError,
    ReplyRequest,
    SentReply,
    SourceState,
    StatusCallback,
    TextRule,
)
from adapters.demo import content
from adapters.demo.timeline import SALT_FAIL, PostTimeline
from adapters.textcount import mastodon_length
from store import db
from store.records import NewMention

NETWORK = "demo"
# Rates at or above this many per minute are delivered in batches, one per tick.
BATCHING_RATE = 6000.0
MAX_BATCH = 2000
# After a pause longer than this (a suspended laptop), resume at the normal pace, not in a flood.
MAX_LAG_SECONDS = 10.0

_HASHTAG = re.compile(r"(?<![\w#])#(\w+)")
_MENTION = re.compile(r"(?<![\w@])@([\w.]+\w)")


@dataclass(frozen=True, slots=True)
class _Answer:
    """Someone answering the brand's reply."""

    text: str
    author: content.Author
    lang: str
    group: str
    parent_remote_id: str
    root_remote_id: str


class DemoAdapter(PostTimeline, Adapter):
    """A simulated network for demos and benchmarks; no account or connection needed."""

    network = NETWORK
    overlaps_commit = True  # its cursor is a post number: nothing waits for a commit to resume

    def __init__(self, *, account: str = "@brightloop", rate_per_minute: float = 40.0, seed: int = 7,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 clock: Callable[[], datetime] = db.utc_now, on_status: StatusCallback | None = None,
                 burst_every: float | None = 240.0, burst_factor: float = 10.0,
                 answer_chance: float = 0.65, reply_latency: float = 0.3, reply_failure_rate: float = 0.0,
                 batch_tick: float | None = None, flood: bool = False, flood_posts: int = 1200,
                 flood_rate: float = 20.0):
        """`burst_every` None or <= 0 turns incidents off; `answer_chance` is how often the
        person answered writes back; `reply_failure_rate` makes that share of sends fail
        transiently (to watch retries); `batch_tick` is the least time between batches
        (default: 0.05 s at rates of BATCHING_RATE and more, else one post per batch). `flood`
        starts a flood (a cancelled festival day: `flood_posts` posts at `flood_rate` a second,
        with the usual stream beside it) a few posts after the stream starts."""
        super().__init__(account=account, on_status=on_status)
        if not rate_per_minute > 0:
            raise ValueError("rate_per_minute must be positive")
        self.rate_per_minute = float(rate_per_minute)
        self.seed = seed
        self._sleep = sleep
        self._clock = clock
        self._per_second = self.rate_per_minute / 60.0
        self._bursts = bool(burst_every and burst_every > 0)
        self._burst_every = float(burst_every or 0.0)
        self._burst_factor = max(1.0, burst_factor)
        self._answer_chance = answer_chance
        self._reply_latency = reply_latency
        self._reply_failure_rate = reply_failure_rate
        if batch_tick is None:
            batch_tick = 0.05 if self.rate_per_minute >= BATCHING_RATE else 0.0
        self._tick = batch_tick
        self._brand = account if account.startswith("@") else f"@{account}"
        self._seed_bits = seed & 0xFFFFFFFF
        self._episodes = []
        self._episode_starts = []
        self._burst_lengths = {}
        self._flood_from = None
        self.next_seq = 1  # the next post the stream makes (a flood asked for now starts just after it)
        self._flood_wanted = flood
        self._flood_posts = flood_posts
        self._flood_rate = flood_rate
        self._post = lru_cache(maxsize=8192)(self._make_post)
        self._sent: dict[str, SentReply] = {}
        self._failures: dict[str, int] = {}
        self._answers: list[tuple[datetime, int, _Answer]] = []
        self._answers_lock = threading.Lock()
        self._answer_order = 0

    capabilities = Capabilities(Ingest.STREAMING, LimitFrom.NETWORK, "characters, links count 23",
                                finds_replies=True)

    @property
    def text_rule(self) -> TextRule:
        return TextRule(limit=500, counter=mastodon_length, description="500 characters, links count 23")

    # --- mentions ------------------------------------------------------------

    def _mention(self, n: int, created: datetime, answer: _Answer | None = None) -> NewMention:
        parent: str | None
        root: str | None
        if answer is not None:
            author, text, lang = answer.author, answer.text, answer.lang
            parent, root = answer.parent_remote_id, answer.root_remote_id
            kind = {"topic": "answer", "phase": "calm", "incident": None}
            reply_ref = {"seq": n, "thread": {"root": root, "lang": lang, "group": answer.group,
                                              "author": author.handle, "name": author.name}}
        else:
            post = self._post(n)
            author, text, lang = post.author, self._text(post), post.lang
            parent = f"demo:{post.parent}" if post.parent is not None else None
            root = f"demo:{post.root}" if post.root is not None else None
            kind = {"topic": post.topic, "phase": post.phase,
                    "incident": post.incident.key if post.incident else None}
            reply_ref = {"seq": n}
        url = f"https://demo.social/{author.handle}/{n}"
        stamp = db.iso(created)
        raw = {
            "id": str(n),
            "uri": url,
            "url": url,
            "created_at": stamp,
            "content": text,
            "language": lang,
            "visibility": "public",
            "in_reply_to_id": parent,
            "account": {
                "id": str(zlib.crc32(author.handle.encode())),
                "acct": author.handle[1:],
                "display_name": author.name,
                "url": f"https://demo.social/{author.handle}",
            },
            "tags": [{"name": tag} for tag in _HASHTAG.findall(text)],
            "mentions": [{"acct": handle} for handle in _MENTION.findall(text)],
            "demo": {**kind, "thread_root": root},
        }
        return NewMention(network=NETWORK, account=self.account, remote_id=f"demo:{n}",
                          author_handle=author.handle, author_name=author.name, text=text,
                          created_at=stamp, url=url, parent_remote_id=parent, root_remote_id=root,
                          lang=lang, reply_ref=reply_ref, raw=raw)

    def _next_mention(self, n: int, created: datetime) -> NewMention:
        with self._answers_lock:  # replies plan answers from the event loop meanwhile
            answer = (heapq.heappop(self._answers)[2]
                      if self._answers and self._answers[0][0] <= created and self._is_leaf(n) else None)
        if answer is not None:
            return self._mention(n, created, answer)
        return self._mention(n, created)

    async def stream(self, cursor: str | None) -> AsyncGenerator[Batch, None]:
        try:
            last = max(0, int(cursor)) if cursor else 0
        except ValueError:
            last = 0  # not ours; replaying from the start is harmless (remote ids are unique)
        self.report(SourceState.LIVE, f"simulated network, about {self.rate_per_minute:g} mentions a minute")
        if self._flood_wanted:
            self.start_flood(last + 4)
        start = self._clock()
        n = last + 1
        due = self._post(n).gap  # seconds after `start`
        while True:
            elapsed = (self._clock() - start).total_seconds()
            if elapsed - due > MAX_LAG_SECONDS:
                start += timedelta(seconds=elapsed - due)
                elapsed = due
            await self._sleep(max(due - elapsed, self._tick))
            elapsed = (self._clock() - start).total_seconds() + 1e-3  # absorb microsecond rounding
            if due > elapsed:
                continue
            # Making posts is CPU work (~0.1 ms each): at thousands a second it would stall
            # the event loop the console runs on, so it happens on a worker thread.
            mentions, n, due = await asyncio.to_thread(self._make_batch, n, due, elapsed, start)
            self.next_seq = n
            if mentions:
                yield Batch(mentions=mentions, cursor=str(n - 1))

    def start_flood(self, at_seq: int) -> None:
        """A flood from post `at_seq` on (a palette command or --demo-flood); posts already made stay as they were."""
        self._flood_wanted = False
        self._flood_from = at_seq
        self._post.cache_clear()  # type: ignore[attr-defined]

    def _make_batch(self, n: int, due: float, elapsed: float, start: datetime) -> tuple[list[NewMention], int, float]:
        mentions: list[NewMention] = []
        while due <= elapsed and len(mentions) < MAX_BATCH:
            mentions.append(self._next_mention(n, start + timedelta(seconds=due)))
            n += 1
            due += self._post(n).gap
        return mentions, n, due

    # --- replies -----------------------------------------------------------

    async def send_reply(self, request: ReplyRequest) -> SentReply:
        sent = self._sent.get(request.key)
        if sent is not None:
            return sent
        seq = self._mention_seq(request)
        length = mastodon_length(request.text)
        if seq is None:
            raise ReplyError(f"demo.social: no post {request.mention_remote_id!r} to reply to", permanent=True)
        if not request.text.strip():
            raise ReplyError("demo.social: a reply cannot be empty", permanent=True)
        if length > self.text_rule.limit:
            raise ReplyError(f"demo.social: reply is {length} characters, the limit is {self.text_rule.limit}",
                             permanent=True)
        attempt = self._failures.get(request.key, 0)
        if self._unit(zlib.crc32(f"{request.key}:{attempt}".encode()), SALT_FAIL) < self._reply_failure_rate:
            self._failures[request.key] = attempt + 1
            raise ReplyError("demo.social answered 503 Service Unavailable", retry_after=2.0)
        sent = SentReply(remote_id=f"demo:reply:{request.key}",
                         url=f"https://demo.social/{self._brand}/reply/{request.key}")
        # Posted from here on: a caller cancelled during the latency finds it with find_reply.
        self._sent[request.key] = sent
        self._plan_answer(request, seq, sent)
        if self._reply_latency > 0:
            await self._sleep(self._reply_latency)
        return sent

    async def find_reply(self, request: ReplyRequest) -> SentReply | None:
        return self._sent.get(request.key)

    @staticmethod
    def _mention_seq(request: ReplyRequest) -> int | None:
        given: object = request.reply_ref.get("seq") if isinstance(request.reply_ref, dict) else None
        if given is None:
            found = re.fullmatch(r"demo:(\d+)", request.mention_remote_id or "")
            given = found.group(1) if found else None
        if not isinstance(given, str | int | float):
            return None
        try:
            seq = int(given)
        except (TypeError, ValueError):
            return None
        return seq if seq >= 1 else None

    def _plan_answer(self, request: ReplyRequest, seq: int, sent: SentReply) -> None:
        """Maybe have the person answered write back within the minute."""
        rng = random.Random(f"{self.seed}:answer:{request.key}")
        if rng.random() >= self._answer_chance:
            return
        thread = request.reply_ref.get("thread") if isinstance(request.reply_ref, dict) else None
        if isinstance(thread, dict) and thread.get("root"):
            # Replying to an earlier answer: who and where come from its reply_ref.
            handle = str(thread.get("author") or request.author_handle)
            author = content.CAST_BY_HANDLE.get(handle) or content.Author(
                handle, str(thread.get("name") or ""), str(thread.get("lang") or "en"), 0.02, 0.3, False)
            lang, group, root = str(thread.get("lang") or author.lang), str(thread.get("group") or "care"), \
                str(thread["root"])
        else:
            post = self._post(seq)
            author, lang, group = post.author, post.lang, content.group_of(post.topic)
            root = f"demo:{post.root if post.root is not None else post.seq}"
        good = rng.random() < (0.6 if group == "care" else 0.85)
        text = content.answer_to_brand(rng, group, good, author, lang, self._brand)
        due = self._clock() + timedelta(seconds=rng.uniform(4.0, 60.0))
        with self._answers_lock:
            self._answer_order += 1
            heapq.heappush(self._answers, (due, self._answer_order,
                                           _Answer(text, author, lang, group, sent.remote_id, root)))
