"""An editor's write to one member's engagement for a period, guarded by the member's ETag
like a deliverable's status."""

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.conditional import require_match, strong_tag
from app.errors import FieldError, InvalidInput, PreconditionFailed
from app.models import EngagementKind, EngagementValue, Member
from app.models.types import utcnow
from app.services.records import values
from app.services.records.engagement import (
    EngagementChange,
    EngagementTally,
    apply_engagement,
    bump_every_mandate,
)


def etag(member: Member) -> str:
    """The member's entity tag, ``"m<id>.<version>"``: bumped by any change to it."""
    return strong_tag(f"m{member.id}", member.version)


def write_engagement(session: Session, *, member: Member, period: str,
                     wanted: dict[str, Any], note: str | None, if_match: str | None,
                     actor: str) -> EngagementTally:
    """Replace the member's engagement for ``period`` with ``wanted`` (kind code → value;
    a kind left out is cleared) and put it on the period's roll."""
    require_match(if_match, etag(member), name=f"Member {member.code}")
    kinds = {kind.code: kind for kind in session.execute(select(EngagementKind)).scalars()}
    stored, errors = {}, []
    for code, value in wanted.items():
        kind = kinds.get(code)
        if kind is None:
            errors.append(FieldError(f"values.{code}", f"no engagement kind {code!r}"))
            continue
        try:
            stored[kind.id or 0] = values.from_file(EngagementValue(kind.value), value)
        except ValueError as error:
            errors.append(FieldError(f"values.{code}", str(error)))
    if errors:
        raise InvalidInput(errors)
    moved = session.execute(
        update(Member).where(Member.id == member.id, Member.version == member.version)
        .values(version=member.version + 1).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        session.refresh(member)
        raise PreconditionFailed(f"Member {member.code} was changed by someone else just now.",
                                 extra={"etag": etag(member)})
    change = EngagementChange(member.id or 0, period, {
        kind.id or 0: stored.get(kind.id or 0, values.CLEARED) for kind in kinds.values()})
    tally = apply_engagement(session, [change], actor=actor, now=utcnow(), note=note)
    bump_every_mandate(session)
    session.refresh(member)
    return tally
