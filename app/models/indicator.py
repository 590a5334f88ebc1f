"""Indicators (KPIs) of a mandate, with their targets and recorded values."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from app.models import base as _base  # noqa: F401  (naming convention first)
from app.models.enums import (
    Aggregation,
    Direction,
    IndicatorUnit,
    Qualifier,
    SplitDimension,
    sql_in,
)
from app.models.plan import CODE_LENGTH, TITLE_LENGTH
from app.models.types import UTCDateTime, utcnow

PERIOD_LENGTH = 16


class Indicator(SQLModel, table=True):
    __tablename__ = "indicator"
    __table_args__ = (
        UniqueConstraint("mandate_id", "code"),
        CheckConstraint(sql_in("unit", IndicatorUnit), name="unit_vocabulary"),
        CheckConstraint(sql_in("direction", Direction), name="direction_vocabulary"),
        CheckConstraint(
            "(baseline_period IS NULL) = (baseline_value IS NULL)", name="baseline_complete"
        ),
        CheckConstraint(sql_in("aggregation", Aggregation), name="aggregation_vocabulary"),
        CheckConstraint("split IS NULL OR " + sql_in("split", SplitDimension),
                        name="split_vocabulary"),
        CheckConstraint("(unit = 'currency') = (currency IS NOT NULL)",
                        name="currency_with_currency_unit"),
        CheckConstraint("tolerance IS NULL OR tolerance >= 0", name="tolerance_not_negative"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mandate_id: int = Field(
        sa_column=Column(Integer, ForeignKey("mandate.id", ondelete="CASCADE"), nullable=False)
    )
    code: str = Field(sa_column=Column(String(CODE_LENGTH), nullable=False))
    title: str = Field(sa_column=Column(String(TITLE_LENGTH), nullable=False))
    unit: IndicatorUnit = Field(sa_column=Column(String(16), nullable=False))
    currency: str | None = Field(default=None, sa_column=Column(String(3), nullable=True))
    """ISO 4217 code, for unit currency."""
    direction: Direction = Field(sa_column=Column(String(16), nullable=False))
    tolerance: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    """For direction maintain: how far from the target still counts as on track."""
    aggregation: Aggregation = Field(
        default=Aggregation.last,
        sa_column=Column(String(8), nullable=False, server_default=Aggregation.last.value))
    split: SplitDimension | None = Field(default=None,
                                         sa_column=Column(String(16), nullable=True))
    """A dimension every value must be broken down by (gender)."""
    action_line_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("action_line.id"), nullable=True)
    )
    measure_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("measure.id"), nullable=True)
    )
    baseline_period: str | None = Field(
        default=None, sa_column=Column(String(PERIOD_LENGTH), nullable=True)
    )
    baseline_value: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    position: int = Field(default=0, nullable=False)
    tags: list[str] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True),
                                                                  nullable=True))
    """Themes the indicator reports on (gender, ...), as deliverables' tags."""
    derived: dict[str, Any] | None = Field(default=None, sa_column=Column(
        JSON(none_as_null=True), nullable=True))
    """How the values are computed from the records (app/services/records/derived.py);
    None for an indicator whose values are typed."""
    reported: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(
        JSON(none_as_null=True), nullable=True))
    """For a derived indicator: the figures as a published report printed them (value and
    form, app/schemas/figures.py), shown beside the computed values."""
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False,
                                                      server_default="1"))
    """Bumped by every change to the indicator, its targets or values (its ETag)."""


class IndicatorTarget(SQLModel, table=True):
    __tablename__ = "indicator_target"
    __table_args__ = (UniqueConstraint("indicator_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(
        sa_column=Column(Integer, ForeignKey("indicator.id", ondelete="CASCADE"), nullable=False)
    )
    period: str = Field(sa_column=Column(String(PERIOD_LENGTH), nullable=False))
    value: float = Field(sa_column=Column(Float, nullable=False))


class IndicatorValue(SQLModel, table=True):
    """A value recorded for a period; a newer one for the same period supersedes it."""

    __tablename__ = "indicator_value"
    __table_args__ = (
        Index(None, "indicator_id", "period", "recorded_at"),
        CheckConstraint("qualifier IS NULL OR " + sql_in("qualifier", Qualifier),
                        name="qualifier_vocabulary"),
        CheckConstraint("out_of IS NULL OR out_of > 0", name="out_of_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(
        sa_column=Column(Integer, ForeignKey("indicator.id", ondelete="CASCADE"), nullable=False)
    )
    period: str = Field(sa_column=Column(String(PERIOD_LENGTH), nullable=False))
    value: float = Field(sa_column=Column(Float, nullable=False))
    parts: dict[str, float] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """The value broken down by the indicator's split, e.g. {"women": 45, "men": 55}."""
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    source: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The form the figure was stated in (app/schemas/figures.py).
    qualifier: Qualifier | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    shares: dict[str, float] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """The split as printed, in percent ({"women": 36, "men": 64}), when the counts are not."""
    components: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(
        JSON, nullable=True))
    """Named parts that add up to the value ([{"name": "led", "value": 6}, ...]) or share it
    in percent ([{"name": "membership fees", "share": 52}, ...])."""
    out_of: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    """The total the value is a count of: "3 out of 5"."""
    change: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """A change stated with the value: {"percent": 6.7, "since": "2019"}."""
    quote: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """The source's own words for the figure."""
    recorded_by: str = Field(sa_column=Column(String(200), nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
