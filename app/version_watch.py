"""Each mandate's data version, as the database has it when a request arrives.

The progress routes validate each answer (and each 304) against the data versions of the
mandates it covers, so those versions must include every write acknowledged before the
request arrived, whichever process or replica made it (read-your-writes across replicas):

- **SQLite**: ``PRAGMA data_version`` on a connection of the watcher's own changes
  whenever any other connection, in this process or another, commits. Reading it costs a
  few microseconds and no I/O, so it is read on every request, and the versions read from
  the database are remembered until it moves.
- **PostgreSQL**: every request's versions come from a query that began after the request
  arrived (app/version_reads.py). Requests that arrive together share one query, on a
  connection of the process's own in the event loop (no worker thread), so that under
  load one round trip serves many requests. That connection has TCP keepalives and each
  query a time-out; when it fails, the request reads through the pool instead (a worker
  thread), the log and ``/readyz`` say so, and the connection is opened again after a
  short pause (docs/deployment.md: what a client can rely on, and its cost).

``PLANPULSE_WATCH_VERSIONS=false`` reads through the pool on every request.
"""

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from app.db import KEEPALIVES, reading
from app.errors import NotFound
from app.services.versioning import MandateVersion, current_versions
from app.version_reads import FreshVersions, VersionReadFailed

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class Health:
    """What ``/readyz`` says of the version reads."""

    state: str
    """``fresh`` (PostgreSQL: read on the watcher's own connection), ``pooled`` (its
    connection failed: read through the pool until it is back), ``data_version``
    (SQLite), ``per-request`` (watching off: read through the pool)."""
    since: datetime | None = None
    reason: str | None = None


class VersionWatch:
    """The mandates' current versions for one app: see the module's docstring."""

    def __init__(self, engine: Engine, *, enabled: bool = True, timeout: float = 1.0,
                 retry_after: float = 1.0) -> None:
        self._engine = engine
        self._reading = reading(engine)
        backend = engine.dialect.name
        self._sqlite = backend == "sqlite" and enabled and not _in_memory(engine)
        self._fresh = (FreshVersions(
            _conninfo(engine), timeout=timeout, retry_after=retry_after,
            keepalives={k: v for k, v in KEEPALIVES.items() if k not in engine.url.query})
            if backend == "postgresql" and enabled else None)
        self._known: dict[str, MandateVersion] = {}
        self._lock = threading.Lock()
        self._sqlite_probe: Any = None
        self._sqlite_seen: int | None = None

    def health(self) -> Health:
        if self._sqlite:
            return Health("data_version")
        if self._fresh is None:
            return Health("per-request")
        if self._fresh.failure is not None:
            since, reason = self._fresh.failure
            return Health("pooled", since, reason)
        return Health("fresh")

    async def versions(self, codes: Sequence[str]) -> list[MandateVersion]:
        """The mandates named, in that order, as the database has them now; 404 for the
        first one that does not exist."""
        if self._fresh is not None and self._fresh.usable:
            try:
                found = await self._fresh.read(codes)
            except VersionReadFailed:
                pass
            else:
                return _in_order(found, codes)
        if self._sqlite:
            with self._lock:
                self._notice_changes()
                known = [self._known.get(code) for code in codes]
            if all(known):
                return known  # type: ignore[return-value]
            # One row from a local file (WAL: never waits for a writer) costs less than
            # the hop to a worker thread and back.
            found_list = self._query(codes)
            with self._lock:
                self._known.update((version.code, version) for version in found_list)
            return found_list
        if self._engine.dialect.name == "sqlite":
            return self._query(codes)
        return await run_in_threadpool(self._query, codes)

    async def stop(self) -> None:
        """Close the watcher's connections (the app's shutdown)."""
        if self._fresh is not None:
            await self._fresh.close()
        with self._lock:
            self._known.clear()
            if self._sqlite_probe is not None:
                self._sqlite_probe.close()
                self._sqlite_probe = None
                self._sqlite_seen = None

    def _query(self, codes: Sequence[str]) -> list[MandateVersion]:
        with self._reading.connect() as connection:
            return current_versions(connection, codes)

    def _notice_changes(self) -> None:
        seen = self._sqlite_data_version()
        if seen != self._sqlite_seen:
            self._sqlite_seen = seen
            self._known.clear()

    def _sqlite_data_version(self) -> int:
        if self._sqlite_probe is None:
            # A connection of our own, out of the pool: data_version counts the commits of
            # every *other* connection, so it must never write.
            probe = self._engine.raw_connection()
            self._sqlite_probe = probe.driver_connection
            probe.detach()
        return int(self._sqlite_probe.execute("PRAGMA data_version").fetchone()[0])


def _in_order(found: dict[str, MandateVersion], codes: Sequence[str]) -> list[MandateVersion]:
    for code in codes:
        if code not in found:
            raise NotFound(f"There is no mandate {code!r}.")
    return [found[code] for code in codes]


def _conninfo(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _in_memory(engine: Engine) -> bool:
    database = engine.url.database or ""
    return database in ("", ":memory:") or "mode=memory" in str(engine.url)
