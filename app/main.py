"""The FastAPI application: routers, error handlers and request limits."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.middleware.cors import CORSMiddleware
from swagger_ui_bundle import swagger_ui_path

from app import __version__
from app.api import openapi
from app.api.deps import no_nul_in_path
from app.api.routes import (
    admin,
    changes,
    coverage,
    deliverables,
    health,
    indicators,
    mandates,
    progress,
    records,
    reports,
    webhooks,
    writes,
)
from app.db import engine_for
from app.errors import install_error_handlers
from app.head import HeadAsGet
from app.limits import BodySizeLimit
from app.settings import Settings, get_settings
from app.version_watch import VersionWatch
from app.web import badges, pages
from app.web.templating import STATIC_DIR

ROUTERS = [
    health.router, mandates.router, progress.router, deliverables.router, writes.router,
    indicators.router, admin.router, reports.router, pages.router, badges.router,
    coverage.router, records.router, webhooks.router, changes.router,
]
"""Every API route comes from these routers; the access tests walk them."""

# Browsers on another origin (PLANPULSE_CORS_ORIGINS): tokens travel in Authorization, never
# in cookies, so no credentials mode.
CORS_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CORS_REQUEST_HEADERS = ["Authorization", "Content-Type", "If-Match", "If-None-Match",
                        "Idempotency-Key"]
CORS_EXPOSED_HEADERS = ["ETag", "Location", "Idempotent-Replayed", "Retry-After"]

DESCRIPTION = """
planpulse tracks a multi-year action plan (a *mandate*: action lines → measures →
deliverables with a status) and its indicators, and rolls progress up per measure,
action line and mandate. Errors are `application/problem+json`.
"""


def create_app(*, settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app; tests pass their own settings and engine."""
    settings = settings or get_settings()
    app = FastAPI(
        title="planpulse",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served below from local assets: no CDN at run time
        redoc_url=None,
        dependencies=[Depends(no_nul_in_path)],
        lifespan=_lifespan,
        generate_unique_id_function=openapi.operation_id,
        servers=[{"url": "/", "description": "This server"}],
        license_info={"name": "MIT", "identifier": "MIT"},
    )
    app.state.settings = settings
    app.state.engine = engine or engine_for(settings)
    app.state.version_watch = VersionWatch(app.state.engine, enabled=settings.watch_versions,
                                           timeout=settings.version_read_timeout)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(progress.AnswerAgain)
    app.add_middleware(HeadAsGet)  # outside AnswerAgain: its early answers too
    if settings.cors_origins:
        # Added last, so outermost: the early answers (a 304 or cached body from
        # AnswerAgain, a 413) carry the headers too, and preflights never reach routing.
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=CORS_METHODS, allow_headers=CORS_REQUEST_HEADERS,
                           expose_headers=CORS_EXPOSED_HEADERS, allow_credentials=False,
                           max_age=600)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    _serve_docs(app)
    openapi.install(app, routers=ROUTERS, public_read=settings.public_read)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await app.state.version_watch.stop()


def _serve_docs(app: FastAPI) -> None:
    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="planpulse API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )
