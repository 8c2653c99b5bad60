"""Idempotency-Key on writes (SPEC §9 "Retries are safe"), as pure ASGI middleware.

A write under /api/v1 sent with `Idempotency-Key` is reserved in `idempotency_record`
(unique per caller and key) before it runs, and its answer is stored after it ran, each in
a short transaction of its own; a repeat with the same method, path and body gets the
stored answer back (marked `Idempotent-Replayed: true`) without the work being done again.
Only 2xx and 4xx answers are kept: after a 5xx (or a crash) the reservation is deleted,
so the retry does the work.
"""

import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from tempfile import SpooledTemporaryFile
from typing import Any, Literal

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.problems import FieldError
from api.infra.settings import Settings
from api.web.credentials import credential_of
from api.web.errors import problem_response
from models.base import table_of, utcnow
from models.operations import IdempotencyRecord

log = logging.getLogger("smartvillage.idempotency")
RECORD: Table = table_of(IdempotencyRecord)
WRITES = frozenset({"PUT", "POST", "PATCH", "DELETE"})
PREFIX = "/api/v1/"
# Answers that carry a secret (access tokens, new API keys) are never written down.
SECRET_ANSWERS = ("/api/v1/auth/", "/api/v1/api-keys")
KEPT_HEADERS = frozenset(
    {"content-type", "etag", "location", "content-location", "last-modified", "retry-after"}
)
NOT_KEPT_STATUSES = frozenset({408, 429})  # about the moment, not about the request
MAX_STORED_BODY = 1024 * 1024
STALE_AFTER = timedelta(seconds=60)  # a 'running' record this old lost its worker
PURGE_EVERY_SECONDS = 600.0
CHUNK = 64 * 1024
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


@dataclass
class Answer:
    """A response as sent: status, headers and the whole body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


Refusal = Literal["mismatch", "in_use"]


@dataclass
class Spooled:
    """The request body, read once for its digest and replayed to the app from here."""

    file: Any
    complete: bool
    digest: str = ""


@dataclass
class Capture:
    """The app's answer, held back (up to the cap) until it is stored."""

    send: Send
    start: Message | None = None
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    passed_through: bool = False

    async def __call__(self, message: Message) -> None:
        if self.passed_through:
            await self.send(message)
        elif message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            self.size += len(self.chunks[-1])
            if self.size > MAX_STORED_BODY:
                await self.release(more_body=message.get("more_body", False))

    async def release(self, *, more_body: bool = False) -> None:
        """Send what was held back; later messages go straight through."""
        self.passed_through = True
        if self.start is not None:
            body = {"type": "http.response.body", "body": b"".join(self.chunks)}
            await self.send(self.start)
            await self.send(body | {"more_body": more_body})

    def answer(self) -> Answer | None:
        if self.passed_through or self.start is None:
            return None
        headers = [(bytes(k), bytes(v)) for k, v in self.start.get("headers", [])]
        return Answer(self.start["status"], headers, b"".join(self.chunks))


def is_storable(answer: Answer) -> bool:
    """2xx and 4xx answers are replayed; 5xx (and momentary 4xx) are done again."""
    if answer.status in NOT_KEPT_STATUSES:
        return False
    return 200 <= answer.status < 300 or 400 <= answer.status < 500


class IdempotencyMiddleware:
    """Replays the first answer to a repeated write with the same `Idempotency-Key`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.next_purge = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        keys = _keys_of(scope)
        if keys is None:
            await self.app(scope, receive, send)
            return
        settings: Settings = scope["app"].state.settings
        if len(keys) != 1 or not _KEY.fullmatch(keys[0]):
            await _problem(scope, settings, "invalid")(scope, receive, send)
            return
        spooled = await _spool(receive, limit=max(settings.max_body, settings.max_import))
        try:
            await self._handle(scope, _replay_body(spooled, receive), send, spooled, keys[0])
        finally:
            spooled.file.close()

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, spooled: Spooled, key: str
    ) -> None:
        if not spooled.complete:  # too big for any route: the body limit answers it
            await self.app(scope, receive, send)
            return
        settings: Settings = scope["app"].state.settings
        caller = credential_of(scope, secret=settings.signing_secret())
        engine: AsyncEngine = scope["app"].state.engine
        await self._maybe_purge(engine, settings)
        try:
            digest = request_hash(scope, spooled.digest)
            outcome = await _reserve(engine, caller, key, digest, settings)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("idempotency reservation failed: %s", exc)
            await _problem(scope, settings, "unavailable")(scope, receive, send)
            return
        if isinstance(outcome, int):
            await self._run(scope, receive, send, engine, outcome)
        elif isinstance(outcome, Answer):
            await _replay(outcome, send)
        else:
            await _problem(scope, settings, outcome)(scope, receive, send)

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, engine: AsyncEngine, record_id: int
    ) -> None:
        capture = Capture(send)
        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await _forget(engine, record_id)
            if not capture.passed_through and capture.start is not None:
                await capture.release(more_body=True)  # cut short: the server aborts it
            raise
        answer = capture.answer()
        if answer is not None and is_storable(answer):
            await _store(engine, record_id, answer)
        else:
            await _forget(engine, record_id)
        await capture.release()

    async def _maybe_purge(self, engine: AsyncEngine, settings: Settings) -> None:
        """Now and then (every few minutes per worker) drop records past their lifetime."""
        if time.monotonic() < self.next_purge:
            return
        self.next_purge = time.monotonic() + PURGE_EVERY_SECONDS
        cutoff = utcnow() - timedelta(hours=settings.idempotency_hours)
        try:
            async with engine.begin() as conn:
                await conn.execute(delete(RECORD).where(RECORD.c.created_at < cutoff))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("idempotency purge failed: %s", exc)


def _keys_of(scope: Scope) -> list[str] | None:
    """The request's Idempotency-Key values, or None when idempotency does not apply."""
    if scope["type"] != "http" or scope["method"] not in WRITES:
        return None
    path: str = scope["path"]
    if not path.startswith(PREFIX) or path.startswith(SECRET_ANSWERS):
        return None
    keys = Headers(scope=scope).getlist("idempotency-key")
    return keys or None


async def _spool(receive: Receive, *, limit: int) -> Spooled:
    """Read the body (up to `limit` bytes) into a spool file, hashing it on the way."""
    spool: Any = SpooledTemporaryFile(max_size=MAX_STORED_BODY)  # noqa: SIM115 — kept open
    hasher = hashlib.sha256()
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk: bytes = message.get("body", b"")
        hasher.update(chunk)
        spool.write(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            spool.seek(0)
            return Spooled(spool, complete=True, digest=hasher.hexdigest())
        if size > limit:
            break
    spool.seek(0)
    return Spooled(spool, complete=False)


def _replay_body(spooled: Spooled, receive: Receive) -> Receive:
    """A `receive` that gives the app the spooled body, then what the client sends next."""
    finished = False

    async def replaying() -> Message:
        nonlocal finished
        if finished:
            return await receive()
        chunk = spooled.file.read(CHUNK)
        if len(chunk) == CHUNK or not spooled.complete:
            if chunk:
                return {"type": "http.request", "body": chunk, "more_body": True}
            finished = True
            return await receive()
        finished = True
        return {"type": "http.request", "body": chunk, "more_body": False}

    return replaying


def request_hash(scope: Scope, body_digest: str) -> str:
    """What makes two requests "the same": method, path, query string and body."""
    query = scope.get("query_string", b"").decode("latin-1")
    text = "\n".join((scope["method"], scope["path"], query, body_digest))
    return hashlib.sha256(text.encode()).hexdigest()


async def _reserve(
    engine: AsyncEngine, caller: str, key: str, digest: str, settings: Settings
) -> int | Answer | Refusal:
    """Claim (caller, key) for this request: its record id, the stored answer, or a refusal."""
    for _attempt in range(2):
        try:
            async with engine.begin() as conn:
                inserted = await conn.execute(
                    insert(RECORD).values(
                        caller=caller,
                        key=key,
                        request_hash=digest,
                        state="running",
                        created_at=utcnow(),
                    )
                )
                primary_key = inserted.inserted_primary_key
                assert primary_key is not None
                return int(primary_key[0])
        except IntegrityError:
            pass
        outcome = await _claim_existing(engine, caller, key, digest, settings)
        if outcome is not None:
            return outcome
    return "in_use"


async def _claim_existing(
    engine: AsyncEngine, caller: str, key: str, digest: str, settings: Settings
) -> int | Answer | Refusal | None:
    """Decide on the record already there (None when it vanished meanwhile); an expired
    record, or one left 'running' by a worker that died, is taken over."""
    where = (RECORD.c.caller == caller, RECORD.c.key == key)
    async with engine.begin() as conn:
        row = (await conn.execute(select(RECORD).where(*where))).one_or_none()
        if row is None:
            return None
        expired = row.created_at < utcnow() - timedelta(hours=settings.idempotency_hours)
        if not expired and row.request_hash != digest:
            return "mismatch"
        if not expired and row.state == "done":
            stored: list[list[str]] = row.headers or []
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored]
            return Answer(int(row.status_code), headers, bytes(row.body or b""))
        if not expired and row.created_at > utcnow() - STALE_AFTER:
            return "in_use"
        taken = await conn.execute(
            update(RECORD)
            .where(RECORD.c.id == row.id, RECORD.c.created_at == row.created_at)
            .values(
                request_hash=digest,
                state="running",
                status_code=None,
                headers=None,
                body=None,
                created_at=utcnow(),
                completed_at=None,
            )
        )
        return int(row.id) if taken.rowcount == 1 else "in_use"


async def _store(engine: AsyncEngine, record_id: int, answer: Answer) -> None:
    headers = [
        [k.decode("latin-1"), v.decode("latin-1")]
        for k, v in answer.headers
        if k.decode("latin-1").lower() in KEPT_HEADERS
    ]
    values = {
        "state": "done",
        "status_code": answer.status,
        "headers": headers,
        "body": answer.body,
        "completed_at": utcnow(),
    }
    try:
        async with engine.begin() as conn:
            await conn.execute(update(RECORD).where(RECORD.c.id == record_id).values(**values))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        # The work is done and its answer goes out; a retry after STALE_AFTER does it again.
        log.warning("storing an idempotent answer failed: %s", exc)


async def _forget(engine: AsyncEngine, record_id: int) -> None:
    """Delete the reservation, so that a retry does the work."""
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(RECORD).where(RECORD.c.id == record_id))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        log.warning("dropping an idempotency reservation failed: %s", exc)


async def _replay(answer: Answer, send: Send) -> None:
    headers = [
        *answer.headers,
        (b"content-length", str(len(answer.body)).encode()),
        (b"idempotent-replayed", b"true"),
    ]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})


@dataclass(frozen=True)
class Refused:
    """A problem+json answer the middleware gives itself; `field_detail` names the header."""

    status: int
    title: str
    slug: str
    detail: str
    field_code: str | None = None
    field_detail: str = ""
    retry_after: str | None = None


REFUSALS = {
    "invalid": Refused(422, "Unprocessable content", "validation-error",
                       "The Idempotency-Key header is invalid.", "invalid",
                       "One key of 1 to 255 visible ASCII characters is expected."),
    "mismatch": Refused(422, "Unprocessable content", "idempotency-key-reused",
                        "The Idempotency-Key was already used with another method, path or "
                        "body; use a new key for a new request.", "reused",
                        "This key was already used for a different request."),
    "in_use": Refused(409, "Conflict", "idempotency-key-in-use",
                      "A request with this Idempotency-Key is still being processed; retry "
                      "shortly.", retry_after="1"),
    "unavailable": Refused(503, "Service unavailable", "unavailable",
                           "The database is unavailable; retry shortly.", retry_after="5"),
}  # fmt: skip


def _problem(scope: Scope, settings: Settings, name: str) -> Response:
    refused = REFUSALS[name]
    errors = []
    if refused.field_code:
        errors.append(FieldError("Idempotency-Key", refused.field_code, refused.field_detail))
    return problem_response(
        Request(scope),
        status=refused.status,
        title=refused.title,
        detail=refused.detail,
        type_=f"{settings.problem_base}{refused.slug}",
        errors=errors,
        headers={"Retry-After": refused.retry_after} if refused.retry_after else None,
    )
