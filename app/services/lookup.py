"""Find one item by its code, or say clearly that it does not exist."""

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.models import ActionLine, Deliverable, Indicator, Mandate, Measure

Coded = TypeVar("Coded", Mandate, ActionLine, Measure, Deliverable, Indicator)
NOUNS: dict[type[Any], str] = {Mandate: "mandate", ActionLine: "action line",
                               Measure: "measure", Deliverable: "deliverable",
                               Indicator: "indicator"}


def find_by_code(session: Session, model: type[Coded], *, code: str,
                 mandate: Mandate | None = None) -> Coded | None:
    """The ``model`` row with this code (within ``mandate`` for what a mandate holds), or
    None."""
    query = select(model).where(model.code == code)
    if mandate is not None:
        query = query.where(model.mandate_id == mandate.id)  # type: ignore[union-attr]
    return session.execute(query).scalar_one_or_none()


def get_by_code(session: Session, model: type[Coded], *, code: str,
                mandate: Mandate | None = None) -> Coded:
    """:func:`find_by_code`, or a 404 naming what is missing."""
    found = find_by_code(session, model, code=code, mandate=mandate)
    if found is None:
        raise not_found(model, code, mandate=mandate.code if mandate is not None else None)
    return found


def get_mandate(session: Session, *, code: str) -> Mandate:
    return get_by_code(session, Mandate, code=code)


def not_found(model: type[Any], code: str, *, mandate: str | None = None) -> NotFound:
    noun = NOUNS[model]
    if mandate is None:
        return NotFound(f"There is no {noun} {code!r}.")
    return NotFound(f"Mandate {mandate!r} has no {noun} {code!r}.")
