"""The Jinja2 environment of the pages: where templates live and how figures are shown."""

from datetime import UTC, date, datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app import __version__
from app.reports.figures import amount
from app.reports.vocabulary import (
    NOTHING,
    attainment_word,
    figure,
    number,
    percent,
    symbol,
    whole_percent,
    word,
)
from app.services.changes.events import EventType

HERE = Path(__file__).parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"


def _instant(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def when(value: datetime | str | None) -> str:
    """A moment as people read it: 2020-12-31 23:59 UTC."""
    moment = _instant(value)
    return NOTHING if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def iso(value: datetime | date | str | None) -> str:
    """A machine-readable value for <time datetime>."""
    if isinstance(value, datetime | str):
        moment = _instant(value)
        return "" if moment is None else moment.isoformat().replace("+00:00", "Z")
    return value.isoformat() if value is not None else ""


def day(value: date | datetime | None) -> str:
    return NOTHING if value is None else f"{value:%Y-%m-%d}"


templates = Jinja2Templates(env=Environment(
    loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(default=True),
    trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined))
templates.env.filters.update(
    percent=percent, whole_percent=whole_percent, symbol=symbol, word=word,
    attainment_word=attainment_word, figure=figure, amount=amount, number=number, when=when,
    iso=iso,
    day=day)
templates.env.globals.update(version=__version__, NOTHING=NOTHING,
                             change_types=[event.value for event in EventType])
