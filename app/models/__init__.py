"""Every table, imported in one place so Alembic sees the whole metadata."""

from app.models.audit import AuditEvent, DeliverableEdit, IdempotencyRecord
from app.models.base import metadata
from app.models.enums import (
    Aggregation,
    Direction,
    IndicatorUnit,
    Role,
    SplitDimension,
    Status,
)
from app.models.indicator import Indicator, IndicatorTarget, IndicatorValue
from app.models.plan import (
    ActionLine,
    DataVersionBump,
    Deliverable,
    DeliverableTag,
    Mandate,
    Measure,
    StatusChange,
)
from app.models.token import ApiToken

__all__ = [
    "ActionLine",
    "Aggregation",
    "ApiToken",
    "AuditEvent",
    "DataVersionBump",
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
    "SplitDimension",
    "Status",
    "StatusChange",
    "metadata",
]
