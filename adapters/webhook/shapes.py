"""Webhook payloads into NewMention: what every shape shares.

The shapes themselves live in `generic_shape` (mentiondesk's generic JSON)
and `meta_shape` (Meta Graph webhooks). Pure functions of the decoded
JSON, no I/O. A payload whose envelope is
wrong raises ShapeError (the sender gets 400 and nothing is stored); an
item inside an accepted payload that is malformed is skipped with a reason
and the rest are kept. The generic shape is documented in docs/webhooks.md.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, overload

from store.db import iso
from store.records import NewMention
from store.sanitize import clean_line

NETWORK_PREFIX = "webhook:"
MAX_DEPTH = 64
MAX_ID = 1000
# Numbers at or above this are epoch milliseconds: as seconds they would be after year 5000.
_MILLIS_FROM = 100_000_000_000
_NETWORK_JUNK = re.compile(r"[^a-z0-9._-]+")
_NUMERIC = re.compile(r"-?\d+(\.\d+)?")
UNKNOWN_AUTHOR = "(unknown)"


class ShapeError(ValueError):
    """The payload as a whole is not the expected shape (answered 400)."""


class ItemError(ValueError):
    """One item cannot be used; it is skipped with this reason."""


@dataclass(frozen=True, slots=True)
class Parsed:
    mentions: list[NewMention] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def decode_json(body: bytes) -> Any:
    """The request body as JSON, strictly: UTF-8, no NaN/Infinity."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ShapeError("body is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ShapeError("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ShapeError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ShapeError:
        raise
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise ShapeError(f"malformed JSON: {str(exc).splitlines()[0][:200]}") from None


def _reject_constant(name: str) -> Any:
    raise ShapeError(f"malformed JSON: {name} is not a JSON number")


def scrub(value: Any, depth: int = 0) -> Any:
    """A copy that the store can always write.

    json.loads turns an escaped lone surrogate ("\\ud800") into a str that
    SQLite refuses to encode, which would fail the whole batch's commit;
    such characters become U+FFFD. Depth is bounded so nothing downstream
    recurses without limit.
    """
    if depth > MAX_DEPTH:
        raise ItemError(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        return scrub_str(value)
    if isinstance(value, dict):
        return {scrub_str(str(key)): scrub(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, depth + 1) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ItemError("contains a non-finite number")
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise ItemError(f"contains a {type(value).__name__}, not a JSON value")


def scrub_str(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def network_name(value: Any) -> str:
    """The sender's network name made safe: lowercase [a-z0-9._-], at most 32 characters."""
    if value is None:
        raise ItemError("missing network")
    if not isinstance(value, str):
        raise ItemError("network must be a string")
    name = value.strip().lower().removeprefix(NETWORK_PREFIX)
    name = _NETWORK_JUNK.sub("-", name).strip("-._")[:32].strip("-._")
    if not name:
        raise ItemError("network name is empty once reduced to [a-z0-9._-]")
    return name


def parse_time(value: Any, received_at: datetime) -> str:
    """ISO 8601 (offset or Z; none means UTC) or Unix epoch seconds, as UTC ISO.

    Missing means "now" (the time it was received). Numbers from 10^11 on
    are read as milliseconds.
    """
    if value is None:
        return iso(received_at)
    if isinstance(value, bool):
        raise ItemError("created_at must be ISO 8601 or epoch seconds, not a boolean")
    if isinstance(value, str) and _NUMERIC.fullmatch(value.strip()):
        value = float(value.strip())
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ItemError("created_at is not a finite number")
        try:
            seconds = value / 1000 if abs(value) >= _MILLIS_FROM else value
            return iso(datetime.fromtimestamp(seconds, UTC))
        except (OverflowError, OSError, ValueError):
            raise ItemError("created_at is out of range") from None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ItemError("created_at is not ISO 8601 or epoch seconds") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        try:
            return iso(moment)
        except (OverflowError, ValueError):
            raise ItemError("created_at is out of range") from None
    raise ItemError("created_at must be ISO 8601 or epoch seconds")


class IdError(ShapeError):
    """An id that would not be stored exactly as sent: the whole delivery is refused (400).

    Cleaning ids (trimming, NFC, dropping invisible characters) once
    collapsed distinct ids into one stored mention while every delivery was
    answered "accepted"; refusing makes the sender see the problem instead.
    """


def id_problem(text: str) -> str | None:
    """Why `text` cannot be stored byte for byte as an id, or None if it can."""
    if text != text.strip():
        return "has leading or trailing whitespace"
    if " ".join(text.split()) != text:
        return "contains tabs, line breaks or runs of spaces"
    if "\ufffd" in text or scrub_str(text) != text:
        # scrub() has already turned an unpaired surrogate into U+FFFD: two such ids would collide.
        return "contains U+FFFD or an unpaired surrogate (an id mangled before it was sent)"
    nfc = unicodedata.normalize("NFC", text)
    if clean_line(text, MAX_ID + 1) != nfc:
        return "contains control or invisible formatting characters (NUL, U+200E, ...)"
    if nfc != text:
        return "is not in Unicode normalisation form NFC"
    return None


@overload
def ident(value: Any, name: str, *, required: Literal[True] = True) -> str: ...
@overload
def ident(value: Any, name: str, *, required: Literal[False]) -> str | None: ...
def ident(value: Any, name: str, *, required: bool = True) -> str | None:
    """An id given as a string or an integer (Meta sends both), stored exactly as sent."""
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 10**MAX_ID:
            raise ItemError(f"{name} is longer than {MAX_ID} characters")
        value = str(value)
    if isinstance(value, str):
        if len(value) > MAX_ID:
            raise ItemError(f"{name} is longer than {MAX_ID} characters")
        if value:
            problem = id_problem(value)
            if problem:
                raise IdError(f"{name} {problem}: send ids exactly as the network gives them")
            return value
        if required:
            raise ItemError(f"{name} is empty")
        return None
    if value is None:
        if required:
            raise ItemError(f"missing {name}")
        return None
    if required:
        raise ItemError(f"{name} must be a string or an integer")
    return None


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def http_url(value: Any) -> str | None:
    """Only http(s) links: the console may open them."""
    if isinstance(value, str) and value.strip().lower().startswith(("https://", "http://")):
        return value.strip()
    return None


def finish(mention: NewMention) -> NewMention:
    cleaned = mention.cleaned()
    if not cleaned.author_handle:
        raise ItemError("author handle is empty once control characters are removed")
    return cleaned
