"""Signing secrets and signatures.

A subscription's signing secret is ``whsec_`` + hex(HMAC-SHA256(server key, salt)): the
database keeps the salt, the server's key is a setting
(``PLANPULSE_WEBHOOK_SIGNING_KEY``), so a copy of the database alone cannot sign a
delivery. A delivery's signature is ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
"<t>." + body)>``, with the whole secret (prefix included, as UTF-8) as the key."""

import hashlib
import hmac
import secrets

from app.errors import Conflict

SECRET_PREFIX = "whsec_"
SALT_BYTES = 32
SHOWN_PREFIX = 10
"""How much of a secret the list shows (``whsec_`` and four characters)."""
KEY_MISSING = (
    "Webhooks need the server's signing key: set PLANPULSE_WEBHOOK_SIGNING_KEY to a random "
    "value of at least 32 characters (for example the output of `python -c \"import "
    "secrets; print(secrets.token_hex(32))\"`), the same on every replica, outside the "
    "database, and restart (docs/webhooks.md).")


def new_salt() -> str:
    return secrets.token_hex(SALT_BYTES)


def signing_secret(key: str | None, salt: str) -> str:
    """The subscription's secret, derived from the server's key and its salt."""
    if not key:
        raise Conflict(KEY_MISSING)
    digest = hmac.new(key.encode(), salt.encode(), hashlib.sha256).hexdigest()
    return SECRET_PREFIX + digest


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Planpulse-Signature`` header of ``body`` sent at ``timestamp``."""
    signed = f"{timestamp}.".encode() + body
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"
