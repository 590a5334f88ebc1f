"""Each mandate's data version, known without asking the database on every request.

The progress routes validate each answer against the data versions of the mandates it
covers. Asking the database every time costs a round trip (and on PostgreSQL a worker
thread) per request: more than all the rest of a 304. So each process remembers the
versions it has read, and learns when they may have changed:

- **SQLite**: ``PRAGMA data_version`` on a connection of the watcher's own changes
  whenever any other connection, in this process or another, commits. Reading it costs a
  few microseconds and no I/O, so it is read on every request: exact, across processes.
- **PostgreSQL**: a trigger on ``mandate`` sends a NOTIFY whenever a row of it changes,
  which every write does by bumping its mandate's data version (migration 0006); the
  watcher LISTENs on a connection of its own and forgets what it knew at each one. Another
  process's write is seen once PostgreSQL has delivered its notification (well under a
  millisecond on one host). While the watcher is not listening (before the app has
  started, while it reconnects, or with ``PLANPULSE_WATCH_VERSIONS=false``) every request
  asks the database, as strict as it gets.
- **This process's own writes** are forgotten at their commit, before the answer leaves,
  so a client always reads its own writes.
"""

import asyncio
import contextlib
import logging
import threading
from collections.abc import Sequence
from typing import Any

import psycopg
import psycopg.errors
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from app.db import reading
from app.services import versioning
from app.services.versioning import MandateVersion, current_versions

logger = logging.getLogger(__name__)

CHANNEL = "planpulse_data_version"
"""The NOTIFY channel of migration 0006's trigger."""

RECONNECT_DELAYS = (0.1, 0.5, 1.0, 5.0)


class VersionWatch:
    """The mandates' current versions for one app, from memory when that is safe."""

    def __init__(self, engine: Engine, *, enabled: bool = True) -> None:
        self._engine = engine
        self._reading = reading(engine)
        backend = engine.dialect.name
        self._sqlite = backend == "sqlite" and enabled and not _in_memory(engine)
        self._postgres = backend == "postgresql" and enabled
        self._known: dict[str, MandateVersion] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self._local_commits = versioning.local_commits()
        self._sqlite_probe: Any = None
        self._sqlite_seen: int | None = None
        self._listening = False
        self._task: asyncio.Task[None] | None = None

    @property
    def trusted(self) -> bool:
        """Whether what is remembered is known to be current (else: ask every time)."""
        return self._sqlite or self._listening

    async def versions(self, codes: Sequence[str]) -> list[MandateVersion]:
        """The mandates named, in that order, as the database has them now; 404 for the
        first one that does not exist."""
        with self._lock:
            self._notice_changes()
            known = [self._known.get(code) for code in codes]
            generation = self._generation
        if all(known):
            return known  # type: ignore[return-value]
        if self._engine.dialect.name == "sqlite":
            # One row from a local file (WAL: never waits for a writer) costs less than
            # the hop to a worker thread and back.
            found = self._query(codes)
        else:
            found = await run_in_threadpool(self._query, codes)
        self._remember(generation, found)
        return found

    def forget(self) -> None:
        """Drop what is remembered: the next request asks the database."""
        with self._lock:
            self._forget_locked()

    async def start(self) -> bool:
        """Begin listening for other processes' writes (PostgreSQL); the app's startup.
        False when a listener runs already (the app started twice, as some test clients
        do): only the startup that began it stops it."""
        if self._task is not None:
            return False
        if self._postgres:
            self._task = asyncio.create_task(self._listen(), name="planpulse-version-watch")
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with self._lock:
            self._listening = False
            self._forget_locked()
            if self._sqlite_probe is not None:
                self._sqlite_probe.close()
                self._sqlite_probe = None
                self._sqlite_seen = None

    # --- internals ----------------------------------------------------------------------

    def _query(self, codes: Sequence[str]) -> list[MandateVersion]:
        with self._reading.connect() as connection:
            return current_versions(connection, codes)

    def _remember(self, generation: int, found: list[MandateVersion]) -> None:
        """Keep ``found`` unless something changed since the request began: a notification
        that arrived during the query may concern a commit the query did not see."""
        with self._lock:
            if self.trusted and generation == self._generation:
                self._known.update((version.code, version) for version in found)

    def _notice_changes(self) -> None:
        local = versioning.local_commits()
        if local != self._local_commits:
            self._local_commits = local
            self._forget_locked()
        if self._sqlite:
            seen = self._sqlite_data_version()
            if seen != self._sqlite_seen:
                self._sqlite_seen = seen
                self._forget_locked()

    def _forget_locked(self) -> None:
        self._generation += 1
        self._known.clear()

    def _sqlite_data_version(self) -> int:
        if self._sqlite_probe is None:
            # A connection of our own, out of the pool: data_version counts the commits of
            # every *other* connection, so it must never write.
            probe = self._engine.raw_connection()
            self._sqlite_probe = probe.driver_connection
            probe.detach()
        return int(self._sqlite_probe.execute("PRAGMA data_version").fetchone()[0])

    async def _listen(self) -> None:
        conninfo = self._engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        conninfo, autocommit=True) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    with self._lock:
                        self._forget_locked()
                        self._listening = True
                    failures = 0
                    async for _notification in connection.notifies():
                        self.forget()
            except asyncio.CancelledError:
                raise
            except psycopg.errors.ReadOnlySqlTransaction:
                # A standby (read replica) cannot LISTEN: ask the database on each request.
                logger.info("the database is a standby: data versions are read per request")
                return
            except Exception as error:  # the database went away: ask it each time meanwhile
                logger.warning("not watching data versions (%s); retrying",
                               str(error).splitlines()[0] if str(error) else type(error))
            finally:
                with self._lock:
                    self._listening = False
                    self._forget_locked()
            await asyncio.sleep(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)])
            failures += 1


def _in_memory(engine: Engine) -> bool:
    database = engine.url.database or ""
    return database in ("", ":memory:") or "mode=memory" in str(engine.url)
