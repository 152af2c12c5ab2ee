"""Operators' web passwords: scrypt hashes in a private TOML file (`web_users` in the settings).

scrypt (stdlib hashlib, OpenSSL's) is memory-hard, so a stolen file costs an
attacker memory as well as time per guess, and needs no extra dependency.
Each hash has its own random salt: two operators with one password get
different hashes, and no table precomputed for one file works on another.
The parameters are stored with each hash, so they can be raised later while
old hashes still verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from store.operators import OperatorNameError, check_operator

SCHEME = "scrypt"
# 16 MiB and ~50 ms per hash on a laptop: RFC 7914's interactive-login figures.
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
MIN_LENGTH = 12
MAX_LENGTH = 1024  # a longer "password" is a denial of service, not a secret


class PasswordFileError(Exception):
    """The password file cannot be used, in one line naming it and the fix."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, N, R, P)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify(password: str, encoded: str | None) -> bool:
    """Whether `password` matches; a missing or broken hash costs the same time and says no."""
    parsed = _parse(encoded) if encoded else None
    n, r, p, salt, expected = parsed or (N, R, P, b"\0" * SALT_BYTES, b"")
    if len(password) > MAX_LENGTH:
        password = ""
    key = _scrypt(password, salt, n, r, p)
    return hmac.compare_digest(key, expected) and parsed is not None  # constant time over the key


def password_problem(password: str) -> str | None:
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password must have at most {MAX_LENGTH} characters"
    return None


@dataclass(frozen=True)
class WebUsers:
    path: Path
    hashes: dict[str, str]  # operator name -> encoded hash


def read_users(path: Path) -> WebUsers:
    """The operators who may sign in; a missing file has none. Every problem is one line."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return WebUsers(path, {})
    except tomllib.TOMLDecodeError as exc:
        raise PasswordFileError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PasswordFileError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    operators = data.get("operators", {})
    if not isinstance(operators, dict) or set(data) - {"operators"}:
        raise PasswordFileError(f"{path}: expected only an [operators] table of name = \"scrypt$...\" "
                                "(write it with `mentiondesk web passwd NAME`)")
    hashes = {}
    for name, encoded in operators.items():
        try:
            name = check_operator(name)
        except OperatorNameError as exc:
            raise PasswordFileError(f"{path}: {exc}") from None
        if not isinstance(encoded, str) or _parse(encoded) is None:
            raise PasswordFileError(f"{path}: the hash of {name} is not a {SCHEME} hash "
                                    f"(set it again with `mentiondesk web passwd {name}`)")
        hashes[name] = encoded
    return WebUsers(path, hashes)


def write_users(users: WebUsers, hashes: dict[str, str]) -> None:
    """Replace the file at once (a reader never sees half of it), private to its owner."""
    users.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = users.path.with_name(f".{users.path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    try:
        with os.fdopen(fd, "wb") as file:
            tomli_w.dump({"operators": dict(sorted(hashes.items()))}, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, users.path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES,
                          maxmem=256 * 1024 * 1024)


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return None
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt, key = base64.urlsafe_b64decode(parts[4]), base64.urlsafe_b64decode(parts[5])
    except ValueError:
        return None
    # Bounds: a hand-edited file must not make one sign-in take minutes or gigabytes.
    if not (2**10 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16
            and len(salt) >= 8 and len(key) == KEY_BYTES and 128 * n * r * p <= 256 * 1024 * 1024):
        return None
    return n, r, p, salt, key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")
