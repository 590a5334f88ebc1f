"""PostgreSQL: mandates' data versions read by a query that began after the request arrived.

A request waits for the next query to begin; the requests arriving while one is in flight
share the next, so under load one round trip serves many of them. The query runs on a
connection of the process's own, in the event loop, driven at libpq's level: a read costs
a few libpq calls instead of a worker thread or psycopg's whole execute
(docs/performance.md). Each read has a time-out; a failed one closes the connection, and
the callers read through the pool until it is opened again, after :attr:`retry_after`.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg import pq

from app.services.versioning import MandateVersion

logger = logging.getLogger("app.version_watch")

APPLICATION_NAME = "planpulse-versions"
"""How the connection shows in ``pg_stat_activity``."""
PREPARED = "planpulse_versions"
PREPARE = (
    f"PREPARE {PREPARED} (text[]) AS SELECT id, code, data_version, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), "
    "to_char(start_date, 'YYYY-MM-DD'), to_char(end_date, 'YYYY-MM-DD') "
    "FROM mandate WHERE code = ANY($1)")
"""Every value as text in one format, whatever the session's DateStyle."""
PARSED_KEPT = 1024
class VersionReadFailed(Exception):
    """The connection could not answer; nothing is known."""


class _Wire:
    """The connection, driven by hand: one query at a time, answered through a reader
    callback registered once."""

    def __init__(self, connection: psycopg.AsyncConnection[Any],
                 loop: asyncio.AbstractEventLoop) -> None:
        self.connection = connection
        self.pgconn = connection.pgconn
        self.pgconn.nonblocking = 1
        self._loop = loop
        self._fd = self.pgconn.socket
        self._waiting: asyncio.Future[list[tuple[bytes, ...]]] | None = None
        self.broken: BaseException | None = None
        loop.add_reader(self._fd, self._readable)

    async def query(self, codes: list[str], timeout: float) -> list[tuple[bytes, ...]]:
        """The query's rows; :class:`VersionReadFailed` when no answer came within
        ``timeout`` seconds (a connection dropped silently answers nothing)."""
        if self.broken is not None:
            raise VersionReadFailed(str(self.broken))
        self.pgconn.send_query_prepared(PREPARED.encode(), [_text_array(codes)])
        while self.pgconn.flush():  # the query did not fit in the socket's buffer
            await asyncio.sleep(0)
        waiting = self._waiting = self._loop.create_future()
        timer = self._loop.call_later(timeout, self._time_out, waiting, timeout)
        try:
            return await waiting
        finally:
            timer.cancel()

    def _time_out(self, waiting: "asyncio.Future[list[tuple[bytes, ...]]]", timeout: float
                  ) -> None:
        if not waiting.done():
            self.broken = TimeoutError(f"no answer within {timeout} s")
            waiting.set_exception(VersionReadFailed(str(self.broken)))
            self.close()

    def _readable(self) -> None:
        waiting, rows, failure = self._waiting, [], None
        try:
            self.pgconn.consume_input()
            if waiting is None or self.pgconn.is_busy():
                return
            while (result := self.pgconn.get_result()) is not None:
                if result.status == pq.ExecStatus.TUPLES_OK:
                    rows += [tuple(result.get_value(row, column) or b""
                                   for column in range(result.nfields))
                             for row in range(result.ntuples)]
                else:
                    failure = VersionReadFailed(
                        (result.error_message or b"").decode(errors="replace").strip())
        except psycopg.Error as error:  # the server or the network went away
            failure = error
            self.broken = error
            self.close()
        self._waiting = None
        if waiting is not None and not waiting.done():
            if failure is not None:
                waiting.set_exception(failure)
            else:
                waiting.set_result(rows)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._fd)
        with contextlib.suppress(Exception):
            self.pgconn.finish()


class _Batch:
    """The requests waiting for the same query."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.codes: set[str] = set()
        self.future: asyncio.Future[dict[str, MandateVersion]] = loop.create_future()

    def answer(self, found: dict[str, MandateVersion] | None, error: BaseException | None
               ) -> None:
        if error is None:
            self.future.set_result(found)  # type: ignore[arg-type]
        else:
            self.future.set_exception(error)
            self.future.exception()  # retrieved here: the waiters may all have gone


class FreshVersions:
    """Versions read by a query that starts after every request waiting for it arrived.
    Requests arriving while a query is in flight share the next one."""

    def __init__(self, conninfo: str, *, timeout: float, retry_after: float = 1.0,
                 keepalives: dict[str, int] | None = None) -> None:
        self._conninfo = conninfo
        self._keepalives = keepalives or {}
        self.timeout = timeout
        self.retry_after = retry_after
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wire: _Wire | None = None
        self._task: asyncio.Task[None] | None = None
        """Runs the queries, one after the other, while requests wait for one."""
        self._next: _Batch | None = None
        self._parsed: dict[tuple[bytes, ...], MandateVersion] = {}
        """Rows as read → as parsed: a row read again (nothing changed) is not parsed again,
        and is the same object, which the answer cache compares at once."""
        self._failed_at: float | None = None
        self.failure: tuple[datetime, str] | None = None
        """Since when and why reads go through the pool; None while this one answers."""

    @property
    def usable(self) -> bool:
        """False for a while after a failure: callers read through the pool meanwhile."""
        return self._failed_at is None or time.monotonic() - self._failed_at >= self.retry_after

    async def read(self, codes: Sequence[str]) -> dict[str, MandateVersion]:
        """The mandates named that exist, read by a query that begins after this call."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._adopt(loop)
        batch = self._next
        if batch is None:
            batch = self._next = _Batch(loop)
            if self._task is None:
                self._task = loop.create_task(self._drain())
        batch.codes.update(code for code in codes if "\x00" not in code)
        # Shielded: a request that goes away (its client hung up) leaves the query to the
        # others waiting for it.
        return await asyncio.shield(batch.future)

    async def _drain(self) -> None:
        """Query after query while requests wait, each for the batch formed meanwhile.
        Under steady load the task runs on."""
        try:
            while self._next is not None:
                # Let the requests whose bytes have arrived meanwhile join this query.
                await asyncio.sleep(0)
                batch, self._next = self._next, None
                try:
                    found = await self._query(sorted(batch.codes))
                except Exception as error:  # any failure: this connection can't be trusted
                    self._fail(error)
                    batch.answer(None, VersionReadFailed(str(error)))
                else:
                    self._recovered()
                    batch.answer(found, None)
        finally:
            self._task = None

    async def _query(self, codes: list[str]) -> dict[str, MandateVersion]:
        if self._wire is None:
            connection = await asyncio.wait_for(self._connect(), self.timeout)
            assert self._loop is not None
            self._wire = _Wire(connection, self._loop)
        parsed = self._parsed
        found: dict[str, MandateVersion] = {}
        for row in await self._wire.query(codes, self.timeout):
            version = parsed.get(row)
            if version is None:
                version = parsed[row] = _version(row)
                if len(parsed) > PARSED_KEPT:
                    parsed.pop(next(iter(parsed)))
            found[version.code] = version
        return found

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        connection = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, application_name=APPLICATION_NAME,
            connect_timeout=max(1, round(self.timeout)), **self._keepalives)
        await connection.execute(PREPARE)
        return connection

    def _adopt(self, loop: asyncio.AbstractEventLoop) -> None:
        """Work in ``loop`` from now on: the connection and batches belong to one loop (a
        server has one; a test client may start one per request)."""
        self._close_wire()
        self._loop, self._next, self._task = loop, None, None

    def _fail(self, error: BaseException) -> None:
        reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        if self.failure is None:
            logger.warning("version reads go through the pool: their connection failed (%s)",
                           reason)
            self.failure = (datetime.now(UTC), reason)
        self._failed_at = time.monotonic()
        self._close_wire()

    def _recovered(self) -> None:
        if self.failure is not None:
            logger.warning("version reads have their own connection again")
        self.failure = None
        self._failed_at = None

    def _close_wire(self) -> None:
        wire, self._wire = self._wire, None
        if wire is not None:
            wire.close()

    async def close(self) -> None:
        self._close_wire()


def _version(row: tuple[bytes, ...]) -> MandateVersion:
    id_, code, version, created, start, end = (value.decode() for value in row)
    return MandateVersion(int(id_), code, int(version),
                          datetime.fromisoformat(created).replace(tzinfo=UTC),
                          date.fromisoformat(start), date.fromisoformat(end))


def _text_array(codes: list[str]) -> bytes:
    """A text[] literal: each code quoted, its quotes and backslashes escaped."""
    quoted = ('"' + code.replace("\\", "\\\\").replace('"', '\\"') + '"' for code in codes)
    return ("{" + ",".join(quoted) + "}").encode()
