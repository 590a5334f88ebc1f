"""API tokens: random secrets shown once, stored only as a SHA-256 hash."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.db import Runner
from app.errors import INVALID_TOKEN, Conflict, Forbidden, NotFound, Unauthorized
from app.models import ApiToken, Role
from app.models.types import utcnow
from app.services.access.scopes import EVERYWHERE, Place, Reach, place_of
from app.services.paging import Page, PageRequest, fetch_page

TOKEN_PREFIX = "pp_"
TOKEN_BYTES = 32  # 256 bits of randomness
NO_TOKEN = "This needs a bearer token."


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session, *, name: str, role: Role, expires_in_days: int | None = None,
    reach: Reach = EVERYWHERE, person: str | None = None, now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Store a new token and return it with its secret, which is not kept anywhere.
    ``reach``: its scopes, checked by the caller (:func:`scopes.granted`)."""
    now = now or utcnow()
    if session.execute(select(ApiToken.id).where(ApiToken.name == name)).first():
        raise Conflict(f"A token named {name!r} exists already.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken(
        name=name, role=role, token_hash=hash_token(secret), created_at=now,
        scopes=reach.texts() or None, person=person,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    session.flush()
    return token, secret


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.execute(select(ApiToken).order_by(ApiToken.name)).scalars())


def token_page(session: Session, *, page: PageRequest, within: Reach = EVERYWHERE
               ) -> Page[ApiToken]:
    """A page of the tokens, by name; for a scoped caller (``within``) only the tokens that
    lie within its reach (it sees no token wider than itself)."""
    if within.everywhere:
        return fetch_page(session, select(ApiToken).order_by(ApiToken.name), page,
                          scalars=True)
    # Scopes are few and so are the tokens a scoped admin manages: filter, then page.
    kept = [token for token in list_tokens(session) if is_within(session, token, within)]
    return Page(kept[page.offset:page.offset + page.limit], len(kept), page.limit,
                page.offset)


def is_within(session: Session, token: ApiToken, reach: Reach) -> bool:
    """Whether every scope of ``token`` lies within ``reach`` (a token without scopes lies
    within no scoped reach)."""
    if reach.everywhere:
        return True
    held = Reach.of(token.scopes)
    if held.everywhere:
        return False
    for scope in held.scopes:
        # A part no longer in the plan (pruned since) is compared as written.
        place = place_of(session, scope) or Place(scope.mandate, scope.part, scope.part)
        if not reach.covers(place.mandate, line=place.line, measure=place.measure):
            return False
    return True


def revoke_token(session: Session, *, name: str, within: Reach = EVERYWHERE,
                 now: datetime | None = None) -> ApiToken:
    """Revoke a token; one outside ``within`` (the caller's reach) is not found."""
    token = session.execute(select(ApiToken).where(ApiToken.name == name)).scalar_one_or_none()
    if token is None or not is_within(session, token, within):
        raise NotFound(f"There is no token named {name!r}.")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        session.flush()
    return token


@dataclass(frozen=True)
class Caller:
    """Who is making a request: what every request needs of its token."""

    name: str
    role: Role
    token_hash: str
    revoked_at: datetime | None
    expires_at: datetime | None
    reach: Reach = EVERYWHERE
    person: str | None = None


_TOKENS = ApiToken.__table__  # type: ignore[attr-defined]
CALLER_BY_HASH = select(
    _TOKENS.c.name, _TOKENS.c.role, _TOKENS.c.token_hash, _TOKENS.c.revoked_at,
    _TOKENS.c.expires_at, _TOKENS.c.scopes, _TOKENS.c.person,
).where(_TOKENS.c.token_hash == bindparam("digest"))
"""Built once: every authenticated request runs it."""


def authenticate(runner: Runner, *, secret: str, now: datetime | None = None) -> Caller:
    """The live token whose secret this is; 401 for unknown, expired or revoked ones.
    ``runner``: the request's connection, in a transaction or in autocommit."""
    digest = hash_token(secret)  # a hex digest: safe to send to the database whatever the input
    found = runner.execute(CALLER_BY_HASH, {"digest": digest}).fetchone()
    # The lookup is by hash, so timing reveals nothing of the secret; compare anyway.
    if found is None or not hmac.compare_digest(found[2], digest):
        raise Unauthorized("The token is not valid.", error=INVALID_TOKEN)
    caller = Caller(found[0], Role(found[1]), found[2], found[3], found[4],
                    reach=Reach.of(found[5]) if found[5] else EVERYWHERE, person=found[6])
    if caller.revoked_at is not None:
        raise Unauthorized("The token has been revoked.", error=INVALID_TOKEN)
    if caller.expires_at is not None and caller.expires_at <= (now or utcnow()):
        raise Unauthorized("The token has expired.", error=INVALID_TOKEN)
    return caller


def require_role(caller: Caller | None, role: Role, *, public_read: bool) -> None:
    """Raise unless ``caller`` may act with ``role`` (roles nest: admin ⊃ editor ⊃ viewer)."""
    if caller is None:
        if role == Role.viewer and public_read:
            return
        raise Unauthorized(NO_TOKEN)
    if caller.role.rank < role.rank:
        raise Forbidden(f"This needs the {role.value} role; the token has {caller.role.value}.")
