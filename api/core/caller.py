"""Who is calling, and which units that identity may see."""

from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["admin", "reviewer", "village_head", "integrator"]
ROLES: tuple[Role, ...] = ("admin", "reviewer", "village_head", "integrator")


def as_role(value: str) -> Role:
    """A stored role name as a `Role` (the database's check constraint keeps it one)."""
    if value not in ROLES:
        raise ValueError(f"not a role: {value!r}")
    return value


class Placed(Protocol):
    """Anything with a unit's id and its denormalised ancestry (read only)."""

    @property
    def id(self) -> int | None: ...

    @property
    def province_id(self) -> int | None: ...

    @property
    def commune_id(self) -> int | None: ...


@dataclass(frozen=True)
class Caller:
    """The authenticated identity a request acts as. `unit_*` is its scope (None: all)."""

    username: str | None
    role: Role
    unit_code: str | None = None
    unit_id: int | None = None
    unit_level: str | None = None
    key_id: int | None = None

    @property
    def approved_only(self) -> bool:
        """Integrators see scores of approved submissions only."""
        return self.role == "integrator"

    def covers(self, unit: Placed) -> bool:
        """True when `unit` lies in this caller's scope (its own unit or below)."""
        if self.unit_id is None:
            return self.role in ("admin", "integrator")
        if unit.id == self.unit_id:
            return True
        if self.unit_level == "province":
            return unit.province_id == self.unit_id
        if self.unit_level == "commune":
            return unit.commune_id == self.unit_id
        return False


SYSTEM_CALLER = Caller(username="system", role="admin")
"""The operator acting through the command line."""
