"""Vocabularies shared by the database, the plan file and the API."""

from enum import StrEnum


class Status(StrEnum):
    """A deliverable's status. The annual report's symbols map onto the first four."""

    completed = "completed"
    in_progress = "in_progress"
    not_started = "not_started"
    not_achieved = "not_achieved"
    cancelled = "cancelled"


class Role(StrEnum):
    """Token roles; each includes the rights of the ones before it."""

    viewer = "viewer"
    editor = "editor"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class IndicatorUnit(StrEnum):
    count = "count"
    percent = "percent"
    currency = "currency"
    ratio = "ratio"


class Direction(StrEnum):
    increase = "increase"
    decrease = "decrease"
    maintain = "maintain"


class Aggregation(StrEnum):
    """How an indicator's values for several periods combine into one figure."""

    sum = "sum"
    last = "last"
    max = "max"
    mean = "mean"


class SplitDimension(StrEnum):
    """A dimension an indicator's values are broken down by."""

    gender = "gender"


class Qualifier(StrEnum):
    """How a figure was stated: "400+" is at_least 400, "more than 2,000" more_than,
    "approximately" about, "almost 75" almost."""

    at_least = "at_least"
    more_than = "more_than"
    about = "about"
    almost = "almost"


class EngagementValue(StrEnum):
    """What a kind of engagement holds per member and period."""

    flag = "flag"
    count = "count"
    label = "label"


class ActivityMode(StrEnum):
    online = "online"
    in_person = "in_person"
    hybrid = "hybrid"


class ActivityRole(StrEnum):
    """A member's part in an activity."""

    organiser = "organiser"
    speaker = "speaker"
    leader = "leader"
    partner = "partner"
    participant = "participant"


GENDER_CATEGORIES = ("women", "men", "other", "unknown")


def sql_in(column: str, vocabulary: type[StrEnum]) -> str:
    """A CHECK expression keeping ``column`` inside ``vocabulary``."""
    values = ", ".join(f"'{member.value}'" for member in vocabulary)
    return f"{column} IN ({values})"
