"""Accounts, integrator API keys and failed logins."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints, field_validator
from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from models.base import NfcStr, created_at_field, optional_time_field

AccountRole = Literal["admin", "reviewer", "village_head"]
"""The roles an account can have (integrators use API keys, not accounts)."""


class UserAccount(SQLModel, table=True):
    """A person who signs in: an admin, a reviewer of a province or commune, a village head."""

    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'reviewer', 'village_head')", name="role"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    password_hash: str = Field(sa_column=Column(String(255), nullable=False))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    unit_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("unit.id"), nullable=True)
    )
    is_active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    created_at: datetime = created_at_field()


class ApiKey(SQLModel, table=True):
    """An integrator's key; only its SHA-256 is kept (keys are 256-bit random secrets)."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    prefix: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    key_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    unit_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("unit.id"), nullable=True)
    )
    created_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    created_at: datetime = created_at_field()
    revoked_at: datetime | None = optional_time_field()
    last_used_at: datetime | None = optional_time_field()


class LoginFailure(SQLModel, table=True):
    """One failed (or in-flight) sign-in, for throttling per username and client address."""

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_username_at", "username", "at"),
        Index("ix_login_failure_address_at", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(64), nullable=False))
    address: str = Field(
        default="", sa_column=Column(String(64), nullable=False, server_default="")
    )
    at: datetime = created_at_field()


class UserCreate(SQLModel):
    """A new account, as an admin sends it."""

    username: Annotated[
        NfcStr, StringConstraints(min_length=3, max_length=64, pattern=r"^[0-9A-Za-z._@-]+$")
    ]
    password: str = Field(min_length=10, max_length=256)
    role: AccountRole
    unit_code: str | None = Field(default=None, max_length=32)

    @field_validator("username")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class UserPublic(SQLModel):
    """An account without its secret."""

    username: str
    role: str
    unit_code: str | None
    is_active: bool = True
    created_at: datetime | None = None


class MePublic(SQLModel):
    """The caller: who, in which role, scoped to which unit."""

    username: str
    role: str
    unit_code: str | None


class TokenPublic(SQLModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class ApiKeyCreate(SQLModel):
    name: NfcStr = Field(min_length=1, max_length=100)
    unit_code: str | None = Field(default=None, max_length=32)


class ApiKeyPublic(SQLModel):
    """A key as listed: never the key itself."""

    id: int
    name: str
    prefix: str
    unit_code: str | None
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class ApiKeyCreated(ApiKeyPublic):
    """The answer to a key's creation: the only time `key` is shown."""

    key: str
