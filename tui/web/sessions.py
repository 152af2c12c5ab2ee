"""Who is signed in (random tokens, in memory), sign-in form tokens, and the brake on guessing.

Sessions live only in the server's memory: restarting `mentiondesk web` signs
everyone out, and nothing on disk can be stolen to sign in. The clock is
injected so tests move time without sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

SESSION_SECONDS = 12 * 3600.0  # a shift; then sign in again
MAX_FAILURES = 5  # wrong passwords allowed per window, per address and per operator
FAILURE_WINDOW = 300.0
MAX_TRACKED = 10_000  # addresses and names remembered at once (a flood of them must not grow memory)


@dataclass
class Session:
    token: str
    operator: str
    expires: float  # on the sessions' clock


class Sessions:
    def __init__(self, clock: Callable[[], float] = time.monotonic, lifetime: float = SESSION_SECONDS) -> None:
        self._clock = clock
        self._lifetime = lifetime
        self._by_token: dict[str, Session] = {}

    def start(self, operator: str) -> Session:
        self._forget_expired()
        session = Session(secrets.token_urlsafe(32), operator, self._clock() + self._lifetime)
        self._by_token[session.token] = session
        return session

    def find(self, token: str | None) -> Session | None:
        """The live session for a cookie's token. The lookup is a dict's (by hash, not by comparing
        characters one by one), so its time tells nothing about how close a guess was."""
        session = self._by_token.get(token) if token else None
        if session is None:
            return None
        if session.expires <= self._clock():
            del self._by_token[session.token]
            return None
        return session

    def end(self, token: str | None) -> Session | None:
        return self._by_token.pop(token, None) if token else None

    def seconds_left(self, session: Session) -> float:
        return max(0.0, session.expires - self._clock())

    def _forget_expired(self) -> None:
        now = self._clock()
        for token in [token for token, session in self._by_token.items() if session.expires <= now]:
            del self._by_token[token]


class FormTokens:
    """CSRF for the sign-in and sign-out forms: the form carries an HMAC of a random cookie value.

    A page on another site can neither read the cookie (HttpOnly, SameSite=Strict) nor compute
    the HMAC without the server's key, which is made fresh at every start.
    """

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    @staticmethod
    def new_cookie() -> str:
        return secrets.token_urlsafe(32)

    def for_form(self, cookie: str, purpose: str) -> str:
        return hmac.new(self._key, f"{purpose}:{cookie}".encode(), hashlib.sha256).hexdigest()

    def valid(self, cookie: str | None, purpose: str, sent: str | None) -> bool:
        if not cookie or not sent:
            return False
        return hmac.compare_digest(self.for_form(cookie, purpose), sent)


class Brake:
    """At most MAX_FAILURES wrong passwords per FAILURE_WINDOW for one address and for one operator.

    Keyed by both: one address cannot try many names, and many addresses cannot
    try one name. Once braked, even the right password is refused until the window
    has passed, so a guess that happens to be right tells the guesser nothing.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def wait(self, *keys: str) -> float:
        """Seconds before these keys may try again (0: now)."""
        now = self._clock()
        waits = [0.0]
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= MAX_FAILURES:
                waits.append(times[0] + FAILURE_WINDOW - now)
        return max(waits)

    def failed(self, *keys: str) -> None:
        now = self._clock()
        if len(self._failures) >= MAX_TRACKED:
            self._prune(now)
        for key in keys:
            times = self._recent(key, now)
            times.append(now)
            while len(times) > MAX_FAILURES:
                times.popleft()
            self._failures[key] = times

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] + FAILURE_WINDOW <= now:
            times.popleft()
        return times

    def _prune(self, now: float) -> None:
        for key in [key for key, times in self._failures.items() if not self._recent(key, now)]:
            del self._failures[key]
        while len(self._failures) >= MAX_TRACKED:  # still full: drop the oldest entries
            del self._failures[next(iter(self._failures))]
