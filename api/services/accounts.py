"""Accounts: sign-in with atomic throttling (SPEC §9), tokens to callers, account management."""

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.core import security
from api.core.caller import Caller, as_role
from api.core.pagination import Page, decode_cursor, page_of
from api.core.problems import Conflict, FieldError, TooManyRequests, Unauthorized, Unprocessable
from api.infra.settings import Settings
from api.services import audit, units
from criteria.text import nfc
from models.accounts import LoginFailure, TokenPublic, UserAccount, UserCreate, UserPublic
from models.base import utcnow
from models.units import Unit


def _retry_after(oldest: datetime, window_start: datetime) -> str:
    return str(max(int((oldest - window_start).total_seconds()) + 1, 1))


async def _serialise_sign_ins(session: AsyncSession, *, username: str, address: str) -> None:
    """On PostgreSQL, hold this username's and this address's locks until the commit.

    SQLite needs nothing: the reservation's INSERT takes its single writer lock first.
    Always username then address, so two sign-ins can never wait on each other in a circle.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for space, value in ((1, username), (2, address)):
        await session.execute(select(func.pg_advisory_xact_lock(space, func.hashtext(value))))


async def _reserve_attempt(
    session: AsyncSession, *, username: str, address: str, settings: Settings
) -> None:
    """Record the attempt as a failure (not yet committed) before the password is checked,
    or roll back and 429 when that makes one count pass its limit.

    Counting the reservation itself, under a lock per username and address, means parallel
    guesses cannot check more passwords than the limits allow.
    """
    await _serialise_sign_ins(session, username=username, address=address)
    session.add(LoginFailure(username=username, address=address))
    await session.flush()
    window_start = utcnow() - timedelta(seconds=settings.login_window_seconds)
    limits = [
        (settings.login_max_failures, "this username from your address",
         (col(LoginFailure.username) == username) & (col(LoginFailure.address) == address)),
        (settings.login_user_limit, "this username", col(LoginFailure.username) == username),
        (settings.login_address_limit, "your address", col(LoginFailure.address) == address),
    ]  # fmt: skip
    for limit, whom, condition in limits:
        stmt = select(func.count(), func.min(LoginFailure.at))
        failures, oldest = (
            await session.execute(stmt.where(condition, col(LoginFailure.at) >= window_start))
        ).one()
        if failures > limit:
            await session.rollback()
            raise TooManyRequests(
                f"Too many failed sign-ins for {whom}; try again later.",
                headers={"Retry-After": _retry_after(oldest, window_start)},
            )


async def sign_in(
    session: AsyncSession, *, username: str, password: str, address: str, settings: Settings
) -> TokenPublic:
    """A bearer token for valid credentials; 401 otherwise, 429 after repeated failures.

    Two commits on purpose: the reservation must be visible to parallel sign-ins before the
    (slow, queued) password check, which holds no database connection; success then removes
    this username's failures from this address.
    """
    name = nfc(username).lower()
    await _reserve_attempt(session, username=name, address=address, settings=settings)
    user = (
        await session.execute(select(UserAccount).where(col(UserAccount.username) == name))
    ).scalar_one_or_none()
    await session.commit()
    ok = await security.verify_password_async(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        raise Unauthorized("Wrong username or password.", headers={"WWW-Authenticate": "Bearer"})
    pair = (col(LoginFailure.username) == name) & (col(LoginFailure.address) == address)
    await session.execute(delete(LoginFailure).where(pair))
    await session.commit()
    token, seconds = security.create_token(
        secret=settings.signing_secret(),
        username=name,
        minutes=settings.access_token_minutes,
    )
    return TokenPublic(access_token=token, expires_in=seconds)


async def caller_for(session: AsyncSession, *, username: str) -> Caller | None:
    """The caller a token's username stands for, if the account still exists and is active."""
    stmt = (
        select(
            col(UserAccount.username),
            col(UserAccount.role),
            col(Unit.code),
            col(Unit.id),
            col(Unit.level),
        )
        .outerjoin(Unit, col(Unit.id) == UserAccount.unit_id)
        .where(col(UserAccount.username) == username, col(UserAccount.is_active))
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    name, role, code, unit_id, level = row
    return Caller(
        username=name, role=as_role(role), unit_code=code, unit_id=unit_id, unit_level=level
    )


async def _unit_for_role(session: AsyncSession, body: UserCreate) -> Unit | None:
    wanted = {"admin": None, "reviewer": ("province", "commune"), "village_head": ("village",)}
    levels = wanted[body.role]
    if levels is None:
        if body.unit_code:
            raise _bad_unit("an admin has no unit")
        return None
    unit = await units.find_by_code(session, code=body.unit_code or "")
    if unit is None or unit.level not in levels:
        raise _bad_unit(f"a {body.role} needs the code of a {' or '.join(levels)}")
    return unit


def _bad_unit(detail: str) -> Unprocessable:
    return Unprocessable(
        f"unit_code: {detail}.", errors=[FieldError("unit_code", "bad_unit", detail)]
    )


async def create_user(session: AsyncSession, *, body: UserCreate, actor: Caller) -> UserPublic:
    """Create an account (password stored as an argon2id hash only)."""
    unit = await _unit_for_role(session, body)
    taken = await session.scalar(
        select(func.count()).where(col(UserAccount.username) == body.username)
    )
    if taken:
        raise Conflict(
            f"The username {body.username!r} is taken.",
            errors=[FieldError("username", "taken", "already in use")],
        )
    user = UserAccount(
        username=body.username,
        password_hash=await security.hash_password_async(body.password),
        role=body.role,
        unit_id=unit.id if unit else None,
    )
    session.add(user)
    public = UserPublic(
        username=user.username, role=user.role, unit_code=body.unit_code, created_at=user.created_at
    )
    audit.record(
        session,
        actor=actor,
        action="user.create",
        unit=unit,
        after=public.model_dump(mode="json", exclude={"created_at"}),
    )
    await session.commit()
    return public


async def list_users(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[UserPublic]:
    """Accounts by username (never their hashes)."""
    key = decode_cursor(cursor, fields={"username": str})
    stmt = (
        select(UserAccount, col(Unit.code))
        .outerjoin(Unit, col(Unit.id) == UserAccount.unit_id)
        .order_by(col(UserAccount.username))
        .limit(limit + 1)
    )
    if key:
        stmt = stmt.where(UserAccount.username > key["username"])
    rows = [
        UserPublic(username=u.username, role=u.role, unit_code=code, is_active=u.is_active,
                   created_at=u.created_at)
        for u, code in (await session.execute(stmt)).all()
    ]  # fmt: skip
    return page_of(rows, limit, lambda u: {"username": u.username})
