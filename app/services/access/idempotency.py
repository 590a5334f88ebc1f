"""Replaying the first answer to a retried request that carries an ``Idempotency-Key``.

The key is claimed before the work: a row for (caller, key) is inserted first, in the
transaction that does the work and then stores the answer in it. A second request with the
same key, on any replica, finds the row: if the first has committed it gets the first
answer; while the first is still running, its insert waits for it (PostgreSQL) or its
transaction does (SQLite: one writer at a time), and then replays, or does the work itself
if the first failed and stored nothing. A wait longer than :data:`WAIT_SECONDS` is a 409.
"""

import hashlib
import json
from collections.abc import Callable
from typing import Any

import psycopg.errors
from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.errors import Conflict
from app.models import IdempotencyRecord
from app.models.types import utcnow

REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("etag", "content-type")
WAIT_SECONDS = 10
"""How long a request waits for another one with its key to finish, on PostgreSQL."""

_RECORDS = IdempotencyRecord.__table__  # type: ignore[attr-defined]
Answer = tuple[int, dict[str, str], bytes]


def fingerprint(method: str, path: str, body: Any) -> str:
    payload = json.dumps([method, path, body], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def run_once(session: Session, *, actor: str, key: str | None, request_hash: str,
             produce: Callable[[], Answer]) -> Answer:
    """Answer with the stored response for (actor, key), or claim the key, produce the
    answer and store it in the same transaction."""
    if key is None:
        return produce()
    if not _claim(session, actor=actor, key=key, request_hash=request_hash):
        return _replay(session, actor=actor, key=key, request_hash=request_hash)
    status_code, headers, body = produce()
    kept = {name: value for name, value in headers.items() if name.lower() in KEPT_HEADERS}
    session.execute(update(_RECORDS).where(_RECORDS.c.actor == actor, _RECORDS.c.key == key)
                    .values(status_code=status_code, headers=kept, body=body.decode(),
                            recorded_at=utcnow()))
    return status_code, headers, body


def _claim(session: Session, *, actor: str, key: str, request_hash: str) -> bool:
    """Insert the key's row (its answer to come); False if another request has it."""
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    dialect_insert = postgresql.insert if postgres else sqlite.insert
    claim = dialect_insert(_RECORDS).values(
        actor=actor, key=key, request_hash=request_hash, status_code=0, headers={}, body="",
        recorded_at=utcnow()).on_conflict_do_nothing().returning(_RECORDS.c.id)
    if postgres:
        connection.execute(text(f"SET LOCAL lock_timeout = '{WAIT_SECONDS}s'"))
    try:
        claimed = connection.execute(claim).first() is not None
    except DBAPIError as error:
        if isinstance(error.orig, psycopg.errors.LockNotAvailable):
            raise Conflict("A request with this Idempotency-Key is still being processed; "
                           "retry in a moment for its answer.") from None
        raise
    if postgres:
        connection.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
    return claimed


def _replay(session: Session, *, actor: str, key: str, request_hash: str) -> Answer:
    stored = session.execute(
        select(IdempotencyRecord).where(IdempotencyRecord.actor == actor,
                                        IdempotencyRecord.key == key)
    ).scalar_one()
    if stored.request_hash != request_hash:
        raise Conflict("This Idempotency-Key was used for a different request.")
    return stored.status_code, {**stored.headers, REPLAYED_HEADER: "true"}, stored.body.encode()
