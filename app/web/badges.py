"""Progress badges: a small shields-style SVG ("progress | 78%") for READMEs and intranets.

``GET /badge/{mandate}.svg`` shows the mandate's progress, ``/badge/{mandate}/{code}.svg``
an action line's. The colour follows :data:`COLOURS`. Answers carry a weak ETag on the
mandate's data version and ``Cache-Control: max-age=300`` (public while reads are public),
so an image proxy may keep a badge five minutes, and ask again cheaply after that.
"""

from html import escape
from typing import Annotated

from fastapi import Query, Request, Response
from sqlalchemy.orm import Session

from app.api.deps import IfNoneMatch, MandateDep, Reader, SessionDep, SettingsDep, api_router
from app.conditional import conditional_get, view_tag
from app.models import ActionLine, Mandate
from app.reports.vocabulary import percent
from app.schemas.text import CleanText
from app.services.lookup import get_by_code
from app.services.plan.deliverables import DeliverableFilter
from app.services.rollups.progress import ProgressQuery, mandate_totals

router = api_router(tags=["badges"])

MAX_AGE = 300
SVG = "image/svg+xml"
COLOURS: tuple[tuple[float, str], ...] = (
    (0.9, "#4c1"),     # bright green from 90%
    (0.75, "#97ca00"),  # green from 75%
    (0.5, "#dfb317"),  # yellow from 50%
    (0.25, "#fe7d37"),  # orange from 25%
    (0.0, "#e05d44"),  # red below
)
NO_FIGURE = "#9f9f9f"  # grey: nothing counted yet
BADGE_RESPONSES = {
    200: {"content": {SVG: {}}, "description": "The badge, an SVG image"},
    304: {"description": "Not modified since the ETag sent in If-None-Match"},
}
Label = Annotated[CleanText, Query(min_length=1, max_length=40,
                                   description="The text on the left.")]

# Widths in pixels of Verdana at 11px, the badge font, for the characters labels use most.
_WIDTHS = {**dict.fromkeys("0123456789", 7.0), "%": 12.0, " ": 3.9, ".": 4.0, "-": 4.6,
           "i": 3.1, "l": 3.1, "j": 3.4, "f": 3.9, "t": 4.3, "r": 4.7, "s": 5.7, "c": 5.7,
           "z": 5.8, "k": 6.2, "v": 6.5, "x": 6.5, "y": 6.5, "a": 6.7, "e": 6.6, "g": 6.9,
           "o": 6.7, "b": 6.9, "d": 6.9, "h": 7.0, "n": 7.0, "p": 6.9, "q": 6.9, "u": 7.0,
           "w": 9.0, "m": 10.7, "I": 4.6, "W": 11.5, "M": 9.9}


def text_width(text: str) -> float:
    return sum(_WIDTHS.get(char, 8.0 if char.isupper() else 7.0) for char in text)


def colour(ratio: float | None) -> str:
    if ratio is None:
        return NO_FIGURE
    return next(hex_colour for floor, hex_colour in COLOURS if ratio >= floor)


def badge_svg(label: str, ratio: float | None) -> str:
    """A flat badge: ``label`` on grey, the ratio as a percentage on its colour."""
    message = "n/a" if ratio is None else percent(ratio)
    left = round(text_width(label) + 10)
    right = round(text_width(message) + 10)
    total = left + right
    label_text, message_text = escape(label), escape(message)
    shadow = 'fill="#010101" fill-opacity=".3"'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{label_text}: {message_text}">'
        f"<title>{label_text}: {message_text}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour(ratio)}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2}" y="15" {shadow}>{label_text}</text>'
        f'<text x="{left / 2}" y="14">{label_text}</text>'
        f'<text x="{left + right / 2}" y="15" {shadow}>{message_text}</text>'
        f'<text x="{left + right / 2}" y="14">{message_text}</text>'
        "</g></svg>"
    )


def _answer(request: Request, session: Session, mandate: Mandate, public: bool,
            if_none_match: str | None, label: str, action_line: str | None) -> Response:
    """The badge, or 304 while the mandate's data has not changed; its progress is
    computed only when the badge is sent."""

    def produce() -> Response:
        where = DeliverableFilter(mandate_id=mandate.id or 0, action_line=action_line)
        totals = mandate_totals(session, mandate=mandate, query=ProgressQuery(where=where))
        return Response(badge_svg(label, totals.progress), media_type=SVG)

    cache = f"{'public' if public else 'private'}, max-age={MAX_AGE}"
    return conditional_get(if_none_match, view_tag(request, mandate.id, mandate.data_version),
                           produce, {"Cache-Control": cache})


@router.get("/badge/{mandate}.svg", response_class=Response, responses=BADGE_RESPONSES)
def get_mandate_badge(mandate: MandateDep, session: SessionDep, settings: SettingsDep,
                      _reader: Reader, request: Request, label: Label = "progress",
                      if_none_match: IfNoneMatch = None) -> Response:
    """A badge with the mandate's progress, e.g. "progress | 78%"."""
    return _answer(request, session, mandate, settings.public_read, if_none_match, label,
                   None)


@router.get("/badge/{mandate}/{code}.svg", response_class=Response,
            responses=BADGE_RESPONSES)
def get_action_line_badge(mandate: MandateDep, code: str, session: SessionDep,
                          settings: SettingsDep, _reader: Reader, request: Request,
                          label: Label = "progress", if_none_match: IfNoneMatch = None
                          ) -> Response:
    """A badge with one action line's progress (``code`` is the action line's, e.g. L1)."""
    get_by_code(session, ActionLine, mandate=mandate, code=code)
    return _answer(request, session, mandate, settings.public_read, if_none_match, label,
                   code)
