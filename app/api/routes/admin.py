"""Admin endpoints: tokens and the audit log."""

from typing import Any

from fastapi import Response

from app.api import responses
from app.api.deps import Admin, PagingDep, SessionDep, SettingsDep, WholePagingDep, api_router
from app.models import Role
from app.schemas.api import AuditEntry, Page, TokenCreated, TokenPublic
from app.schemas.requests import TokenIn
from app.services.access import audit, scopes, tokens

router = api_router(prefix="/api/v1", tags=["admin"])


@router.post("/tokens", response_model=TokenCreated, status_code=201,
             responses=responses.problems(409))
def create_token(body: TokenIn, session: SessionDep, admin: Admin, settings: SettingsDep
                 ) -> dict[str, Any]:
    """Create a token; its secret is in this answer only. Its scopes must lie within your
    token's: nobody grants wider than they hold (docs/access.md)."""
    wanted, field = body.wanted_scopes()
    reach = scopes.granted(session, wanted, by=admin.reach, field=field,
                           single=field == "scope", public_read=settings.public_read)
    token, secret = tokens.create_token(session, name=body.name, role=Role(body.role),
                                        expires_in_days=body.expires_in_days, reach=reach,
                                        person=body.person)
    audit.record(session, actor=admin.name, action="token.create", target=token.name,
                 detail={"role": token.role, "expires_at": token.expires_at,
                         "scopes": reach.texts(), "person": token.person})
    return {**TokenPublic.model_validate(token).model_dump(), "token": secret}


@router.get("/tokens", response_model=Page[TokenPublic])
def list_tokens(session: SessionDep, admin: Admin, paging: WholePagingDep) -> dict[str, Any]:
    """Every token, by name, without its secret; for a scoped admin, the tokens within its
    scopes."""
    return tokens.token_page(session, page=paging, within=admin.reach).as_dict()


@router.delete("/tokens/{name}", status_code=204)
def revoke_token(name: str, session: SessionDep, admin: Admin) -> Response:
    """Revoke a token; requests with it get 401 from then on."""
    tokens.revoke_token(session, name=name, within=admin.reach)
    audit.record(session, actor=admin.name, action="token.revoke", target=name)
    return Response(status_code=204)


@router.get("/audit", response_model=Page[AuditEntry])
def get_audit_log(session: SessionDep, admin: Admin, paging: PagingDep) -> dict[str, Any]:
    """Admin actions (imports, token changes, structure edits), newest first. They span
    every mandate: a token without scopes only."""
    scopes.require_everywhere(admin.reach, what="The audit log's entries")
    return audit.events(session, page=paging).as_dict()
