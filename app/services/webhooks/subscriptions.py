"""Subscriptions (admin): made with a secret shown once, listed, deleted; their delivery
log and redeliveries."""

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from app.errors import FieldError, InvalidInput, NotFound
from app.models import ChangeEvent, Mandate, WebhookDelivery, WebhookSubscription
from app.models.types import utcnow
from app.models.webhooks import DeliveryStatus
from app.services.access.scopes import EVERYWHERE, Reach
from app.services.lookup import find_by_code
from app.services.paging import Page, PageRequest, fetch_page
from app.services.webhooks import addresses, signing
from app.services.webhooks.addresses import Refused, Resolver
from app.settings import Settings

EVENT_TYPES = ("deliverable.status_changed", "indicator.value_recorded", "plan.imported",
               "records.changed")
"""What a subscription may ask for: the change log's event types."""
ID_PREFIX = "wh_"


@dataclass(frozen=True)
class Subscription:
    """A subscription as the API shows it (never its secret)."""

    id: str
    url: str
    events: list[str]
    mandate: str | None
    secret_prefix: str
    created_by: str
    created_at: datetime
    active: bool


def create(session: Session, settings: Settings, *, url: str, events: list[str],
           mandate: str | None, created_by: str,
           resolve: Resolver | None = None) -> tuple[Subscription, str]:
    """A new subscription and its secret, which is not stored (only its salt is)."""
    problems = []
    unknown = [event for event in events if event not in EVENT_TYPES]
    if unknown:
        problems.append(FieldError("events", f"unknown event type(s) {', '.join(unknown)}; "
                                   f"known: {', '.join(EVENT_TYPES)}"))
    if not events:
        problems.append(FieldError("events", "name at least one event type"))
    try:
        addresses.target(url, allowed_hosts=settings.webhook_allowed_hosts, resolve=resolve)
    except Refused as refused:
        problems.append(FieldError("url", str(refused)))
    found = None
    if mandate is not None:
        found = find_by_code(session, Mandate, code=mandate)
        if found is None:
            problems.append(FieldError("mandate", f"there is no mandate {mandate!r}"))
    if problems:
        raise InvalidInput(problems)
    salt = signing.new_salt()
    secret = signing.signing_secret(settings.webhook_signing_key, salt)
    row = WebhookSubscription(
        public_id=ID_PREFIX + secrets.token_hex(8), url=url,
        events=list(dict.fromkeys(events)), mandate_id=found.id if found else None,
        secret_salt=salt, secret_prefix=secret[:signing.SHOWN_PREFIX],
        created_by=created_by, created_at=utcnow())
    session.add(row)
    session.flush()
    return _shown(row, mandate), secret


def _listed() -> Select[Any]:
    return (select(WebhookSubscription, Mandate.code)
            .outerjoin(Mandate, Mandate.id == WebhookSubscription.mandate_id))


def _shown(row: WebhookSubscription, mandate: str | None) -> Subscription:
    return Subscription(row.public_id, row.url, list(row.events), mandate, row.secret_prefix,
                        row.created_by, row.created_at, row.active)


def page(session: Session, *, page: PageRequest, within: Reach = EVERYWHERE
         ) -> Page[Subscription]:
    """A page of the subscriptions, oldest first; ``within`` a scoped reach, those to the
    mandates it reads (not those to every mandate)."""
    listed = _listed()
    if not within.everywhere:
        listed = listed.where(Mandate.code.in_({scope.mandate for scope in within.scopes}))
    found = fetch_page(session, listed.order_by(WebhookSubscription.id), page)
    return Page([_shown(row, code) for row, code in found.data], found.count, found.limit,
                found.offset)


def _row(session: Session, public_id: str, within: Reach = EVERYWHERE
         ) -> tuple[WebhookSubscription, str | None]:
    """A subscription by its id; one outside ``within`` (see :func:`page`) is not found."""
    found = session.execute(_listed().where(WebhookSubscription.public_id == public_id)).first()
    if found is None or not (within.everywhere or (found[1] is not None
                                                   and within.sees(found[1]))):
        raise NotFound(f"There is no webhook subscription {public_id!r}.")
    return found[0], found[1]


def get(session: Session, public_id: str, *, within: Reach = EVERYWHERE) -> Subscription:
    return _shown(*_row(session, public_id, within))


def remove(session: Session, public_id: str, *, within: Reach = EVERYWHERE) -> Subscription:
    """Delete a subscription with its delivery log: nothing more is sent to it."""
    row, code = _row(session, public_id, within)
    shown = _shown(row, code)
    session.execute(delete(WebhookSubscription).where(WebhookSubscription.id == row.id))
    return shown


@dataclass(frozen=True)
class Delivery:
    """One delivery in the log."""

    id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    response_excerpt: str | None
    delivered_at: datetime | None


def event_id(number: int) -> str:
    """An event's id in payloads and the log."""
    return f"evt_{number}"


def _delivery(row: WebhookDelivery, event_type: str) -> Delivery:
    waiting = row.status in (DeliveryStatus.pending, DeliveryStatus.failed)
    return Delivery(row.delivery_id, event_id(row.event_id), event_type, row.status,
                    row.attempts, row.created_at, row.next_attempt_at if waiting else None,
                    row.last_attempt_at, row.last_status_code, row.last_error,
                    row.response_excerpt, row.delivered_at)


def deliveries(session: Session, public_id: str, *, page: PageRequest,
               within: Reach = EVERYWHERE) -> Page[Delivery]:
    """The subscription's deliveries, newest first."""
    row, _code = _row(session, public_id, within)
    statement = (select(WebhookDelivery, ChangeEvent.type)
                 .join(ChangeEvent, ChangeEvent.id == WebhookDelivery.event_id)
                 .where(WebhookDelivery.subscription_id == row.id)
                 .order_by(WebhookDelivery.id.desc()))
    found = fetch_page(session, statement, page)
    return Page([_delivery(delivery, kind) for delivery, kind in found.data], found.count,
                found.limit, found.offset)


def redeliver(session: Session, public_id: str, delivery_id: str, *,
              within: Reach = EVERYWHERE, now: datetime | None = None) -> Delivery:
    """Make a delivery due now, whatever its state (given up or delivered too): the
    worker sends it again, with the same ``Planpulse-Delivery`` id. A given-up one gets
    one more attempt."""
    row, _code = _row(session, public_id, within)
    found = session.execute(
        select(WebhookDelivery, ChangeEvent.type)
        .join(ChangeEvent, ChangeEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.subscription_id == row.id,
               WebhookDelivery.delivery_id == delivery_id)).first()
    if found is None:
        raise NotFound(f"Webhook subscription {public_id!r} has no delivery {delivery_id!r}.")
    delivery, kind = found
    delivery.status = DeliveryStatus.pending
    delivery.next_attempt_at = now or utcnow()
    session.flush()
    return _delivery(delivery, kind)
