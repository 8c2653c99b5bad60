"""Settings from the environment; the only module that reads os.environ."""

from functools import lru_cache

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration: `DATABASE_URL` and `SMARTVILLAGE_*` variables."""

    model_config = SettingsConfigDict(env_prefix="SMARTVILLAGE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./smartvillage.db",
        validation_alias=AliasChoices("DATABASE_URL", "SMARTVILLAGE_DATABASE_URL"),
    )
    # No default on purpose (SPEC §9 "Secrets"): demo mode keeps a generated one in the database.
    secret_key: SecretStr | None = None
    problem_base: str = "https://smartvillage.example/problems/"
    pool_size: int = 10
    rescore_batch: int = 2000
    log_level: str = "INFO"
    access_token_minutes: int = 60
    demo: bool = False
    login_max_failures: int = 5
    login_window_seconds: int = 900
    # SPEC §9 — limits, failures and operating it.
    login_user_limit: int = 20
    login_address_limit: int = 50
    max_body: int = 1024 * 1024
    max_import: int = 20 * 1024 * 1024
    body_timeout_seconds: float = 30.0
    rate_limit: int = 600
    redis_url: str | None = None
    statement_timeout: float = 5.0
    connect_timeout: float = 5.0
    metrics: str = "on"
    csv_max_field: int = 131_072
    csv_max_rows: int = 200_000
    idempotency_hours: int = 24

    @field_validator("secret_key", mode="before")
    @classmethod
    def _blank_secret_is_unset(cls, value: object) -> object:
        # `SMARTVILLAGE_SECRET_KEY=` (empty) must not sign tokens with an empty key.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    def signing_secret(self) -> str:
        """The token-signing secret, once resolved (the app's lifespan does it; SPEC §9)."""
        if self.secret_key is None:
            raise RuntimeError("no token-signing secret: SMARTVILLAGE_SECRET_KEY or demo mode")
        return self.secret_key.get_secret_value()

    @property
    def sync_url(self) -> str:
        """The URL for synchronous drivers (Alembic): sqlite or postgresql+psycopg."""
        return to_sync_url(self.database_url)

    @property
    def async_url(self) -> str:
        """The URL for the async request path: sqlite+aiosqlite or postgresql+asyncpg."""
        return to_async_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.sync_url.startswith("sqlite")


def _scheme_rest(url: str) -> tuple[str, str]:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    return scheme.split("+", 1)[0], rest


def to_sync_url(url: str) -> str:
    """Normalise any accepted spelling to the synchronous driver URL."""
    scheme, rest = _scheme_rest(url)
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    if scheme == "sqlite":
        return f"sqlite://{rest}"
    raise ValueError(f"unsupported database: {scheme!r} (use sqlite or postgresql)")


def to_async_url(url: str) -> str:
    """Normalise any accepted spelling to the asyncio driver URL."""
    scheme, rest = _scheme_rest(to_sync_url(url))
    driver = "postgresql+asyncpg" if scheme == "postgresql" else "sqlite+aiosqlite"
    return f"{driver}://{rest}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide default settings (tests build their own)."""
    return Settings()
