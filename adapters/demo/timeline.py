"""The demo network's timeline: what post number `seq` is, from the seed alone.

A base class of DemoAdapter. Every answer here (timing, thread position,
author, words) comes from generators seeded with (seed, seq, salt), never
from what happened earlier in this process, so a restart from a stored
cursor continues the same stream. Calm stretches alternate with incident
bursts laid out on demand.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from dataclasses import dataclass

from adapters.demo import content, flood_content

# Share of posts that nothing ever replies to; answers to the brand take their seqs.
LEAF_SHARE = 0.35
# Share of posts that continue an earlier thread rather than start one.
THREAD_SHARE = 0.28
MAX_DEPTH = 5

_FIRST_POST_TOPICS = ("refund", "delivery", "update", "battery", "case", "login", "billing",
                      "question", "praise", "buzz", "giveaway", "both")
_FIRST_POST_WEIGHTS = (6, 8, 6, 5, 4, 5, 4, 17, 14, 10, 9, 9)
_SALT_POST, _SALT_TEXT, _SALT_EPISODE, _SALT_LEAF, SALT_FAIL = range(5)
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class _Post:
    """What post `seq` is, decided from the seed and seq alone."""

    seq: int
    gap: float  # seconds since the previous post
    phase: str  # "calm", "burst" or "aftermath"
    topic: str  # a first-post topic, or "incident"
    incident: content.Incident | None
    author: content.Author
    lang: str
    parent: int | None
    root: int | None  # None: this post starts its thread
    depth: int


@dataclass(frozen=True, slots=True)
class _Episode:
    start: int  # first seq of its calm stretch
    burst_start: int
    end: int  # first seq of the next episode
    incident: content.Incident


class PostTimeline:
    """Posts, threads and bursts as pure functions of the seed; DemoAdapter sets the fields below."""

    rate_per_minute: float
    _seed_bits: int
    _per_second: float
    _bursts: bool
    _burst_every: float
    _burst_factor: float
    _brand: str
    _episodes: list[_Episode]
    _episode_starts: list[int]
    _burst_lengths: dict[int, float]
    _post: Callable[..., _Post]  # an lru_cache over _make_post
    _flood_from: int | None  # first seq of the demo flood (--demo-flood), if one was asked for
    _flood_posts: int
    _flood_rate: float  # posts per second during the flood

    # --- deterministic randomness ------------------------------------------

    def _rng(self, n: int, salt: int) -> random.Random:
        return random.Random((self._seed_bits << 72) | (salt << 64) | (n & _MASK64))

    def _unit(self, n: int, salt: int) -> float:
        """A cheap uniform [0, 1) from (seed, n, salt): splitmix64."""
        z = (self._seed_bits * 0xD1B54A32D192ED03 + n * 0x9E3779B97F4A7C15 + (salt << 56)) & _MASK64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return (z ^ (z >> 31)) / 2.0**64

    def _is_leaf(self, n: int) -> bool:
        return self._unit(n, _SALT_LEAF) < LEAF_SHARE

    # --- the shape of the stream --------------------------------------------

    def _episode(self, n: int) -> _Episode:
        """The calm-then-burst stretch holding seq `n`, laid out on demand."""
        while not self._episodes or self._episodes[-1].end <= n:
            index = len(self._episodes)
            start = self._episodes[-1].end if self._episodes else 1
            rng = self._rng(index, _SALT_EPISODE)
            burst = rng.randint(40, 150)
            # Calm long enough that bursts start about burst_every seconds apart.
            calm = max(1, round(self._per_second * self._burst_every - self._burst_length_in_gaps(burst)))
            episode = _Episode(start, start + calm, start + calm + burst, rng.choice(content.INCIDENTS))
            self._episodes.append(episode)
            self._episode_starts.append(start)
        return self._episodes[bisect.bisect_right(self._episode_starts, n) - 1]

    def _surge(self, i: int, length: int) -> float:
        """Rate multiplier for the i-th post of a burst: burst_factor at once, easing off
        (at 40 a minute, 40-150 posts take from half a minute to a minute and a half)."""
        return 1.0 + (self._burst_factor - 1.0) * (1.0 - i / length) ** 2

    def _burst_length_in_gaps(self, length: int) -> float:
        """How long a burst of `length` lasts, in mean calm gaps."""
        if length not in self._burst_lengths:
            self._burst_lengths[length] = sum(1.0 / self._surge(i, length) for i in range(length))
        return self._burst_lengths[length]

    def _phase(self, n: int) -> tuple[str, content.Incident | None, float]:
        """Where `n` falls: calm, a burst, the minute after one, or the flood; and its rate multiplier."""
        if self._flood_from is not None and self._flood_from <= n < self._flood_from + self._flood_posts:
            return "flood", None, max(1.0, self._flood_rate / self._per_second)
        if not self._bursts:
            return "calm", None, 1.0
        episode = self._episode(n)
        if n >= episode.burst_start:
            return "burst", episode.incident, self._surge(n - episode.burst_start, episode.end - episode.burst_start)
        index = bisect.bisect_right(self._episode_starts, n) - 1
        aftermath = min(round(self.rate_per_minute), (episode.burst_start - episode.start) // 2)
        if index > 0 and n < episode.start + aftermath:
            return "aftermath", self._episodes[index - 1].incident, 1.0
        return "calm", None, 1.0

    def _earlier_thread_post(self, n: int, rng: random.Random, reach: float) -> int | None:
        """A recent post that may be replied to (not a leaf), or None near the start."""
        candidate = n - 1 - int(rng.expovariate(1.0 / reach))
        while candidate >= 1 and self._is_leaf(candidate):
            candidate -= 1
        return candidate if candidate >= 1 else None

    def _make_post(self, n: int) -> _Post:
        rng = self._rng(n, _SALT_POST)
        phase, incident, surge = self._phase(n)
        burst = phase == "burst"
        gap = rng.expovariate(self._per_second * surge)
        if phase == "flood" and rng.random() < 0.85:  # the rest of the stream goes on beside it
            author = content.newcomer(rng)
            return _Post(n, gap, phase, "flood", None, author, author.lang, None, None, 0)
        parent = None
        if n > 1 and rng.random() < (0.2 if burst else THREAD_SHARE):
            parent = self._earlier_thread_post(n, rng, 8.0 if burst else 25.0)
        if parent is not None:
            above = self._post(parent)
            if above.depth >= MAX_DEPTH:
                parent, above = above.root, self._post(above.root)
            root = above if above.root is None else self._post(above.root)
            if rng.random() < 0.35:
                author = root.author
            elif rng.random() < (0.5 if burst else 0.2):
                author = content.newcomer(rng, root.lang)
            else:
                author = content.regular(rng, root.lang)
            return _Post(n, gap, phase, root.topic, root.incident, author, root.lang, parent, root.seq,
                         above.depth + 1)
        if burst or (phase == "aftermath" and rng.random() < 0.35):
            topic = "incident"
        else:
            incident = None
            if self._is_leaf(n) and rng.random() < 0.05:
                topic = "spam"  # a leaf: nobody ever answers spam
            else:
                topic = rng.choices(_FIRST_POST_TOPICS, weights=_FIRST_POST_WEIGHTS)[0]
        author = content.newcomer(rng) if rng.random() < (0.6 if burst else 0.22) else content.regular(rng)
        return _Post(n, gap, phase, topic, incident, author, author.lang, None, None, 0)

    def _text(self, post: _Post) -> str:
        rng = self._rng(post.seq, _SALT_TEXT)
        if post.topic == "flood":
            return flood_content.flood_post(rng, post.seq)[1]
        if post.parent is not None:
            root = self._post(post.root)
            above = self._post(post.parent)
            who = "self" if post.author.handle == root.author.handle else "other"
            answering = "" if above.author.handle == post.author.handle else above.author.handle
            # An incident thread has its own voice (it is minutes old, everyone has it).
            group = "incident" if post.topic == "incident" else content.group_of(post.topic)
            return content.thread_post(rng, group, who, post.author, post.lang, self._brand, answering)
        if post.incident is not None:
            return content.incident_post(rng, post.incident, post.author, post.lang, self._brand)
        friend = content.regular(rng).handle
        if friend == post.author.handle:
            friend = content.CAST[0].handle if friend != content.CAST[0].handle else content.CAST[1].handle
        return content.first_post(rng, post.topic, post.author, post.lang, self._brand, friend)
