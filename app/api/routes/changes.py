"""The change stream of a mandate, as server-sent events, for live dashboards."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from app.api.deps import MandateDep, Reader, SettingsDep, api_router
from app.head import HEAD_REQUEST
from app.services.changes.stream import Cursor, latest_id, sse

router = api_router(prefix="/api/v1/mandates/{mandate}", tags=["changes"])

EVENT_STREAM = "text/event-stream"
KEEP_ALIVE_SECONDS = 15.0
"""A comment line this often keeps proxies from closing an idle stream."""


@router.get("/changes", response_class=StreamingResponse, responses={
    200: {"description": "One event per change: `id:`, `event:` (its type) and one `data:` "
          "line of JSON {id, type, occurred_at, mandate, author: {name, role}, data}.",
          "content": {EVENT_STREAM: {}}}})
async def get_mandate_changes(
    mandate: MandateDep, request: Request, settings: SettingsDep, _reader: Reader,
    last_event_id: Annotated[str | None, Header(
        max_length=20, description="Resume after this event id (the browser's EventSource "
        "sends it when it reconnects).")] = None,
    since: Annotated[int | None, Query(ge=0, description="Resume after this event id; "
                                       "0 replays every change. Default: from now.")] = None,
) -> StreamingResponse:
    """The mandate's changes (status changes, values, imports) and the organisation's
    records changes, as they are committed (docs/webhooks.md, "The change stream")."""
    engine = request.app.state.engine
    resume = last_event_id.strip() if last_event_id else None
    start = int(resume) if resume and resume.isdigit() else since
    if start is None:
        with Session(engine) as session:
            start = latest_id(session)
    cursor, mandate_id = Cursor(last=start), mandate.id or 0
    head = bool(request.scope.get(HEAD_REQUEST))

    def poll() -> str:
        with Session(engine) as session:
            return sse(cursor.take(session, mandate_id=mandate_id))

    async def events() -> AsyncIterator[str]:
        yield f"retry: {int(settings.changes_poll_seconds * 1000) + 1000}\n\n"
        if head:
            return
        ends = time.monotonic() + settings.changes_stream_seconds
        quiet_since = time.monotonic()
        while time.monotonic() < ends and not await request.is_disconnected():
            text = await asyncio.to_thread(poll)
            if text:
                yield text
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= KEEP_ALIVE_SECONDS:
                yield ": keep-alive\n\n"
                quiet_since = time.monotonic()
            await asyncio.sleep(settings.changes_poll_seconds)

    return StreamingResponse(events(), media_type=EVENT_STREAM, headers={
        "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
