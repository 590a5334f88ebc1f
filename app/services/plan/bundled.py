"""The Metropolis Action Plan 2018-2020, shipped inside the package as the default data."""

from functools import lru_cache
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Mandate
from app.schemas.plan_file import PlanFile, parse_plan_text
from app.services.plan.importer import ImportReport, import_plan

BUNDLED_PLAN = "metropolis-2018-2020.yaml"


def bundled_plan_text() -> str:
    return resources.files("app.data").joinpath(BUNDLED_PLAN).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def bundled_plan() -> PlanFile:
    """The bundled plan, validated (once per process: it is immutable)."""
    return parse_plan_text(bundled_plan_text())


def load_bundled_plan_if_empty(session: Session) -> ImportReport | None:
    """Import the bundled plan when the database holds no mandate yet."""
    if session.execute(select(Mandate.id).limit(1)).first() is not None:
        return None
    return import_plan(session, plan=bundled_plan())
