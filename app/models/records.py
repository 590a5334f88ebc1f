"""Records kept across mandates: members, their engagement per period, and the activities.

Engagement and the roll keep their history as intervals of transaction time: a row is in
force from ``recorded_at`` until ``superseded_at`` (null: still in force). A change
supersedes the row in force and adds one; clearing a value adds a row without one, so
that who cleared it, when and why stays on record. What the records said at a time T is
the rows with ``recorded_at <= T`` and ``superseded_at`` null or later than T.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlmodel import Field, SQLModel

from app.models import base as _base  # noqa: F401  (naming convention first)
from app.models.audit import ACTOR_LENGTH
from app.models.enums import ActivityMode, ActivityRole, EngagementValue, sql_in
from app.models.indicator import PERIOD_LENGTH
from app.models.plan import CODE_LENGTH, TITLE_LENGTH
from app.models.types import UTCDateTime, utcnow

NAME_LENGTH = 200
IN_FORCE = text("superseded_at IS NULL")


class EngagementKind(SQLModel, table=True):
    """A kind of engagement: a column of the report's table 4.1 (or 4.2)."""

    __tablename__ = "engagement_kind"
    __table_args__ = (CheckConstraint(sql_in("value", EngagementValue), name="value_vocabulary"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(CODE_LENGTH), nullable=False, unique=True))
    title: str = Field(sa_column=Column(String(TITLE_LENGTH), nullable=False))
    value: EngagementValue = Field(sa_column=Column(String(8), nullable=False))
    summed: bool = Field(default=True, sa_column=Column(Boolean, nullable=False,
                                                         server_default=true()))
    """For counts: whether the sheet's ``Total`` row prints their sum (else ``-``)."""
    sheet: str = Field(default="engagement", sa_column=Column(
        String(CODE_LENGTH), nullable=False, server_default="engagement"))
    """The sheet (table) the kind is a column of: one worksheet each in XLSX."""
    position: int = Field(default=0, nullable=False)


class Member(SQLModel, table=True):
    """A member of the network, kept across mandates."""

    __tablename__ = "member"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(CODE_LENGTH), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(NAME_LENGTH), nullable=False))
    full_name: str | None = Field(default=None, sa_column=Column(String(TITLE_LENGTH),
                                                                  nullable=True))
    new_in: str | None = Field(default=None, sa_column=Column(String(PERIOD_LENGTH),
                                                               nullable=True))
    """The period the member joined in (the report's "(N) New member")."""
    honorary: bool = Field(default=False, sa_column=Column(Boolean, nullable=False,
                                                            server_default=false()))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False,
                                                      server_default="1"))
    """Bumped by every change to the member or its engagement (its ETag)."""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class RollEntry(SQLModel, table=True):
    """A member on the roll of a period, from ``recorded_at`` until ``superseded_at``."""

    __tablename__ = "roll_entry"
    __table_args__ = (
        Index(None, "period", "member_id", unique=True, sqlite_where=IN_FORCE,
              postgresql_where=IN_FORCE),
        Index(None, "member_id", "period", "recorded_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(sa_column=Column(
        Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False))
    period: str = Field(sa_column=Column(String(PERIOD_LENGTH), nullable=False))
    recorded_by: str = Field(sa_column=Column(String(ACTOR_LENGTH), nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    superseded_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    superseded_by: str | None = Field(default=None, sa_column=Column(String(ACTOR_LENGTH),
                                                                     nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class EngagementRecord(SQLModel, table=True):
    """A member's engagement of one kind in a period: ``amount`` (1 for a flag, the count)
    or ``label``; neither when the value was cleared."""

    __tablename__ = "engagement_record"
    __table_args__ = (
        Index(None, "kind_id", "period", "member_id", unique=True, sqlite_where=IN_FORCE,
              postgresql_where=IN_FORCE),
        Index(None, "member_id", "period"),
        Index(None, "kind_id", "period", "recorded_at"),
        CheckConstraint("amount IS NULL OR label IS NULL", name="one_value"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(sa_column=Column(
        Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False))
    kind_id: int = Field(sa_column=Column(
        Integer, ForeignKey("engagement_kind.id", ondelete="CASCADE"), nullable=False))
    period: str = Field(sa_column=Column(String(PERIOD_LENGTH), nullable=False))
    amount: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    label: str | None = Field(default=None, sa_column=Column(String(NAME_LENGTH),
                                                             nullable=True))
    recorded_by: str = Field(sa_column=Column(String(ACTOR_LENGTH), nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    superseded_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ActivityKind(SQLModel, table=True):
    """A kind of activity: event, statement, publication, campaign, video, ..."""

    __tablename__ = "activity_kind"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(CODE_LENGTH), nullable=False, unique=True))
    title: str = Field(sa_column=Column(String(TITLE_LENGTH), nullable=False))


class Activity(SQLModel, table=True):
    """An event, statement, publication...: counted in ``period`` (the calendar year of
    ``start_date`` when it has one). Removed ones stay, with ``removed_at``."""

    __tablename__ = "activity"
    __table_args__ = (
        CheckConstraint("mode IS NULL OR " + sql_in("mode", ActivityMode),
                        name="mode_vocabulary"),
        CheckConstraint("end_date IS NULL OR start_date IS NOT NULL AND end_date >= start_date",
                        name="dates_ordered"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index(None, "period", "kind_id"),
        Index(None, "start_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(CODE_LENGTH), nullable=False, unique=True))
    kind_id: int = Field(sa_column=Column(Integer, ForeignKey("activity_kind.id"),
                                          nullable=False))
    title: str = Field(sa_column=Column(String(TITLE_LENGTH), nullable=False))
    period: str = Field(sa_column=Column(String(PERIOD_LENGTH), nullable=False))
    start_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    end_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    location: str | None = Field(default=None, sa_column=Column(String(NAME_LENGTH),
                                                                nullable=True))
    mode: ActivityMode | None = Field(default=None, sa_column=Column(String(16),
                                                                     nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    speakers_total: int | None = None
    speakers_women: int | None = None
    speakers_men: int | None = None
    participants_total: int | None = None
    participants_women: int | None = None
    participants_men: int | None = None
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False,
                                                      server_default="1"))
    recorded_by: str = Field(sa_column=Column(String(ACTOR_LENGTH), nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class ActivityLink(SQLModel, table=True):
    """An activity's link to a mandate's action line or measure (or the whole mandate)."""

    __tablename__ = "activity_link"
    __table_args__ = (Index(None, "activity_id"), Index(None, "mandate_id"))

    id: int | None = Field(default=None, primary_key=True)
    activity_id: int = Field(sa_column=Column(
        Integer, ForeignKey("activity.id", ondelete="CASCADE"), nullable=False))
    mandate_id: int = Field(sa_column=Column(
        Integer, ForeignKey("mandate.id", ondelete="CASCADE"), nullable=False))
    action_line_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("action_line.id", ondelete="CASCADE"), nullable=True))
    measure_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("measure.id", ondelete="CASCADE"), nullable=True))


class ActivityMember(SQLModel, table=True):
    """A member's part in an activity: organiser, speaker, leader, partner, participant."""

    __tablename__ = "activity_member"
    __table_args__ = (
        UniqueConstraint("activity_id", "member_id", "role"),
        CheckConstraint(sql_in("role", ActivityRole), name="role_vocabulary"),
        Index(None, "member_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    activity_id: int = Field(sa_column=Column(
        Integer, ForeignKey("activity.id", ondelete="CASCADE"), nullable=False))
    member_id: int = Field(sa_column=Column(
        Integer, ForeignKey("member.id", ondelete="CASCADE"), nullable=False))
    role: ActivityRole = Field(sa_column=Column(String(16), nullable=False))


class RecordEdit(SQLModel, table=True):
    """A change to a member's, a kind's or an activity's fields: who, when, why."""

    __tablename__ = "record_edit"
    __table_args__ = (Index(None, "record", "record_id", "recorded_at"),)

    id: int | None = Field(default=None, primary_key=True)
    record: str = Field(sa_column=Column(String(16), nullable=False))
    """member, engagement_kind or activity."""
    record_id: int = Field(nullable=False)
    changes: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False),
                                    description="field → {from, to}")
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    changed_by: str = Field(sa_column=Column(String(ACTOR_LENGTH), nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
