"""API tokens: random secrets shown once, stored only as a SHA-256 hash."""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.errors import Conflict, Forbidden, NotFound, Unauthorized
from app.models import ApiToken, Role
from app.models.types import utcnow

TOKEN_PREFIX = "pp_"
TOKEN_BYTES = 32  # 256 bits of randomness
NO_TOKEN = "This needs a bearer token."


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session, *, name: str, role: Role, expires_in_days: int | None = None,
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Store a new token and return it with its secret, which is not kept anywhere."""
    now = now or utcnow()
    if session.execute(select(ApiToken.id).where(ApiToken.name == name)).first():
        raise Conflict(f"A token named {name!r} exists already.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken(
        name=name, role=role, token_hash=hash_token(secret), created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    session.flush()
    return token, secret


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.execute(select(ApiToken).order_by(ApiToken.name)).scalars())


def revoke_token(session: Session, *, name: str, now: datetime | None = None) -> ApiToken:
    token = session.execute(select(ApiToken).where(ApiToken.name == name)).scalar_one_or_none()
    if token is None:
        raise NotFound(f"There is no token named {name!r}.")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        session.flush()
    return token


BY_HASH = select(ApiToken).where(ApiToken.token_hash == bindparam("digest"))
"""Built once: every authenticated request runs it."""
_TOKENS = ApiToken.__table__  # type: ignore[attr-defined]
CALLER_BY_HASH = select(
    _TOKENS.c.name, _TOKENS.c.role, _TOKENS.c.token_hash, _TOKENS.c.revoked_at,
    _TOKENS.c.expires_at,
).where(_TOKENS.c.token_hash == bindparam("digest"))
"""What a request needs of its token, without the ORM (app/services/status/direct.py)."""


def authenticate(session: Session, *, secret: str, now: datetime | None = None) -> ApiToken:
    """The live token whose secret this is; 401 for unknown, expired or revoked ones."""
    digest = hash_token(secret)  # a hex digest: safe to send to the database whatever the input
    token = session.execute(BY_HASH, {"digest": digest}).scalar_one_or_none()
    check_live(token, digest, now or utcnow())
    return token  # type: ignore[return-value]  # check_live refused None


def check_live(token: Any, digest: str, now: datetime) -> None:
    """401 unless ``token`` (an ApiToken or a row of :data:`CALLER_BY_HASH`, found by
    ``digest``) exists, is not revoked and has not expired."""
    # The lookup is by hash, so timing reveals nothing of the secret; compare anyway.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        raise Unauthorized("The token is not valid.")
    if token.revoked_at is not None:
        raise Unauthorized("The token has been revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthorized("The token has expired.")


def require_role(token: Any, role: Role, *, public_read: bool) -> None:
    """Raise unless ``token`` may act with ``role`` (roles nest: admin ⊃ editor ⊃ viewer)."""
    if token is None:
        if role == Role.viewer and public_read:
            return
        raise Unauthorized(NO_TOKEN)
    if Role(token.role).rank < role.rank:
        raise Forbidden(f"This needs the {role.value} role; the token has {token.role}.")
