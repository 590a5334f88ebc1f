"""Every table, imported in one place so Alembic sees the whole metadata."""

from app.models.audit import AuditEvent, DeliverableEdit, IdempotencyRecord
from app.models.base import metadata
from app.models.enums import Direction, IndicatorUnit, Role, Status
from app.models.indicator import Indicator, IndicatorTarget, IndicatorValue
from app.models.plan import (
    ActionLine,
    Deliverable,
    DeliverableTag,
    Mandate,
    Measure,
    StatusChange,
)
from app.models.token import ApiToken

__all__ = [
    "ActionLine",
    "ApiToken",
    "AuditEvent",
    "Deliverable",
    "DeliverableEdit",
    "DeliverableTag",
    "Direction",
    "IdempotencyRecord",
    "Indicator",
    "IndicatorTarget",
    "IndicatorUnit",
    "IndicatorValue",
    "Mandate",
    "Measure",
    "Role",
    "Status",
    "StatusChange",
    "metadata",
]
