"""Webhook subscriptions and their deliveries (docs/webhooks.md).

A subscription stores no secret: only a random salt, from which the signing secret is
derived with the server's key (``PLANPULSE_WEBHOOK_SIGNING_KEY``), so that a copy of the
database alone cannot sign a delivery."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from app.models import base as _base  # noqa: F401  (naming convention first)
from app.models.enums import sql_in
from app.models.types import UTCDateTime, utcnow


class DeliveryStatus(StrEnum):
    pending = "pending"
    """Not attempted yet (or claimed by a worker whose attempt is under way)."""
    delivered = "delivered"
    """The receiver answered 2xx."""
    failed = "failed"
    """The last attempt failed; another one is due at ``next_attempt_at``."""
    given_up = "given_up"
    """Every attempt failed; only a redelivery tries again."""


DUE_SQL = "status IN ('pending', 'failed')"
"""The deliveries a worker attempts once ``next_attempt_at`` has come, as SQL with the
values written out: the partial index's predicate, which a query naming them as
parameters could not use once prepared."""


class WebhookSubscription(SQLModel, table=True):
    __tablename__ = "webhook_subscription"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    """``wh_<random>``: the id in the API, which does not reveal how many there are."""
    url: str = Field(sa_column=Column(String(2000), nullable=False))
    events: list[str] = Field(sa_column=Column(JSON, nullable=False))
    mandate_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("mandate.id", ondelete="CASCADE"), nullable=True))
    """None: every mandate's events, and the organisation-wide ones."""
    secret_salt: str = Field(sa_column=Column(String(64), nullable=False))
    """The signing secret is HMAC-SHA256(server key, salt); the secret itself is not kept."""
    secret_prefix: str = Field(sa_column=Column(String(16), nullable=False))
    """The secret's first characters, to tell secrets apart in the list."""
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    active: bool = Field(default=True, nullable=False)
    """Only active subscriptions get deliveries."""


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        CheckConstraint(sql_in("status", DeliveryStatus), name="status_vocabulary"),
        # The worker's claim: the due deliveries, soonest first.
        Index("ix_webhook_delivery_due", "next_attempt_at",
              postgresql_where=text(DUE_SQL), sqlite_where=text(DUE_SQL)),
        # The log: a subscription's deliveries, newest first.
        Index(None, "subscription_id", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True))
    subscription_id: int = Field(sa_column=Column(
        Integer, ForeignKey("webhook_subscription.id", ondelete="CASCADE"), nullable=False))
    event_id: int = Field(sa_column=Column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("change_event.id", ondelete="CASCADE"), nullable=False))
    delivery_id: str = Field(sa_column=Column(String(36), nullable=False, unique=True))
    """A UUID, sent as ``Planpulse-Delivery`` on every attempt: receivers dedupe by it."""
    status: DeliveryStatus = Field(
        default=DeliveryStatus.pending, sa_column=Column(String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(SmallInteger, nullable=False))
    """Attempts finished (answered, refused or timed out)."""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    """When a worker attempts it next; while an attempt is under way, when its lease ends
    (a worker that died mid-attempt leaves it to be taken again then)."""
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    last_status_code: int | None = Field(default=None, sa_column=Column(
        SmallInteger, nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    response_excerpt: str | None = Field(default=None, sa_column=Column(
        String(500), nullable=True))
    """The first characters of the receiver's last answer, never more."""
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
