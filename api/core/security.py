"""Password hashing (argon2id), signed access tokens (HS256, pinned) and API keys."""

import asyncio
import hashlib
import hmac
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ALGORITHM = "HS256"
KEY_PREFIX = "sv"
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# A real hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
# Argon2 takes ~100 ms of one core and 64 MiB per call (it releases the GIL): it runs beside
# the event loop, one call at a time per process, so a spray of sign-ins queues here instead of
# taking the CPU from the loop. Measured, 2 workers, 50 parallel sign-ins: /healthz p99 33 ms
# with one thread, 64 ms with two.
_HASHING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="argon2")


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; spends the same work when there is no user."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    """`hash_password` in a worker thread, so the event loop keeps serving."""
    return await asyncio.get_running_loop().run_in_executor(_HASHING, hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """`verify_password` in a worker thread, so the event loop keeps serving."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_HASHING, verify_password, password_hash, password)


def create_token(*, secret: str, username: str, minutes: int) -> tuple[str, int]:
    """A signed access token for `username` and its lifetime in seconds."""
    now = datetime.now(UTC)
    claims = {"sub": username, "iat": now, "exp": now + timedelta(minutes=minutes), "typ": "access"}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), minutes * 60


# Tokens whose signature was verified, with their subject and expiry: a request's token is
# read by the rate limiter, the policy and the access log, and a client sends the same one
# for its whole lifetime. Expiry is checked on every read; the secret is part of the key.
_VERIFIED: dict[tuple[str, str], tuple[str, float]] = {}
_VERIFIED_MAX = 10_000


def read_token(token: str, *, secret: str) -> str | None:
    """The username of a valid, unexpired access token, else None."""
    known = _VERIFIED.get((token, secret))
    if known is not None:
        username, expires = known
        return username if time.time() < expires else None
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "iat", "sub"]}
        )
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != "access" or not isinstance(claims.get("sub"), str):
        return None
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[(token, secret)] = (str(claims["sub"]), float(claims["exp"]))
    return str(claims["sub"])


@dataclass(frozen=True)
class NewKey:
    """A freshly made API key: shown once, then only its hash is kept."""

    key: str
    prefix: str
    key_hash: str


def new_api_key() -> NewKey:
    """A random key `sv_<prefix>_<secret>` (256 bits of secret)."""
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(key=key, prefix=prefix, key_hash=hash_key(key))


def hash_key(key: str) -> str:
    """SHA-256 of a key (keys are high-entropy, so a fast hash is enough)."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str | None:
    """The look-up prefix of a key, or None when it is not shaped like one of ours."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 8:
        return None
    return parts[1]


def same_hash(stored: str, key: str) -> bool:
    """Constant-time comparison of a stored hash with a presented key's hash."""
    return hmac.compare_digest(stored.encode(), hash_key(key).encode())
