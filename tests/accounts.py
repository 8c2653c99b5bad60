"""Accounts for tests: rows written straight to the test database, tokens minted directly."""

from functools import cache

from sqlalchemy import Engine, insert, select

from api.core import security
from models.accounts import UserAccount
from models.base import utcnow
from models.units import Unit

TEST_SECRET = "test-secret-" + "x" * 40
TEST_PASSWORD = "correct horse battery staple"


@cache
def password_hash() -> str:
    """One argon2id hash for every test account (hashing is deliberately slow)."""
    return security.hash_password(TEST_PASSWORD)


def make_user(
    db: Engine, username: str, role: str, unit_code: str | None = None, *, minutes: int = 5
) -> str:
    """Create an account and return a valid bearer token for it."""
    with db.begin() as conn:
        unit_id = None
        if unit_code:
            unit_id = conn.execute(select(Unit.id).where(Unit.code == unit_code)).scalar_one()
        conn.execute(
            insert(UserAccount.__table__).values(  # type: ignore[attr-defined]
                username=username,
                password_hash=password_hash(),
                role=role,
                unit_id=unit_id,
                is_active=True,
                created_at=utcnow(),
            )
        )
    token, _ = security.create_token(secret=TEST_SECRET, username=username, minutes=minutes)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
