"""Conditional requests (RFC 9110, section 13): entity tags, If-Match, If-None-Match, 304.

The one kit for every route that needs them. Writes name what they change by a strong tag
(a deliverable's ``"12.3"``, an indicator's ``"i4.2"``: id and version) and must send it
back in ``If-Match``; views computed from a mandate's data (progress, lists, reports,
badges) carry a weak tag and answer 304 to a matching ``If-None-Match``.
"""

import hashlib
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.errors import PreconditionFailed, PreconditionRequired

ANY = "*"
NO_CACHE = "no-cache"  # store, but ask again each time: a 304 costs almost nothing
MISSING = ("Send If-Match with the ETag you read (from GET), so that no change is lost.")
WILDCARD_REFUSED = ("If-Match: * is not accepted: it would let this write overwrite a change "
                    "made since you read. Send the ETag you read (from GET).")

_LISTED_TAG = re.compile(r'\s*(?:(\*)|((?:W/)?"[^"]*"))\s*(?:,|$)')


def strong_tag(*parts: object) -> str:
    """A strong entity tag from its parts: ``strong_tag(12, 3)`` is ``"12.3"``."""
    return '"' + ".".join(str(part) for part in parts) + '"'


def weak_tag(mandate_id: int | None, data_version: int, *parts: str) -> str:
    """A weak tag for a view of a mandate: its data version and what the view asked for.

    Weak, because a view "as of now" says what time it is, while meaning the same data."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]
    return f'W/"{mandate_id}.{data_version}.{digest}"'


def view_tag(request: Request, mandate_id: int | None, data_version: int, *parts: str
             ) -> str:
    """The weak tag of a view of a mandate's data: its data version and the path and query
    the view was asked with (and ``parts``, whatever else it depends on)."""
    return weak_tag(mandate_id, data_version, request.url.path, str(request.url.query), *parts)


def listed_tags(header: str) -> list[str]:
    """The entity tags of an If-Match or If-None-Match header, ``*`` included; a part that
    is not an entity tag is skipped (it can match nothing)."""
    tags, position = [], 0
    while position < len(header):
        found = _LISTED_TAG.match(header, position)
        if found is None:  # not a tag: skip to the next comma
            comma = header.find(",", position)
            position = len(header) if comma < 0 else comma + 1
            continue
        tags.append(found.group(1) or found.group(2))
        position = found.end()
    return tags


def require_match(if_match: str | None, current: str, *, name: str,
                  current_state: Callable[[], dict[str, Any]] | None = None) -> None:
    """Let a write through only if ``If-Match`` lists ``current`` (strong comparison).

    428 when it is missing or ``*`` (which would match whatever changed meanwhile); 412
    naming ``name`` and the current tag otherwise, with the current state when given."""
    if not if_match or not if_match.strip():
        raise PreconditionRequired(MISSING)
    tags = listed_tags(if_match)
    if ANY in tags:
        raise PreconditionRequired(WILDCARD_REFUSED)
    if current not in tags:
        raise stale(current, name=name, current_state=current_state)


def stale(current: str, *, name: str,
          current_state: Callable[[], dict[str, Any]] | None = None) -> PreconditionFailed:
    """The 412 of a write based on an older version than ``current``."""
    extra: dict[str, Any] = {"etag": current}
    if current_state is not None:
        extra = {"current": current_state(), **extra}
    return PreconditionFailed(f"{name} has changed since you read it: it is at {current}. "
                              "Read it again and reapply your change.", extra=extra)


def none_match(if_none_match: str | None, current: str) -> bool:
    """Whether ``If-None-Match`` names ``current`` (weak comparison) or is ``*``: the client
    holds the current representation, so a GET answers 304."""
    if not if_none_match:
        return False
    tags = listed_tags(if_none_match)
    return ANY in tags or current.removeprefix("W/") in {t.removeprefix("W/") for t in tags}


def not_modified(etag: str, headers: dict[str, str] | None = None) -> Response:
    """The 304 for a client whose copy is current: its validators, no body."""
    return Response(status_code=304, headers=validators(etag, headers))


def validators(etag: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    """The headers every conditional answer carries (``headers`` may override
    Cache-Control)."""
    return {"ETag": etag, "Cache-Control": NO_CACHE, **(headers or {})}


def conditional_get(if_none_match: str | None, etag: str, produce: Callable[[], Response],
                    headers: dict[str, str] | None = None) -> Response:
    """304 when the client holds ``etag``; else what ``produce`` makes, with the
    validators. ``produce`` runs only when the answer is needed."""
    if none_match(if_none_match, etag):
        return not_modified(etag, headers)
    response = produce()
    response.headers.update(validators(etag, headers))
    return response
