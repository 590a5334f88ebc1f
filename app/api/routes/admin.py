"""Admin endpoints: tokens and the audit log."""

from typing import Any

from fastapi import Response

from app.api import responses
from app.api.deps import Admin, PagingDep, SessionDep, WholePagingDep, api_router
from app.models import Role
from app.schemas.api import AuditEntry, Page, TokenCreated, TokenPublic
from app.schemas.requests import TokenIn
from app.services.access import audit, tokens

router = api_router(prefix="/api/v1", tags=["admin"])


@router.post("/tokens", response_model=TokenCreated, status_code=201,
             responses=responses.problems(409))
def create_token(body: TokenIn, session: SessionDep, admin: Admin) -> dict[str, Any]:
    """Create a token; its secret is in this answer only."""
    token, secret = tokens.create_token(session, name=body.name, role=Role(body.role),
                                        expires_in_days=body.expires_in_days)
    audit.record(session, actor=admin.name, action="token.create", target=token.name,
                 detail={"role": token.role, "expires_at": token.expires_at})
    return {**TokenPublic.model_validate(token).model_dump(), "token": secret}


@router.get("/tokens", response_model=Page[TokenPublic])
def list_tokens(session: SessionDep, _admin: Admin, paging: WholePagingDep) -> dict[str, Any]:
    """Every token, by name, without its secret."""
    return tokens.token_page(session, page=paging).as_dict()


@router.delete("/tokens/{name}", status_code=204)
def revoke_token(name: str, session: SessionDep, admin: Admin) -> Response:
    """Revoke a token; requests with it get 401 from then on."""
    tokens.revoke_token(session, name=name)
    audit.record(session, actor=admin.name, action="token.revoke", target=name)
    return Response(status_code=204)


@router.get("/audit", response_model=Page[AuditEntry])
def get_audit_log(session: SessionDep, _admin: Admin, paging: PagingDep) -> dict[str, Any]:
    """Admin actions (imports, token changes, structure edits), newest first."""
    return audit.events(session, page=paging).as_dict()
