"""How a derived indicator's values are computed from the records: one form each."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from app.models.enums import ActivityMode
from app.schemas.fields import Code


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MembersOf(_Form):
    """Members on the period's roll: with a value of ``engagement`` if given; with
    ``new``, only those new in the period."""

    engagement: Code | None = None
    new: bool = False


class EngagementOf(_Form):
    engagement: Code


class ActivitiesOf(_Form):
    """Activities counted in the period (the calendar year of their start date)."""

    kind: Code | None = None
    mode: ActivityMode | None = None


class WomenShareOf(_Form):
    of: Literal["speakers", "participants"]
    kind: Code | None = None


FORMS = ("count_members", "share_of_members", "sum_engagement", "count_activities",
         "women_share")


class DerivedSpec(_Form):
    """Exactly one form, e.g. ``{share_of_members: {engagement: activated}}``."""

    count_members: MembersOf | None = None
    share_of_members: MembersOf | None = None
    sum_engagement: EngagementOf | None = None
    count_activities: ActivitiesOf | None = None
    women_share: WomenShareOf | None = None

    @model_validator(mode="after")
    def _one_form(self) -> "DerivedSpec":
        given = [form for form in FORMS if getattr(self, form) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(FORMS)}"
                             + (f"; got {', '.join(given)}" if given else ""))
        return self

    @property
    def form(self) -> str:
        return next(form for form in FORMS if getattr(self, form) is not None)

    @property
    def of(self) -> Any:
        return getattr(self, self.form)

    def stored(self) -> dict[str, Any]:
        """As kept in ``indicator.derived`` and given back in the plan file."""
        return self.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
