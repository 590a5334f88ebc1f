"""Replaying the first answer to a retried request that carries an ``Idempotency-Key``.

The answer is stored in the same transaction as the change it reports, so a retry sees
either both or neither.
"""

import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict
from app.models import IdempotencyRecord
from app.models.types import utcnow

REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("etag", "content-type")


def fingerprint(method: str, path: str, body: Any) -> str:
    payload = json.dumps([method, path, body], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def run_once(
    session: Session, *, actor: str, key: str | None, request_hash: str,
    produce: Callable[[], tuple[int, dict[str, str], bytes]],
) -> tuple[int, dict[str, str], bytes]:
    """Answer with the stored response for (actor, key), or produce one and store it."""
    if key is None:
        return produce()
    stored = session.execute(
        select(IdempotencyRecord).where(IdempotencyRecord.actor == actor,
                                        IdempotencyRecord.key == key)
    ).scalar_one_or_none()
    if stored is not None:
        if stored.request_hash != request_hash:
            raise Conflict("This Idempotency-Key was used for a different request.")
        return stored.status_code, {**stored.headers, REPLAYED_HEADER: "true"}, stored.body.encode()
    status_code, headers, body = produce()
    kept = {name: value for name, value in headers.items() if name.lower() in KEPT_HEADERS}
    session.add(IdempotencyRecord(actor=actor, key=key, request_hash=request_hash,
                                  status_code=status_code, headers=kept, body=body.decode(),
                                  recorded_at=utcnow()))
    session.flush()
    return status_code, headers, body
