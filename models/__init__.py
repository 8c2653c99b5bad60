"""SQLModel tables and API schemas; importing this package registers every table (Alembic)."""

from models.accounts import ApiKey, LoginFailure, UserAccount
from models.audit import AuditEvent
from models.base import metadata
from models.criteria_sets import CriteriaSetVersion
from models.operations import IdempotencyRecord, InstanceSecret, RateCounter
from models.scores import IndicatorRollup, Score, ScoreIndicator
from models.submissions import Submission, SubmissionRevision
from models.units import Unit

__all__ = [
    "ApiKey",
    "AuditEvent",
    "CriteriaSetVersion",
    "IdempotencyRecord",
    "IndicatorRollup",
    "InstanceSecret",
    "LoginFailure",
    "RateCounter",
    "Score",
    "ScoreIndicator",
    "Submission",
    "SubmissionRevision",
    "Unit",
    "UserAccount",
    "metadata",
]
