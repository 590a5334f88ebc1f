"""Webhook subscriptions (admin): create, list, read, delete; the delivery log and
redeliveries (docs/webhooks.md)."""

from dataclasses import asdict
from typing import Any

from fastapi import Request, Response

from app.api import responses
from app.api.deps import Admin, PagingDep, SessionDep, SettingsDep, WholePagingDep, api_router
from app.schemas.api import Page
from app.schemas.webhooks import DeliveryOut, WebhookCreated, WebhookIn, WebhookOut
from app.services.access import audit, scopes
from app.services.webhooks import subscriptions

router = api_router(prefix="/api/v1", tags=["webhooks"])


@router.post("/webhooks", response_model=WebhookCreated, status_code=201,
             responses={**responses.problems(409), **responses.CREATED})
def create_webhook(body: WebhookIn, session: SessionDep, settings: SettingsDep, admin: Admin,
                   request: Request, response: Response) -> dict[str, Any]:
    """Subscribe a URL to event types; the signing secret is in this answer only. A scoped
    token subscribes to a mandate it reads, not to every mandate."""
    if body.mandate is None:
        scopes.require_everywhere(admin.reach, what="Subscriptions to every mandate's events")
    else:
        scopes.require_among(admin.reach, body.mandate, what=f"Mandate {body.mandate!r}",
                             public_read=settings.public_read)
    made, secret = subscriptions.create(session, settings, url=body.url, events=body.events,
                                        mandate=body.mandate, created_by=admin.name)
    audit.record(session, actor=admin.name, action="webhook.create", target=made.id,
                 detail={"url": made.url, "events": made.events, "mandate": made.mandate})
    response.headers["Location"] = request.app.url_path_for("get_webhook", webhook=made.id)
    return {**asdict(made), "secret": secret}


@router.get("/webhooks", response_model=Page[WebhookOut])
def list_webhooks(session: SessionDep, admin: Admin, paging: WholePagingDep) -> dict[str, Any]:
    """Every subscription, oldest first, without its secret; for a scoped token, those to
    the mandates it reads."""
    return subscriptions.page(session, page=paging, within=admin.reach).as_dict()


@router.get("/webhooks/{webhook}", response_model=WebhookOut)
def get_webhook(webhook: str, session: SessionDep, admin: Admin) -> subscriptions.Subscription:
    """One subscription, without its secret."""
    return subscriptions.get(session, webhook, within=admin.reach)


@router.delete("/webhooks/{webhook}", status_code=204)
def delete_webhook(webhook: str, session: SessionDep, admin: Admin) -> Response:
    """Delete a subscription and its delivery log; nothing more is sent to it."""
    removed = subscriptions.remove(session, webhook, within=admin.reach)
    audit.record(session, actor=admin.name, action="webhook.delete", target=removed.id,
                 detail={"url": removed.url})
    return Response(status_code=204)


@router.get("/webhooks/{webhook}/deliveries", response_model=Page[DeliveryOut])
def list_webhook_deliveries(webhook: str, session: SessionDep, admin: Admin,
                            paging: PagingDep) -> dict[str, Any]:
    """The subscription's deliveries, newest first: status, attempts, the last answer."""
    return subscriptions.deliveries(session, webhook, page=paging,
                                    within=admin.reach).as_dict()


@router.post("/webhooks/{webhook}/deliveries/{delivery}/redeliver", response_model=DeliveryOut,
             status_code=202)
def create_webhook_redelivery(webhook: str, delivery: str, session: SessionDep,
                               admin: Admin) -> subscriptions.Delivery:
    """Send a delivery again now (given up or delivered too), with the same delivery id."""
    found = subscriptions.redeliver(session, webhook, delivery, within=admin.reach)
    audit.record(session, actor=admin.name, action="webhook.redeliver", target=webhook,
                 detail={"delivery": delivery})
    return found
