"""Each mandate's data version: bumped by every write, the key of its cache validators and
of the answers cached from it."""

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Integer,
    String,
    bindparam,
    event,
    insert,
    text,
)
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.models import DataVersionBump
from app.models.types import UTCDateTime

PENDING_BUMPS = "planpulse_pending_version_bumps"
REQUESTED_BUMPS = "planpulse_requested_version_bumps"


def bump_data_version(session: Session, *, mandate_id: int) -> None:
    """Bump the mandate's data version in this transaction, once however many writes.

    Asked for when the session commits, and carried out by the database: every writer to
    the mandate queues on that row's lock, so PostgreSQL takes it in a deferred trigger,
    at COMMIT, and holds it for the commit alone (docs/performance.md). The bump is part of
    the transaction: the new data and the new version become visible together."""
    session.info.setdefault(PENDING_BUMPS, set()).add(mandate_id)


def claim_bump(session: Session, *, mandate_id: int) -> bool:
    """True the first time in this transaction: the caller then asks for the mandate's bump
    in a statement of its own (a ``data_version_bump`` row, one round trip less), and the
    commit does not ask again."""
    requested = session.info.setdefault(REQUESTED_BUMPS, set())
    if mandate_id in requested:
        return False
    requested.add(mandate_id)
    return True


BUMP = insert(DataVersionBump.__table__)  # type: ignore[attr-defined]


@event.listens_for(Session, "before_commit")
def _bump_pending(session: Session) -> None:
    pending = session.info.pop(PENDING_BUMPS, None) or set()
    requested = session.info.pop(REQUESTED_BUMPS, None) or set()
    if to_ask := pending - requested:
        # In one order for every writer, so that two of them never wait for each other.
        rows = [{"mandate_id": mandate_id} for mandate_id in sorted(to_ask)]
        session.connection().execute(BUMP, rows[0] if len(rows) == 1 else rows)


@event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(PENDING_BUMPS, None)
    session.info.pop(REQUESTED_BUMPS, None)


@dataclass(frozen=True)
class MandateVersion:
    """What validating a cached view of a mandate needs: one small row."""

    id: int
    code: str
    data_version: int
    created_at: datetime
    start_date: date
    end_date: date

    @property
    def key(self) -> tuple[int, int, datetime]:
        """Names this state of the mandate's data, across processes (created_at tells a
        mandate from one deleted and created again under the same id)."""
        return self.id, self.data_version, self.created_at


VERSIONS = text(
    "SELECT id, code, data_version, created_at, start_date, end_date FROM mandate "
    "WHERE code IN :codes"
).bindparams(bindparam("codes", expanding=True)).columns(
    id=Integer, code=String, data_version=Integer, created_at=UTCDateTime, start_date=Date,
    end_date=Date)
"""Written once, as text: compiling a statement per request would cost more than running
it."""


def current_versions(connection: Connection, codes: Sequence[str]) -> list[MandateVersion]:
    """The mandates named, in that order, as the database has them now: one indexed query.
    404 for the first one that does not exist."""
    found = {row.code: MandateVersion(*row) for row in connection.execute(
        VERSIONS, {"codes": [code for code in codes if "\x00" not in code]})}
    for code in codes:
        if code not in found:
            raise NotFound(f"There is no mandate {code!r}.")
    return [found[code] for code in codes]


@dataclass(frozen=True)
class CachedAnswer:
    """An encoded answer and the mandates' versions it was computed from. When it says
    what time it is, that time is spliced in between ``head`` and ``tail`` as it is
    served."""

    etag: str
    versions: tuple[MandateVersion, ...]
    head: bytes
    tail: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.head) + len(self.tail or b"")

    @property
    def codes(self) -> list[str]:
        return [version.code for version in self.versions]

    def body(self, now: bytes) -> bytes:
        return self.head if self.tail is None else self.head + now + self.tail


class AnswerCache:
    """The latest answer to each request (path and query string, and the day), with the
    data versions it was computed from: a bounded LRU, safe across threads.

    An answer is served only while its mandates are still at those versions, so nothing
    needs invalidating: a write anywhere bumps a version in the database, the next request
    learns of it and computes a new answer, which replaces the old one. That holds across
    any number of processes sharing the database."""

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, CachedAnswer] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> CachedAnswer | None:
        with self._lock:
            answer = self._entries.get(key)
            if answer is not None:
                self._entries.move_to_end(key)
            return answer

    def put(self, key: Hashable, answer: CachedAnswer) -> None:
        if self.max_entries <= 0 or answer.size > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous.size
            self._entries[key] = answer
            self._bytes += answer.size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _key, oldest = self._entries.popitem(last=False)
                self._bytes -= oldest.size

    def __len__(self) -> int:
        return len(self._entries)
