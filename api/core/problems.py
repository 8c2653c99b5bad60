"""The error classes services raise; rendered as RFC 9457 problem+json by api.web.errors."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldError:
    """One bad field: a dotted name, its JSON pointer, a stable code and a sentence."""

    field: str
    code: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        pointer = "#/" + self.field.replace(".", "/") if self.field else "#"
        return {"field": self.field, "pointer": pointer, "code": self.code, "detail": self.detail}


class ProblemError(Exception):
    """Base of every error the API answers with; subclasses fix status, title and type."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal server error"
    slug: ClassVar[str | None] = None

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(ProblemError):
    status, title, slug = 400, "Bad request", "bad-request"


class NotFound(ProblemError):
    status, title, slug = 404, "Not found", "not-found"


class Forbidden(ProblemError):
    status, title, slug = 403, "Forbidden", "forbidden"


class Conflict(ProblemError):
    status, title, slug = 409, "Conflict", "conflict"


class PreconditionFailed(ProblemError):
    status, title, slug = 412, "Precondition failed", "precondition-failed"


class UnsupportedMediaType(ProblemError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class Unprocessable(ProblemError):
    status, title, slug = 422, "Unprocessable content", "validation-error"


class Unavailable(ProblemError):
    status, title, slug = 503, "Service unavailable", "unavailable"


class SubmissionLocked(Conflict):
    slug = "submission-locked"


class CriteriaSetState(Conflict):
    slug = "criteria-set-state"


class Unauthorized(ProblemError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class TooManyRequests(ProblemError):
    status, title, slug = 429, "Too many requests", "too-many-requests"


class PayloadTooLarge(ProblemError):
    status, title, slug = 413, "Content too large", "payload-too-large"


class RequestTimeout(ProblemError):
    status, title, slug = 408, "Request timeout", "request-timeout"
