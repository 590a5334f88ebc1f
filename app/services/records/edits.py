"""An editor's write to one record: a member's engagement for a period, or an activity,
guarded by its ETag like a deliverable's status."""

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.conditional import require_match, strong_tag
from app.errors import FieldError, InvalidInput, NotFound, PreconditionFailed
from app.models import Activity, EngagementKind, EngagementValue, Member
from app.models.types import utcnow
from app.schemas.records_file import ActivitySpec, RecordsFile
from app.services.changes.events import Author, records_changed
from app.services.records import values
from app.services.records.engagement import (
    EngagementChange,
    EngagementTally,
    apply_engagement,
    bump_every_mandate,
)
from app.services.records.importer import import_records


def etag(member: Member) -> str:
    """The member's entity tag, ``"m<id>.<version>"``: bumped by any change to it."""
    return strong_tag(f"m{member.id}", member.version)


def write_engagement(session: Session, *, member: Member, period: str,
                     wanted: dict[str, Any], note: str | None, if_match: str | None,
                     actor: str, role: str | None = None) -> EngagementTally:
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
    records_changed(session, what="engagement", author=Author(actor, role),
                    summary={"member": member.code, "period": period, **vars(tally)})
    session.refresh(member)
    return tally


def activity_etag(activity: Activity) -> str:
    """An activity's entity tag, ``"a<id>.<version>"``."""
    return strong_tag(f"a{activity.id}", activity.version)


def get_activity(session: Session, code: str) -> Activity:
    activity = session.execute(select(Activity).where(
        Activity.code == code, Activity.removed_at.is_(None))).scalar_one_or_none()
    if activity is None:
        raise NotFound(f"There is no activity {code!r}.")
    return activity


def replace_activity(session: Session, *, activity: Activity, spec: ActivitySpec,
                     if_match: str | None, actor: str, role: str | None = None) -> None:
    """Replace an activity's fields, links and members, guarded by its ETag; checked and
    written as an import of that one activity would be (its change logged)."""
    require_match(if_match, activity_etag(activity), name=f"Activity {activity.code}")
    if spec.code != activity.code:
        raise InvalidInput([FieldError("code", f"{spec.code!r} does not match the URL's "
                                               f"{activity.code!r}")])
    moved = session.execute(
        update(Activity).where(Activity.id == activity.id,
                               Activity.version == activity.version)
        .values(version=activity.version).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        session.refresh(activity)
        raise PreconditionFailed(f"Activity {activity.code} was changed by someone else just "
                                 "now.", extra={"etag": activity_etag(activity)})
    import_records(session, records=RecordsFile(activities=[spec]), actor=actor, role=role,
                   what="activity")
    session.refresh(activity)
