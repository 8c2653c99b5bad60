"""Accounts: sign-in with per-username throttling, tokens to callers, account management."""

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api import security
from api.caller import Caller
from api.pagination import Page, decode_cursor, page_of
from api.problems import Conflict, FieldError, TooManyRequests, Unauthorized, Unprocessable
from api.services import audit
from api.settings import Settings
from criteria.text import nfc
from models.accounts import LoginFailure, TokenPublic, UserAccount, UserCreate, UserPublic
from models.base import utcnow
from models.units import Unit


async def _throttle(session: AsyncSession, username: str, settings: Settings) -> None:
    window_start = utcnow() - timedelta(seconds=settings.login_window_seconds)
    stmt = select(func.count(), func.min(LoginFailure.at)).where(
        LoginFailure.username == username, LoginFailure.at >= window_start
    )
    failures, oldest = (await session.execute(stmt)).one()
    if failures >= settings.login_max_failures:
        retry = int((oldest - window_start).total_seconds()) + 1
        raise TooManyRequests(
            f"Too many failed sign-ins for {username!r}; try again in {retry} s.",
            headers={"Retry-After": str(max(retry, 1))},
        )


async def sign_in(
    session: AsyncSession, *, username: str, password: str, settings: Settings
) -> TokenPublic:
    """A bearer token for valid credentials; 401 otherwise, 429 after repeated failures."""
    name = nfc(username).lower()
    await _throttle(session, name, settings)
    user = (
        await session.execute(select(UserAccount).where(UserAccount.username == name))
    ).scalar_one_or_none()
    ok = security.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        session.add(LoginFailure(username=name))
        await session.commit()
        raise Unauthorized("Wrong username or password.", headers={"WWW-Authenticate": "Bearer"})
    await session.execute(delete(LoginFailure).where(LoginFailure.username == name))
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
        select(UserAccount.username, UserAccount.role, Unit.code, Unit.id, Unit.level)
        .outerjoin(Unit, Unit.id == UserAccount.unit_id)
        .where(UserAccount.username == username, UserAccount.is_active)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    name, role, code, unit_id, level = row
    return Caller(username=name, role=role, unit_code=code, unit_id=unit_id, unit_level=level)


async def _unit_for_role(session: AsyncSession, body: UserCreate) -> Unit | None:
    wanted = {"admin": None, "reviewer": ("province", "commune"), "village_head": ("village",)}
    levels = wanted[body.role]
    if levels is None:
        if body.unit_code:
            raise _bad_unit("an admin has no unit")
        return None
    unit = (
        await session.execute(select(Unit).where(Unit.code == body.unit_code))
    ).scalar_one_or_none()
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
    taken = await session.scalar(select(func.count()).where(UserAccount.username == body.username))
    if taken:
        raise Conflict(
            f"The username {body.username!r} is taken.",
            errors=[FieldError("username", "taken", "already in use")],
        )
    user = UserAccount(
        username=body.username,
        password_hash=security.hash_password(body.password),
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
        select(UserAccount, Unit.code)
        .outerjoin(Unit, Unit.id == UserAccount.unit_id)
        .order_by(UserAccount.username)
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
