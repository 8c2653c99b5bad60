"""State that belongs to this database rather than to the code: the demo token secret."""

import secrets

from pydantic import SecretStr
from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.infra.settings import Settings
from models.base import table_of, utcnow
from models.operations import InstanceSecret

TOKEN_SECRET = "token_secret"


class MissingSecret(RuntimeError):
    """Outside demo mode there is no secret to fall back on: tokens would be forgeable."""

    def __init__(self) -> None:
        super().__init__(
            "SMARTVILLAGE_SECRET_KEY is not set: refusing to start outside demo mode without "
            "a token-signing secret. Set it to a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(48))')."
        )


async def instance_secret(session: AsyncSession, *, name: str) -> str:
    """The secret `name` kept with this database, generated on first use.

    Insert-if-absent then read back: workers starting at once all end with the first value.
    """
    table: Table = table_of(InstanceSecret)
    values = {"name": name, "value": secrets.token_urlsafe(48), "created_at": utcnow()}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(table).values(values).on_conflict_do_nothing())
    stored = (await session.execute(select(table.c.value).where(table.c.name == name))).scalar_one()
    await session.commit()
    return str(stored)


async def with_token_secret(
    settings: Settings, maker: async_sessionmaker[AsyncSession]
) -> Settings:
    """`settings` with the secret that signs tokens: the configured one, else demo's stored one."""
    if settings.secret_key is not None:
        return settings
    if not settings.demo:
        raise MissingSecret
    async with maker() as session:
        value = await instance_secret(session, name=TOKEN_SECRET)
    return settings.model_copy(update={"secret_key": SecretStr(value)})
