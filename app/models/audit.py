"""Append-only records beside the status history: field edits, admin actions, and the
answers kept for idempotent retries."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models import base as _base  # noqa: F401  (naming convention first)
from app.models.types import UTCDateTime, utcnow

ACTOR_LENGTH = 200


class DeliverableEdit(SQLModel, table=True):
    """A change to a deliverable's other fields (owner, due date, tags, weight, title)."""

    __tablename__ = "deliverable_edit"
    __table_args__ = (Index(None, "deliverable_id", "recorded_at"), Index(None, "recorded_at"))

    id: int | None = Field(default=None, primary_key=True)
    deliverable_id: int = Field(
        sa_column=Column(Integer, ForeignKey("deliverable.id", ondelete="CASCADE"),
                         nullable=False)
    )
    changes: dict[str, Any] = Field(
        sa_column=Column(JSON, nullable=False),
        description="field → {from, to}",
    )
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    changed_by: str = Field(sa_column=Column(String(ACTOR_LENGTH), nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class AuditEvent(SQLModel, table=True):
    """An admin action: an import, a token created or revoked, a structure edit."""

    __tablename__ = "audit_event"
    __table_args__ = (Index(None, "recorded_at"),)

    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(sa_column=Column(String(ACTOR_LENGTH), nullable=False))
    action: str = Field(sa_column=Column(String(64), nullable=False))
    target: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class IdempotencyRecord(SQLModel, table=True):
    """The first answer to a request sent with an ``Idempotency-Key``, replayed on retries."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("actor", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(sa_column=Column(String(ACTOR_LENGTH), nullable=False))
    key: str = Field(sa_column=Column(String(200), nullable=False))
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    status_code: int = Field(nullable=False)
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
