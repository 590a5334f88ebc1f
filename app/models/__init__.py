"""Every table, imported in one place so Alembic sees the whole metadata."""

from app.models.audit import AuditEvent, DeliverableEdit, IdempotencyRecord
from app.models.base import metadata
from app.models.changes import ChangeEvent
from app.models.enums import (
    ActivityMode,
    ActivityRole,
    Aggregation,
    Direction,
    EngagementValue,
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
from app.models.records import (
    Activity,
    ActivityKind,
    ActivityLink,
    ActivityMember,
    EngagementKind,
    EngagementRecord,
    Member,
    RecordEdit,
    RollEntry,
)
from app.models.token import ApiToken
from app.models.webhooks import DeliveryStatus, WebhookDelivery, WebhookSubscription

__all__ = [
    "ActionLine",
    "Activity",
    "ActivityKind",
    "ActivityLink",
    "ActivityMember",
    "ActivityMode",
    "ActivityRole",
    "Aggregation",
    "ApiToken",
    "AuditEvent",
    "ChangeEvent",
    "DataVersionBump",
    "Deliverable",
    "DeliverableEdit",
    "DeliverableTag",
    "DeliveryStatus",
    "Direction",
    "EngagementKind",
    "EngagementRecord",
    "EngagementValue",
    "IdempotencyRecord",
    "Indicator",
    "IndicatorTarget",
    "IndicatorUnit",
    "IndicatorValue",
    "Mandate",
    "Measure",
    "Member",
    "RecordEdit",
    "Role",
    "RollEntry",
    "SplitDimension",
    "Status",
    "StatusChange",
    "WebhookDelivery",
    "WebhookSubscription",
    "metadata",
]
