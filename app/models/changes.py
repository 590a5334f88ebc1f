"""The change log (a transactional outbox): one row per change, written in the same
transaction as the change, read by the change stream and the webhook deliveries."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String, text
from sqlmodel import Field, SQLModel

from app.models import base as _base  # noqa: F401  (naming convention first)
from app.models.types import UTCDateTime, utcnow


class ChangeEvent(SQLModel, table=True):
    __tablename__ = "change_event"
    __table_args__ = (
        Index(None, "mandate_id", "id"),
        # The events the webhook worker has not fanned out to subscriptions yet.
        Index("ix_change_event_undispatched", "id",
              postgresql_where=text("dispatched_at IS NULL"),
              sqlite_where=text("dispatched_at IS NULL")),
    )

    id: int | None = Field(default=None, sa_column=Column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True))
    """Increasing in commit order per writer; the change stream's event id."""
    type: str = Field(sa_column=Column(String(64), nullable=False))
    """``deliverable.status_changed``, ``indicator.value_recorded``, ``plan.imported``,
    ``records.changed``."""
    mandate_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("mandate.id", ondelete="CASCADE"), nullable=True))
    """None for an organisation-wide change (the records)."""
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    author_name: str = Field(sa_column=Column(String(200), nullable=False))
    author_role: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    """The token's role when the change was made; None for the command line and imports."""
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    """When the webhook worker created this event's deliveries; None until then."""
