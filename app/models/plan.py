"""The plan: mandates, action lines, measures, deliverables and their status history."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlmodel import Field, SQLModel

from app.models import base as _base  # noqa: F401  (naming convention first)
from app.models.enums import Status, sql_in
from app.models.types import UTCDateTime, utcnow

CODE_LENGTH = 64
TITLE_LENGTH = 2000
OPEN_FORK = 1 << 16
"""The fork of every entry still in effect (app/services/status/history.py)."""
IN_EFFECT_COLUMNS = ("deliverable_id", "to_status", "percent_complete", "measure_id", "weight",
                     "action_line_id")
"""What a rollup as of a time reads from an entry in effect then."""


class Mandate(SQLModel, table=True):
    """A multi-year plan period, e.g. the Action Plan 2018-2020."""

    __tablename__ = "mandate"
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        CheckConstraint("in_progress_credit >= 0 AND in_progress_credit <= 1",
                        name="in_progress_credit_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(CODE_LENGTH), nullable=False, unique=True))
    title: str = Field(sa_column=Column(String(TITLE_LENGTH), nullable=False))
    start_date: date
    end_date: date
    in_progress_credit: float = Field(
        default=0.5, sa_column=Column(Float, nullable=False, server_default="0.5"))
    """Rollup policy: the score of an in_progress deliverable without percent_complete."""
    not_achieved_counts: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true()))
    """Rollup policy: whether not_achieved deliverables stay in the denominators."""
    data_version: int = Field(
        default=1, sa_column=Column(Integer, nullable=False, server_default="1"))
    """Bumped by every write to anything in the mandate; progress ETags are built on it."""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class DataVersionBump(SQLModel, table=True):
    """A bump of a mandate's data version, asked for by a write and carried out by the
    database: at commit on PostgreSQL (a deferred trigger), at once on SQLite; the row is
    deleted as it is carried out (migration 0006).

    Every writer to a mandate queues on its row's lock; taken at commit inside the
    database, it is held for the commit alone, not for the application's round trips
    around it (docs/performance.md)."""

    __tablename__ = "data_version_bump"

    id: int | None = Field(default=None, primary_key=True)
    mandate_id: int = Field(nullable=False)


class ActionLine(SQLModel, table=True):
    __tablename__ = "action_line"
    __table_args__ = (
        UniqueConstraint("mandate_id", "code"),
        # Lets measures prove, in the database, that they sit in their line's mandate.
        UniqueConstraint("id", "mandate_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mandate_id: int = Field(
        sa_column=Column(Integer, ForeignKey("mandate.id", ondelete="CASCADE"), nullable=False)
    )
    code: str = Field(sa_column=Column(String(CODE_LENGTH), nullable=False))
    title: str = Field(sa_column=Column(String(TITLE_LENGTH), nullable=False))
    position: int = Field(default=0, nullable=False)


class Measure(SQLModel, table=True):
    __tablename__ = "measure"
    __table_args__ = (
        UniqueConstraint("mandate_id", "code"),
        UniqueConstraint("id", "mandate_id"),
        ForeignKeyConstraint(
            ["action_line_id", "mandate_id"],
            ["action_line.id", "action_line.mandate_id"],
            ondelete="CASCADE",
        ),
        Index(None, "action_line_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mandate_id: int = Field(
        sa_column=Column(Integer, ForeignKey("mandate.id", ondelete="CASCADE"), nullable=False)
    )
    action_line_id: int = Field(nullable=False)
    code: str = Field(sa_column=Column(String(CODE_LENGTH), nullable=False))
    title: str = Field(sa_column=Column(Text, nullable=False))
    position: int = Field(default=0, nullable=False)
    owner: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))


class Deliverable(SQLModel, table=True):
    __tablename__ = "deliverable"
    __table_args__ = (
        UniqueConstraint("mandate_id", "code"),
        ForeignKeyConstraint(
            ["measure_id", "mandate_id"],
            ["measure.id", "measure.mandate_id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(sql_in("status", Status), name="status_vocabulary"),
        CheckConstraint(
            "percent_complete IS NULL OR (percent_complete >= 0 AND percent_complete <= 100)",
            name="percent_complete_range",
        ),
        CheckConstraint(
            "percent_complete IS NULL OR status = 'in_progress'",
            name="percent_complete_only_in_progress",
        ),
        CheckConstraint("weight >= 0", name="weight_not_negative"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index(None, "measure_id"),
        Index(None, "mandate_id", "status"),
        # Covers the rollups: every figure of a mandate from the index alone.
        Index("ix_deliverable_rollup", "mandate_id", "measure_id", "status", "weight",
              "percent_complete"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mandate_id: int = Field(
        sa_column=Column(Integer, ForeignKey("mandate.id", ondelete="CASCADE"), nullable=False)
    )
    measure_id: int = Field(nullable=False)
    code: str = Field(sa_column=Column(String(CODE_LENGTH), nullable=False))
    title: str = Field(sa_column=Column(Text, nullable=False))
    status: Status = Field(
        default=Status.not_started, sa_column=Column(String(16), nullable=False)
    )
    percent_complete: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    weight: float = Field(default=1.0, sa_column=Column(Float, nullable=False))
    owner: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    due_date: date | None = Field(default=None, nullable=True)
    quantity: dict[str, Any] | None = Field(default=None, sa_column=Column(
        JSON(none_as_null=True), nullable=True))
    """A quantity the deliverable states ("6 approved pilot projects"): {target, actual?,
    unit?, indicator?} (app/schemas/plan_file.py QuantitySpec)."""
    position: int = Field(default=0, nullable=False)
    version: int = Field(default=1, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class DeliverableTag(SQLModel, table=True):
    """A theme a deliverable contributes to (gender, youth, ...): one row per tag."""

    __tablename__ = "deliverable_tag"
    __table_args__ = (Index(None, "tag"),)

    deliverable_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("deliverable.id", ondelete="CASCADE"), primary_key=True
        )
    )
    tag: str = Field(sa_column=Column(String(CODE_LENGTH), primary_key=True))


class StatusChange(SQLModel, table=True):
    """One entry of a deliverable's append-only status history.

    ``effective_at`` is when the change happened in reality (staff may backdate it);
    ``recorded_at`` is when it was entered, so an old report can be rebuilt exactly.
    """

    __tablename__ = "status_change"
    __table_args__ = (
        CheckConstraint(
            "from_status IS NULL OR " + sql_in("from_status", Status), name="from_vocabulary"
        ),
        CheckConstraint(sql_in("to_status", Status), name="to_vocabulary"),
        CheckConstraint(
            "percent_complete IS NULL OR (percent_complete >= 0 AND percent_complete <= 100)",
            name="percent_complete_range",
        ),
        Index(None, "deliverable_id", "effective_at"),
        Index(None, "deliverable_id", "valid_to"),
        Index(None, "recorded_at"),
        # "In effect at T" as a few index range scans (app/services/status/history.py): entries
        # whose fork lies left of T end after T; those whose fork lies right of T begin by
        # T. Both carry what a rollup reads, so that it never visits the table.
        Index("ix_status_change_fork_ends", "mandate_id", "fork", "valid_to",
              *IN_EFFECT_COLUMNS),
        Index("ix_status_change_fork_begins", "mandate_id", "fork", "effective_at",
              *IN_EFFECT_COLUMNS),
    )

    id: int | None = Field(default=None, primary_key=True)
    deliverable_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("deliverable.id", ondelete="CASCADE"), nullable=False
        )
    )
    from_status: Status | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    to_status: Status = Field(sa_column=Column(String(16), nullable=False))
    percent_complete: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    evidence_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    changed_by: str = Field(sa_column=Column(String(200), nullable=False))
    effective_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    valid_to: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    """When the next entry (by effective_at, recorded_at, id) took over; null for the one
    in effect now. Maintained by the history service so that "the status as of T" is one
    indexed range test instead of a search for the latest entry before T."""
    fork: int = Field(default=OPEN_FORK, sa_column=Column(
        Integer, nullable=False, server_default=str(OPEN_FORK)))
    """The interval's node in a relational interval tree over days (see
    app/services/status/history.py); maintained with ``valid_to``."""
    mandate_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("mandate.id", ondelete="CASCADE"), nullable=True))
    """Copies of the deliverable's mandate, measure, weight and action line, so that a
    rollup as of any time reads the history alone. The database keeps them in step
    (migrations 0005 and 0007's triggers): filled from the deliverable when an entry is
    written without them, and rewritten whenever the deliverable moves to another measure
    or changes weight, or its measure moves to another action line."""
    measure_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    weight: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    action_line_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
