"""Domain errors and the one place that turns any error into problem+json (RFC 9457)."""

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
REALM = "planpulse"
INVALID_TOKEN = "invalid_token"
INVALID_REQUEST = "invalid_request"
RETRY_AFTER_SECONDS = 1
logger = logging.getLogger("planpulse")


@dataclass(frozen=True)
class FieldError:
    """One problem in the input: where (a path such as ``action_lines[1].code``) and what."""

    path: str
    message: str


class PlanpulseError(Exception):
    """Base of every error a caller may see; each kind has its HTTP status and title."""

    status_code = 400
    title = "Bad request"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class NotFound(PlanpulseError):
    status_code = 404
    title = "Not found"


class Unauthorized(PlanpulseError):
    """No token, or one that cannot be used; answered with ``WWW-Authenticate: Bearer``
    (RFC 6750), whose ``error`` says why a token sent was refused."""

    status_code = 401
    title = "Unauthorized"

    def __init__(self, detail: str, *, error: str | None = None) -> None:
        super().__init__(detail)
        self.error = error

    def challenge(self) -> str:
        reason = f', error="{self.error}"' if self.error else ""
        return f'Bearer realm="{REALM}"{reason}'


class Forbidden(PlanpulseError):
    status_code = 403
    title = "Forbidden"


class Conflict(PlanpulseError):
    status_code = 409
    title = "Conflict"


class PreconditionFailed(PlanpulseError):
    status_code = 412
    title = "Precondition failed"


class PreconditionRequired(PlanpulseError):
    status_code = 428
    title = "Precondition required"


class PayloadTooLarge(PlanpulseError):
    status_code = 413
    title = "Payload too large"


class UnsupportedMediaType(PlanpulseError):
    status_code = 415
    title = "Unsupported media type"


class InvalidInput(PlanpulseError):
    """The input was read but is not acceptable; every problem is listed at once."""

    status_code = 422
    title = "Invalid input"

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        self.errors = list(errors)
        super().__init__(detail or f"{len(self.errors)} problem(s) in the input")

    def lines(self) -> list[str]:
        return [f"{error.path}: {error.message}" if error.path else error.message
                for error in self.errors]


def format_path(location: Iterable[str | int]) -> str:
    """``("action_lines", 1, "code")`` → ``action_lines[1].code``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def validation_errors(raw_errors: Iterable[Any], *, drop_prefix: int = 0) -> list[FieldError]:
    """Pydantic errors as field errors with readable messages."""
    errors = []
    for raw in raw_errors:
        location = [part for part in raw["loc"][drop_prefix:] if not _is_union_tag(part)]
        errors.append(FieldError(format_path(location), _message(raw)))
    return errors


def _is_union_tag(part: Any) -> bool:
    # Pydantic names the union member that failed, e.g. "function-after[...]"; paths skip it.
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "float"})


def _message(raw: dict[str, Any]) -> str:
    if raw["type"] == "enum":
        expected = raw.get("ctx", {}).get("expected", "")
        options = expected.replace("'", "").replace(" or ", ", ")
        return f"{raw.get('input')!r} is not one of {options}"
    if raw["type"] == "extra_forbidden":
        return "unknown field"
    if raw["type"] == "missing":
        return "field required"
    message = str(raw["msg"])
    return message.removeprefix("Value error, ")


def problem(
    status: int, title: str, detail: str, **extra: Any
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


VERIFY_ACCESS = "planpulse_verify_access"
"""Where a route whose token is checked with its work (app.api.deps.Access) leaves that
check, for the answers given before the work: an unreadable request."""


ERROR_PAGE = "error_page"
"""A route with this attribute (the dashboard's pages, app/web/pages.py) answers its errors
through it: ``route.error_page(request, problem)`` is the answer the client gets instead of
the problem+json ``problem`` (an HTML page, unless the client asked for JSON)."""


def _for_the_client(handler: Callable[[Request, Any], Awaitable[Response]]
                    ) -> Callable[[Request, Any], Awaitable[Response]]:
    async def answer(request: Request, error: Any) -> Response:
        response = await handler(request, error)
        render = getattr(request.scope.get("route"), ERROR_PAGE, None)
        return response if render is None else render(request, response)  # type: ignore[no-any-return]

    return answer


def domain_problem(error: "PlanpulseError") -> JSONResponse:
    extra = dict(error.extra)
    if isinstance(error, InvalidInput):
        extra["errors"] = [{"path": e.path, "message": e.message} for e in error.errors]
    response = problem(error.status_code, error.title, error.detail, **extra)
    if isinstance(error, Unauthorized):
        response.headers["WWW-Authenticate"] = error.challenge()
    return response


async def _refused(request: Request) -> JSONResponse | None:
    """401 or 403 when the caller may not use the route at all: that comes before what
    is wrong with the request, as for every other route."""
    verify = getattr(request.state, VERIFY_ACCESS, None)
    if verify is None:
        return None
    try:
        await verify()
    except PlanpulseError as error:
        return domain_problem(error)
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PlanpulseError)
    async def _domain(_request: Request, error: PlanpulseError) -> JSONResponse:
        return domain_problem(error)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        if (refused := await _refused(request)) is not None:
            return refused
        errors = [_request_error(raw) for raw in error.errors()]
        return problem(
            422,
            InvalidInput.title,
            f"{len(errors)} problem(s) in the request",
            errors=[{"path": e.path, "message": e.message} for e in errors],
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:
            if (refused := await _refused(request)) is not None:
                return refused
            # The framework's own "error parsing the body" (bad UTF-8, nesting too deep):
            # the same answer as any other unreadable body.
            return problem(422, InvalidInput.title, "1 problem(s) in the request",
                           errors=[{"path": "body", "message": "the body could not be read "
                                    "as JSON (bad encoding or nesting too deep)"}])
        title = {404: "Not found", 405: "Method not allowed"}.get(error.status_code, "Error")
        response = problem(error.status_code, title, str(error.detail))
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(PoolTimeout)
    async def _busy(_request: Request, _error: PoolTimeout) -> JSONResponse:
        return unavailable("Every database connection of this server is in use; retry in a "
                           "moment.")

    async def _database(request: Request, error: Exception) -> JSONResponse:
        kind = database_trouble(error)
        if kind is DatabaseTrouble.lost:
            logger.warning("database connection lost on %s %s: %s", request.method,
                           request.url.path, _first_line(error))
            return unavailable("The connection to the database was lost; retry in a moment.")
        if kind is DatabaseTrouble.collision:
            logger.warning("write collided on %s %s: %s", request.method, request.url.path,
                           _first_line(error))
            return problem(409, Conflict.title, "This write collided with another one made "
                           "at the same time and was not applied; send it again.")
        raise error  # anything else: the 500 below

    for database_error in (DBAPIError, psycopg.Error, sqlite3.Error):
        app.add_exception_handler(database_error, _database)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        # The cause goes to the log, never to the caller. The server closes the connection
        # after this answer: say so, so that the client's next request opens a new one.
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        response = problem(500, "Internal server error",
                           "The server could not complete the request.")
        response.headers["Connection"] = "close"
        _allow_origin(request, response)
        return response

    # Every answer above, as the route answers its errors (an HTML page for a page's).
    for kind, handler in list(app.exception_handlers.items()):
        app.exception_handlers[kind] = _for_the_client(handler)


def _allow_origin(request: Request, response: JSONResponse) -> None:
    """A 500 is sent from outside every middleware, CORS's included: give it the header a
    page on an allowed origin needs to read it."""
    origin = request.headers.get("origin")
    if origin is not None and origin in request.app.state.settings.cors_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"


def unavailable(detail: str) -> JSONResponse:
    """503 with Retry-After: the request may succeed if sent again in a moment."""
    response = problem(503, "Service unavailable", detail)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseTrouble(Enum):
    lost = "lost"
    """The connection went away (server restarted, backend terminated, network): the
    transaction did not commit, or nobody knows whether it did."""
    collision = "collision"
    """A deadlock or serialization failure: the database rolled the transaction back."""


def database_trouble(error: BaseException) -> DatabaseTrouble | None:
    """What kind of database failure ``error`` is, if it is one a client may retry."""
    original = error.orig if isinstance(error, DBAPIError) else error
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return DatabaseTrouble.lost
    if isinstance(original, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure):
        return DatabaseTrouble.collision
    if isinstance(original, psycopg.OperationalError | psycopg.InterfaceError):
        return DatabaseTrouble.lost  # the driver's own, outside SQLAlchemy (autocommit path)
    if isinstance(original, sqlite3.OperationalError) and "locked" in str(original):
        return DatabaseTrouble.lost  # busy for longer than the busy timeout
    return None


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error)
    return text.splitlines()[0] if text else type(error).__name__


def _request_error(raw: dict[str, Any]) -> FieldError:
    # FastAPI locates inputs as ("query", "limit") or ("body", "status"): keep the field name.
    location = [part for part in raw["loc"][1:] if not _is_union_tag(part)]
    if raw["type"] == "json_invalid":
        return FieldError("body", "malformed JSON: " + str(raw.get("ctx", {}).get("error", "")))
    return FieldError(format_path(location) or str(raw["loc"][0]), _message(raw))
