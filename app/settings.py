"""Settings from the environment (prefix ``PLANPULSE_``), read once per process."""

from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Thresholds:
    """Where an indicator's attainment ratio turns at_risk, then off_track
    (app/services/indicators/attainment.py)."""

    on_track: float = 0.9
    at_risk: float = 0.6


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLANPULSE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./planpulse.db"
    """SQLAlchemy URL; PostgreSQL as ``postgresql+psycopg://user@host:5432/db``."""

    public_read: bool = True
    """While true, anyone may read; otherwise reads need a viewer token."""

    max_body_bytes: int = 1024 * 1024
    """Request bodies above this size are refused with 413."""

    db_pool_size: int = Field(default=10, ge=1)
    """Connections kept open per process (PostgreSQL); a request finding them all in use
    waits for one."""

    db_max_overflow: int = Field(default=0, ge=0)
    """Extra connections opened under load (PostgreSQL), each closed as soon as it is
    returned: under steady load that is a new server process per request, so none by
    default (docs/performance.md)."""

    db_pool_timeout: float = Field(default=30.0, gt=0)
    """Seconds a request waits for a free connection before a 503 (PostgreSQL)."""

    rollup_cache_entries: int = Field(default=256, ge=0)
    """Progress answers kept in memory per process, by data version (0: none)."""

    rollup_cache_mb: int = Field(default=64, ge=0)
    """... and at most this much memory for them."""

    watch_versions: bool = True
    """How progress requests learn the mandates' data versions: SQLite remembers them while
    its data_version stays; PostgreSQL shares one query among the requests that arrive
    together, on a connection of its own. False: one query per request, through the pool
    (docs/performance.md)."""

    version_read_timeout: float = Field(default=2.0, gt=0)
    """Seconds a version read on that connection may take before the request reads
    through the pool instead and the connection is opened again (PostgreSQL)."""

    changes_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    """How often an open change stream looks for new events."""

    changes_stream_seconds: float = Field(default=300.0, gt=0)
    """How long the server keeps a change stream open; the browser's EventSource
    reconnects with Last-Event-ID and misses nothing."""

    attainment_on_track: float = Field(default=0.9, ge=0)
    """An indicator whose attainment ratio is at least this is on_track."""

    attainment_at_risk: float = Field(default=0.6, ge=0)
    """... at least this (and below on_track) is at_risk; below, off_track."""

    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"

    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    """Origins (``https://host[:port]``, comma-separated) whose pages may call the API from
    a browser; none by default, and then no CORS headers at all (docs/configuration.md)."""

    webhooks: bool = True
    """Whether ``planpulse serve`` runs the webhook delivery worker (docs/webhooks.md)."""

    webhook_signing_key: str | None = Field(default=None, min_length=32, repr=False)
    """The server's key, from which each subscription's signing secret is derived; needed
    to create subscriptions and to deliver. Keep it out of the database and its dumps."""

    webhook_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    """Hosts (comma-separated) that webhooks may reach although they are, or resolve to,
    loopback or private addresses."""

    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    """Seconds a delivery attempt may take to connect, and to send or read each part."""

    webhook_retry_base_seconds: float = Field(default=30.0, gt=0)
    """The first retry's delay; each further one doubles it (with jitter)."""

    webhook_max_attempts: int = Field(default=8, ge=1, le=30)
    """Attempts before a delivery is given up."""

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError("PLANPULSE_WEBHOOK_ALLOWED_HOSTS: a comma-separated list of hosts")
        return tuple(str(item).strip().lower().strip("[]") for item in items
                     if str(item).strip())

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValueError("PLANPULSE_CORS_ORIGINS: a comma-separated list of origins")
        return tuple(_origin(str(item).strip()) for item in items if str(item).strip())

    @property
    def thresholds(self) -> Thresholds:
        """The attainment thresholds, as the indicator rules take them."""
        return Thresholds(on_track=self.attainment_on_track, at_risk=self.attainment_at_risk)


def _origin(text: str) -> str:
    """``text`` as a browser sends it in ``Origin`` (lower case, no default port), or a
    ValueError naming the setting: the middleware compares origins as plain strings."""
    problem = f"PLANPULSE_CORS_ORIGINS: {text!r} is not an origin (scheme://host[:port])"
    if text == "*":
        # A page on any site could read through a visitor's browser what only the
        # visitor's network reaches (an intranet's planpulse): name the sites instead.
        raise ValueError(f"{problem}; '*' is refused: list the sites whose pages call the API")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(f"{problem}: bad port") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{problem}: it needs http:// or https:// and a host")
    if parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{problem}: no path (not even a trailing /), query or user")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + ("" if port in (None, DEFAULT_PORTS[scheme]) else f":{port}")


@lru_cache
def get_settings() -> Settings:
    return Settings()
