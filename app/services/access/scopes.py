"""What a token may reach: its scopes, and the one check every route makes with them.

A scope is ``MANDATE`` (the whole mandate), ``MANDATE:LINE`` or ``MANDATE:MEASURE``. A token
without scopes reaches everything. Reads are granted per mandate (a token scoped to one
action line reads its whole mandate), writes per deliverable, indicator or plan: the scope
must cover what is written. Outside what it may read, a token is told that the mandate does
not exist (404, as for an unknown code); inside it, a write it may not make is a 403.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import FieldError, Forbidden, InvalidInput
from app.models import ActionLine, Mandate, Measure
from app.services.lookup import not_found

SEPARATOR = ":"
MAX_SCOPES = 50


@dataclass(frozen=True, order=True)
class Scope:
    """One scope: a mandate, or an action line or measure of it (``part``, by code)."""

    mandate: str
    part: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Scope":
        """``"2018-2020"`` or ``"2018-2020:L2"``; ValueError saying what is wrong."""
        mandate, separator, part = text.strip().partition(SEPARATOR)
        if not mandate or (separator and not part) or SEPARATOR in part:
            raise ValueError(f"{text!r} is not a scope: write MANDATE, MANDATE:LINE or "
                             "MANDATE:MEASURE")
        return cls(mandate, part or None)

    def __str__(self) -> str:
        return self.mandate if self.part is None else f"{self.mandate}{SEPARATOR}{self.part}"

    def covers(self, mandate: str, *, line: str | None = None,
               measure: str | None = None) -> bool:
        """Whether a write to something of ``mandate`` in action line ``line`` and measure
        ``measure`` is within this scope (neither: the mandate as a whole, such as its
        plan or an indicator of no line)."""
        if self.mandate != mandate:
            return False
        return self.part is None or self.part in (line, measure)


@dataclass(frozen=True)
class Reach:
    """What a caller may reach: its scopes, none meaning everything."""

    scopes: tuple[Scope, ...] = ()

    @classmethod
    def of(cls, texts: Iterable[str] | None) -> "Reach":
        return cls(tuple(sorted({Scope.parse(text) for text in texts or ()})))

    @property
    def everywhere(self) -> bool:
        return not self.scopes

    def sees(self, mandate: str) -> bool:
        return self.everywhere or any(scope.mandate == mandate for scope in self.scopes)

    def covers(self, mandate: str, *, line: str | None = None,
               measure: str | None = None) -> bool:
        return self.everywhere or any(scope.covers(mandate, line=line, measure=measure)
                                      for scope in self.scopes)

    def texts(self) -> list[str]:
        return [str(scope) for scope in self.scopes]

    def __str__(self) -> str:
        return ", ".join(self.texts()) if self.scopes else "everything"


EVERYWHERE = Reach()
"""The reach of the command line, the bundled data and tokens without scopes."""


def require_visible(reach: Reach | None, mandates: str | Sequence[str], *,
                    public_read: bool) -> None:
    """404, as for an unknown code, for a mandate the caller may not read: one outside its
    scopes while reads need a token. ``reach`` None: no token (the role check has let it
    through, so reads are public)."""
    for mandate in [mandates] if isinstance(mandates, str) else mandates:
        if reach is not None and not public_read and not reach.sees(mandate):
            raise not_found(Mandate, mandate)


def visible_mandates(reach: Reach | None, *, public_read: bool) -> frozenset[str] | None:
    """The codes of the mandates the caller may read; None: every one."""
    if reach is None or public_read or reach.everywhere:
        return None
    return frozenset(scope.mandate for scope in reach.scopes)


def require_write(reach: Reach, mandate: str, *, what: str, line: str | None = None,
                  measure: str | None = None, public_read: bool) -> None:
    """The check of every write inside a mandate: 404 for a mandate the caller may not
    read, 403 for ``what`` (``"Deliverable L1M3D2"``) outside its scopes."""
    require_visible(reach, mandate, public_read=public_read)
    require_covered(reach, mandate, what=what, line=line, measure=measure)


def require_covered(reach: Reach, mandate: str, *, what: str, line: str | None = None,
                    measure: str | None = None) -> None:
    """:func:`require_write` in a mandate the caller may read (checked already): 403 for
    ``what`` outside its scopes."""
    if not reach.covers(mandate, line=line, measure=measure):
        raise Forbidden(f"{what} is outside this token's scopes ({reach}).",
                        extra={"scopes": reach.texts()})


def require_among(reach: Reach, mandate: str, *, what: str, public_read: bool) -> None:
    """For what follows a mandate's reads (a webhook subscription): 404 for a mandate the
    caller may not read, 403 for one outside its scopes that public reads show it."""
    require_visible(reach, mandate, public_read=public_read)
    if not reach.sees(mandate):
        raise Forbidden(f"{what} is outside this token's scopes ({reach}).",
                        extra={"scopes": reach.texts()})


def require_everywhere(reach: Reach, *, what: str) -> None:
    """403 for a write that no mandate holds (records, the audit log) by a scoped token."""
    if not reach.everywhere:
        raise Forbidden(f"{what} belong to no mandate: this needs a token without scopes "
                        f"(this one's: {reach}).", extra={"scopes": reach.texts()})


@dataclass(frozen=True)
class Place:
    """Where a scope points in the stored plan: a mandate, with an action line (and a
    measure of it) or neither."""

    mandate: str
    line: str | None = None
    measure: str | None = None


def place_of(session: Session, scope: Scope) -> Place | None:
    """The stored mandate, action line or measure ``scope`` names; None if it names none.
    An action line's code is taken before a measure's (codes are unique within each)."""
    mandate = session.execute(select(Mandate.id).where(Mandate.code == scope.mandate)
                              ).scalar_one_or_none()
    if mandate is None:
        return None
    if scope.part is None:
        return Place(scope.mandate)
    if session.execute(select(ActionLine.id).where(
            ActionLine.mandate_id == mandate, ActionLine.code == scope.part)).first():
        return Place(scope.mandate, line=scope.part)
    line = session.execute(
        select(ActionLine.code).join(Measure, Measure.action_line_id == ActionLine.id)
        .where(Measure.mandate_id == mandate, Measure.code == scope.part)).scalar_one_or_none()
    return None if line is None else Place(scope.mandate, line=line, measure=scope.part)


def granted(session: Session, wanted: Sequence[str], *, by: Reach, public_read: bool,
            field: str = "scopes", single: bool = False) -> Reach:
    """The reach of a new token asked for with scopes ``wanted``, checked: each names a
    stored mandate, action line or measure (422 naming the item), and lies within what
    the granting caller holds (403): nobody grants wider than they hold. A mandate the
    granter may not read is reported as missing. ``single``: the one scope came as
    ``field`` itself, not as a list (error paths name ``field``, not ``field[0]``)."""
    problems: list[FieldError] = []
    scopes: list[Scope] = []
    if len(wanted) > MAX_SCOPES:
        problems.append(FieldError(field, f"at most {MAX_SCOPES} scopes"))
    for index, text in enumerate(wanted[:MAX_SCOPES]):
        path = field if single else f"{field}[{index}]"
        try:
            scope = Scope.parse(text)
        except ValueError as error:
            problems.append(FieldError(path, str(error)))
            continue
        place = place_of(session, scope)
        if place is None or (not public_read and not by.sees(scope.mandate)):
            # A mandate the granter cannot see is reported as missing, not as forbidden.
            problems.append(FieldError(path, _missing(scope)))
            continue
        if not by.covers(place.mandate, line=place.line, measure=place.measure):
            raise Forbidden(f"Scope {scope} is wider than this token's own ({by}): nobody "
                            "grants more than they hold.", extra={"scopes": by.texts()})
        scopes.append(scope)
    if problems:
        raise InvalidInput(problems)
    if not scopes and not by.everywhere:
        raise Forbidden(f"A token without scopes reaches every mandate, wider than this "
                        f"token's own ({by}): name its scopes.", extra={"scopes": by.texts()})
    return Reach(tuple(sorted(set(scopes))))


def _missing(scope: Scope) -> str:
    if scope.part is None:
        return f"there is no mandate {scope.mandate!r}"
    return (f"there is no mandate {scope.mandate!r} with an action line or measure "
            f"{scope.part!r}")



def place_of_indicator(session: Session, *, mandate: str, action_line_id: int | None,
                       measure_id: int | None) -> Place:
    """Where a stored indicator is linked: its measure (and that measure's line), its
    action line, or the mandate as a whole."""
    if measure_id is not None:
        line, measure = session.execute(
            select(ActionLine.code, Measure.code)
            .join(Measure, Measure.action_line_id == ActionLine.id)
            .where(Measure.id == measure_id)).one()
        return Place(mandate, line=line, measure=measure)
    if action_line_id is not None:
        line = session.execute(select(ActionLine.code).where(ActionLine.id == action_line_id)
                               ).scalar_one()
        return Place(mandate, line=line)
    return Place(mandate)


def place_of_link(session: Session, *, mandate: str, action_line: str | None,
                  measure: str | None) -> Place | None:
    """Where an indicator definition or an activity links, by codes: a measure counts with
    its line. None when the plan holds no such mandate, line or measure: a link to nothing
    reaches nothing, and the definition's own validation says which code is unknown."""
    place = place_of(session, Scope(mandate, measure or action_line))
    if place is None or (measure is not None and place.measure != measure) or (
            action_line is not None and place.line != action_line):
        return None
    return place


def require_place(reach: Reach, place: Place, *, what: str) -> None:
    """:func:`require_covered` for a :class:`Place`."""
    require_covered(reach, place.mandate, what=what, line=place.line, measure=place.measure)
