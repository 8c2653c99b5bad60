"""Who a request counts as for rate limits and idempotency keys, without a database trip."""

import hashlib

from starlette.datastructures import Headers
from starlette.types import Scope

from api.core.security import read_token


def credential_of(scope: Scope, *, secret: str) -> str:
    """`user:<name>` for a valid bearer token, `key:<digest>` for an API key, else
    `addr:<client address>` (an invalid token counts as anonymous)."""
    headers = Headers(scope=scope)
    auth_scheme, _, token = headers.get("authorization", "").partition(" ")
    if auth_scheme.lower() == "bearer" and token.strip():
        username = read_token(token.strip(), secret=secret)
        if username:
            return f"user:{username}"
    key = headers.get("x-api-key", "").strip()
    if key:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"addr:{client_address(scope)}"


def client_address(scope: Scope) -> str:
    """The peer's address as the server saw it ('-' when unknown)."""
    client = scope.get("client")
    return str(client[0]) if client else "-"
