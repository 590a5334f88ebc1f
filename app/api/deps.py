"""Dependencies shared by the routes: the session, the caller's token, roles, paging."""

import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.api import responses
from app.db import Runner, driver_connection, reading, unit_of_work
from app.errors import (
    INVALID_REQUEST,
    VERIFY_ACCESS,
    DatabaseTrouble,
    NotFound,
    Unauthorized,
    database_trouble,
)
from app.models import Mandate, Role
from app.services.access import scopes, tokens
from app.services.access.scopes import Reach
from app.services.access.tokens import Caller
from app.services.lookup import get_mandate
from app.services.paging import PageRequest
from app.services.status.pipeline import Autocommit, InTransaction, NeedsTransaction, Writer
from app.settings import Settings

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
logger = logging.getLogger("planpulse")
COLLISION_RETRIES = 2
"""How many times a write that collided with another (deadlock, serialization failure) is
run again before it answers 409."""
T = TypeVar("T")


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: a write's is committed by :class:`CommitBeforeResponse`
    once the route has returned, before the answer leaves, and rolled back on any error; a
    read's is only ended (it has nothing to commit, and may have been retried on another
    connection after this one was lost)."""
    if request.method in READ_METHODS:
        session = Session(reading(request.app.state.engine), expire_on_commit=False)
        try:
            yield session
        finally:
            end_read(session)
        return
    with unit_of_work(request.app.state.engine) as session:
        request.state.session = session
        yield session


def end_read(session: Session) -> None:
    """Close a read's session; one whose connection the database dropped is discarded
    (a rollback on it would fail: there is nothing to roll back)."""
    try:
        session.close()
    except DBAPIError:
        session.invalidate()


class CommitBeforeResponse(APIRoute):
    """Commits the request's session before the response is sent.

    A dependency's code after ``yield`` may run only after the answer has gone out; a
    commit that failed there would leave the client with a 200 for nothing stored.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer_once_more_if_the_connection_was_lost(request: Request) -> Response:
            try:
                return await self.answer(handler, request)
            except Exception as error:
                if (request.method not in READ_METHODS
                        or database_trouble(error) is not DatabaseTrouble.lost):
                    raise
            # A read met a connection the database had dropped (a restart, a failover):
            # once more, on a new one. A write is not sent again: it answers 503.
            return await self.answer(handler, request)

        return answer_once_more_if_the_connection_was_lost

    async def answer(self, handler: Callable[[Request], Coroutine[Any, Any, Response]],
                     request: Request) -> Response:
        """The route's answer, its session committed before it leaves."""
        response = await handler(request)
        session = getattr(request.state, "session", None)
        if session is not None and response.status_code < 400:
            await run_in_threadpool(session.commit)
        return response


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


SessionDep = Annotated[Session, Depends(get_session)]
IfMatch = Annotated[str | None, Header(description="The ETag from your last read.")]
IfNoneMatch = Annotated[str | None, Header(description="An ETag from an earlier answer: "
                                                        "304 while it is still current.")]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def bearer_secret(request: Request) -> str | None:
    """The secret of ``Authorization: Bearer <secret>``; None without the header."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("Send the token as 'Authorization: Bearer <token>'.",
                           error=INVALID_REQUEST)
    return secret.strip()


def current_token(request: Request, session: SessionDep) -> Caller | None:
    secret = bearer_secret(request)
    return None if secret is None else tokens.authenticate(session.connection(), secret=secret)


TokenDep = Annotated[Caller | None, Depends(current_token)]


def admit(request: Request, caller: Caller | None, role: Role) -> None:
    """The gate of every route: the mandate its path names must be one the caller may read
    (404 otherwise, as if unknown: checked first, so that no answer tells a mandate exists),
    then ``role`` or above (401, 403)."""
    public_read = request.app.state.settings.public_read
    mandate = request.path_params.get("mandate")
    if mandate is not None:
        scopes.require_visible(reach_of(caller), mandate, public_read=public_read)
    tokens.require_role(caller, role, public_read=public_read)


def role_required(role: Role):  # type: ignore[no-untyped-def]
    """A dependency that lets the request through only with ``role`` or above, to a
    mandate the caller may read (:func:`admit`)."""

    def check(token: TokenDep, request: Request) -> Caller | None:
        admit(request, token, role)
        return token

    check.required_role = role  # type: ignore[attr-defined]  # read by the access tests
    return check


Reader = Annotated[Caller | None, Depends(role_required(Role.viewer))]
Editor = Annotated[Caller, Depends(role_required(Role.editor))]
Admin = Annotated[Caller, Depends(role_required(Role.admin))]


class Access:
    """The caller's token, checked together with the route's work in one transaction on
    one worker thread: the dependencies above take a thread hop each (session, token,
    role, mandate, then the route and its commit), which cost more than a status change's
    database work (docs/performance.md)."""

    def __init__(self, request: Request, role: Role, secret: str) -> None:
        self.request = request
        self.role = role
        self.secret = secret

    async def run(self, work: Callable[[InTransaction, Caller], T]) -> T:
        """``work(writer, caller)`` in one transaction, committed before this returns
        (before the answer leaves), rolled back if anything raises."""
        return await run_in_threadpool(self._in_transaction, work)

    async def change(self, work: Callable[[Writer, Caller], T]) -> T:
        """:meth:`run` for a status change: on PostgreSQL first in autocommit
        (app/services/status/pipeline.py), again in a transaction when that raises
        :class:`NeedsTransaction` (before it has written anything)."""
        return await run_in_threadpool(self._autocommit_first, work)

    async def verify(self) -> None:
        """The token's check alone, for an answer given without the work (errors.py)."""
        await run_in_threadpool(self._in_transaction, lambda _writer, _caller: None, True)

    def _caller(self, runner: Runner) -> Caller:
        caller = tokens.authenticate(runner, secret=self.secret)
        admit(self.request, caller, self.role)
        return caller

    def _autocommit_first(self, work: Callable[[Writer, Caller], T]) -> T:
        engine = self.request.app.state.engine
        if engine.dialect.name == "postgresql":
            try:
                with driver_connection(engine) as connection:
                    return work(Autocommit(connection), self._caller(connection))
            except NeedsTransaction:
                pass
        return self._in_transaction(work)

    def _in_transaction(self, work: Callable[[InTransaction, Caller], T],
                        read_only: bool = False) -> T:
        engine = self.request.app.state.engine
        if read_only or self.request.method in READ_METHODS:
            engine = reading(engine)
        for attempt in range(COLLISION_RETRIES + 1):
            try:
                with unit_of_work(engine) as session:
                    return work(InTransaction(session), self._caller(session.connection()))
            except DBAPIError as error:
                # A deadlock or serialization failure rolled it all back: run it again.
                if (attempt == COLLISION_RETRIES
                        or database_trouble(error) is not DatabaseTrouble.collision):
                    raise
                logger.warning("%s %s collided with another write (%s); running it again",
                               self.request.method, self.request.url.path,
                               type(error.orig).__name__)
        raise AssertionError("unreachable")


def access(role: Role) -> Callable[[Request], Coroutine[Any, Any, Access]]:
    """A dependency giving the route an :class:`Access` for ``role`` (one that always
    needs a token); no token: 401 at once, without a thread or the database."""
    if role.rank <= Role.viewer.rank:
        raise ValueError("an Access is for roles that need a token")

    async def check(request: Request) -> Access:
        secret = bearer_secret(request)
        if secret is None:
            raise Unauthorized(tokens.NO_TOKEN)
        found = Access(request, role, secret)
        setattr(request.state, VERIFY_ACCESS, found.verify)
        return found

    check.required_role = role  # type: ignore[attr-defined]  # read by the access tests
    return check


EditorAccess = Annotated[Access, Depends(access(Role.editor))]


def reach_of(caller: Caller | None) -> Reach | None:
    """The caller's reach; None without a token."""
    return None if caller is None else caller.reach


def mandate_from_path(mandate: str, session: SessionDep) -> Mandate:
    """The mandate the path names (the route's role gate has checked that the caller may
    read it: :func:`admit`)."""
    return get_mandate(session, code=mandate)


MandateDep = Annotated[Mandate, Depends(mandate_from_path)]



MAX_OFFSET = 1_000_000_000
MAX_LIMIT = 500


def paging_by(default_limit: int) -> Callable[..., PageRequest]:
    """The ``limit`` and ``offset`` query parameters of a list, ``limit`` defaulting to
    ``default_limit``."""

    def paging(
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page "
                                    f"(default {default_limit}).")] = default_limit,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
    ) -> PageRequest:
        return PageRequest(limit=limit, offset=offset)

    return paging


PagingDep = Annotated[PageRequest, Depends(paging_by(50))]
WholePagingDep = Annotated[PageRequest, Depends(paging_by(MAX_LIMIT))]
"""The paging of the lists that answered every item before they took ``limit``
(mandates, indicators, tokens): a client that sends no ``limit`` still gets them all."""


async def no_nul_in_path(request: Request) -> None:
    """No stored code or name contains NUL, and PostgreSQL refuses to compare one: 404."""
    for value in request.path_params.values():
        if isinstance(value, str) and "\x00" in value:
            raise NotFound(f"Nothing is named {value!r}.")


def api_router(**options: Any) -> APIRouter:
    """Every router of the app is made here, so that every route commits before it answers
    (a ``route_class`` given must derive from :class:`CommitBeforeResponse`) and documents
    its problem+json errors."""
    return APIRouter(route_class=options.pop("route_class", CommitBeforeResponse),
                     responses={**responses.COMMON, **options.pop("responses", {})},
                     **options)
