"""Structured refusals of criteria documents and reported values."""

from dataclasses import dataclass

__all__ = ["DocumentInvalid", "Issue", "ValueIssue", "ValuesInvalid"]


@dataclass(frozen=True)
class Issue:
    """One problem in a criteria document: where (`loc`), a stable `code`, a message."""

    loc: tuple[str | int, ...]
    code: str
    message: str


class DocumentInvalid(ValueError):
    """A criteria document was refused; `issues` lists every problem found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = list(issues)
        first = self.issues[0] if self.issues else None
        summary = f"{first.code} at {'.'.join(map(str, first.loc))}" if first else "invalid"
        super().__init__(f"criteria document invalid ({len(self.issues)} issue(s)): {summary}")


@dataclass(frozen=True)
class ValueIssue:
    """One problem in reported values: the `measure` concerned, a stable `code`, a message."""

    measure: str
    code: str
    message: str


class ValuesInvalid(ValueError):
    """Reported values were refused; `issues` lists every problem found."""

    def __init__(self, issues: list[ValueIssue]) -> None:
        self.issues = list(issues)
        names = ", ".join(sorted({i.measure for i in self.issues}))
        super().__init__(f"invalid values ({len(self.issues)} issue(s)) for: {names}")
