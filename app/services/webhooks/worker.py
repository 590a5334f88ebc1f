"""The delivery worker: fan the change log out to subscriptions, then deliver what is due.

Each step is a short transaction that claims its rows with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so replicas share the work and each event is fanned out, and each delivery
attempted, by one of them. SQLite has no row locks: there every transaction that may write
takes the database's write lock (``BEGIN IMMEDIATE``, app/db.py), so claims follow one
another and the same holds between processes on one host.

A delivery is claimed by moving its ``next_attempt_at`` a lease ahead, committed before
the HTTP request: a worker that dies during the attempt leaves it to be taken again when
the lease ends. Delivery is therefore at least once; receivers dedupe by
``Planpulse-Delivery``, which is the same on every attempt.

:func:`run_once` does one round without threads or sleeping, for tests and tools;
:class:`Worker` runs rounds in a thread of ``planpulse serve``."""

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, exists, insert, or_, select, text, update
from sqlalchemy.orm import Session

from app.db import reading, unit_of_work
from app.models import ChangeEvent, Mandate, WebhookDelivery, WebhookSubscription
from app.models.types import utcnow
from app.models.webhooks import DUE_SQL, DeliveryStatus
from app.services.webhooks import addresses, signing
from app.services.webhooks.addresses import Refused, Resolver
from app.services.webhooks.subscriptions import event_id
from app.settings import Settings

logger = logging.getLogger("planpulse.webhooks")

FAN_OUT_BATCH = 200
"""Events fanned out per transaction."""
DELIVERY_BATCH = 8
"""Deliveries claimed per round, attempted side by side."""
EXCERPT_CHARS = 500
READ_AT_MOST = 2048
"""Bytes of a receiver's answer read at all; the rest is not even downloaded."""
ERROR_CHARS = 200
USER_AGENT = "planpulse-webhooks"
POLL_SECONDS = 1.0
"""How often an idle worker looks for new events and due deliveries."""


def lease_seconds(settings: Settings) -> float:
    """How long a claimed delivery stays with its worker: time to resolve the host, then
    connect, send and read within the time-outs, with room to spare. A delivery whose
    worker died mid-attempt is taken again when it ends."""
    return 2 * settings.webhook_timeout_seconds + 10


def retry_delay(settings: Settings, attempts: int, rng: Callable[[], float] = random.random
                ) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: the base doubled
    for each further failure, times a jitter between 0.5 and 1.5 (so that receivers that
    come back are not hit by every retry at once)."""
    return settings.webhook_retry_base_seconds * 2 ** (attempts - 1) * (0.5 + rng())


# --- fan-out ----------------------------------------------------------------------------------


def fan_out(engine: Engine, now: datetime, *, batch: int = FAN_OUT_BATCH) -> int:
    """One delivery per matching active subscription for each event not dispatched yet;
    the events are marked dispatched in the same transaction. How many events."""
    with unit_of_work(engine) as session:
        events = session.execute(
            select(ChangeEvent.id, ChangeEvent.type, ChangeEvent.mandate_id,
                   ChangeEvent.occurred_at)
            .where(ChangeEvent.dispatched_at.is_(None))  # type: ignore[union-attr]
            .order_by(ChangeEvent.id).limit(batch)
            .with_for_update(skip_locked=True)).all()
        if not events:
            return 0
        subscriptions = session.execute(
            select(WebhookSubscription.id, WebhookSubscription.events,
                   WebhookSubscription.mandate_id, WebhookSubscription.created_at)
            .where(WebhookSubscription.active.is_(True))).all()  # type: ignore[attr-defined]
        rows = [{"subscription_id": sub.id, "event_id": event.id,
                 "delivery_id": str(uuid.uuid4()), "status": DeliveryStatus.pending.value,
                 "attempts": 0, "created_at": now, "next_attempt_at": now}
                for event in events for sub in subscriptions
                if event.type in sub.events
                and (sub.mandate_id is None or sub.mandate_id == event.mandate_id)
                and sub.created_at <= event.occurred_at]
        if rows:
            session.execute(insert(WebhookDelivery), rows)
        session.execute(update(ChangeEvent)
                        .where(ChangeEvent.id.in_([event.id for event in events]))  # type: ignore[union-attr]
                        .values(dispatched_at=now))
    return len(events)


# --- delivery ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds for one attempt, with what it sends."""

    id: int
    delivery_id: str
    attempts: int
    url: str
    secret_salt: str
    event_type: str
    body: bytes


def claim(engine: Engine, now: datetime, settings: Settings, *,
          batch: int = DELIVERY_BATCH) -> list[Claimed]:
    """Take up to ``batch`` due deliveries: their lease starts now, committed before any
    of them is attempted."""
    with unit_of_work(engine) as session:
        ids = list(session.execute(
            select(WebhookDelivery.id)
            .where(text(DUE_SQL),
                   WebhookDelivery.next_attempt_at <= now)  # type: ignore[operator]
            .order_by(WebhookDelivery.next_attempt_at).limit(batch)
            .with_for_update(skip_locked=True)).scalars())
        if not ids:
            return []
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids))  # type: ignore[union-attr]
                        .values(next_attempt_at=now + timedelta(
                            seconds=lease_seconds(settings))))
        return _claimed(session, ids)


def _claimed(session: Session, ids: Sequence[int]) -> list[Claimed]:
    found = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.delivery_id, WebhookDelivery.attempts,
               WebhookSubscription.url, WebhookSubscription.secret_salt, ChangeEvent,
               Mandate.code)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .join(ChangeEvent, ChangeEvent.id == WebhookDelivery.event_id)
        .outerjoin(Mandate, Mandate.id == ChangeEvent.mandate_id)
        .where(WebhookDelivery.id.in_(ids))  # type: ignore[union-attr]
        .order_by(WebhookDelivery.id)).all()
    return [Claimed(row[0], row[1], row[2], row[3], row[4], row[5].type,
                    payload(row[5], row[6])) for row in found]


def payload(event: ChangeEvent, mandate: str | None) -> bytes:
    """The body of an event's deliveries: the same bytes on every attempt."""
    assert event.id is not None
    return json.dumps({
        "id": event_id(event.id), "type": event.type,
        "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "mandate": mandate,
        "author": {"name": event.author_name, "role": event.author_role},
        "data": event.data,
    }, ensure_ascii=False, separators=(",", ":"), default=str).encode()


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None
    excerpt: str | None = None


def attempt(claimed: Claimed, settings: Settings, client: httpx.Client, *,
            resolve: Resolver | None = None, clock: Callable[[], float] = time.time
            ) -> Outcome:
    """One POST of the delivery: checked address, signature of this moment, no
    redirects, at most :data:`READ_AT_MOST` bytes of the answer read."""
    try:
        where = addresses.target(claimed.url, allowed_hosts=settings.webhook_allowed_hosts,
                                 resolve=resolve)
    except Refused as refused:
        return Outcome(False, error=f"refused: {refused}"[:ERROR_CHARS])
    secret = signing.signing_secret(settings.webhook_signing_key, claimed.secret_salt)
    headers = {
        "Host": where.host_header,
        "Content-Type": "application/json",
        "Accept-Encoding": "identity",  # the excerpt is read as sent: no decompressing
        "User-Agent": USER_AGENT,
        "Planpulse-Event": claimed.event_type,
        "Planpulse-Delivery": claimed.delivery_id,
        "Planpulse-Attempt": str(claimed.attempts + 1),
        "Planpulse-Signature": signing.signature(secret, int(clock()), claimed.body),
    }
    extensions = {"sni_hostname": where.tls_name} if where.tls_name else {}
    request = client.build_request("POST", where.url, content=claimed.body, headers=headers,
                                   extensions=extensions)
    try:
        response = client.send(request, stream=True, follow_redirects=False)
        try:
            excerpt = _excerpt(response)
        finally:
            response.close()
    except httpx.TimeoutException:
        return Outcome(False, error=f"timed out after {settings.webhook_timeout_seconds:g} s")
    except Exception as error:  # any failure is this attempt's, logged with it
        return Outcome(False, error=_storable(f"{type(error).__name__}: {error}")[:ERROR_CHARS])
    delivered = 200 <= response.status_code < 300
    return Outcome(delivered, response.status_code,
                   None if delivered else f"HTTP {response.status_code}", excerpt)


def _excerpt(response: httpx.Response) -> str | None:
    read = b""
    for chunk in response.iter_raw():
        read += chunk
        if len(read) >= READ_AT_MOST:
            break
    if not read:
        return None
    return _storable(read[:READ_AT_MOST].decode("utf-8", errors="replace"))[:EXCERPT_CHARS]


def _storable(text: str) -> str:
    """``text`` without NUL characters, which PostgreSQL cannot store in text."""
    return text.replace("\x00", "\ufffd")


def record(engine: Engine, claimed: Claimed, outcome: Outcome, settings: Settings,
           now: datetime, rng: Callable[[], float] = random.random) -> str:
    """Write what the attempt came to: delivered, failed (next attempt scheduled) or
    given up after the last. Its status."""
    attempts = claimed.attempts + 1
    values: dict[str, Any] = {"attempts": WebhookDelivery.attempts + 1,
                              "last_attempt_at": now,
                              "last_status_code": outcome.status_code,
                              "last_error": outcome.error,
                              "response_excerpt": outcome.excerpt}
    if outcome.delivered:
        status = DeliveryStatus.delivered
        values.update(status=status.value, delivered_at=now, next_attempt_at=None)
    elif attempts >= settings.webhook_max_attempts:
        status = DeliveryStatus.given_up
        values.update(status=status.value, next_attempt_at=None)
    else:
        status = DeliveryStatus.failed
        values.update(status=status.value, next_attempt_at=now + timedelta(
            seconds=retry_delay(settings, attempts, rng)))
    with unit_of_work(engine) as session:
        statement = update(WebhookDelivery).where(WebhookDelivery.id == claimed.id)
        if not outcome.delivered:
            # Another worker may have taken it after the lease and delivered it meanwhile.
            statement = statement.where(
                WebhookDelivery.status != DeliveryStatus.delivered.value)
        session.execute(statement.values(**values))
    return status.value


# --- rounds -----------------------------------------------------------------------------------


@dataclass
class Round:
    """What one :func:`run_once` did."""

    fanned_out: int = 0
    attempted: int = 0
    statuses: list[str] = field(default_factory=list)
    waiting_for_key: bool = False
    """Deliveries are due but cannot be signed: PLANPULSE_WEBHOOK_SIGNING_KEY is not set."""

    @property
    def idle(self) -> bool:
        return self.fanned_out == 0 and self.attempted == 0


def run_once(engine: Engine, settings: Settings, now: datetime | None = None, *,
             client: httpx.Client | None = None, resolve: Resolver | None = None,
             parallel: int = 1, rng: Callable[[], float] = random.random,
             clock: Callable[[], float] | None = None) -> Round:
    """One round: fan out the new events, then attempt the deliveries due at ``now``
    (default: the present). ``parallel``: attempts made side by side."""
    now = now or utcnow()
    if not anything_to_do(engine, now):
        return Round()
    done = Round(fanned_out=fan_out(engine, now))
    if not settings.webhook_signing_key:
        # Nothing can be signed: the deliveries wait (the Worker logs why, if any do).
        done.waiting_for_key = anything_to_do(engine, now)
        return done
    claimed = claim(engine, now, settings, batch=max(parallel, DELIVERY_BATCH))
    if not claimed:
        return done
    own_client = client is None
    client = client or new_client(settings)
    at = clock or now.timestamp  # the signature's time: the round's, unless told

    def one(item: Claimed) -> str:
        outcome = attempt(item, settings, client, resolve=resolve, clock=at)
        return record(engine, item, outcome, settings, now if clock is None else utcnow(),
                      rng)

    try:
        if parallel > 1 and len(claimed) > 1:
            with ThreadPoolExecutor(max_workers=min(parallel, len(claimed))) as pool:
                done.statuses = list(pool.map(one, claimed))
        else:
            done.statuses = [one(item) for item in claimed]
    finally:
        if own_client:
            client.close()
    done.attempted = len(claimed)
    return done


def anything_to_do(engine: Engine, now: datetime) -> bool:
    """Whether an event waits to be fanned out or a delivery is due: one read, which on
    SQLite takes no write lock, so that idle workers do not queue up with the writers."""
    with Session(reading(engine)) as session:
        return bool(session.execute(select(or_(
            exists().where(ChangeEvent.dispatched_at.is_(None)),  # type: ignore[union-attr]
            exists().where(text(DUE_SQL),
                           WebhookDelivery.next_attempt_at <= now)))).scalar())  # type: ignore[operator]


def new_client(settings: Settings) -> httpx.Client:
    """The HTTP client of the deliveries: the time-out on connecting and on each read and
    write, no redirects, no proxies from the environment (the checked address is the one
    connected to)."""
    return httpx.Client(timeout=httpx.Timeout(settings.webhook_timeout_seconds),
                        follow_redirects=False, trust_env=False,
                        limits=httpx.Limits(max_connections=DELIVERY_BATCH * 2))


class Worker:
    """Rounds of :func:`run_once` in a thread of its own, until :meth:`stop`."""

    def __init__(self, engine: Engine, settings: Settings, *,
                 poll_seconds: float = POLL_SECONDS) -> None:
        self._engine = engine
        self._settings = settings
        self._poll = poll_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="planpulse-webhooks",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        warned = False
        with new_client(self._settings) as client:
            while not self._stopping.is_set():
                try:
                    done = run_once(self._engine, self._settings, client=client,
                                    parallel=DELIVERY_BATCH, clock=time.time)
                except Exception:
                    logger.exception("webhooks: a round failed; trying again shortly")
                    self._stopping.wait(5 * self._poll)
                    continue
                if done.waiting_for_key and not warned:
                    logger.warning("webhooks: deliveries are due but "
                                   "PLANPULSE_WEBHOOK_SIGNING_KEY is not set; they wait until "
                                   "it is (docs/webhooks.md)")
                    warned = True
                if done.idle or done.waiting_for_key:
                    self._stopping.wait(self._poll)
