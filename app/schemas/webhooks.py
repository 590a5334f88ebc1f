"""Request and response shapes of the webhook routes (docs/webhooks.md)."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, field_validator

from app.schemas.text import refuse_nul

Text = Annotated[str, Strict()]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[Text, StringConstraints(min_length=1, max_length=2000)] = Field(
        examples=["https://hooks.example.org/planpulse"])
    events: Annotated[list[Text], Field(min_length=1, max_length=20)] = Field(
        examples=[["deliverable.status_changed", "indicator.value_recorded"]])
    mandate: Annotated[Text, StringConstraints(min_length=1, max_length=100)] | None = Field(
        default=None, description="Only this mandate's events; none: every mandate's, and "
                                  "the organisation-wide ones.")

    _no_nul = field_validator("*", mode="before")(refuse_nul)


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    events: list[str]
    mandate: str | None
    secret_prefix: str = Field(description="The secret's first characters, to tell it apart.")
    created_by: str
    created_at: datetime
    active: bool


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret, shown this once only.")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="Sent as Planpulse-Delivery, the same on every attempt.")
    event_id: str
    event_type: str
    status: str = Field(description="pending, delivered, failed (another attempt is due) or "
                                    "given_up.")
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    response_excerpt: str | None = Field(description="The receiver's answer, at most 500 "
                                                     "characters of it.")
    delivered_at: datetime | None
