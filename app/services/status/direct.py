"""The usual status change on PostgreSQL, straight through the driver.

A change that takes effect now, sent without an Idempotency-Key, is three statements: the
caller's token, the deliverable (with its codes, tags and entry in effect), and one
statement for every write (``APPEND_AND_BUMP``: the new version and state, the previous
entry closed, the new one added, the data version bumped). Each runs in autocommit, its own
transaction: the writes are one statement, so they are all or nothing, and they happen only
if the deliverable is still at the version read, as in a transaction (READ COMMITTED reads
nothing more). BEGIN and COMMIT were two round trips more.

The statements are the services' own SQLAlchemy statements, compiled once; what is skipped
is SQLAlchemy's work around each execution (the ORM session, its entities, result
processing), which cost more than the database's (docs/performance.md). The rules are
deliverable_writes' own steps. Whatever is not the usual case (an unknown code, a backdated
change, a race lost to another writer) returns :data:`FULL_PATH` before anything is
written, and the route takes the usual way, which gives the answer.
"""

from datetime import UTC, datetime
from typing import Any, NamedTuple

from app.db import DriverConnection
from app.models.types import utcnow
from app.services import versioning
from app.services.access import tokens
from app.services.plan.deliverables import (
    STATE_BY_CODES,
    DeliverableRow,
    DeliverableState,
    EntryInEffect,
    row_of,
)
from app.services.status import writes

FULL_PATH: Any = object()
"""Returned when the request needs the usual path; nothing has been written."""

_STATE_COLUMNS = len(DeliverableState.__dataclass_fields__)


class Caller(NamedTuple):
    """What a request needs of its token (:data:`tokens.CALLER_BY_HASH`)."""

    name: str
    role: str
    token_hash: str
    revoked_at: datetime | None
    expires_at: datetime | None


def caller(connection: DriverConnection, *, secret: str, now: datetime | None = None
           ) -> Caller:
    """The live token whose secret this is (name, role, ...); 401 as
    :func:`tokens.authenticate`."""
    digest = tokens.hash_token(secret)
    found = connection.execute(tokens.CALLER_BY_HASH, {"digest": digest}).fetchone()
    token = None if found is None else Caller(*found)
    tokens.check_live(token, digest, now or utcnow())
    return token  # type: ignore[return-value]  # check_live refused None


def change_status(connection: DriverConnection, *, mandate: str, code: str, if_match: str,
                  change: writes.StatusUpdate, actor: str, now: datetime | None = None
                  ) -> DeliverableRow:
    """:func:`deliverable_writes.change_status` for a change that takes effect now; the
    deliverable's row as it is afterwards, or :data:`FULL_PATH`."""
    if change.effective_at is not None:
        return FULL_PATH  # type: ignore[no-any-return]
    now = now or utcnow()
    found = connection.execute(STATE_BY_CODES,
                               {"mandate_code": mandate, "code": code}).fetchall()
    if not found:
        return FULL_PATH  # type: ignore[no-any-return]  # it tells which code is unknown
    row = _row(found)
    deliverable = row.deliverable
    effective_at, wanted = writes.requested_state(deliverable, if_match, change, now)
    if not writes.comes_last(row.in_effect, effective_at, now):
        return FULL_PATH  # type: ignore[no-any-return]  # another process's clock ran ahead
    before = writes.state_of(row.in_effect)
    if before == wanted:
        return row
    entry = writes.new_entry(deliverable, before, wanted, change, actor=actor,
                             effective_at=effective_at, now=now)
    written = connection.execute(writes.APPEND_AND_BUMP, writes.append_parameters(
        deliverable, now, entry, row.in_effect))
    if written.rowcount != 1:
        return FULL_PATH  # type: ignore[no-any-return]  # another writer came first
    versioning.count_local_commit()
    deliverable.version += 1
    deliverable.updated_at = now
    deliverable.status, deliverable.percent_complete = wanted
    return row


def _row(found: list[Any]) -> DeliverableRow:
    state = DeliverableState(*found[0][:_STATE_COLUMNS])
    state.updated_at = _utc(state.updated_at)
    row = row_of(found, state)
    if isinstance(row.in_effect, EntryInEffect):
        entry = row.in_effect
        row.in_effect = EntryInEffect(entry.id, entry.to_status, entry.percent_complete,
                                      _utc(entry.effective_at), _utc(entry.recorded_at))
    return row


def _utc(moment: datetime) -> datetime:
    """As the ORM's UTCDateTime gives it: the driver answers in the session's time zone."""
    return moment.astimezone(UTC)
