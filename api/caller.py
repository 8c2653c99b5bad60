"""Who is calling. Until accounts exist (issue 3) every caller is the open-mode operator."""

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "reviewer", "village_head", "integrator"]


@dataclass(frozen=True)
class Caller:
    """The authenticated identity a request acts as."""

    username: str | None
    role: Role
    unit_code: str | None = None

    @property
    def approved_only(self) -> bool:
        """Integrators see scores of approved submissions only."""
        return self.role == "integrator"


OPEN_CALLER = Caller(username=None, role="admin")
