"""Several status changes at once, all or none."""

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.errors import Forbidden, PlanpulseError
from app.models import ActionLine, Deliverable, Measure
from app.services.access.scopes import EVERYWHERE, Reach
from app.services.lookup import get_mandate
from app.services.plan.deliverables import etag
from app.services.status.decision import StatusUpdate
from app.services.status.pipeline import InTransaction, change_status


class BatchFailed(PlanpulseError):
    status_code = 409
    title = "Batch not applied"


@dataclass(frozen=True)
class BatchChange:
    code: str
    if_match: str
    change: StatusUpdate


def apply_batch(writer: InTransaction, *, mandate: str, changes: list[BatchChange],
                actor: str, role: str | None = None, reach: Reach = EVERYWHERE
                ) -> list[dict[str, Any]]:
    """Apply every change in one transaction, or none (409 with each item's outcome; 403,
    before anything is written, when one deliverable is outside ``reach``).

    The deliverables are written in the order of their ids, whatever the order sent, so
    that two batches touching the same deliverables lock them in the same order and never
    wait for each other (a deadlock). The results keep the order sent."""
    found = get_mandate(writer.session, code=mandate)
    ids = {code: deliverable_id for code, deliverable_id in writer.session.execute(
        select(Deliverable.code, Deliverable.id).where(
            Deliverable.mandate_id == found.id,
            Deliverable.code.in_({item.code for item in changes})))}
    refuse_outside(writer, mandate_id=found.id or 0, mandate=mandate,
                   codes=[item.code for item in changes], reach=reach)
    order = sorted(range(len(changes)),
                   key=lambda index: (ids.get(changes[index].code, math.inf), index))
    results: list[dict[str, Any]] = [{} for _ in changes]
    failed = False
    for index in order:
        item = changes[index]
        try:
            outcome = change_status(writer, mandate=mandate, code=item.code,
                                    if_match=item.if_match, change=item.change, actor=actor,
                                    role=role, reach=reach)
            results[index] = {"code": item.code, "outcome": "applied" if outcome.changed
                              else "unchanged", "status": 200,
                              "etag": etag(outcome.row.deliverable)}
        except PlanpulseError as error:
            failed = True
            current = {"current": error.extra["current"]} if "current" in error.extra else {}
            results[index] = {"code": item.code, "outcome": "failed",
                              "status": error.status_code, "detail": error.detail, **current}
    if failed:
        for result in results:
            if result["outcome"] != "failed":
                result.update(outcome="not_applied", etag=None)
        raise BatchFailed("At least one change failed, so none was applied.",
                          extra={"results": results})
    return results


def refuse_outside(writer: InTransaction, *, mandate_id: int, mandate: str, codes: list[str],
                   reach: Reach) -> None:
    """403 naming every deliverable of the batch outside ``reach``: the batch is refused
    whole, as one change outside would be alone (unknown codes are the 409's to report)."""
    if reach.everywhere:
        return
    places = writer.session.execute(
        select(Deliverable.code, ActionLine.code, Measure.code)
        .join(Measure, Measure.id == Deliverable.measure_id)
        .join(ActionLine, ActionLine.id == Measure.action_line_id)
        .where(Deliverable.mandate_id == mandate_id, Deliverable.code.in_(set(codes))))
    outside = sorted(code for code, line, measure in places
                     if not reach.covers(mandate, line=line, measure=measure))
    if outside:
        raise Forbidden(f"Deliverables {', '.join(outside)} are outside this token's scopes "
                        f"({reach}), so no change of the batch was applied.",
                        extra={"scopes": reach.texts(), "outside": outside})
