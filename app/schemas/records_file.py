"""The records file (YAML or JSON): engagement kinds, members, their engagement per period
and the activities; validated whole, every problem reported at once (docs/records.md)."""

import json
from datetime import date
from typing import Annotated, Any

import yaml
from pydantic import (
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from app.errors import FieldError, InvalidInput, validation_errors
from app.models.enums import ActivityMode, ActivityRole, EngagementValue
from app.schemas.fields import Code, Period, Title
from app.schemas.plan_file import _PlanLoader, _Strict

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Count = Annotated[StrictInt, Field(ge=0)]
CellValue = StrictBool | Count | Label
DEFAULT_ACTIVITY_KINDS = {"event": "Event", "statement": "Policy statement",
                          "publication": "Publication", "campaign": "Campaign",
                          "video": "Video", "pilot_project": "Pilot project"}
"""Kinds of activity every records file may use without declaring them."""


class EngagementKindSpec(_Strict):
    code: Code
    title: Title
    value: EngagementValue
    summed: bool = Field(default=True, description="For counts: whether the sheet's Total "
                         "row prints their sum (false: it prints -).")
    sheet: Code = Field(default="engagement", description="The sheet (table) the kind is a "
                        "column of; an XLSX export has one worksheet per sheet.")


class MemberSpec(_Strict):
    code: Code
    name: Name
    full_name: Title | None = None
    new_in: Period | None = Field(default=None, description="The period the member joined in.")
    honorary: bool = False


class EngagementSpec(_Strict):
    """A member on a period's roll, with the kinds it has a value of."""

    member: Code
    period: Period
    values: dict[str, CellValue] = Field(default_factory=dict)
    note: Note | None = None


class ActivityKindSpec(_Strict):
    code: Code
    title: Title


class SplitSpec(_Strict):
    """People counted at an activity, as indicator splits: women and men within the total."""

    total: Count
    women: Count | None = None
    men: Count | None = None

    @field_validator("men")
    @classmethod
    def _within_total(cls, men: int | None, info: ValidationInfo) -> int | None:
        total, women = info.data.get("total"), info.data.get("women")
        if total is not None and (women or 0) + (men or 0) > total:
            raise ValueError(f"women and men add up to more than the total {total}")
        return men


class LinkSpec(_Strict):
    mandate: Code
    action_line: Code | None = None
    measure: Code | None = None

    @field_validator("measure")
    @classmethod
    def _one_link(cls, measure: str | None, info: ValidationInfo) -> str | None:
        if measure is not None and info.data.get("action_line") is not None:
            raise ValueError("link to an action_line or a measure, not both")
        return measure


class ActivityMemberSpec(_Strict):
    member: Code
    role: ActivityRole


class ActivitySpec(_Strict):
    code: Code
    kind: Code
    title: Title
    start_date: date | None = None
    end_date: date | None = None
    period: Period | None = Field(default=None, validate_default=True,
                                  description="The year it counts in, when it "
                                  "has no start_date (else the start date's year).")
    location: Name | None = None
    mode: ActivityMode | None = None
    speakers: SplitSpec | None = None
    participants: SplitSpec | None = None
    links: list[LinkSpec] = Field(default_factory=list)
    members: list[ActivityMemberSpec] = Field(default_factory=list)
    note: Note | None = None

    @field_validator("end_date")
    @classmethod
    def _dates_ordered(cls, end_date: date | None, info: ValidationInfo) -> date | None:
        start_date = info.data.get("start_date")
        if end_date is not None and start_date is None:
            raise ValueError("an end_date needs a start_date")
        if end_date is not None and start_date is not None and end_date < start_date:
            raise ValueError(f"end_date {end_date} is before start_date {start_date}")
        return end_date

    @field_validator("period")
    @classmethod
    def _period_or_date(cls, period: str | None, info: ValidationInfo) -> str | None:
        start_date = info.data.get("start_date")
        # start_date missing from info.data: it failed, and says so itself.
        if period is None and start_date is None and "start_date" in info.data:
            raise ValueError("give a start_date, or the period the activity counts in")
        if period is not None and start_date is not None and period != str(start_date.year):
            raise ValueError(f"period {period} is not the year of start_date {start_date}")
        return period

    @property
    def counted_in(self) -> str:
        return self.period or str(self.start_date.year)  # type: ignore[union-attr]


class RecordsFile(_Strict):
    engagement_kinds: list[EngagementKindSpec] = Field(default_factory=list)
    activity_kinds: list[ActivityKindSpec] = Field(default_factory=list)
    members: list[MemberSpec] = Field(default_factory=list)
    engagement: list[EngagementSpec] = Field(default_factory=list)
    activities: list[ActivitySpec] = Field(default_factory=list)


def parse_records_text(text: str | bytes, *, fmt: str | None = None) -> RecordsFile:
    """Read a records file's text (YAML, of which JSON is a subset) and validate it whole.
    Cross-references (members, kinds) are checked against the database by the importer,
    since a file may name records stored already."""
    try:
        data = json.loads(text) if fmt == "json" else yaml.load(text, Loader=_PlanLoader)
    except (yaml.YAMLError, ValueError, RecursionError) as error:
        kind = "JSON" if fmt == "json" else "YAML"
        detail = " ".join(str(error).split())
        raise InvalidInput([FieldError("", f"malformed {kind}: {detail}")]) from None
    return validate_records(data)


def validate_records(data: Any) -> RecordsFile:
    if not isinstance(data, dict):
        raise InvalidInput([FieldError("", "a records file must be a mapping of "
                                           "engagement_kinds, members, engagement, activities")])
    try:
        records = RecordsFile.model_validate(data)
    except ValidationError as error:
        errors = list(dict.fromkeys(validation_errors(error.errors())))
        raise InvalidInput(errors, detail=f"{len(errors)} problem(s) in the records") from None
    errors = _duplicates(records)
    if errors:
        raise InvalidInput(errors, detail=f"{len(errors)} problem(s) in the records")
    return records


def _duplicates(records: RecordsFile) -> list[FieldError]:
    errors: list[FieldError] = []
    for field, key in (("engagement_kinds", lambda item: item.code),
                       ("activity_kinds", lambda item: item.code),
                       ("members", lambda item: item.code),
                       ("engagement", lambda item: (item.member, item.period)),
                       ("activities", lambda item: item.code)):
        seen: dict[Any, int] = {}
        for i, item in enumerate(getattr(records, field)):
            value = key(item)
            if value in seen:
                shown = value if isinstance(value, str) else " ".join(value)
                errors.append(FieldError(f"{field}[{i}]", f"{shown!r} given twice, first at "
                                                          f"{field}[{seen[value]}]"))
            else:
                seen[value] = i
    return errors
