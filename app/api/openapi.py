"""The OpenAPI document as client generators and linters read it.

FastAPI builds the operations from the routes; this finishes the document: operation ids
from the route functions' names, error answers under application/problem+json, schemas
that a request body keeps inline moved to ``components``, the bearer scheme with each
operation's security (from the role its route requires), and the response headers a
client needs (``ETag``, ``Idempotent-Replayed``).
"""

import json
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.models import Role
from app.services.access.idempotency import REPLAYED_HEADER

BEARER = "bearer"
SENDS_ETAG = frozenset({"get_deliverable", "get_indicator"})
"""Reads that send an ETag without being conditional: the version to send in If-Match."""
ETAG = {"description": "The version of what was answered: send it back in If-None-Match "
                       "(reads) or If-Match (writes).", "schema": {"type": "string"}}
REPLAYED = {"description": "`true` when this is the stored answer to an earlier request "
                           "with the same Idempotency-Key.",
            "schema": {"type": "string", "enum": ["true"]}}


def operation_id(route: APIRoute) -> str:
    """The route function's name, a verb: ``change_deliverable_status``."""
    return route.name


def required_role(route: APIRoute) -> Role | None:
    """The least role the route lets through (None: anyone, with or without a token)."""
    for dependant in _dependants(route.dependant):
        role = getattr(dependant.call, "required_role", None)
        if role is not None:
            return role  # type: ignore[no-any-return]
    return None


def install(app: FastAPI, *, routers: Iterable[APIRouter], public_read: bool) -> None:
    """Serve the finished document; ``routers`` are every router the app includes."""
    build = app.openapi
    routers = list(routers)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            roles = {route.name: required_role(route) for router in routers
                     for route in router.routes if isinstance(route, APIRoute)}
            finish(document, roles=roles, public_read=public_read)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def finish(document: dict[str, Any], *, roles: dict[str, Role | None], public_read: bool
           ) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    components["securitySchemes"] = {BEARER: {
        "type": "http", "scheme": "bearer",
        "description": "A planpulse token (`planpulse token create`)."}}
    for operation in _operations(document):
        role = roles.get(operation["operationId"])
        operation["security"] = _security(role, public_read=public_read)
        if role is not None and role.rank > Role.viewer.rank:
            operation["description"] = (operation.get("description", "").rstrip()
                                        + f"\n\nNeeds a token with the {role.value} role.")
        _problems_as_problem_json(operation)
        _declare_headers(operation)
        _hoist_definitions(operation, schemas)


def _security(role: Role | None, *, public_read: bool) -> list[dict[str, list[str]]]:
    if role is None:
        return []
    if role is Role.viewer and public_read:
        return [{}, {BEARER: []}]  # a token is optional
    return [{BEARER: []}]


def _problems_as_problem_json(operation: dict[str, Any]) -> None:
    for code, answer in operation.get("responses", {}).items():
        content = answer.get("content", {})
        if code.startswith(("4", "5")) and "application/json" in content:
            content["application/problem+json"] = content.pop("application/json")


def _declare_headers(operation: dict[str, Any]) -> None:
    answers = operation.get("responses", {})
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "header" and parameter["name"].lower() == "if-match" \
                and "428" in answers:
            # Optional in the route only so that a missing one answers 428, not 422.
            parameter["required"] = True
            parameter["schema"] = {"type": "string", "title": "If-Match"}
    parameters = {parameter["name"].lower() for parameter in operation.get("parameters", [])
                  if parameter.get("in") == "header"}
    tagged = ("if-match" in parameters or "if-none-match" in parameters or "304" in answers
              or operation["operationId"] in SENDS_ETAG)
    for code, answer in answers.items():
        if (code.startswith("2") and code != "204") or code == "304":
            headers = answer.setdefault("headers", {})
            if tagged:
                headers["ETag"] = ETAG
            if "idempotency-key" in parameters and code.startswith("2"):
                headers[REPLAYED_HEADER] = REPLAYED
            if not headers:
                del answer["headers"]


def _hoist_definitions(node: Any, schemas: dict[str, Any]) -> None:
    """A schema written out by hand (the plan file's request body) keeps its sub-schemas
    in ``$defs`` while its references point at ``components``: move them there."""
    if isinstance(node, dict):
        for name, schema in node.pop("$defs", {}).items():
            schemas.setdefault(name, schema)
        for value in node.values():
            _hoist_definitions(value, schemas)
    elif isinstance(node, list):
        for value in node:
            _hoist_definitions(value, schemas)


def _operations(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path in document["paths"].values():
        yield from path.values()


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependants(dependency)


def published_document() -> dict[str, Any]:
    """The document an app with the default settings serves at /openapi.json."""
    from app.main import create_app  # here: app.main imports this module
    from app.settings import Settings

    return create_app(settings=Settings(database_url="sqlite://")).openapi()


if __name__ == "__main__":
    print(json.dumps(published_document(), indent=2))
