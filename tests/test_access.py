"""Who may do what, checked for every route of the application's own route table.

A route added without an access rule (a Reader, Editor or Admin dependency) fails here.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from itertools import count
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.api.openapi import required_role
from app.main import ROUTERS
from app.models import (
    ApiToken,
    ChangeEvent,
    Mandate,
    Role,
    WebhookDelivery,
    WebhookSubscription,
)
from app.models.types import utcnow
from tests.conftest import make_client
from tests.helpers import auth, new_token

PUBLIC_PATHS = {"/healthz", "/readyz"}
SAMPLE_PATH_VALUES = {"mandate": "2018-2020", "code": "L1M3D2", "name": "nobody",
                      "period": "2020", "webhook": "wh_nobody",
                      "delivery": "00000000-0000-0000-0000-000000000000"}
CREDENTIALS = ["none", "malformed", "unknown", "expired", "revoked", "viewer", "editor",
               "admin"]


def _routes() -> list[APIRoute]:
    routes = [route for router in ROUTERS for route in router.routes
              if isinstance(route, APIRoute)]
    assert len(routes) >= 15
    return routes


def test_every_route_declares_who_may_call_it() -> None:
    unguarded = [f"{sorted(route.methods)} {route.path}" for route in _routes()
                 if required_role(route) is None and route.path not in PUBLIC_PATHS
                 and route.include_in_schema]
    assert unguarded == []


def _expected(role: Role | None, credential: str, public_read: bool) -> set[int] | None:
    """The status codes allowed for this role and credential; None = must get through."""
    if role is None:
        return None
    if credential in {"malformed", "unknown", "expired", "revoked"}:
        return {401}
    if credential == "none":
        return None if (role == Role.viewer and public_read) else {401}
    return None if Role(credential).rank >= role.rank else {403}


@pytest.fixture
def credentials(engine: Engine, metropolis: None,
                tokens: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    expired = new_token(engine, Role.admin, "expired-admin")
    revoked = new_token(engine, Role.admin, "revoked-admin")
    with Session(engine) as session:
        session.execute(update(ApiToken).where(ApiToken.name == "expired-admin")
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
        session.execute(update(ApiToken).where(ApiToken.name == "revoked-admin")
                        .values(revoked_at=utcnow()))
        session.commit()
    return {
        "none": {},
        "malformed": {"Authorization": "Token abc"},
        "unknown": auth("pp_not-a-token-anybody-has"),
        "expired": auth(expired),
        "revoked": auth(revoked),
        **tokens,
    }


@pytest.mark.parametrize("public_read", [True, False], ids=["public-read", "private-read"])
def test_access_matrix(engine: Engine, credentials: dict[str, dict[str, str]],
                       public_read: bool) -> None:
    mismatches: list[str] = []
    checked = 0
    with make_client(engine, public_read=public_read) as client:
        for route in _routes():
            if not route.include_in_schema:
                continue
            role = required_role(route)
            path = route.path.format(**SAMPLE_PATH_VALUES)
            for method in sorted(route.methods):
                for credential in CREDENTIALS:
                    # An empty JSON body: where access is granted the answer is a 4xx about
                    # the body or a 200, never a 401/403; where it is not, 401/403 comes first.
                    response = client.request(method, path, headers=credentials[credential],
                                              json={} if method in {"POST", "PUT", "PATCH"}
                                              else None)
                    expected = _expected(role, credential, public_read)
                    got = response.status_code
                    wrong = (got not in expected) if expected else got in {401, 403}
                    if wrong or got >= 500:
                        mismatches.append(f"{method} {path} as {credential}: {got}")
                    checked += 1
    assert mismatches == []
    assert checked >= 8 * 15


def test_reads_need_a_viewer_token_when_reads_are_private(
    engine: Engine, credentials: dict[str, Any]
) -> None:
    with make_client(engine, public_read=False) as client:
        assert client.get("/api/v1/mandates").status_code == 401
        assert client.get("/api/v1/mandates", headers=credentials["viewer"]).status_code == 200
        assert client.get("/healthz").status_code == 200


# --- The scope dimension -------------------------------------------------------------------
# Every route by (no token, viewer, editor, admin, each scoped to the L2 team's action line) by
# where the request points: "in" the scope, "beside" it (the same mandate, action line L1)
# or "elsewhere" (another organisation's mandate). A route without a sample here fails.

SCOPE = "2018-2020:L2"
HOME, OTHER = "2018-2020", "OGP-2022-2025"
PLACES = ("in", "beside", "elsewhere")
SCOPED_CREDENTIALS = ("none", "viewer", "editor", "admin")
WEBHOOK_SETTINGS: dict[str, Any] = {"webhook_signing_key": "k" * 40,
                                    "webhook_allowed_hosts": "127.0.0.1",
                                    "changes_stream_seconds": 0.1, "changes_poll_seconds": 0.05}


class Kind(Enum):
    """What a route reaches, which decides what a scoped token gets."""

    mandate_read = "reads a mandate (the path's, or the mandates named in the query)"
    org_read = "reads what no mandate holds"
    scoped_write = "writes a deliverable, an indicator or an activity: the scope must cover it"
    mandate_write = "writes a mandate as a whole: a line's scope never covers it"
    org_write = "writes what no mandate holds (or reads the audit log): no scope at all"
    managed = "manages tokens or subscriptions: only those within the caller's reach"


@dataclass(frozen=True)
class Sample:
    kind: Kind
    values: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    """Path parameter → its value in, beside and elsewhere."""
    body: Callable[[str], Any] | None = None
    """The request's JSON body for a place ("in", "beside", "elsewhere")."""
    query: Callable[[str], dict[str, str]] | None = None
    beside_passes: bool = False
    """A place beside the scope (the same mandate) is within what this route checks."""


MANDATES = {"mandate": (HOME, HOME, OTHER)}
DELIVERABLES = {**MANDATES, "code": ("L2M1D1", "L1M1D1", "SO1.1.1")}
INDICATORS = {**MANDATES, "code": ("PILOT_PROJECTS", "GLOBAL_EVENTS", "BUDGET_DOCS_ON_TIME")}
LINES = {**MANDATES, "code": ("L2", "L1", "SO1")}
MEASURES = {**MANDATES, "code": ("L2M1", "L1M1", "SO1.1")}
MEMBER = {"code": ("abidjan",) * 3, "period": ("2020",) * 3}
ACTIVITIES = {"code": ("EV-2020-054", "EV-2020-060", "EV-2020-001")}
TOKENS = {"name": ("l2m1-viewer", "l1-viewer", "ogp-viewer")}
WEBHOOKS = {"webhook": ("wh_0000000000000001", "wh_0000000000000002", "wh_0000000000000003")}
DELIVERY = {**WEBHOOKS, "delivery": ("d-in", "d-beside", "d-elsewhere")}
_LINKS = {"in": {"action_line": "L2"}, "beside": {"action_line": "L1"},
          "elsewhere": {"action_line": "SO1"}}
_made = count()


def _pick(place: str, values: tuple[Any, Any, Any]) -> Any:
    return values[PLACES.index(place)]


def _indicator(place: str, code: str | None = None) -> dict[str, Any]:
    return {"code": code or f"NEW_{next(_made)}", "title": "Pilot visits", "unit": "count",
            "direction": "increase", **_LINKS[place]}


def _activity(place: str) -> dict[str, Any]:
    link = {"in": [{"mandate": HOME, "action_line": "L2"}],
            "beside": [{"mandate": HOME, "action_line": "L1"}], "elsewhere": []}[place]
    return {"code": _pick(place, ACTIVITIES["code"]), "kind": "event", "title": "A meeting",
            "start_date": "2020-06-01", "links": link}


SAMPLES: dict[tuple[str, str], Sample] = {
    ("GET", "/api/v1/mandates"): Sample(Kind.org_read),
    ("GET", "/api/v1/mandates/{mandate}"): Sample(Kind.mandate_read, MANDATES),
    ("GET", "/api/v1/mandates/{mandate}/activity"): Sample(Kind.mandate_read, MANDATES),
    ("GET", "/api/v1/mandates/{mandate}/plan"): Sample(Kind.mandate_read, MANDATES),
    ("PUT", "/api/v1/mandates/{mandate}/plan"): Sample(Kind.mandate_write, MANDATES,
                                                       body=lambda _place: {}),
    ("GET", "/api/v1/mandates/{mandate}/progress"): Sample(Kind.mandate_read, MANDATES),
    ("GET", "/api/v1/mandates/{mandate}/action-lines/{code}/progress"): Sample(
        Kind.mandate_read, LINES),
    ("GET", "/api/v1/mandates/{mandate}/measures/{code}/progress"): Sample(
        Kind.mandate_read, MEASURES),
    ("GET", "/api/v1/mandates/{mandate}/progress/series"): Sample(Kind.mandate_read, MANDATES),
    ("GET", "/api/v1/progress"): Sample(
        Kind.mandate_read, query=lambda place: {
            "mandates": HOME if place != "elsewhere" else f"{HOME},{OTHER}"}),
    ("GET", "/api/v1/mandates/{mandate}/deliverables"): Sample(Kind.mandate_read, MANDATES),
    ("GET", "/api/v1/mandates/{mandate}/deliverables/{code}"): Sample(
        Kind.mandate_read, DELIVERABLES),
    ("GET", "/api/v1/mandates/{mandate}/deliverables/{code}/history"): Sample(
        Kind.mandate_read, DELIVERABLES),
    ("POST", "/api/v1/mandates/{mandate}/deliverables/{code}/status"): Sample(
        Kind.scoped_write, DELIVERABLES, body=lambda _place: {"status": "completed"}),
    ("PATCH", "/api/v1/mandates/{mandate}/deliverables/{code}"): Sample(
        Kind.scoped_write, DELIVERABLES, body=lambda _place: {"owner": "L2 team"}),
    ("POST", "/api/v1/mandates/{mandate}/deliverables:batch-status"): Sample(
        Kind.scoped_write, MANDATES, body=lambda place: {"changes": [
            {"code": "L2M1D2", "if_match": '"0.0"', "status": "completed"},
            {"code": _pick(place, DELIVERABLES["code"]), "if_match": '"0.0"',
             "status": "completed"}]}),
    ("GET", "/api/v1/mandates/{mandate}/indicators"): Sample(Kind.mandate_read, MANDATES),
    ("GET", "/api/v1/mandates/{mandate}/indicators/{code}"): Sample(
        Kind.mandate_read, INDICATORS),
    ("GET", "/api/v1/mandates/{mandate}/indicators/{code}/history"): Sample(
        Kind.mandate_read, INDICATORS),
    ("POST", "/api/v1/mandates/{mandate}/indicators/{code}/values"): Sample(
        Kind.scoped_write, INDICATORS, body=lambda _place: {"period": "2020", "value": 5}),
    ("POST", "/api/v1/mandates/{mandate}/indicators"): Sample(
        Kind.scoped_write, MANDATES, body=_indicator),
    ("PUT", "/api/v1/mandates/{mandate}/indicators/{code}"): Sample(
        Kind.scoped_write, INDICATORS,
        body=lambda place: _indicator(place, _pick(place, INDICATORS["code"]))),
    ("DELETE", "/api/v1/mandates/{mandate}/indicators/{code}"): Sample(
        Kind.scoped_write, INDICATORS),
    ("GET", "/api/v1/mandates/{mandate}/report"): Sample(Kind.mandate_read, MANDATES),
    ("GET", "/api/v1/mandates/{mandate}/coverage"): Sample(Kind.mandate_read, MANDATES),
    ("GET", "/api/v1/mandates/{mandate}/changes"): Sample(Kind.mandate_read, MANDATES),
    ("GET", "/"): Sample(Kind.org_read),
    ("GET", "/mandates/{mandate}"): Sample(Kind.mandate_read, MANDATES),
    ("GET", "/mandates/{mandate}/deliverables"): Sample(Kind.mandate_read, MANDATES),
    ("GET", "/badge/{mandate}.svg"): Sample(Kind.mandate_read, MANDATES),
    ("GET", "/badge/{mandate}/{code}.svg"): Sample(Kind.mandate_read, LINES),
    ("GET", "/members"): Sample(Kind.org_read),
    ("GET", "/members/{code}"): Sample(Kind.org_read, MEMBER),
    ("GET", "/events"): Sample(Kind.org_read),
    ("GET", "/api/v1/members"): Sample(Kind.org_read),
    ("GET", "/api/v1/members/{code}"): Sample(Kind.org_read, MEMBER),
    ("GET", "/api/v1/members/{code}/history"): Sample(Kind.org_read, MEMBER),
    ("PUT", "/api/v1/members/{code}/engagement/{period}"): Sample(
        Kind.org_write, MEMBER, body=lambda _place: {"values": {}}),
    ("GET", "/api/v1/engagement"): Sample(Kind.org_read, query=lambda _p: {"period": "2020"}),
    ("PUT", "/api/v1/engagement"): Sample(Kind.org_write, query=lambda _p: {"period": "2020"},
                                          body=lambda _place: {}),
    ("GET", "/api/v1/activities"): Sample(Kind.org_read),
    ("GET", "/api/v1/activities/{code}"): Sample(Kind.org_read, ACTIVITIES),
    ("GET", "/api/v1/activities/{code}/history"): Sample(Kind.org_read, ACTIVITIES),
    # An activity linked to L2, to L1, to nothing (what no mandate holds).
    ("PUT", "/api/v1/activities/{code}"): Sample(Kind.scoped_write, ACTIVITIES, body=_activity),
    ("GET", "/api/v1/records"): Sample(Kind.org_read),
    ("PUT", "/api/v1/records"): Sample(Kind.org_write, body=lambda _place: {}),
    ("GET", "/api/v1/audit"): Sample(Kind.org_write),
    # Tokens scoped to L2M1 (within), L1 (beside), the other mandate (elsewhere).
    ("POST", "/api/v1/tokens"): Sample(Kind.managed, body=lambda place: {
        "name": f"made-{next(_made)}", "role": "viewer",
        "scope": _pick(place, ("2018-2020:L2M1", "2018-2020:L1", OTHER))}),
    ("GET", "/api/v1/tokens"): Sample(Kind.org_read),
    ("DELETE", "/api/v1/tokens/{name}"): Sample(Kind.managed, TOKENS),
    # Subscriptions to this mandate (in), to every mandate (beside), to the other one.
    ("POST", "/api/v1/webhooks"): Sample(Kind.managed, body=lambda place: {
        "url": "http://127.0.0.1:9/hook", "events": ["plan.imported"],
        **({"mandate": _pick(place, (HOME, None, OTHER))} if place != "beside" else {})}),
    ("GET", "/api/v1/webhooks"): Sample(Kind.org_read),
    ("GET", "/api/v1/webhooks/{webhook}"): Sample(Kind.managed, WEBHOOKS),
    ("DELETE", "/api/v1/webhooks/{webhook}"): Sample(Kind.managed, WEBHOOKS),
    ("GET", "/api/v1/webhooks/{webhook}/deliveries"): Sample(Kind.managed, WEBHOOKS),
    ("POST", "/api/v1/webhooks/{webhook}/deliveries/{delivery}/redeliver"): Sample(
        Kind.managed, DELIVERY),
}


def _scoped_expected(route: APIRoute, sample: Sample, credential: str, place: str,
                     public_read: bool) -> set[int] | None:
    """The status codes allowed; None: must get through (no 401, 403 or 404, no 5xx)."""
    role = required_role(route)
    assert role is not None
    if credential == "none":
        return None if (role == Role.viewer and public_read) else {401}
    hidden = place == "elsewhere" and not public_read
    names_mandate = "{mandate}" in route.path or (sample.query is not None and (
        sample.kind is Kind.mandate_read))
    if hidden and names_mandate:
        return {404}  # before the role: no answer tells that the mandate exists
    if Role(credential).rank < role.rank:
        return {403}
    if sample.kind in (Kind.mandate_read, Kind.org_read):
        return None
    if sample.kind is Kind.org_write or sample.kind is Kind.mandate_write:
        return {403}
    if place == "in":
        return None
    if sample.kind is Kind.managed:
        # Beside: a wider token (403) or a subscription to every mandate (403 to create,
        # not found to manage); elsewhere: hidden ones are missing (404, or 422 for a
        # scope named in a body), visible ones wider (403).
        if route.methods == {"POST"} and "{" not in route.path:
            return {403} if (place == "beside" or public_read) else {404, 422}
        return {404}
    return {403}


@pytest.fixture
def scoped_world(engine: Engine, metropolis_records: None, other_org: None
                 ) -> dict[str, dict[str, str]]:
    """The bundled plan and records, another organisation's mandate, tokens and webhook
    subscriptions in, beside and outside the L2 scope; the L2 team's tokens as headers."""
    for name, scope in zip(TOKENS["name"], ("2018-2020:L2M1", "2018-2020:L1", OTHER),
                           strict=True):
        new_token(engine, Role.viewer, name, scopes=[scope])
    with Session(engine) as session:
        event = session.execute(select(ChangeEvent.id).limit(1)).scalar_one()
        mandates = {code: id_ for code, id_ in session.execute(select(Mandate.code, Mandate.id))}
        for public_id, mandate, delivery in zip(WEBHOOKS["webhook"], (HOME, None, OTHER),
                                                DELIVERY["delivery"], strict=True):
            subscription = WebhookSubscription(
                public_id=public_id, url="http://127.0.0.1:9/hook", events=["plan.imported"],
                mandate_id=mandates[mandate] if mandate else None, secret_salt="salt",
                secret_prefix="whsec_", created_by="test", created_at=utcnow())
            session.add(subscription)
            session.flush()
            session.add(WebhookDelivery(subscription_id=subscription.id, event_id=event,
                                        delivery_id=delivery, status="given_up"))
        session.commit()
    return {"none": {}, **{role.value: auth(new_token(engine, role, f"l2-{role.value}",
                                                      scopes=[SCOPE]))
                           for role in Role}}


@pytest.mark.parametrize("public_read", [True, False], ids=["public-read", "private-read"])
def test_scoped_access_matrix(engine: Engine, scoped_world: dict[str, dict[str, str]],
                              public_read: bool) -> None:
    routes = [route for route in _routes() if route.path not in PUBLIC_PATHS
              and route.include_in_schema]
    table = {(method, route.path) for route in routes for method in route.methods}
    assert table == set(SAMPLES), "every route needs a sample of in, beside and elsewhere"
    mismatches: list[str] = []
    # Deletions last: a subscription deleted "in" is still there for its other routes.
    calls = sorted(((method, route) for route in routes for method in route.methods),
                   key=lambda call: call[0] == "DELETE")
    with make_client(engine, public_read=public_read, **WEBHOOK_SETTINGS) as client:
        for method, route in calls:
            sample = SAMPLES[(method, route.path)]
            sent: list[tuple[str, Any, Any]] = []
            for place in PLACES:
                values = {name: _pick(place, options)
                          for name, options in sample.values.items()}
                path = route.path.format(**values)
                query = sample.query(place) if sample.query else None
                body = sample.body(place) if sample.body else None
                # A place that asks the very request of an earlier one (a list that names
                # no place, a mandate's read beside the scope) is asked once.
                if (path, query, body) in sent:
                    continue
                sent.append((path, query, body))
                for credential in SCOPED_CREDENTIALS:
                    response = client.request(
                        method, path, headers=scoped_world[credential],
                        params=query, json=body)
                    got = response.status_code
                    expected = _scoped_expected(route, sample, credential, place,
                                                public_read)
                    wrong = (got not in expected) if expected else got in {401, 403, 404}
                    # What a token may not read never shows in what it may.
                    leaked = (not public_read and credential != "none" and got < 300
                              and OTHER in response.text and place != "elsewhere")
                    if wrong or leaked or got >= 500:
                        mismatches.append(f"{method} {path} {place} as {credential}: "
                                          f"{got}{' (leaks ' + OTHER + ')' if leaked else ''}"
                                          f" {response.text[:120]}")
    assert mismatches == [], "\n".join(mismatches)
