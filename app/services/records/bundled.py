"""The Metropolis records of 2020 (the Annual Report's sections 4 and 5), shipped beside
the bundled plan: loaded with it into an empty database."""

from functools import lru_cache
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Mandate, Member
from app.schemas.records_file import RecordsFile, parse_records_text
from app.services.records.importer import RecordsReport, import_records

BUNDLED_RECORDS = "metropolis-records-2020.yaml"
BUNDLED_ACTOR = "bundled"
BUNDLED_MANDATE = "2018-2020"


def bundled_records_text() -> str:
    return resources.files("app.data").joinpath(BUNDLED_RECORDS).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def bundled_records() -> RecordsFile:
    return parse_records_text(bundled_records_text())


def load_bundled_records_if_empty(session: Session) -> RecordsReport | None:
    """Import the bundled records when the database holds the bundled plan (activities link
    to its action lines) and no member yet."""
    if session.execute(select(Member.id).limit(1)).first() is not None:
        return None
    if session.execute(select(Mandate.id).where(Mandate.code == BUNDLED_MANDATE)).first() is None:
        return None
    return import_records(session, records=bundled_records(), actor=BUNDLED_ACTOR)
