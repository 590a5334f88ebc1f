"""Request bodies of the write endpoints: strict types, unknown fields refused."""

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.models.enums import Role, Status
from app.schemas.fields import CODE_LENGTH, PERIOD_PATTERN, Tag
from app.schemas.figures import FigureForm
from app.schemas.plan_file import MAX_WEIGHT, percent_only_in_progress
from app.schemas.records_file import CellValue
from app.schemas.text import refuse_nul

NOTE_MAX = 2000


def _http_url(value: str) -> str:
    if not value.lower().startswith(("http://", "https://")) or len(value.split("://", 1)[1]) == 0:
        raise ValueError("must be an http(s) URL")
    if any(character.isspace() for character in value):
        raise ValueError("must be an http(s) URL without spaces")
    return value


def _utc_instant(value: Any) -> Any:
    """A date means the start of that day in UTC; a time without an offset is UTC."""
    if isinstance(value, str) and len(value) == 10:
        value = date.fromisoformat(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time.min, tzinfo=UTC)
    return value


def _as_utc(value: datetime) -> datetime:
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the range of dates that can be stored") from None


# Numbers and text are strict ("50" is not a number); dates and statuses arrive as JSON strings.
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Text = Annotated[str, Strict()]
EvidenceUrl = Annotated[Text, StringConstraints(max_length=2000), AfterValidator(_http_url)]
Note = Annotated[Text, StringConstraints(max_length=NOTE_MAX)]
Instant = Annotated[datetime, BeforeValidator(_utc_instant), AfterValidator(_as_utc)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    _no_nul = field_validator("*", mode="before")(refuse_nul)


class StatusChangeIn(_Body):
    status: Status = Field(examples=["in_progress"])
    percent_complete: Annotated[Number, Field(ge=0, le=100)] | None = Field(
        default=None, examples=[60], description="Only with status in_progress.")
    note: Note | None = Field(default=None, examples=["Speakers list agreed with partners"])
    evidence_url: EvidenceUrl | None = Field(default=None,
                                             examples=["https://example.org/report.pdf"])
    effective_at: Instant | None = Field(
        default=None, description="When it happened (a date or a time; not in the future). "
        "Defaults to now.")

    _percent = field_validator("percent_complete")(percent_only_in_progress)


class DeliverablePatch(_Body):
    """Fields to change; absent ones stay as they are."""

    owner: Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=200)] | None = None
    due_date: date | None = None
    tags: list[Annotated[Tag, Strict()]] | None = None
    weight: Annotated[Number, Field(ge=0, le=MAX_WEIGHT)] | None = None
    title: Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=2000)] | None = None
    note: Note | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"owner": "Gender team", "due_date": "2020-12-31"}]},
    )

    @field_validator("tags", "weight", "title")
    @classmethod
    def _not_null(cls, value: object, info: ValidationInfo) -> object:
        # Runs only for fields the request sets: null may clear owner or due_date, not these.
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null")
        return value

    def changes(self) -> dict[str, object]:
        """The fields the request sets (an explicit null clears owner or due_date)."""
        return {name: getattr(self, name) for name in self.model_fields_set if name != "note"}


class BatchItem(StatusChangeIn):
    code: Annotated[Text, StringConstraints(min_length=1, max_length=64)]
    if_match: Annotated[Text, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The deliverable's ETag as read, e.g. \"12.3\".")


class BatchStatusIn(_Body):
    changes: Annotated[list[BatchItem], Field(min_length=1, max_length=500)]


ScopeText = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=2 * CODE_LENGTH + 1)]


class TokenIn(_Body):
    name: Annotated[Text, StringConstraints(min_length=1, max_length=200, pattern=r"^\S+$")]
    role: Role
    expires_in_days: Annotated[int, Strict(), Field(ge=1, le=3650)] | None = None
    scope: ScopeText | None = Field(
        default=None, examples=["2018-2020:L2"],
        description="One scope: MANDATE, MANDATE:LINE or MANDATE:MEASURE (docs/access.md).")
    scopes: list[ScopeText] | None = Field(
        default=None, max_length=50, examples=[["2018-2020:L2", "2018-2020:L1M3"]],
        description="Several scopes. Neither this nor `scope`: every mandate, which only a "
        "token without scopes may grant.")
    person: Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=200)] | None = Field(
        default=None, examples=["Ana Ruiz"],
        description="The person the token speaks for, as plans name owners.")

    @model_validator(mode="after")
    def _scope_or_scopes(self) -> "TokenIn":
        if self.scope is not None and self.scopes is not None:
            raise ValueError("send scope or scopes, not both")
        return self

    def wanted_scopes(self) -> tuple[list[str], str]:
        """The scopes asked for, and the field they came in (for error paths)."""
        if self.scope is not None:
            return [self.scope], "scope"
        return list(self.scopes or []), "scopes"


class IndicatorValueIn(FigureForm, _Body):
    """A value for a period, and optionally the form it was stated in (docs/plan-file.md,
    "Figures in their own form")."""

    period: Annotated[str, Strict(), StringConstraints(pattern=PERIOD_PATTERN.pattern)] = Field(
        examples=["2020"], description="A year, quarter (2020-Q4), month (2020-12) or "
        "'mandate'.")
    value: Number = Field(examples=[160])
    parts: dict[str, Annotated[Number, Field(ge=0)]] | None = Field(
        default=None, examples=[{"women": 58, "men": 102}],
        description="The value broken down by the indicator's split; must add up to it.")
    note: Note | None = None
    source: Annotated[Text, StringConstraints(max_length=2000)] | None = None


class EngagementIn(_Body):
    """A member's whole engagement for a period: kind code → value (true for a flag, a
    whole number for a count, a text for a label); a kind left out is cleared."""

    values: dict[str, CellValue] = Field(default_factory=dict,
                                         examples=[{"activated": True, "bilateral_meetings": 2}])
    note: Annotated[str, Strict(), StringConstraints(max_length=NOTE_MAX)] | None = None
