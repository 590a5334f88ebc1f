"""Liveness and readiness probes for load balancers and orchestrators."""

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.api.deps import api_router
from app.errors import problem
from app.migrate import current_revision, head_revision
from app.schemas.api import Health, Readiness

router = api_router(tags=["health"])


@router.get("/healthz", response_model=Health)
async def check_health() -> dict[str, Any]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"description": "Not ready"}})
def check_readiness(request: Request) -> Any:
    """The database answers and its schema is at the head revision."""
    engine = request.app.state.engine
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        revision = current_revision(engine)
    except Exception:
        return problem(503, "Not ready", "The database cannot be reached.")
    head = head_revision()
    if revision != head:
        return problem(503, "Not ready",
                       f"The database schema is at {revision}, not at {head}: run "
                       "'planpulse db upgrade'.")
    versions = request.app.state.version_watch.health()
    return JSONResponse({
        "status": "ready", "database": "ok", "schema_revision": revision,
        "version_reads": versions.state,
        **({"version_reads_failed": {"since": versions.since.isoformat(),
                                     "reason": versions.reason}} if versions.since else {})})
