"""Bluesky: the errors of an XRPC call, one for an answer and one for no answer at all."""

from __future__ import annotations

from multidict import CIMultiDict

from adapters.base import CleanError
from store.sanitize import clean_line


class XrpcError(CleanError):
    """A non-2xx answer (or a 2xx that is not XRPC JSON). Messages are redacted and cleaned."""

    def __init__(self, status: int, error: str | None, message: str, headers: CIMultiDict | None = None,
                 *, xrpc: bool = True):
        # The server's words: callers quote `error` and `message` in their own messages.
        error, message = (clean_line(error, 100) if error is not None else None), clean_line(message, 300)
        if not xrpc:
            text = f"unexpected answer: {message}"
        else:
            text = f"{error}: {message}" if message else str(error)
        super().__init__(text)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers if headers is not None else CIMultiDict()
        self.xrpc = xrpc  # False: the answer did not look like an XRPC server's

    @property
    def auth_expired(self) -> bool:
        # The reference PDS says 400 ExpiredToken for an expired access token.
        return self.status == 401 or (self.status == 400 and self.error in ("ExpiredToken", "InvalidToken"))


class Unreachable(CleanError):
    """No HTTP answer. `maybe_sent`: the request may have reached the server."""

    def __init__(self, message: str, *, maybe_sent: bool):
        super().__init__(message)
        self.maybe_sent = maybe_sent
