"""The error answers every route documents (as application/problem+json: see main.py)."""

from typing import Any

from app.schemas.api import ConflictProblem, Problem, StaleProblem

_DESCRIPTIONS = {
    401: "No token where one is needed, or a bad, expired or revoked one",
    403: "The token's role is too low",
    404: "Unknown mandate, code or name",
    409: "Conflict: a name taken, a reused Idempotency-Key, a batch not applied",
    412: "If-Match does not name the current version; the body carries the current state",
    413: "Body larger than the limit",
    415: "Unsupported content type",
    422: "Invalid input; `errors` names every field",
    428: "If-Match missing",
}


_MODELS: dict[int, type[Problem]] = {409: ConflictProblem, 412: StaleProblem}
"""Problems that carry extras of their own."""


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {"model": _MODELS.get(code, Problem), "description": _DESCRIPTIONS[code]}
        for code in codes
    }


COMMON = problems(401, 403, 404, 413, 422)
"""What any route may answer."""
WRITE = problems(409, 412, 428)
"""What a write guarded by If-Match may answer besides."""
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified since the ETag sent in If-None-Match"}}
"""What a conditional read may answer besides."""
CREATED: dict[int | str, dict[str, Any]] = {
    201: {"description": "Created", "headers": {"Location": {
        "description": "Where the new resource is read.", "schema": {"type": "string"}}}}}
"""What a route that creates a resource answers: where to read it."""
