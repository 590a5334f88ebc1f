"""Each mandate's data version: bumped by every write, the key of its cache validators."""

import hashlib

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.models import Mandate


def bump_data_version(session: Session, *, mandate_id: int) -> None:
    """Call once per write transaction, last, so that the row lock is held briefly."""
    session.execute(
        update(Mandate).where(Mandate.id == mandate_id)
        .values(data_version=Mandate.data_version + 1)
        .execution_options(synchronize_session=False)
    )


def entity_tag(mandate: Mandate, *parts: str) -> str:
    """A weak ETag for a view of the mandate: its data version and what the view asked for.

    Weak, because a view "as of now" says what time it is, while meaning the same data.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]
    return f'W/"{mandate.id}.{mandate.data_version}.{digest}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    offered = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in offered or etag.removeprefix("W/") in offered
