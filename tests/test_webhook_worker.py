"""The webhook worker on both databases: deliveries to a real receiver on 127.0.0.1,
signed, retried with back-off, given up, redelivered, taken again after a worker died
mid-attempt, and shared by two workers so that each is delivered once."""

import base64
import hashlib
import hmac
import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app import serving
from app.db import build_engine
from app.main import create_app
from app.models import ChangeEvent, Mandate, WebhookDelivery
from app.models.types import utcnow
from app.services.webhooks import worker
from app.services.webhooks.worker import lease_seconds, run_once
from app.settings import Settings
from tests.conftest import make_client
from tests.replicas import replica

KEY = "k" * 40
DOC = Path(__file__).parent.parent / "docs" / "webhooks.md"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A receiver on 127.0.0.1 answering the statuses of ``answers`` in turn, then 200."""

    answers: list[int] = field(default_factory=list)
    answer_body: bytes = b"ok"
    delay: float = 0.0
    hang_first: float = 0.0
    """Seconds the first request waits before its answer."""
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        body = handler.rfile.read(length)
        self.received.append(Received({k.lower(): v for k, v in handler.headers.items()}, body))
        if self.delay:
            time.sleep(self.delay)
        if self.hang_first and len(self.received) == 1:
            time.sleep(self.hang_first)
        status = self.answers.pop(0) if self.answers else 200
        handler.send_response(status)
        if 300 <= status < 400:
            handler.send_header("Location", "http://127.0.0.1:9/elsewhere")
        handler.send_header("Content-Length", str(len(self.answer_body)))
        handler.end_headers()
        handler.wfile.write(self.answer_body)

    def ids(self) -> list[str]:
        return [item.headers["planpulse-delivery"] for item in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            found.handle(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield found
    server.shutdown()
    server.server_close()


def _settings(engine: Engine, **more: Any) -> Settings:
    values: dict[str, Any] = {"database_url": str(engine.url), "webhook_signing_key": KEY,
                              "webhook_allowed_hosts": "127.0.0.1"}
    return Settings(**{**values, **more})


def _mandate(engine: Engine, code: str = "M-1") -> int:
    with Session(engine) as session:
        mandate = Mandate(code=code, title=code, start_date=date(2024, 1, 1),
                          end_date=date(2026, 12, 31))
        session.add(mandate)
        session.commit()
        assert mandate.id is not None
        return mandate.id


def _event(engine: Engine, mandate_id: int | None, type_: str = "deliverable.status_changed",
           *, author: tuple[str, str | None] = ("editor-ana", "editor"),
           data: dict[str, Any] | None = None, count: int = 1) -> None:
    with Session(engine) as session:
        for number in range(count):
            session.add(ChangeEvent(type=type_, mandate_id=mandate_id, author_name=author[0],
                                    author_role=author[1],
                                    data=data or {"deliverable": "A1a", "n": number}))
        session.commit()


def _subscribe(client: TestClient, admin: dict[str, str], url: str, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/webhooks", headers=admin, json={
        "url": url, "events": ["deliverable.status_changed"], **body})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _deliveries(client: TestClient, admin: dict[str, str], webhook: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/webhooks/{webhook}/deliveries", headers=admin)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def _verify_independently(secret: str, received: Received, tolerance: int = 300) -> None:
    """The signature checked with the standard library alone, as a receiver would."""
    header = received.headers["planpulse-signature"]
    found = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header)
    assert found is not None, header
    timestamp, given = int(found.group(1)), found.group(2)
    assert abs(time.time() - timestamp) <= tolerance
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + received.body,
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, given)


def _documented_verify() -> Any:
    """``verify`` from the Python snippet of docs/webhooks.md, run as it is printed."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### Python"):]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), str(DOC), "exec"), namespace)
    return namespace["verify"]


def test_a_change_is_delivered_once_signed_and_naming_its_author(
        engine: Engine, admin: dict[str, str], receiver: Receiver) -> None:
    mandate_id = _mandate(engine)
    settings = _settings(engine)
    with make_client(engine, **settings.model_dump(exclude={"database_url"})) as client:
        made = _subscribe(client, admin, receiver.url, mandate="M-1")
        _event(engine, mandate_id, data={"deliverable": "A1a", "to": "completed"})
        done = run_once(engine, settings)
        assert (done.fanned_out, done.attempted, done.statuses) == (1, 1, ["delivered"])
        assert run_once(engine, settings).idle  # nothing twice
        [got] = receiver.received
        _verify_independently(made["secret"], got)
        assert _documented_verify()(made["secret"], got.headers["planpulse-signature"],
                                    got.body)
        assert not _documented_verify()(made["secret"], got.headers["planpulse-signature"],
                                        got.body + b" ")
        assert not _documented_verify()("whsec_other", got.headers["planpulse-signature"],
                                        got.body)
        body = json.loads(got.body)
        assert body["type"] == "deliverable.status_changed"
        assert body["mandate"] == "M-1"
        assert body["author"] == {"name": "editor-ana", "role": "editor"}
        assert body["data"] == {"deliverable": "A1a", "to": "completed"}
        assert re.fullmatch(r"evt_\d+", body["id"])
        assert body["occurred_at"].endswith("Z")
        assert got.headers["planpulse-event"] == "deliverable.status_changed"
        assert got.headers["content-type"] == "application/json"
        assert got.headers["user-agent"] == "planpulse-webhooks"
        assert got.headers["planpulse-attempt"] == "1"
        [logged] = _deliveries(client, admin, made["id"])
        assert logged["id"] == got.headers["planpulse-delivery"]
        assert logged["status"] == "delivered" and logged["attempts"] == 1
        assert logged["last_status_code"] == 200 and logged["response_excerpt"] == "ok"
        assert logged["event_id"] == body["id"]


NODE_CHECK = """
const input = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
const body = Buffer.from(input.body, "base64");
console.log(JSON.stringify([
  verify(input.secret, input.header, body),
  verify(input.secret, input.header, Buffer.concat([body, Buffer.from(" ")])),
  verify("whsec_other", input.header, body),
]));
"""


def test_the_documented_node_check_verifies_a_real_delivery(
        engine: Engine, admin: dict[str, str], receiver: Receiver) -> None:
    """The JavaScript snippet of docs/webhooks.md, run by Node as it is printed: Node's
    crypto is a verifier that shares no code with the signer."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    text = DOC.read_text(encoding="utf-8")
    snippet = re.search(r"```js\n(.*?)```", text[text.index("### JavaScript"):], re.DOTALL)
    assert snippet is not None
    mandate_id = _mandate(engine)
    settings = _settings(engine)
    with make_client(engine, **settings.model_dump(exclude={"database_url"})) as client:
        made = _subscribe(client, admin, receiver.url)
    _event(engine, mandate_id, data={"title": "Ünïcode ✓"})
    assert run_once(engine, settings).statuses == ["delivered"]
    [got] = receiver.received
    checked = subprocess.run(
        [node, "-e", snippet.group(1) + NODE_CHECK], capture_output=True, text=True,
        timeout=60, input=json.dumps({
            "secret": made["secret"], "header": got.headers["planpulse-signature"],
            "body": base64.b64encode(got.body).decode()}))
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout) == [True, False, False]


def test_a_replayed_delivery_is_refused_by_the_documented_check(
        engine: Engine, admin: dict[str, str], receiver: Receiver) -> None:
    mandate_id = _mandate(engine)
    settings = _settings(engine)
    with make_client(engine, **settings.model_dump(exclude={"database_url"})) as client:
        made = _subscribe(client, admin, receiver.url)
    _event(engine, mandate_id)
    stale = utcnow() - timedelta(minutes=10)
    run_once(engine, settings, now=stale + timedelta(seconds=1))  # signed ten minutes ago
    [got] = receiver.received
    verify = _documented_verify()
    assert not verify(made["secret"], got.headers["planpulse-signature"], got.body)
    assert verify(made["secret"], got.headers["planpulse-signature"], got.body,
                  tolerance=3600)


def test_a_failing_receiver_is_retried_with_back_off_until_it_recovers(
        engine: Engine, admin: dict[str, str], receiver: Receiver) -> None:
    mandate_id = _mandate(engine)
    settings = _settings(engine, webhook_retry_base_seconds=30)
    receiver.answers = [500, 503]
    receiver.answer_body = b"x" * 5000
    with make_client(engine, **settings.model_dump(exclude={"database_url"})) as client:
        made = _subscribe(client, admin, receiver.url)
        _event(engine, mandate_id)
        start = utcnow()
        assert run_once(engine, settings, now=start).statuses == ["failed"]
        [first] = _deliveries(client, admin, made["id"])
        assert first["status"] == "failed" and first["attempts"] == 1
        assert first["last_status_code"] == 500 and first["last_error"] == "HTTP 500"
        assert len(first["response_excerpt"]) == 500
        waited = datetime.fromisoformat(first["next_attempt_at"]) - start
        assert timedelta(seconds=15) <= waited <= timedelta(seconds=45)  # 30 s times 0.5 to 1.5
        assert run_once(engine, settings, now=start + timedelta(seconds=14)).idle
        second_at = start + timedelta(seconds=46)
        assert run_once(engine, settings, now=second_at).statuses == ["failed"]
        [second] = _deliveries(client, admin, made["id"])
        waited = datetime.fromisoformat(second["next_attempt_at"]) - second_at
        assert timedelta(seconds=30) <= waited <= timedelta(seconds=90)  # 60 s times 0.5 to 1.5
        assert run_once(engine, settings, now=second_at + timedelta(seconds=91)).statuses == [
            "delivered"]
        [last] = _deliveries(client, admin, made["id"])
        assert last["status"] == "delivered" and last["attempts"] == 3
        assert last["last_status_code"] == 200 and last["next_attempt_at"] is None
    assert len(set(receiver.ids())) == 1 and len(receiver.received) == 3
    assert [item.headers["planpulse-attempt"] for item in receiver.received] == ["1", "2", "3"]
    assert len({item.body for item in receiver.received}) == 1  # the same body every time


def test_given_up_after_the_last_attempt_then_redelivered(
        engine: Engine, admin: dict[str, str], receiver: Receiver) -> None:
    mandate_id = _mandate(engine)
    settings = _settings(engine, webhook_max_attempts=3, webhook_retry_base_seconds=1)
    receiver.answers = [500, 302, 404]
    with make_client(engine, **settings.model_dump(exclude={"database_url"})) as client:
        made = _subscribe(client, admin, receiver.url)
        _event(engine, mandate_id)
        at = utcnow()
        statuses = []
        for _ in range(5):
            statuses += run_once(engine, settings, now=at).statuses
            at += timedelta(hours=1)
        assert statuses == ["failed", "failed", "given_up"]  # the 302 was not followed
        [given_up] = _deliveries(client, admin, made["id"])
        assert given_up["status"] == "given_up" and given_up["attempts"] == 3
        assert given_up["next_attempt_at"] is None
        response = client.post(f"/api/v1/webhooks/{made['id']}/deliveries/"
                               f"{given_up['id']}/redeliver", headers=admin)
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending"
        assert run_once(engine, settings).statuses == ["delivered"]
        [delivered] = _deliveries(client, admin, made["id"])
        assert delivered["status"] == "delivered" and delivered["attempts"] == 4
        unknown = client.post(f"/api/v1/webhooks/{made['id']}/deliveries/nope/redeliver",
                              headers=admin)
        assert unknown.status_code == 404
    assert len(set(receiver.ids())) == 1 and len(receiver.received) == 4


def test_an_attempt_times_out(engine: Engine, admin: dict[str, str],
                              receiver: Receiver) -> None:
    mandate_id = _mandate(engine)
    settings = _settings(engine, webhook_timeout_seconds=0.3)
    receiver.delay = 1.0
    with make_client(engine, **settings.model_dump(exclude={"database_url"})) as client:
        made = _subscribe(client, admin, receiver.url)
        _event(engine, mandate_id)
        started = time.monotonic()
        assert run_once(engine, settings).statuses == ["failed"]
        assert time.monotonic() - started < 1.0
        [logged] = _deliveries(client, admin, made["id"])
        assert logged["last_error"] == "timed out after 0.3 s"
        assert logged["last_status_code"] is None


def test_only_matching_subscriptions_get_an_event(
        engine: Engine, admin: dict[str, str], receiver: Receiver) -> None:
    first, second = _mandate(engine, "M-1"), _mandate(engine, "M-2")
    settings = _settings(engine)
    _event(engine, first)  # before any subscription: nobody gets it
    with make_client(engine, **settings.model_dump(exclude={"database_url"})) as client:
        everything = _subscribe(client, admin, receiver.url + "?all",
                                events=["deliverable.status_changed", "records.changed"])
        only_m2 = _subscribe(client, admin, receiver.url + "?m2", mandate="M-2")
        values = _subscribe(client, admin, receiver.url + "?values",
                            events=["indicator.value_recorded"])
        gone = _subscribe(client, admin, receiver.url + "?gone")
        assert client.delete(f"/api/v1/webhooks/{gone['id']}", headers=admin).status_code == 204
        _event(engine, first)
        _event(engine, second)
        _event(engine, None, "records.changed", author=("planpulse import", None))
        assert run_once(engine, settings).fanned_out == 4
        assert sorted(len(_deliveries(client, admin, made["id"]))
                      for made in (everything, only_m2, values)) == [0, 1, 3]
    assert len(receiver.received) == 4
    records = [json.loads(item.body) for item in receiver.received
               if item.headers["planpulse-event"] == "records.changed"]
    assert records[0]["mandate"] is None
    assert records[0]["author"] == {"name": "planpulse import", "role": None}


def test_a_rolled_back_change_sends_nothing(engine: Engine, admin: dict[str, str],
                                            receiver: Receiver) -> None:
    mandate_id = _mandate(engine)
    settings = _settings(engine)
    with make_client(engine, **settings.model_dump(exclude={"database_url"})) as client:
        _subscribe(client, admin, receiver.url)
    with Session(engine) as session:
        session.add(ChangeEvent(type="deliverable.status_changed", mandate_id=mandate_id,
                                author_name="editor-ana", author_role="editor", data={}))
        session.flush()
        session.rollback()
    assert run_once(engine, settings).idle
    assert receiver.received == []


def test_a_host_that_resolves_privately_at_delivery_time_is_not_connected_to(
        engine: Engine, admin: dict[str, str], receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS that changes after subscribing (or rebinding): each attempt checks again."""
    from app.services.webhooks import addresses

    mandate_id = _mandate(engine)
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    answers = {"hooks.example.test": ["93.184.216.34"]}
    monkeypatch.setattr(addresses, "system_resolver", lambda host, _port: answers[host])
    settings = _settings(engine)
    with make_client(engine, **settings.model_dump(exclude={"database_url"})) as client:
        made = _subscribe(client, admin, f"http://hooks.example.test:{port}/hook")
        answers["hooks.example.test"] = ["127.0.0.1"]
        _event(engine, mandate_id)
        assert run_once(engine, settings,
                        resolve=lambda host, _port: answers[host]).statuses == ["failed"]
        [logged] = _deliveries(client, admin, made["id"])
        assert "127.0.0.1" in logged["last_error"] and logged["last_error"].startswith("refused")
    assert receiver.received == []


def test_a_delivery_whose_worker_died_mid_attempt_is_delivered_after_its_lease(
        engine: Engine, admin: dict[str, str], receiver: Receiver) -> None:
    mandate_id = _mandate(engine)
    settings = _settings(engine)
    with make_client(engine, **settings.model_dump(exclude={"database_url"})) as client:
        made = _subscribe(client, admin, receiver.url)
    _event(engine, mandate_id)
    at = utcnow()
    # The worker commits its claim, then "dies": the attempt never happens.
    assert worker.fan_out(engine, at) == 1
    [claimed] = worker.claim(engine, at, settings)
    lease = timedelta(seconds=lease_seconds(settings))
    assert run_once(engine, settings, now=at + lease - timedelta(seconds=1)).idle
    restarted = build_engine(str(engine.url))  # a new process
    try:
        done = run_once(restarted, settings, now=at + lease + timedelta(seconds=1))
    finally:
        restarted.dispose()
    assert done.statuses == ["delivered"]
    assert receiver.ids() == [claimed.delivery_id]
    with make_client(engine, **settings.model_dump(exclude={"database_url"})) as client:
        [logged] = _deliveries(client, admin, made["id"])
    assert logged["status"] == "delivered" and logged["attempts"] == 1


def test_two_workers_deliver_each_event_once(engine: Engine, admin: dict[str, str],
                                             receiver: Receiver) -> None:
    mandate_id = _mandate(engine)
    settings = _settings(engine)
    receiver.delay = 0.01
    with make_client(engine, **settings.model_dump(exclude={"database_url"})) as client:
        _subscribe(client, admin, receiver.url + "?a")
        _subscribe(client, admin, receiver.url + "?b")
    _event(engine, mandate_id, count=50)
    engines = [build_engine(str(engine.url)) for _ in range(2)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(own: Engine) -> None:
        try:
            start.wait()
            idle = 0
            while idle < 3:
                idle = idle + 1 if run_once(own, settings, parallel=4).idle else 0
        except BaseException as error:  # reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(own,)) for own in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for own in engines:
        own.dispose()
    assert errors == []
    ids = receiver.ids()
    assert len(ids) == 100 and len(set(ids)) == 100
    with Session(engine) as session:
        statuses = session.execute(select(WebhookDelivery.status, func.count())
                                   .group_by(WebhookDelivery.status)).all()
    assert dict(statuses) == {"delivered": 100}


def test_serve_runs_the_worker_unless_switched_off(
        engine: Engine, admin: dict[str, str], receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    mandate_id = _mandate(engine)
    for enabled, expected in ((False, 0), (True, 3)):
        settings = _settings(engine, webhooks=enabled)
        monkeypatch.setattr(serving, "create_app",
                            lambda settings=settings: create_app(settings=settings,
                                                                 engine=engine))
        with TestClient(serving.served_app()) as client:
            _subscribe(client, admin, receiver.url + f"?{enabled}")
            _event(engine, mandate_id)
            deadline = time.monotonic() + (1.5 if not enabled else 15)
            while time.monotonic() < deadline and len(receiver.received) < max(expected, 1):
                time.sleep(0.05)
        # Off: nothing sent. On: both events to the first subscription, the second one's
        # (made after the first event) to the second.
        assert len(receiver.received) == expected


def test_a_serve_process_killed_mid_attempt_is_relieved_by_the_next(
        engine: Engine, admin: dict[str, str], receiver: Receiver, tmp_path: Path) -> None:
    """Real ``planpulse serve`` processes: the first is killed (SIGKILL) while its attempt
    waits for the receiver; the one started after it delivers once the lease has ended,
    with the same delivery id."""
    mandate_id = _mandate(engine)
    receiver.hang_first = 10
    settings = {"webhook_signing_key": KEY, "webhook_allowed_hosts": "127.0.0.1",
                "webhook_timeout_seconds": "2"}
    url = engine.url.render_as_string(hide_password=False)
    with replica(url, tmp_path / "first.log", **settings) as first:
        with first.client() as client:
            made = client.post("/api/v1/webhooks", headers=admin, json={
                "url": receiver.url, "events": ["deliverable.status_changed"]})
            assert made.status_code == 201, made.text
        _event(engine, mandate_id)
        deadline = time.monotonic() + 15
        while not receiver.received:
            assert time.monotonic() < deadline, first.logged()
            time.sleep(0.05)
        first.process.kill()
        first.process.wait()
    killed_at = time.monotonic()
    with replica(url, tmp_path / "second.log", **settings) as second:
        deadline = time.monotonic() + 60
        while len(receiver.received) < 2:
            assert time.monotonic() < deadline, second.logged()
            time.sleep(0.1)
        time.sleep(1.5)  # a worker's round or two: nothing more comes
    assert time.monotonic() - killed_at >= 5  # it waited for the lease (14 s from the claim)
    assert len(receiver.received) == 2 and len(set(receiver.ids())) == 1
    with Session(engine) as session:
        [row] = session.execute(select(WebhookDelivery)).scalars()
    assert (row.status, row.attempts, row.delivery_id) == ("delivered", 1, receiver.ids()[0])


def test_without_the_signing_key_deliveries_wait_for_it(
        engine: Engine, admin: dict[str, str], receiver: Receiver) -> None:
    mandate_id = _mandate(engine)
    settings = _settings(engine)
    with make_client(engine, **settings.model_dump(exclude={"database_url"})) as client:
        _subscribe(client, admin, receiver.url)
    _event(engine, mandate_id)
    keyless = _settings(engine, webhook_signing_key=None)
    done = run_once(engine, keyless)
    assert (done.fanned_out, done.attempted, done.waiting_for_key) == (1, 0, True)
    assert receiver.received == []
    assert run_once(engine, settings).statuses == ["delivered"]
    assert not run_once(engine, keyless).waiting_for_key


def test_an_answer_with_nul_characters_is_logged_without_them(
        engine: Engine, admin: dict[str, str], receiver: Receiver) -> None:
    mandate_id = _mandate(engine)
    settings = _settings(engine)
    receiver.answers = [500]
    receiver.answer_body = b"bad\x00answer \xff"
    with make_client(engine, **settings.model_dump(exclude={"database_url"})) as client:
        made = _subscribe(client, admin, receiver.url)
        _event(engine, mandate_id)
        assert run_once(engine, settings).statuses == ["failed"]
        [logged] = _deliveries(client, admin, made["id"])
    assert logged["response_excerpt"] == "bad\ufffdanswer \ufffd"
    assert receiver.received[0].headers["accept-encoding"] == "identity"


def test_a_status_change_through_the_api_reaches_the_subscriber(
        engine: Engine, metropolis: None, admin: dict[str, str], editor: dict[str, str],
        receiver: Receiver) -> None:
    """End to end: the change's own transaction writes its event; the worker delivers it,
    naming the editor who made it."""
    settings = _settings(engine)
    path = "/api/v1/mandates/2018-2020/deliverables/L1M3D2"
    with make_client(engine, **settings.model_dump(exclude={"database_url"})) as client:
        _subscribe(client, admin, receiver.url, mandate="2018-2020")
        before = client.get(path)
        status = "cancelled" if before.json()["status"] != "cancelled" else "not_started"
        changed = client.post(f"{path}/status", json={"status": status}, headers={
            **editor, "If-Match": before.headers["etag"]})
        assert changed.status_code == 200, changed.text
    assert run_once(engine, settings).statuses == ["delivered"]
    [got] = receiver.received
    body = json.loads(got.body)
    assert (body["type"], body["mandate"]) == ("deliverable.status_changed", "2018-2020")
    assert body["author"] == {"name": "editor-ana", "role": "editor"}
    assert body["data"]["deliverable"] == "L1M3D2"
